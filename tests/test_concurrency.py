"""Many clients writing at once over real gunicorn (3 worker processes), on SQLite
and on PostgreSQL.

50 clients send 100 writes each (create, PUT, PATCH, complete, delete): about two
thirds on tasks of their own account, one third on tasks of one of 5 shared
accounts that 10 clients each are logged in to. Proven, for each database:

- no response is a 5xx, every request is answered, and the server log has no
  "database is locked", no unavailable database and no traceback;
- writes on a client's own tasks always succeed (201, 200, 204, also with the
  If-Match of its previous response); on shared tasks they are 2xx, 404 (deleted
  meanwhile), 412 (stale If-Match) or 409 (conflicting concurrent change);
- the database holds exactly what the acknowledged responses imply. Each
  acknowledged ETag names one version of its task and no version is acknowledged
  twice (no lost update). A task whose delete was acknowledged is gone; any other
  task's row equals the body of its acknowledged write with the highest version,
  and that is the row's version (on a client's own task: its last write, versions
  1, 2, 3, ... in the order it wrote). Creates answered 201 are exactly the rows
  that exist plus the tasks acknowledged deleted: no other row exists.
"""

from __future__ import annotations

import random
import re
import statistics
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

import jwt
import pytest
from werkzeug.http import quote_etag

from taskapi.tasks.routes import blp as tasks_blueprint
from taskapi.tasks.service import etag_data
from tests.helpers import PASSWORD
from tests.report import record
from tests.server_access import NoResponse, utc
from tests.servers import Server, log_shown_on_failure, serve

pytestmark = [pytest.mark.slow, pytest.mark.heavy]

CLIENTS, WRITES, SHARED_ACCOUNTS, SHARED_TASKS = 50, 100, 5, 6
SETTINGS = {"TASKAPI_RATELIMIT_ENABLED": "false"}
TASKS = "/api/v1/tasks"
TAG_NAMES = ["work", "Work", "home", "errands", "URGENT", "urgent", "later"]
OFFSETS = ["Z", "+00:00", "+02:00", "-05:30", "+14:00"]
COMPARED = ("title", "description", "priority", "completed", "completed_at", "due_at",
            "tags", "created_at", "updated_at")
RACED = {404, 409, 412}  # deleted meanwhile, conflicting change, stale If-Match
SHARED_OK = {"put": {200, *RACED}, "patch": {200, *RACED}, "complete": {200, *RACED},
             "delete": {204, *RACED}, "create": {201, 409}}
OWN_OK = {"put": {200}, "patch": {200}, "complete": {200}, "delete": {204}, "create": {201}}
BAD_LOG_LINES = ("database is locked", "database unavailable", "Traceback",
                 "unhandled exception", "[CRITICAL]", "WORKER TIMEOUT")


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request, tmp_path):
    for running in serve(request, tmp_path, workers=3, settings=SETTINGS):
        with log_shown_on_failure(request, running):
            yield running


@dataclass
class Write:
    """One write request and its answer (status 0: no answer)."""

    op: str
    task_id: int | None
    shared: bool
    status: int
    body: dict | None
    etag: str | None
    created_at: datetime | None  # which task it was (ids of deleted tasks can come back)


def log_in(server: Server, email: str, register: bool) -> tuple[int, str]:
    """Register (optionally) and log in; returns ``(user id, access token)``."""
    if register:
        answer = server.request("POST", "/api/v1/auth/register",
                                {"email": email, "password": PASSWORD, "name": "C"})
        assert answer.status == 201, answer
    answer = server.request("POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    assert answer.status == 200, answer
    token = answer.json["access_token"]
    return int(jwt.decode(token, options={"verify_signature": False})["sub"]), token


def random_fields(rng: random.Random, label: str) -> dict:
    """A valid task body with some optional fields set (None included)."""
    fields = {"title": f"{label} {rng.randrange(10**6)}"}
    if rng.random() < 0.6:
        fields["description"] = rng.choice([None, f"notes {rng.random():.6f}", "é" * 300])
    if rng.random() < 0.6:
        fields["priority"] = rng.choice([None, "low", "medium", "high"])
    if rng.random() < 0.6:
        fields["due_at"] = rng.choice([None, (
            f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
            f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}{rng.choice(OFFSETS)}")])
    if rng.random() < 0.6:
        fields["tags"] = rng.sample(TAG_NAMES, rng.randint(0, 3))
    if rng.random() < 0.3:
        fields["completed"] = rng.random() < 0.5
    return fields


class Writer:
    """One client: its own account's token, a shared account's token, one connection."""

    def __init__(self, server: Server, n: int, own_token: str, shared_token: str,
                 pool: list[int], lock: threading.Lock):
        self.rng = random.Random(n)  # noqa: S311 (deterministic test data)
        self.client, self.n, self.pool, self.lock = server.client(), n, pool, lock
        self.own_token, self.shared_token = own_token, shared_token
        self.live: dict[int, tuple[str, datetime]] = {}  # own task -> (ETag, created_at)
        self.seen: dict[int, tuple[str, datetime]] = {}  # shared task -> last (ETag, created_at)
        self.writes: list[Write] = []

    def run(self, barrier: threading.Barrier) -> list[Write]:
        barrier.wait()
        for _ in range(WRITES):
            if self.rng.random() < 0.65:
                self.own_write()
            else:
                self.shared_write()
        self.client.close()
        return self.writes

    def send(self, op, task_id, method, path, body=None, *, shared, if_match=None,
             created_at=None) -> None:
        token = self.shared_token if shared else self.own_token
        headers = {"If-Match": if_match[0]} if if_match else None
        try:
            answer = self.client.request(method, path, body, token, headers)
        except NoResponse:
            self.writes.append(Write(op, task_id, shared, 0, None, None, None))
            return
        known = self.seen if shared else self.live
        if answer.status in (200, 201):
            task_id, created_at = answer.json["id"], utc(answer.json["created_at"])
            known[task_id] = (answer.headers["ETag"], created_at)
            if op == "create" and shared:
                with self.lock:
                    self.pool.append(task_id)
        elif answer.status == 204:
            created_at = if_match[1] if if_match else created_at
            known.pop(task_id, None)
        elif answer.status in (404, 412):
            known.pop(task_id, None)
        body = answer.json if answer.status in (200, 201) else None
        self.writes.append(Write(op, task_id, shared, answer.status, body,
                                 answer.headers["ETag"], created_at))

    def update(self, task_id: int, shared: bool, if_match) -> None:
        path, r = f"{TASKS}/{task_id}", self.rng.random()
        fields = random_fields(self.rng, f"c{self.n}")
        if r < 0.3:
            self.send("put", task_id, "PUT", path, fields, shared=shared, if_match=if_match)
        elif r < 0.7:
            patch = dict(self.rng.sample(sorted(fields.items()), self.rng.randint(1, len(fields))))
            self.send("patch", task_id, "PATCH", path, patch, shared=shared, if_match=if_match)
        else:
            body = self.rng.choice([None, {"completed": True}, {"completed": False}])
            self.send("complete", task_id, "PATCH", f"{path}/complete", body, shared=shared,
                      if_match=if_match)

    def own_write(self) -> None:
        if not self.live or self.rng.random() < 0.25:
            self.send("create", None, "POST", TASKS, random_fields(self.rng, f"c{self.n}"),
                      shared=False)
            return
        task_id = self.rng.choice(sorted(self.live))
        etag, created_at = self.live[task_id]
        if_match = (etag, created_at) if self.rng.random() < 0.5 else None
        if self.rng.random() < 0.15:
            self.send("delete", task_id, "DELETE", f"{TASKS}/{task_id}", shared=False,
                      if_match=if_match, created_at=created_at)
        else:
            self.update(task_id, False, if_match)

    def shared_write(self) -> None:
        r = self.rng.random()
        if r < 0.1:
            self.send("create", None, "POST", TASKS, random_fields(self.rng, f"s{self.n}"),
                      shared=True)
            return
        with self.lock:
            task_id = self.rng.choice(self.pool)
        if r > 0.95:
            # A delete without If-Match could hit a new task given the same id:
            # with the ETag, an acknowledged delete names the task it removed.
            if task_id not in self.seen:
                answer = self.client.request("GET", f"{TASKS}/{task_id}", token=self.shared_token)
                if answer.status == 200:
                    self.seen[task_id] = (answer.headers["ETag"], utc(answer.json["created_at"]))
            if task_id in self.seen:
                self.send("delete", task_id, "DELETE", f"{TASKS}/{task_id}", shared=True,
                          if_match=self.seen[task_id])
                return
        if_match = self.seen.get(task_id) if self.rng.random() < 0.3 else None
        self.update(task_id, True, if_match)


def etag_versions(task_id: int, created_at: datetime, most: int) -> dict[str, int]:
    """``{ETag: version}`` of versions 1..most of a task, computed as the app does."""
    return {
        quote_etag(tasks_blueprint._generate_etag(etag_data(
            SimpleNamespace(id=task_id, version=version, created_at=created_at)))): version
        for version in range(1, most + 1)
    }


def state(task: dict) -> dict:
    """The compared fields of a row or a response body, datetimes as aware UTC."""
    return {name: utc(task[name]) if name.endswith("_at") else task[name] for name in COMPARED}


def verify(database, writes: list[Write], user_ids: list[int]) -> int:
    """Check the rows against the acknowledged writes; returns how many were checked."""
    rows = database.tasks(user_ids)
    attempts = Counter(w.task_id for w in writes)
    acks: dict[tuple[int, datetime], list[Write]] = defaultdict(list)
    for w in writes:
        if w.status in (200, 201):
            acks[(w.body["id"], utc(w.body["created_at"]))].append(w)
        elif w.status == 204:
            acks[(w.task_id, w.created_at)].append(w)
    created = {key for key, answered in acks.items() if any(w.status == 201 for w in answered)}
    deleted = {key for key, answered in acks.items() if any(w.status == 204 for w in answered)}
    assert set(acks) == created, "acknowledged writes on tasks never acknowledged created"
    for (task_id, created_at), answered in acks.items():
        versions = etag_versions(task_id, created_at, attempts[task_id] + 1)
        numbered = [(versions.get(w.etag), w) for w in answered if w.status in (200, 201)]
        assert all(v is not None for v, _ in numbered), f"unknown ETag on task {task_id}"
        numbers = [v for v, _ in numbered]
        assert len(set(numbers)) == len(numbers), f"task {task_id}: a version acked twice"
        if not answered[0].shared:
            assert numbers == list(range(1, len(numbers) + 1)), (task_id, numbers)
        row = rows.get(task_id)
        present = row is not None and row["created_at"] == created_at
        if (task_id, created_at) in deleted:
            assert not present, f"task {task_id}: delete acknowledged, row still there"
            continue
        assert present, f"task {task_id}: acknowledged, but not in the database"
        version, last = max(numbered, key=lambda pair: pair[0])
        assert row["version"] == version, (task_id, row["version"], version)
        assert state(row) == state(last.body), task_id
    assert len(created) == len(rows) + len(deleted)
    assert {(row["id"], row["created_at"]) for row in rows.values()} == created - deleted
    return sum(len(answered) for answered in acks.values())


def latency_summary(log: str) -> tuple[float, float, float]:
    """(p50, p99, max) of the access-log durations of the writes in ``log``, in ms."""
    durations = sorted(float(m.group(1)) for m in re.finditer(
        r"\] (?:POST|PUT|PATCH|DELETE) \S+ \d{3} ([\d.]+)ms", log))
    if not durations:
        return (0.0, 0.0, 0.0)
    return (statistics.median(durations),
            durations[int(len(durations) * 0.99)], durations[-1])


def test_fifty_clients_mixed_writes_match_the_database(server):
    offset = server.log_size()
    with ThreadPoolExecutor(max_workers=10) as pool:
        shared = list(pool.map(lambda k: log_in(server, f"shared{k}@example.com", True),
                               range(SHARED_ACCOUNTS)))
        own = list(pool.map(lambda n: log_in(server, f"client{n}@example.com", True),
                            range(CLIENTS)))
        shared_tokens = list(pool.map(
            lambda n: log_in(server, f"shared{n % SHARED_ACCOUNTS}@example.com", False)[1],
            range(CLIENTS)))
    pools, locks, setup = [], [threading.Lock() for _ in shared], []
    for _user_id, token in shared:
        ids = []
        for n in range(SHARED_TASKS):
            answer = server.request("POST", TASKS, {"title": f"shared {n}"}, token)
            assert answer.status == 201, answer
            ids.append(answer.json["id"])
            setup.append(Write("create", None, True, 201, answer.json, answer.headers["ETag"],
                               utc(answer.json["created_at"])))
        pools.append(ids)
    writers = [Writer(server, n, own[n][1], shared_tokens[n], pools[n % SHARED_ACCOUNTS],
                      locks[n % SHARED_ACCOUNTS]) for n in range(CLIENTS)]
    barrier = threading.Barrier(CLIENTS)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        writes = [w for batch in pool.map(lambda c: c.run(barrier), writers) for w in batch]
    elapsed = time.monotonic() - started

    log = server.log()[offset:]
    statuses = Counter((w.shared, w.op, w.status) for w in writes)
    print(f"\n{len(writes)} writes in {elapsed:.1f} s: {sorted(statuses.items())}")
    print("server-side write latency, ms (p50, p99, max):", latency_summary(log))
    assert len(writes) == CLIENTS * WRITES
    assert [w for w in writes if w.status == 0] == [], "requests without a response"
    acknowledged = [w for w in writes if 200 <= w.status < 300]
    record("concurrency", "concurrent writes acknowledged", len(acknowledged))
    user_ids = [user_id for user_id, _ in shared + own]

    # The rows first: a failed request must not have changed them either.
    verified = verify(server.database, setup + writes, user_ids)

    assert verified == len(acknowledged) + len(setup)
    record("concurrency", "acknowledged writes verified in the database", len(acknowledged))
    unexpected = {key: n for key, n in statuses.items()
                  if key[2] not in (SHARED_OK if key[0] else OWN_OK)[key[1]]}
    assert unexpected == {}, "(shared, write, status): count"
    assert [line for line in BAD_LOG_LINES if line in log] == []
