"""POST /api/v1/tasks/{id}/move and the manual order (issue 17).

Success and error paths of a move (every 422 leaves the database as it was),
If-Match, moving between lists with subtasks, ``position: "first"`` on create,
``sort=position`` in cursor pages, and a model test: 1,000 seeded random moves
through the test client, each checked against an in-memory model of the order
of every sibling group.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from taskapi.data_version import bump
from taskapi.extensions import db
from taskapi.models import Task
from taskapi.tasks.placement import MAX_KEY_LENGTH
from tests.helpers import assert_error, create_task, task_row
from tests.task_tree import (
    TASKS,
    db_groups,
    group_ids,
    inbox,
    listed,
    move,
    new_list,
    rows,
    tree,
)


def top(client, account, list_id: int) -> list[int]:
    return group_ids(client, account, list_id, None)


def children(client, account, parent_id: int) -> list[int]:
    return group_ids(client, account, 0, parent_id)


def flat(client, account, count: int, **where) -> list[int]:
    return [create_task(client, account, title=f"t{n}", **where)["id"] for n in range(count)]


# ------------------------------------------------------------------ success


def test_after_id_places_right_after_and_writes_one_row(app, client, user):
    home = inbox(app, user)
    ids = flat(client, user, 5)
    before = rows(app, user.id)

    response = move(client, user, ids[0], after_id=ids[2])

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["id"], body["list_id"], body["parent_id"]) == (ids[0], home, None)
    assert response.headers["ETag"]
    assert top(client, user, home) == [ids[1], ids[2], ids[0], ids[3], ids[4]]
    after = rows(app, user.id)
    changed = {task_id for task_id in ids if after[task_id] != before[task_id]}
    assert changed == {ids[0]}
    assert before[ids[2]]["position"] < after[ids[0]]["position"] < before[ids[3]]["position"]
    assert body["position"] == after[ids[0]]["position"]


def test_without_after_id_the_task_goes_first(app, client, user):
    home = inbox(app, user)
    ids = flat(client, user, 4)
    assert move(client, user, ids[2]).status_code == 200
    assert top(client, user, home) == [ids[2], ids[0], ids[1], ids[3]]
    assert move(client, user, ids[3], after_id=None).status_code == 200
    assert top(client, user, home) == [ids[3], ids[2], ids[0], ids[1]]
    # Already first: stays first.
    assert move(client, user, ids[3]).status_code == 200
    assert top(client, user, home) == [ids[3], ids[2], ids[0], ids[1]]


def test_after_the_last_sibling_goes_last(app, client, user):
    home = inbox(app, user)
    ids = flat(client, user, 3)
    assert move(client, user, ids[0], after_id=ids[2]).status_code == 200
    assert top(client, user, home) == [ids[1], ids[2], ids[0]]
    # After the task already right before it: no change in order.
    assert move(client, user, ids[0], after_id=ids[2]).status_code == 200
    assert top(client, user, home) == [ids[1], ids[2], ids[0]]


def test_move_under_a_parent_recounts_both_parents(app, client, user):
    t = tree(client, user)
    single = create_task(client, user, title="single")["id"]
    versions = {n: task_row(app, t[n])["version"] for n in ("root", "a")}

    response = move(client, user, t["a1"], parent_id=t["root"], after_id=t["a"])

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["parent_id"] == t["root"]
    assert children(client, user, t["root"]) == [t["a"], t["a1"], t["b"]]
    assert children(client, user, t["a"]) == [t["a2"]]
    root, a = task_row(app, t["root"]), task_row(app, t["a"])
    assert (root["subtask_count"], root["open_subtask_count"]) == (3, 3)
    assert (a["subtask_count"], a["open_subtask_count"]) == (1, 1)
    assert root["version"] > versions["root"] and a["version"] > versions["a"]

    # A top-level task becomes a subtask, and back.
    assert move(client, user, single, parent_id=t["b"]).status_code == 200
    assert task_row(app, single)["parent_id"] == t["b"]
    assert task_row(app, t["b"])["subtask_count"] == 1
    response = move(client, user, single, parent_id=None, after_id=t["root"])
    assert response.status_code == 200
    assert response.get_json()["parent_id"] is None
    assert top(client, user, inbox(app, user)) == [t["root"], single]
    assert task_row(app, t["b"])["subtask_count"] == 0


def test_neither_list_nor_parent_keeps_both(app, client, user):
    t = tree(client, user)
    response = move(client, user, t["a1"], after_id=t["a2"])
    assert response.status_code == 200
    assert response.get_json()["parent_id"] == t["a"]
    assert children(client, user, t["a"]) == [t["a2"], t["a1"]]
    assert task_row(app, t["a"])["subtask_count"] == 2


def test_list_id_alone_goes_to_the_top_level_of_that_list(app, client, user):
    home = inbox(app, user)
    t = tree(client, user)
    # Even the list the subtask is in already: it leaves its parent.
    response = move(client, user, t["b"], list_id=home, after_id=t["root"])
    assert response.status_code == 200, response.get_data(as_text=True)
    assert (response.get_json()["list_id"], response.get_json()["parent_id"]) == (home, None)
    assert top(client, user, home) == [t["root"], t["b"]]
    assert task_row(app, t["root"])["subtask_count"] == 1


def test_moving_to_another_list_takes_the_subtasks(app, client, user):
    home, work = inbox(app, user), new_list(client, user, "Work")
    t = tree(client, user)
    there = create_task(client, user, title="there", list_id=work)["id"]
    before = rows(app, user.id)

    response = move(client, user, t["root"], list_id=work, after_id=there)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["list_id"] == work
    after = rows(app, user.id)
    for name, task_id in t.items():
        assert after[task_id]["list_id"] == work, name
        assert after[task_id]["parent_id"] == before[task_id]["parent_id"], name
    assert [after[t[n]]["position"] for n in ("a", "b", "a1", "a2")] == [
        before[t[n]]["position"] for n in ("a", "b", "a1", "a2")]
    assert top(client, user, work) == [there, t["root"]]
    assert top(client, user, home) == []
    assert children(client, user, t["a"]) == [t["a1"], t["a2"]]
    assert {task["id"] for task in listed(client, user, list_id=work)} == {there, *t.values()}
    assert listed(client, user, list_id=home) == []
    assert (after[t["root"]]["subtask_count"], after[t["a"]]["subtask_count"]) == (2, 2)

    # A subtask moved to another list leaves its parent, with its own subtasks.
    response = move(client, user, t["a"], list_id=home)
    assert response.status_code == 200
    assert (response.get_json()["list_id"], response.get_json()["parent_id"]) == (home, None)
    after = rows(app, user.id)
    assert [after[t[n]]["list_id"] for n in ("a", "a1", "a2")] == [home] * 3
    assert [after[t[n]]["list_id"] for n in ("root", "b")] == [work] * 2
    assert after[t["root"]]["subtask_count"] == 1


def test_parent_in_another_list_moves_the_task_into_that_list(app, client, user):
    home, work = inbox(app, user), new_list(client, user, "Work")
    t = tree(client, user)
    parent = create_task(client, user, title="parent", list_id=work)["id"]

    response = move(client, user, t["a"], parent_id=parent)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert (response.get_json()["list_id"], response.get_json()["parent_id"]) == (work, parent)
    after = rows(app, user.id)
    assert [after[t[n]]["list_id"] for n in ("a", "a1", "a2")] == [work] * 3
    assert after[t["root"]]["list_id"] == home
    assert (after[parent]["subtask_count"], after[t["root"]]["subtask_count"]) == (1, 1)
    # list_id may repeat the parent's list.
    response = move(client, user, t["b"], parent_id=parent, list_id=work, after_id=t["a"])
    assert response.status_code == 200
    assert children(client, user, parent) == [t["a"], t["b"]]


def test_move_with_current_if_match(app, client, user):
    ids = flat(client, user, 2)
    etag = client.get(f"{TASKS}/{ids[1]}", headers=user.headers).headers["ETag"]
    response = move(client, user, ids[1], headers={"If-Match": etag})
    assert response.status_code == 200
    assert response.headers["ETag"] != etag
    assert top(client, user, inbox(app, user)) == [ids[1], ids[0]]


def set_positions(app, user_id: int, positions: dict[int, str]) -> None:
    """Write positions straight into the rows (as a script outside taskapi
    might), moving the user's data version as such a script must."""
    with app.app_context():
        for task_id, position in positions.items():
            db.session.execute(sa.update(Task).where(Task.id == task_id)
                               .values(position=position))
        bump(db.session, [user_id])
        db.session.commit()


def test_a_key_that_would_grow_too_long_renumbers_the_group(app, client, user):
    home = inbox(app, user)
    a, b, c = flat(client, user, 3)
    long_a, long_b = "a0" + "1" * (MAX_KEY_LENGTH - 2), "a0" + "1" * (MAX_KEY_LENGTH - 3) + "2"
    set_positions(app, user.id, {a: long_a, b: long_b})
    before = rows(app, user.id)

    response = move(client, user, c, after_id=a)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert top(client, user, home) == [a, c, b]
    after = rows(app, user.id)
    positions = [after[i]["position"] for i in (a, c, b)]
    assert positions == sorted(positions) and len(set(positions)) == 3
    assert max(len(p) for p in positions) < 10
    # Renumbering rewrote the siblings: their ETags moved.
    assert all(after[i]["version"] > before[i]["version"] for i in (a, b))


def test_equal_neighbour_positions_are_renumbered(app, client, user):
    home = inbox(app, user)
    a, b, c, d = flat(client, user, 4)
    set_positions(app, user.id, {b: rows(app, user.id)[a]["position"]})
    assert top(client, user, home) == [a, b, c, d]  # ties broken by id

    response = move(client, user, d, after_id=a)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert top(client, user, home) == [a, d, b, c]
    positions = [row["position"] for row in rows(app, user.id).values()]
    assert len(set(positions)) == 4


# ------------------------------------------------------------------ errors


@pytest.fixture
def unchanged(app, user, other_user):
    """Asserts, when called, that no task row of either user changed since setup
    was taken (``unchanged.take()``)."""

    class Snapshot:
        def take(self):
            self.before = (rows(app, user.id), rows(app, other_user.id))

        def __call__(self):
            assert (rows(app, user.id), rows(app, other_user.id)) == self.before

    return Snapshot()


@pytest.mark.parametrize("target", ["root", "a", "a1"])
def test_cycle_is_a_422_naming_parent_id(app, client, user, other_user, unchanged, target):
    t = tree(client, user)
    unchanged.take()
    response = move(client, user, t["root"], parent_id=t[target])
    body = assert_error(response, 422, field="parent_id")
    assert "itself" in body["errors"]["json"]["parent_id"][0]
    unchanged()


def test_depth_is_a_422_naming_parent_id(app, client, user, other_user, unchanged):
    t = tree(client, user)
    other = tree(client, user)
    unchanged.take()
    # A leaf under a third-level task: a fourth level.
    assert_error(move(client, user, other["b"], parent_id=t["a1"]), 422, field="parent_id")
    # A two-level subtree (a, a1, a2) under a second-level task: four levels.
    assert_error(move(client, user, t["a"], parent_id=other["b"]), 422, field="parent_id")
    # A three-level tree under any task.
    assert_error(move(client, user, t["root"], parent_id=other["root"]), 422, field="parent_id")
    unchanged()
    # The deepest allowed: a two-level subtree under a top-level task.
    assert move(client, user, t["a"], parent_id=other["root"]).status_code == 200
    assert move(client, user, other["b"], parent_id=other["a1"]).status_code == 422


def test_after_id_not_a_sibling_at_the_destination(app, client, user, other_user, unchanged):
    work = new_list(client, user, "Work")
    t = tree(client, user)
    elsewhere = create_task(client, user, list_id=work)["id"]
    unchanged.take()
    cases = [
        ({"after_id": t["a"]}, t["a1"]),                      # the parent, not a sibling
        ({"after_id": t["a1"]}, t["b"]),                      # a nephew
        ({"after_id": t["root"], "parent_id": t["a"]}, t["b"]),  # top level, not under a
        ({"after_id": t["root"], "list_id": work}, t["b"]),    # another list's top level
        ({"after_id": elsewhere}, t["root"]),                  # same level, other list
        ({"after_id": 2147483647}, t["root"]),                 # no such task
    ]
    for body, task_id in cases:
        assert_error(move(client, user, task_id, **body), 422, field="after_id")
    unchanged()


def test_after_id_itself_is_a_422(app, client, user, other_user, unchanged):
    ids = flat(client, user, 3)
    unchanged.take()
    body = assert_error(move(client, user, ids[1], after_id=ids[1]), 422, field="after_id")
    assert "itself" in body["message"] or "itself" in str(body["errors"])
    unchanged()


def test_another_users_list_task_or_after_id(app, client, user, other_user, unchanged):
    mine = flat(client, user, 2)
    theirs_list = new_list(client, other_user, "Theirs")
    theirs = create_task(client, other_user, title="theirs", list_id=theirs_list)["id"]
    their_top = create_task(client, other_user, title="their top")["id"]
    unchanged.take()

    assert_error(move(client, user, mine[0], list_id=theirs_list), 422, field="list_id")
    assert_error(move(client, user, mine[0], parent_id=theirs), 422, field="parent_id")
    assert_error(move(client, user, mine[0], after_id=their_top), 422, field="after_id")
    assert_error(move(client, user, mine[0], list_id=theirs_list, after_id=theirs), 422,
                 field="list_id")
    # Their task in the path: a 404, whatever the body.
    assert_error(move(client, user, theirs, after_id=mine[1]), 404)
    assert_error(move(client, user, theirs), 404)
    assert_error(move(client, user, 2147483647), 404)
    unchanged()


def test_parent_and_another_list_id_is_a_422_naming_parent_id(app, client, user, other_user,
                                                              unchanged):
    work = new_list(client, user, "Work")
    t = tree(client, user)
    single = create_task(client, user)["id"]
    unchanged.take()
    assert_error(move(client, user, single, parent_id=t["root"], list_id=work), 422,
                 field="parent_id")
    unchanged()


@pytest.mark.parametrize("body, field", [
    ({"list_id": "1"}, "list_id"),
    ({"after_id": 0}, "after_id"),
    ({"parent_id": -1}, "parent_id"),
    ({"position": "a0"}, "position"),
    ({"user_id": 2}, "user_id"),
])
def test_invalid_body_is_a_422(app, client, user, other_user, unchanged, body, field):
    ids = flat(client, user, 2)
    unchanged.take()
    response = client.post(f"{TASKS}/{ids[1]}/move", json=body, headers=user.headers)
    assert_error(response, 422, field=field)
    unchanged()


def test_stale_if_match_is_a_412_and_nothing_moves(app, client, user, other_user, unchanged):
    ids = flat(client, user, 3)
    etag = client.get(f"{TASKS}/{ids[2]}", headers=user.headers).headers["ETag"]
    client.patch(f"{TASKS}/{ids[2]}", json={"title": "changed"}, headers=user.headers)
    unchanged.take()

    response = move(client, user, ids[2], headers={"If-Match": etag})

    assert_error(response, 412)
    assert response.headers["ETag"] != etag
    unchanged()
    assert top(client, user, inbox(app, user)) == ids


def test_a_parents_etag_goes_stale_when_a_child_moves_away(app, client, user):
    t = tree(client, user)
    etag = client.get(f"{TASKS}/{t['a']}", headers=user.headers).headers["ETag"]
    assert move(client, user, t["a1"], parent_id=t["root"]).status_code == 200
    assert_error(move(client, user, t["a"], headers={"If-Match": etag}), 412)


# ------------------------------------------------------------------ create order


def test_new_tasks_go_last_or_first(app, client, user):
    home, work = inbox(app, user), new_list(client, user, "Work")
    a = create_task(client, user, title="a")["id"]
    b = create_task(client, user, title="b", position="last")["id"]
    c = create_task(client, user, title="c", position="first")["id"]
    d = create_task(client, user, title="d", position="first", list_id=work)["id"]
    e = create_task(client, user, title="e", list_id=work)["id"]
    sub = create_task(client, user, title="sub", parent_id=a, position="first")["id"]
    sub2 = create_task(client, user, title="sub2", parent_id=a, position="first")["id"]

    assert top(client, user, home) == [c, a, b]
    assert top(client, user, work) == [d, e]
    assert children(client, user, a) == [sub2, sub]
    # The default order of ?list_id= is position (siblings of every level mixed
    # by position, ties by id; still one total order).
    assert [t["id"] for t in listed(client, user, list_id=home)] == [
        t["id"] for t in listed(client, user, list_id=home, sort="position")]
    assert_error(client.post(TASKS, json={"title": "x", "position": "middle"},
                             headers=user.headers), 422, field="position")


# ------------------------------------------------------------------ cursor pages


def walk(client, account, page_size: int, **query) -> list[int]:
    """Every task id of the query, page by page along X-Next-Cursor."""
    seen, cursor = [], None
    for _page in range(200):
        params = {**query, "page_size": page_size}
        if cursor:
            params["cursor"] = cursor
        response = client.get(f"{TASKS}?{urlencode(params)}", headers=account.headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        page = [task["id"] for task in response.get_json()]
        assert len(page) <= page_size
        seen += page
        cursor = response.headers.get("X-Next-Cursor")
        if cursor is None:
            return seen
        assert "X-Pagination" not in response.headers or seen
    raise AssertionError("cursor pages never ended")


@pytest.mark.parametrize("sort", ["position", "-position", "position,-created_at"])
def test_sort_position_in_cursor_pages(app, client, user, sort):
    work = new_list(client, user, "Work")
    rng = random.Random(7)  # noqa: S311 (deterministic test data)
    ids = flat(client, user, 14, list_id=work)
    for task_id in rng.sample(ids, 8):
        others = [i for i in ids if i != task_id]
        move(client, user, task_id, after_id=rng.choice(others + [None]))
    sub = create_task(client, user, title="sub", parent_id=ids[3])["id"]
    flat(client, user, 4)  # in the Inbox: not in the list

    full = [t["id"] for t in listed(client, user, list_id=work, sort=sort)]
    assert sorted(full) == sorted([*ids, sub])
    expected = sorted(rows(app, user.id).items(),
                      key=lambda item: (item[1]["position"], item[0]),
                      reverse=sort.startswith("-"))
    assert full == [task_id for task_id, row in expected if row["list_id"] == work]
    for page_size in (1, 3, 5):
        assert walk(client, user, page_size, list_id=work, sort=sort) == full
    top_level = [t["id"] for t in listed(client, user, list_id=work, top_level="true",
                                         sort=sort)]
    assert walk(client, user, 4, list_id=work, top_level="true", sort=sort) == top_level
    assert sub not in top_level and len(top_level) == 14
    # Over every list.
    everything = [t["id"] for t in listed(client, user, sort=sort)]
    assert walk(client, user, 4, sort=sort) == everything
    assert len(everything) == 19


def test_default_order_of_a_list_is_position_cursors_too(app, client, user):
    ids = flat(client, user, 7)
    move(client, user, ids[6])
    move(client, user, ids[0], after_id=ids[3])
    order = top(client, user, inbox(app, user))
    assert order == [ids[6], ids[1], ids[2], ids[3], ids[0], ids[4], ids[5]]
    assert walk(client, user, 2, list_id=inbox(app, user)) == order
    response = client.get(f"{TASKS}?list_id={inbox(app, user)}&page_size=2",
                          headers=user.headers)
    cursor = response.headers["X-Next-Cursor"]
    wrong = client.get(f"{TASKS}?list_id={inbox(app, user)}&sort=-position&cursor={cursor}",
                       headers=user.headers)
    assert_error(wrong, 422, field="cursor")


# ------------------------------------------------------------------ model test


MOVES = 1000
TASK_COUNT = 30


@dataclass
class Model:
    """The expected order: ``groups[key]`` the ids of one sibling group in order,
    ``key`` being ``("top", list_id)`` or ``("under", parent_id)``."""

    groups: dict[tuple, list[int]] = field(default_factory=dict)
    list_of: dict[int, int] = field(default_factory=dict)
    parent_of: dict[int, int | None] = field(default_factory=dict)

    def key(self, task_id: int) -> tuple:
        parent = self.parent_of[task_id]
        return ("top", self.list_of[task_id]) if parent is None else ("under", parent)

    def kids(self, task_id: int) -> list[int]:
        return self.groups.get(("under", task_id), [])

    def depth(self, task_id: int) -> int:
        parent = self.parent_of[task_id]
        return 1 if parent is None else 1 + self.depth(parent)

    def height(self, task_id: int) -> int:
        return 1 + max((self.height(k) for k in self.kids(task_id)), default=0)

    def subtree(self, task_id: int) -> list[int]:
        return [task_id, *(d for k in self.kids(task_id) for d in self.subtree(k))]

    def add(self, task_id: int, list_id: int, parent_id: int | None, first: bool) -> None:
        self.list_of[task_id], self.parent_of[task_id] = list_id, parent_id
        group = self.groups.setdefault(self.key(task_id), [])
        group.insert(0 if first else len(group), task_id)

    def place(self, task_id: int, list_id: int, parent_id: int | None,
              after_id: int | None) -> None:
        self.groups[self.key(task_id)].remove(task_id)
        for member in self.subtree(task_id):
            self.list_of[member] = list_id
        self.parent_of[task_id] = parent_id
        group = self.groups.setdefault(self.key(task_id), [])
        group.insert(0 if after_id is None else group.index(after_id) + 1, task_id)

    def valid_parents(self, task_id: int) -> list[int]:
        inside, height = set(self.subtree(task_id)), self.height(task_id)
        return [p for p in self.parent_of if p not in inside and self.depth(p) + height <= 3]


def _random_move(rng: random.Random, model: Model, lists: list[int], task_id: int):
    """``(body, destination list, destination parent)`` of a valid random move."""
    kind = rng.random()
    parents = model.valid_parents(task_id)
    if kind < 0.3 or (kind >= 0.6 and not parents):  # reorder among the same siblings
        body, list_id, parent_id = {}, model.list_of[task_id], model.parent_of[task_id]
    elif kind < 0.5:  # to the top level of a list (maybe its own)
        list_id = rng.choice(lists)
        body, parent_id = {"list_id": list_id}, None
    elif kind < 0.6:
        list_id, parent_id = model.list_of[task_id], None
        body = {"parent_id": None}
    else:
        parent_id = rng.choice(parents)
        list_id = model.list_of[parent_id]
        body = {"parent_id": parent_id}
        if rng.random() < 0.3:
            body["list_id"] = list_id
    key = ("top", list_id) if parent_id is None else ("under", parent_id)
    siblings = [s for s in model.groups.get(key, []) if s != task_id]
    after = rng.choice([None, *siblings])
    if after is not None or rng.random() < 0.5:
        body["after_id"] = after
    return body, list_id, parent_id


def _random_invalid_move(rng: random.Random, model: Model, task_id: int):
    """``(body, field)`` of a move the API must refuse, or None."""
    inside = model.subtree(task_id)
    height = model.height(task_id)
    too_deep = [p for p in model.parent_of
                if p not in inside and model.depth(p) + height > 3]
    choices = [({"parent_id": rng.choice(inside)}, "parent_id"),
               ({"after_id": task_id}, "after_id")]
    if too_deep:
        choices.append(({"parent_id": rng.choice(too_deep)}, "parent_id"))
    strangers = [t for t in model.parent_of if model.key(t) != model.key(task_id)]
    if strangers:
        choices.append(({"after_id": rng.choice(strangers)}, "after_id"))
    return rng.choice(choices)


def assert_matches(model: Model, task_rows: dict[int, dict]) -> None:
    """The database's sibling groups are the model's, in the same order."""
    actual = {}
    for (list_id, parent_id), ids in db_groups(task_rows).items():
        key = ("top", list_id) if parent_id is None else ("under", parent_id)
        assert key not in actual
        actual[key] = ids
    assert actual == {key: ids for key, ids in model.groups.items() if ids}
    for task_id, row in task_rows.items():
        assert row["list_id"] == model.list_of[task_id], task_id


def test_a_thousand_random_moves_match_a_model(app, client, user):
    rng = random.Random(20260517)  # noqa: S311 (deterministic test data)
    lists = [inbox(app, user), new_list(client, user, "Work"), new_list(client, user, "Home")]
    model = Model()
    for n in range(TASK_COUNT):
        list_id, parent_id = rng.choice(lists), None
        candidates = [p for p in model.parent_of if model.depth(p) < 3]
        if candidates and rng.random() < 0.5:
            parent_id = rng.choice(candidates)
            list_id = model.list_of[parent_id]
        first = rng.random() < 0.3
        body = {"title": f"task {n}", "position": "first" if first else "last"}
        if parent_id is not None:
            body["parent_id"] = parent_id
        else:
            body["list_id"] = list_id
        task = create_task(client, user, **body)
        assert (task["list_id"], task["parent_id"]) == (list_id, parent_id)
        model.add(task["id"], list_id, parent_id, first)
    assert_matches(model, rows(app, user.id))

    refused, tally = 0, Counter()
    for step in range(MOVES):
        task_id = rng.choice(sorted(model.parent_of))
        if rng.random() < 0.1:
            body, name = _random_invalid_move(rng, model, task_id)
            response = move(client, user, task_id, **body)
            assert_error(response, 422, field=name)
            refused += 1
        else:
            body, list_id, parent_id = _random_move(rng, model, lists, task_id)
            response = move(client, user, task_id, **body)
            assert response.status_code == 200, (step, body, response.get_data(as_text=True))
            answer = response.get_json()
            assert (answer["list_id"], answer["parent_id"]) == (list_id, parent_id), (step, body)
            if parent_id != model.parent_of[task_id]:
                tally["new parent"] += 1
            if list_id != model.list_of[task_id] and len(model.subtree(task_id)) > 1:
                tally["subtree to another list"] += 1
            lands_at = 1 if parent_id is None else model.depth(parent_id) + 1
            if lands_at + model.height(task_id) - 1 == 3:
                tally["reaching the third level"] += 1
            model.place(task_id, list_id, parent_id, body.get("after_id"))
        assert_matches(model, rows(app, user.id))
    assert refused > 50
    print(dict(tally))
    assert min(tally.values()) > 30 and len(tally) == 3, tally

    # Through the API: every group in order, positions distinct, counts right.
    task_rows = rows(app, user.id)
    for key, ids in model.groups.items():
        if key[0] == "top":
            api = [t["id"] for t in listed(client, user, list_id=key[1], top_level="true")]
        else:
            api = [t["id"] for t in listed(client, user, list_id=model.list_of[key[1]],
                                           parent_id=key[1])]
        assert api == ids, key
        positions = [task_rows[i]["position"] for i in ids]
        assert len(set(positions)) == len(positions), key
        assert positions == sorted(positions), key
    for task_id, row in task_rows.items():
        kids = model.kids(task_id)
        assert (row["subtask_count"], row["open_subtask_count"]) == (len(kids), len(kids))
        assert model.depth(task_id) <= 3
    for list_id in lists:
        in_list = {t["id"] for t in listed(client, user, list_id=list_id)}
        assert in_list == {i for i, lst in model.list_of.items() if lst == list_id}
    assert sorted(task_rows) == sorted(model.parent_of)
