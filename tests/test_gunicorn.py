"""End to end over real gunicorn: migrations, a user's journey, concurrent SQLite writes.

The server runs ``wsgi:app`` with the repository's ``gunicorn.conf.py`` on a free
port, a temporary SQLite file migrated by ``flask db upgrade``, and a temporary
instance folder. Its output goes to a file that is shown when a test fails.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers import PASSWORD, TEST_SECRETS

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 20
REQUEST_TIMEOUT = 15
THREADS = 8
TASKS_PER_THREAD = 25


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, base_url: str, db_path: Path, log_path: Path):
        self.base_url = base_url
        self.db_path = db_path
        self.log_path = log_path

    def request(self, method: str, path: str, body=None, token: str | None = None,
                headers: dict | None = None):
        """Send one request; returns ``(status, headers, parsed JSON or None)``."""
        data = None if body is None else json.dumps(body).encode()
        url = self.base_url + path  # always http://127.0.0.1:<port>
        req = urllib.request.Request(url, data=data, method=method)  # noqa: S310
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310
                status, response_headers, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, response_headers, raw = error.code, error.headers, error.read()
        return status, response_headers, json.loads(raw) if raw else None

    def query(self, sql: str, *params):
        with sqlite3.connect(self.db_path, timeout=10) as connection:
            return connection.execute(sql, params).fetchall()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def server_env(tmp: Path, db_path: Path, port: int) -> dict:
    env = {
        name: value for name, value in os.environ.items()
        if not name.startswith(("TASKAPI_", "GUNICORN_")) and name != "DATABASE_URL"
    }
    env.update(
        TASKAPI_INSTANCE_PATH=str(tmp / "instance"),
        TASKAPI_SQLALCHEMY_DATABASE_URI=f"sqlite:///{db_path}",
        TASKAPI_SECRET_KEY=TEST_SECRETS["SECRET_KEY"],
        TASKAPI_JWT_SECRET_KEY=TEST_SECRETS["JWT_SECRET_KEY"],
        TASKAPI_PASSWORD_HASH_TIME_COST="1",
        TASKAPI_PASSWORD_HASH_MEMORY_COST="1024",
        TASKAPI_PASSWORD_HASH_PARALLELISM="1",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="4",
        GUNICORN_GRACEFUL_TIMEOUT="5",
        PYTHONUNBUFFERED="1",
    )
    return env


def wait_until_ready(server: Server, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{server.log()}")
        try:
            status, _, _ = server.request("GET", "/api/openapi.json")
        except OSError:
            time.sleep(0.2)
            continue
        if status == 200:
            return
        time.sleep(0.2)
    pytest.fail(f"gunicorn not ready after {STARTUP_SECONDS}s:\n{server.log()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gunicorn")
    db_path = tmp / "taskapi.sqlite3"
    log_path = tmp / "gunicorn.log"
    port = free_port()
    env = server_env(tmp, db_path, port)

    migrated = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert migrated.returncode == 0, migrated.stderr

    server = Server(f"http://127.0.0.1:{port}", db_path, log_path)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        wait_until_ready(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def register_and_login(server: Server, email: str) -> tuple[int, str]:
    status, _, body = server.request(
        "POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD, "name": "G"}
    )
    assert status == 201, body
    user_id = body["id"]
    status, _, body = server.request(
        "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD}
    )
    assert status == 200, body
    return user_id, body["access_token"]


def test_migrations_created_the_schema(server):
    tables = {row[0] for row in server.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "tasks", "issued_tokens", "alembic_version"} <= tables
    assert server.query("PRAGMA journal_mode") == [("wal",)]


def test_user_journey_over_http(server):
    status, _, body = server.request(
        "POST", "/api/v1/auth/register",
        {"email": "Journey@Example.com", "password": PASSWORD, "name": "Journey"},
    )
    assert status == 201, body
    assert body["email"] == "journey@example.com"
    assert body["name"] == "Journey"
    assert "password" not in body and "password_hash" not in body
    user_id = body["id"]

    status, _, body = server.request(
        "POST", "/api/v1/auth/login",
        {"email": "journey@example.com", "password": PASSWORD},
    )
    assert status == 200, body
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    token = body["access_token"]

    status, headers, body = server.request("GET", "/api/v1/tasks")
    assert status == 401
    assert body["code"] == 401
    assert headers["WWW-Authenticate"].startswith("Bearer")

    status, headers, body = server.request(
        "POST", "/api/v1/tasks", {"title": "Ship it", "priority": "high"}, token,
        headers={"X-Request-ID": "journey-create"},
    )
    assert status == 201, body
    assert headers["X-Request-ID"] == "journey-create"
    task_id = body["id"]
    assert body["title"] == "Ship it"
    assert body["priority"] == "high"
    assert body["completed"] is False
    assert body["completed_at"] is None
    assert headers["Location"].endswith(f"/api/v1/tasks/{task_id}")

    status, headers, body = server.request("GET", "/api/v1/tasks", token=token)
    assert status == 200
    assert [(t["id"], t["title"]) for t in body] == [(task_id, "Ship it")]
    assert json.loads(headers["X-Pagination"])["total"] == 1

    status, _, body = server.request("PATCH", f"/api/v1/tasks/{task_id}/complete", token=token)
    assert status == 200, body
    assert body["completed"] is True
    assert body["completed_at"] is not None
    assert server.query("SELECT completed FROM tasks WHERE id = ?", task_id) == [(1,)]

    status, _, body = server.request("DELETE", f"/api/v1/tasks/{task_id}", token=token)
    assert status == 204
    assert body is None
    assert server.query("SELECT id FROM tasks WHERE user_id = ?", user_id) == []

    status, _, body = server.request("GET", f"/api/v1/tasks/{task_id}", token=token)
    assert status == 404
    assert set(body) == {"code", "status", "message"}
    status, _, body = server.request("GET", "/api/v1/tasks", token=token)
    assert (status, body) == (200, [])


def test_concurrent_writes_from_several_workers(server):
    users = [register_and_login(server, f"worker{n}@example.com") for n in range(THREADS)]

    def work(account):
        _user_id, token = account
        outcomes = []
        for i in range(TASKS_PER_THREAD):
            status, _, body = server.request("POST", "/api/v1/tasks", {"title": f"t{i}"}, token)
            outcomes.append(("create", status))
            if status == 201:
                status, _, _ = server.request(
                    "PATCH", f"/api/v1/tasks/{body['id']}",
                    {"completed": True, "priority": "low"}, token,
                )
                outcomes.append(("update", status))
        return outcomes

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = [outcome for batch in pool.map(work, users) for outcome in batch]

    server_errors = [r for r in results if r[1] >= 500]
    assert server_errors == [], server.log()[-5000:]
    created = sum(1 for kind, status in results if kind == "create" and status == 201)
    updated = sum(1 for kind, status in results if kind == "update" and status == 200)
    assert created == THREADS * TASKS_PER_THREAD
    assert updated == created
    user_ids = [user_id for user_id, _ in users]
    marks = ",".join("?" * len(user_ids))
    assert server.query(
        f"SELECT COUNT(*) FROM tasks WHERE user_id IN ({marks})", *user_ids  # noqa: S608
    ) == [(created,)]
    assert server.query(
        f"SELECT COUNT(*) FROM tasks WHERE user_id IN ({marks}) "  # noqa: S608
        "AND completed = 1 AND priority = 'low'",
        *user_ids,
    ) == [(updated,)]
    assert "database is locked" not in server.log()
