"""Concurrent moves over real gunicorn (3 worker processes), on SQLite and on
PostgreSQL (issue 17).

One user has 30 tasks in 3 lists, some of them subtasks (up to 3 levels).
Several clients, each on its own connection, make 50 random moves each at the
same time: reorders among siblings, moves to the top of another list (subtasks
come along), moves under another task. Each client picks a move that is valid
in the snapshot it has just read; as others move tasks meanwhile, a move may be
a 422 (its parent or after_id no longer fits), never anything else. Proven
afterwards, for each database:

- no response is a 5xx, every request is answered, and the server log has no
  deadlock, "database is locked" or traceback;
- no task is lost or duplicated; every subtask is in its parent's list, at most
  3 levels deep, and no task is its own ancestor; every parent's counts are its
  children's;
- the positions within every sibling group are distinct, and the API lists each
  group exactly in the database's ``(position, id)`` order (total), the same in
  offset and in cursor pages.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

from tests.helpers import PASSWORD
from tests.report import record
from tests.server_access import NoResponse
from tests.servers import Server, log_shown_on_failure, serve

pytestmark = [pytest.mark.slow, pytest.mark.heavy]

CLIENTS, MOVES, TASK_COUNT = 6, 50, 30
SETTINGS = {"TASKAPI_RATELIMIT_ENABLED": "false"}
TASKS = "/api/v1/tasks"
BAD_LOG_LINES = ("database is locked", "deadlock", "database unavailable", "Traceback",
                 "unhandled exception", "[CRITICAL]", "WORKER TIMEOUT")


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request, tmp_path):
    for running in serve(request, tmp_path, workers=3, settings=SETTINGS):
        with log_shown_on_failure(request, running):
            yield running


def call(client, method: str, path: str, token: str, body=None, expected=(200,)):
    answer = client.request(method, path, body, token)
    assert answer.status in expected, (method, path, body, answer)
    return answer


def snapshot(client, token: str) -> dict[int, dict]:
    """``{id: task}`` of every task of the user (30 fit one page)."""
    tasks = call(client, "GET", f"{TASKS}?page_size=100&sort=id", token).json
    return {task["id"]: task for task in tasks}


class Tree:
    """The parent links of a snapshot, for choosing a valid move."""

    def __init__(self, tasks: dict[int, dict]):
        self.tasks = tasks
        self.kids: dict[int, list[int]] = {}
        for task in tasks.values():
            if task["parent_id"] is not None:
                self.kids.setdefault(task["parent_id"], []).append(task["id"])

    def depth(self, task_id: int) -> int:
        parent = self.tasks[task_id]["parent_id"]
        return 1 if parent is None else 1 + self.depth(parent)

    def height(self, task_id: int) -> int:
        return 1 + max((self.height(k) for k in self.kids.get(task_id, [])), default=0)

    def subtree(self, task_id: int) -> set[int]:
        found = {task_id}
        for kid in self.kids.get(task_id, []):
            found |= self.subtree(kid)
        return found

    def siblings(self, list_id: int, parent_id: int | None) -> list[int]:
        return [t["id"] for t in self.tasks.values()
                if t["parent_id"] == parent_id and (parent_id is not None
                                                    or t["list_id"] == list_id)]


def random_move(rng: random.Random, tree: Tree, lists: list[int], task_id: int) -> dict:
    """A move body valid in ``tree``'s snapshot."""
    task, kind = tree.tasks[task_id], rng.random()
    inside, height = tree.subtree(task_id), tree.height(task_id)
    parents = [p for p in tree.tasks if p not in inside and tree.depth(p) + height <= 3]
    if kind < 0.4 or (kind >= 0.7 and not parents):
        body, list_id, parent_id = {}, task["list_id"], task["parent_id"]
    elif kind < 0.7:
        list_id, parent_id = rng.choice(lists), None
        body = {"list_id": list_id}
    else:
        parent_id = rng.choice(parents)
        list_id = tree.tasks[parent_id]["list_id"]
        body = {"parent_id": parent_id}
    siblings = [s for s in tree.siblings(list_id, parent_id) if s != task_id]
    body["after_id"] = rng.choice([None, *siblings])
    return body


def mover(server: Server, token: str, lists: list[int], n: int,
          barrier: threading.Barrier) -> Counter:
    rng = random.Random(n)  # noqa: S311 (deterministic test data)
    client, statuses = server.client(), Counter()
    barrier.wait()
    try:
        for _ in range(MOVES):
            tree = Tree(snapshot(client, token))
            task_id = rng.choice(sorted(tree.tasks))
            body = random_move(rng, tree, lists, task_id)
            try:
                answer = client.request("POST", f"{TASKS}/{task_id}/move", body, token)
            except NoResponse:
                statuses[0] += 1
                continue
            statuses[answer.status] += 1
            if answer.status == 422:
                assert set(answer.json["errors"]["json"]) <= {"parent_id", "after_id"}, answer
            elif answer.status == 200:
                assert answer.json["id"] == task_id
    finally:
        client.close()
    return statuses


def setup_tasks(server: Server, token: str, lists: list[int]) -> list[int]:
    rng = random.Random(30)  # noqa: S311 (deterministic test data)
    client, ids, depth = server.client(), [], {}
    for n in range(TASK_COUNT):
        body = {"title": f"task {n}", "list_id": rng.choice(lists)}
        shallow = [i for i in ids if depth[i] < 3]
        if shallow and rng.random() < 0.4:
            parent = rng.choice(shallow)
            body = {"title": f"task {n}", "parent_id": parent}
        answer = call(client, "POST", TASKS, token, body, expected=(201,))
        ids.append(answer.json["id"])
        parent = answer.json["parent_id"]
        depth[ids[-1]] = 1 if parent is None else depth[parent] + 1
    client.close()
    return ids


def api_ids(client, token: str, query: dict, page_size: int | None = None) -> list[int]:
    """Task ids of GET /api/v1/tasks with ``query``: one page of 100, or every
    cursor page of ``page_size``."""
    if page_size is None:
        return [t["id"] for t in call(client, "GET",
                                      f"{TASKS}?{urlencode({**query, 'page_size': 100})}",
                                      token).json]
    seen, cursor = [], None
    while True:
        params = {**query, "page_size": page_size, **({"cursor": cursor} if cursor else {})}
        answer = call(client, "GET", f"{TASKS}?{urlencode(params)}", token)
        seen += [t["id"] for t in answer.json]
        cursor = answer.headers["X-Next-Cursor"]
        if cursor is None:
            return seen


def group_query(list_id: int, parent_id: int | None) -> dict:
    if parent_id is None:
        return {"list_id": list_id, "top_level": "true"}
    return {"list_id": list_id, "parent_id": parent_id}


def test_concurrent_moves_keep_a_total_order_and_every_task(server):
    offset = server.log_size()
    answer = server.request("POST", "/api/v1/auth/register",
                            {"email": "mover@example.com", "password": PASSWORD, "name": "M"})
    assert answer.status == 201, answer
    user_id = answer.json["id"]
    token = server.request("POST", "/api/v1/auth/login", {
        "email": "mover@example.com", "password": PASSWORD}).json["access_token"]
    lists = [entry["id"] for entry in server.request("GET", "/api/v1/lists", token=token).json]
    for name in ("Work", "Home"):
        answer = server.request("POST", "/api/v1/lists", {"name": name}, token)
        assert answer.status == 201, answer
        lists.append(answer.json["id"])
    ids = setup_tasks(server, token, lists)

    barrier = threading.Barrier(CLIENTS)
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        statuses = sum(pool.map(lambda n: mover(server, token, lists, n, barrier),
                                range(CLIENTS)), Counter())

    print(f"\nmoves: {sorted(statuses.items())}")
    assert sum(statuses.values()) == CLIENTS * MOVES
    record("concurrency", "concurrent moves acknowledged", statuses[200])

    # The rows first: whatever the answers were, nothing may be lost or tied.
    found = server.database.query(
        "SELECT id, list_id, parent_id, position, subtask_count, open_subtask_count "
        "FROM tasks WHERE user_id = :user_id", user_id=user_id)
    tasks = {row[0]: dict(zip(("id", "list_id", "parent_id", "position", "subtasks", "open"),
                              row, strict=True)) for row in found}
    assert sorted(tasks) == sorted(ids), "a task was lost or added"
    tree = Tree(tasks)
    groups: dict[tuple, list[tuple[str, int]]] = {}
    for task in tasks.values():
        parent = task["parent_id"]
        if parent is not None:
            assert tasks[parent]["list_id"] == task["list_id"], task
        assert tree.depth(task["id"]) <= 3, task  # also: no cycle (it would not end)
        kids = tree.kids.get(task["id"], [])
        assert (task["subtasks"], task["open"]) == (len(kids), len(kids)), task
        key = (task["list_id"] if parent is None else None, parent)
        groups.setdefault(key, []).append((task["position"], task["id"]))

    client, listed = server.client(), []
    for (list_id, parent), members in groups.items():
        positions = [position for position, _ in members]
        assert len(set(positions)) == len(positions), ("equal positions", list_id, parent)
        expected = [task_id for _, task_id in sorted(members, key=lambda m: m[0].encode())]
        query = group_query(list_id if list_id is not None else tasks[parent]["list_id"], parent)
        assert api_ids(client, token, query) == expected
        assert api_ids(client, token, query, page_size=3) == expected
        listed += expected
    assert sorted(listed) == sorted(ids)
    # A whole list (every level, by position then id): the same total order
    # in offset and in cursor pages.
    for list_id in lists:
        expected = [task["id"] for task in sorted(
            (task for task in tasks.values() if task["list_id"] == list_id),
            key=lambda task: (task["position"].encode(), task["id"]))]
        assert api_ids(client, token, {"list_id": list_id}) == expected
        assert api_ids(client, token, {"list_id": list_id}, page_size=4) == expected
    client.close()

    # Then the answers: a move is applied or refused as stale (422), nothing else.
    assert set(statuses) <= {200, 422}, statuses
    assert statuses[200] >= CLIENTS * MOVES // 2, statuses
    log = server.log()[offset:]
    assert [line for line in BAD_LOG_LINES if line.lower() in log.lower()] == []
