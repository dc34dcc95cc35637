"""``kill -9`` of gunicorn while clients create tasks, then a restart on the same
database: on SQLite (WAL) and on PostgreSQL.

10 clients create tasks without pause over real gunicorn (3 worker processes).
Three times, the master and all its workers get SIGKILL at the same instant
(one process group) and gunicorn starts again on the same port and database.
Requests in flight at a kill end without an answer: they are unacknowledged.
Proven, for each database:

- after each restart, and at the end, every create answered 201 is a row whose
  title, description, priority, completed, due_at, tags and created_at are those
  of its 201 body;
- the only other rows are unacknowledged creates (at most one per client and
  kill: the requests in flight), with a body a client sent;
- every answer was a 201 (no 5xx after a restart), the restarted server is ready
  (``GET /ready``), and SQLite still passes its integrity check in WAL mode.
"""

from __future__ import annotations

import random
import threading
import time

import pytest

from tests.helpers import PASSWORD
from tests.report import record
from tests.server_access import NoResponse, utc
from tests.servers import Server, log_shown_on_failure, serve

pytestmark = [pytest.mark.slow, pytest.mark.heavy]

SETTINGS = {"TASKAPI_RATELIMIT_ENABLED": "false"}
CLIENTS, KILLS, CREATES_PER_RUN = 10, 3, 150
TASKS = "/api/v1/tasks"
COMPARED = ("title", "description", "priority", "completed", "due_at", "tags", "created_at")


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request, tmp_path):
    for running in serve(request, tmp_path, workers=3, settings=SETTINGS):
        with log_shown_on_failure(request, running):
            yield running


class Creator:
    """One client creating tasks until told to stop, on a keep-alive connection."""

    def __init__(self, server: Server, n: int, token: str):
        self.client, self.n, self.token = server.client(), n, token
        self.rng = random.Random(n)  # noqa: S311 (deterministic test data)
        self.acknowledged: list[dict] = []  # 201 bodies
        self.unanswered: list[dict] = []  # bodies sent without an answer
        self.other: list[tuple[int, object]] = []  # any other answer

    def body(self, i: int) -> dict:
        rng = self.rng
        return {
            "title": f"client {self.n} task {i}",
            "description": rng.choice([None, f"written {i} by {self.n}"]),
            "priority": rng.choice([None, "low", "medium", "high"]),
            "completed": rng.random() < 0.3,
            "due_at": rng.choice([None, f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
                                  f"T{rng.randint(10, 23)}:15:00{rng.choice(['Z', '+05:45'])}"]),
            "tags": rng.sample(["alpha", "Beta", "gamma", "delta"], rng.randint(0, 3)),
        }

    def run(self, stop: threading.Event) -> None:
        i = 0
        while not stop.is_set():
            body, i = self.body(i), i + 1
            try:
                answer = self.client.request("POST", TASKS, body, self.token)
            except NoResponse:  # killed in flight, or not restarted yet
                self.unanswered.append(body)
                time.sleep(0.05)
                continue
            if answer.status == 201:
                self.acknowledged.append(answer.json)
            else:
                self.other.append((answer.status, answer.json))
        self.client.close()


def account(server: Server, n: int) -> tuple[int, str]:
    email = f"crash{n}@example.com"
    answer = server.request("POST", "/api/v1/auth/register",
                            {"email": email, "password": PASSWORD, "name": "Crash"})
    assert answer.status == 201, answer
    user_id = answer.json["id"]
    answer = server.request("POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    assert answer.status == 200, answer
    return user_id, answer.json["access_token"]


def state(task: dict) -> dict:
    return {name: utc(task[name]) if name.endswith("_at") else task[name] for name in COMPARED}


def acknowledged(creators: list[Creator]) -> list[dict]:
    return [body for creator in creators for body in list(creator.acknowledged)]


def wait_for_creates(creators: list[Creator], count: int, server: Server) -> None:
    deadline = time.monotonic() + 120
    while len(acknowledged(creators)) < count:
        assert time.monotonic() < deadline, f"only {len(acknowledged(creators))} of {count}"
        assert not any(creator.other for creator in creators), server.log()[-8000:]
        time.sleep(0.02)


def assert_stored(server: Server, user_ids: list[int], bodies: list[dict]) -> dict[int, dict]:
    """Every body is a row with the same state; returns the rows by id."""
    rows = server.database.tasks(user_ids)
    missing = [body["id"] for body in bodies if body["id"] not in rows]
    assert missing == [], f"{len(missing)} acknowledged creates lost: {missing[:20]}"
    for body in bodies:
        assert state(rows[body["id"]]) == state(body), body["id"]
    return rows


def test_kill_9_during_creates_keeps_every_acknowledged_task(server):
    user_ids, tokens = zip(*(account(server, n) for n in range(CLIENTS)), strict=True)
    creators = [Creator(server, n, tokens[n]) for n in range(CLIENTS)]
    stop = threading.Event()
    threads = [threading.Thread(target=creator.run, args=(stop,)) for creator in creators]
    for thread in threads:
        thread.start()
    try:
        for kill in range(1, KILLS + 1):
            wait_for_creates(creators, kill * CREATES_PER_RUN, server)
            pids = server.kill()
            before_kill = acknowledged(creators)
            assert len(pids) >= 2, pids  # the master and at least one worker
            server.start()
            assert_stored(server, list(user_ids), before_kill)
            record("crashes", "kill -9 of gunicorn survived", 1)
        wait_for_creates(creators, (KILLS + 1) * CREATES_PER_RUN, server)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    assert [creator.other for creator in creators] == [[]] * CLIENTS, server.log()[-8000:]
    bodies = acknowledged(creators)
    assert len({body["id"] for body in bodies}) == len(bodies)
    rows = assert_stored(server, list(user_ids), bodies)
    extra = {rows[task_id]["title"] for task_id in set(rows) - {body["id"] for body in bodies}}
    unanswered = {body["title"] for creator in creators for body in creator.unanswered}
    assert extra <= unanswered, extra - unanswered
    assert len(extra) <= CLIENTS * KILLS
    assert server.request("GET", "/ready").status == 200
    if server.url.startswith("sqlite"):
        assert server.database.query("PRAGMA integrity_check") == [("ok",)]
        assert server.database.query("PRAGMA journal_mode") == [("wal",)]
    record("crashes", "acknowledged creates verified after restart", len(bodies))
