"""End to end over real gunicorn: migrations, a user's journey, concurrent SQLite writes.

The server (tests/servers.py) runs ``wsgi:app`` with the repository's
``gunicorn.conf.py`` on a free port, a temporary SQLite file migrated by
``flask db upgrade``, and a temporary instance folder. Its output goes to a file
that is shown when a test fails.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import PASSWORD
from tests.servers import Server, sqlite_server

# One xdist worker runs the module: its server (module scope) starts once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("gunicorn")]

THREADS = 8
TASKS_PER_THREAD = 25


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with sqlite_server(tmp_path_factory, "gunicorn") as server:
        yield server


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
    tables = {row[0] for row in server.database.query(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "tasks", "issued_tokens", "alembic_version"} <= tables
    assert server.database.query("PRAGMA journal_mode") == [("wal",)]


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
    assert server.database.query("SELECT completed FROM tasks WHERE id = :id", id=task_id) == [
        (1,)]

    status, _, body = server.request("DELETE", f"/api/v1/tasks/{task_id}", token=token)
    assert status == 204
    assert body is None
    assert server.database.query("SELECT id FROM tasks WHERE user_id = :id", id=user_id) == []

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
    assert server.database.query(
        "SELECT COUNT(*) FROM tasks WHERE user_id IN :ids", ids=user_ids
    ) == [(created,)]
    assert server.database.query(
        "SELECT COUNT(*) FROM tasks WHERE user_id IN :ids "
        "AND completed = 1 AND priority = 'low'",
        ids=user_ids,
    ) == [(updated,)]
    assert "database is locked" not in server.log()
