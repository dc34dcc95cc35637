"""The change feed and Idempotency-Key under real concurrency: gunicorn (3 worker
processes) on SQLite and on PostgreSQL (issue 18).

**Feed.** For each seed, a user's tasks, tags and lists are written by 3 HTTP
writers at once, plus a transaction held open by the test itself on the
database: it starts before the HTTP writers' requests and commits after them
(PostgreSQL: it reads, waits while the others commit, then writes and commits
last; SQLite, where write transactions cannot overlap: it takes the write lock
first and holds it while the HTTP writers queue). Meanwhile a reader syncs in a
loop and replays every change into a dict. At the end the replayed state must
equal the database row for row: nothing skipped, nothing resurrected.

**Retry over a dropped connection.** A POST with an Idempotency-Key is sent on a
raw socket that the test closes without reading the answer; once the task is in
the database (the server committed), the POST is sent again: it is replayed and
the database holds exactly one such task.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from tests.helpers import PASSWORD
from tests.servers import log_shown_on_failure, serve

pytestmark = [pytest.mark.slow, pytest.mark.heavy]

SEEDS = (1, 2, 3)
WRITERS, WRITES = 3, 25
SETTINGS = {"TASKAPI_RATELIMIT_ENABLED": "false"}
TASKS = "/api/v1/tasks"
BAD_LOG_LINES = ("deadlock", "Traceback", "unhandled exception", "[CRITICAL]", "WORKER TIMEOUT")


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request, tmp_path):
    for running in serve(request, tmp_path, workers=3, settings=SETTINGS):
        with log_shown_on_failure(request, running):
            yield running


def account(server, email: str) -> tuple[int, str]:
    answer = server.request("POST", "/api/v1/auth/register",
                            {"email": email, "password": PASSWORD, "name": "S"})
    assert answer.status == 201, answer
    token = server.request("POST", "/api/v1/auth/login",
                           {"email": email, "password": PASSWORD}).json["access_token"]
    return answer.json["id"], token


def writer(server, token: str, seed: int, start: threading.Barrier) -> list[int]:
    rng, client, statuses = random.Random(seed), server.client(), []  # noqa: S311
    mine: list[int] = []
    start.wait()
    for n in range(WRITES):
        kind = rng.random()
        if kind < 0.4 or not mine:
            answer = client.request("POST", TASKS, {"title": f"w{seed} {n}",
                                                    "tags": rng.sample(["a", "b", "c"], 1)},
                                    token)
            if answer.status == 201:
                mine.append(answer.json["id"])
        elif kind < 0.7:
            answer = client.request("PATCH", f"{TASKS}/{rng.choice(mine)}",
                                    {"title": f"edit {seed} {n}", "completed": rng.random() < .5,
                                     "tags": rng.sample(["a", "b", "c", "d"], 2)}, token)
        elif kind < 0.9:
            victim = mine.pop(rng.randrange(len(mine)))
            answer = client.request("DELETE", f"{TASKS}/{victim}", token=token)
        else:
            answer = client.request("DELETE", f"/api/v1/tags/{rng.choice('abcd')}", token=token)
        statuses.append(answer.status)
    client.close()
    return statuses


def held_transaction(server, user_id: int, started: threading.Event) -> None:
    """A write that starts before the HTTP writers and commits after them."""
    bump = sa.text("UPDATE users SET data_version = data_version + 1 WHERE id = :u")
    with server.database.engine.begin() as connection:
        postgresql = connection.dialect.name == "postgresql"
        # SQLite: the write lock at once (the bump); PostgreSQL: a reader first.
        connection.execute(sa.text("SELECT count(*) FROM tasks WHERE user_id = :u")
                           if postgresql else bump, {"u": user_id})
        started.set()
        time.sleep(0.5)  # PostgreSQL: the others commit meanwhile; SQLite: they queue
        if postgresql:
            connection.execute(bump, {"u": user_id})
        connection.execute(sa.text(
            "UPDATE tasks SET title = 'held' WHERE user_id = :u "
            "AND id = (SELECT min(id) FROM tasks WHERE user_id = :u)"), {"u": user_id})
        time.sleep(0.3)


def reader(server, token: str, done: threading.Event) -> tuple[dict, int]:
    client, state, since, calls = server.client(), {}, None, 0
    while True:
        finished = done.is_set()
        while True:
            path = "/api/v1/sync?limit=7" + (f"&since={since}" if since else "")
            page = client.request("GET", path, token=token)
            assert page.status == 200, page
            for change in page.json["changes"]:
                if change["op"] == "delete":
                    state.pop((change["type"], change["id"]), None)
                else:
                    state[change["type"], change["id"]] = change["data"]
            since, calls = page.json["sync_token"], calls + 1
            if not page.json["has_more"]:
                break
        if finished:
            client.close()
            return state, calls


def database_state(server, user_id: int) -> dict:
    db = server.database
    state = {("task", task_id): (row["title"], row["completed"], row["tags"])
             for task_id, row in db.tasks([user_id]).items()}
    for list_id, name, count in db.query(
            "SELECT id, name, task_count FROM lists WHERE user_id = :u", u=user_id):
        state["list", list_id] = (name, count)
    for tag_id, name, count in db.query(
            "SELECT tags.id, tags.name, (SELECT count(*) FROM task_tags "
            "WHERE tag_id = tags.id) FROM tags WHERE user_id = :u", u=user_id):
        state["tag", tag_id] = (name, count)
    return state


def projected(replayed: dict) -> dict:
    out = {}
    for (kind, item_id), data in replayed.items():
        if kind == "task":
            out[kind, item_id] = (data["title"], data["completed"], data["tags"])
        else:  # a list or a tag: its name and how many tasks it has
            out[kind, item_id] = (data["name"], data["task_count"])
    return out


def test_a_syncing_reader_converges_on_the_database_whatever_the_commit_order(server):
    for seed in SEEDS:
        user_id, token = account(server, f"sync{seed}@example.com")
        for n in range(3):
            assert server.request("POST", TASKS, {"title": f"seed {n}"}, token).status == 201
        done, started = threading.Event(), threading.Event()
        start = threading.Barrier(WRITERS + 1)
        with ThreadPoolExecutor(max_workers=WRITERS + 2) as pool:
            read = pool.submit(reader, server, token, done)
            held = pool.submit(held_transaction, server, user_id, started)
            started.wait(10)
            writes = [pool.submit(writer, server, token, seed * 10 + w, start)
                      for w in range(WRITERS)]
            start.wait()
            statuses = [status for future in writes for status in future.result()]
            held.result()
            done.set()
            replayed, calls = read.result()
        assert set(statuses) <= {200, 201, 204, 404}, statuses
        assert calls > 1
        assert projected(replayed) == database_state(server, user_id), f"seed {seed}"
    log = server.log()
    assert not [line for line in log.splitlines() if any(bad in line for bad in BAD_LOG_LINES)]


def raw_post_then_drop(port: int, token: str, body: dict, key: str) -> None:
    data = json.dumps(body).encode()
    request = (f"POST {TASKS} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
               f"Idempotency-Key: {key}\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)  # gone before any answer is read


def test_a_post_retried_after_a_dropped_connection_creates_one_task(server):
    user_id, token = account(server, "retry@example.com")
    raw_post_then_drop(server.port, token, {"title": "exactly once"}, "retry-1")
    count = "SELECT count(*) FROM tasks WHERE user_id = :u AND title = 'exactly once'"
    deadline = time.monotonic() + 30
    while server.database.scalar(count, u=user_id) == 0:
        assert time.monotonic() < deadline, "the first POST never committed"
        time.sleep(0.05)
    client = server.client()
    for _ in range(50):
        answer = client.request("POST", TASKS, {"title": "exactly once"}, token,
                                headers={"Idempotency-Key": "retry-1"})
        if answer.status != 409:
            break
        time.sleep(float(answer.headers["Retry-After"]) / 10)
    client.close()
    assert answer.status == 201, answer
    assert answer.headers["Idempotent-Replayed"] == "true"
    assert server.database.scalar(count, u=user_id) == 1
    task_id = server.database.scalar(
        "SELECT id FROM tasks WHERE user_id = :u AND title = 'exactly once'", u=user_id)
    assert answer.json["id"] == task_id
