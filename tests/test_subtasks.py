"""Subtasks (issue 17): creating them, listing them, their counts, completing and
deleting a parent, over v1 and the original contract's routes.

Every test goes through the test client and checks the status, the body and the
rows in the database.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.models import Tag, Task
from tests.helpers import assert_error, create_task, task_count, task_row
from tests.task_tree import TASKS, inbox, listed, new_list, tree


def get(client, account, task_id: int, headers: dict | None = None):
    return client.get(f"{TASKS}/{task_id}", headers={**account.headers, **(headers or {})})


def counts(app, task_id: int) -> tuple[int, int]:
    row = task_row(app, task_id)
    return row["subtask_count"], row["open_subtask_count"]


# ------------------------------------------------------------------ creating


def test_subtask_inherits_the_parents_list_and_counts_on_the_parent(app, client, user):
    work = new_list(client, user, "Work")
    parent = create_task(client, user, title="parent", list_id=work)
    assert (parent["parent_id"], parent["subtask_count"], parent["open_subtask_count"]) == (
        None, 0, 0)

    child = create_task(client, user, title="child", parent_id=parent["id"])
    done = create_task(client, user, title="done", parent_id=parent["id"], completed=True)

    assert child["list_id"] == work and child["parent_id"] == parent["id"]
    assert done["list_id"] == work and done["completed"] is True
    body = get(client, user, parent["id"]).get_json()
    assert (body["subtask_count"], body["open_subtask_count"]) == (2, 1)
    assert counts(app, parent["id"]) == (2, 1)
    assert task_row(app, child["id"])["list_id"] == work
    assert task_row(app, child["id"])["parent_id"] == parent["id"]


def test_subtask_may_repeat_the_parents_list(app, client, user):
    work = new_list(client, user, "Work")
    parent = create_task(client, user, list_id=work)["id"]
    child = create_task(client, user, list_id=work, parent_id=parent)
    assert (child["list_id"], child["parent_id"]) == (work, parent)


def test_task_without_list_goes_to_the_inbox_top_level(app, client, user):
    task = create_task(client, user)
    assert task["list_id"] == inbox(app, user)
    assert task["parent_id"] is None


def test_parent_of_another_user_is_a_422_and_nothing_is_created(app, client, user, other_user):
    theirs = create_task(client, other_user, title="theirs")
    before = task_count(app)

    response = client.post(TASKS, json={"title": "sneaky", "parent_id": theirs["id"]},
                           headers=user.headers)

    assert_error(response, 422, field="parent_id")
    assert task_count(app) == before
    row = task_row(app, theirs["id"])
    assert (row["subtask_count"], row["open_subtask_count"]) == (0, 0)
    assert row["version"] == 1


@pytest.mark.parametrize("parent_id", [2147483647, 999])
def test_parent_that_does_not_exist_is_a_422(app, client, user, parent_id):
    response = client.post(TASKS, json={"title": "orphan", "parent_id": parent_id},
                           headers=user.headers)
    assert_error(response, 422, field="parent_id")
    assert task_count(app) == 0


def test_list_of_another_user_is_a_422_naming_list_id(app, client, user, other_user):
    theirs = new_list(client, other_user, "Theirs")
    response = client.post(TASKS, json={"title": "sneaky", "list_id": theirs},
                           headers=user.headers)
    assert_error(response, 422, field="list_id")
    assert task_count(app) == 0


def test_parent_in_another_list_is_a_422_and_nothing_is_created(app, client, user):
    work, home = new_list(client, user, "Work"), new_list(client, user, "Home")
    parent = create_task(client, user, list_id=work)["id"]
    before = task_count(app)

    response = client.post(TASKS, json={"title": "x", "parent_id": parent, "list_id": home},
                           headers=user.headers)

    assert_error(response, 422, field="parent_id")
    assert task_count(app) == before
    assert counts(app, parent) == (0, 0)


def test_three_levels_are_allowed_a_fourth_is_a_422(app, client, user):
    top = create_task(client, user, title="1")["id"]
    second = create_task(client, user, title="2", parent_id=top)["id"]
    third = create_task(client, user, title="3", parent_id=second)
    assert third["parent_id"] == second
    before = task_count(app)

    response = client.post(TASKS, json={"title": "4", "parent_id": third["id"]},
                           headers=user.headers)

    assert_error(response, 422, field="parent_id")
    assert task_count(app) == before
    assert counts(app, third["id"]) == (0, 0)


@pytest.mark.parametrize("field", ["subtask_count", "open_subtask_count", "user_id"])
def test_counts_and_owner_are_not_writable(app, client, user, field):
    response = client.post(TASKS, json={"title": "x", field: 5}, headers=user.headers)
    assert_error(response, 422, field=field)
    assert task_count(app) == 0


# ------------------------------------------------------------------ listing


def test_parent_id_lists_direct_children_in_position_order(app, client, user):
    t = tree(client, user)
    first = create_task(client, user, title="first", parent_id=t["root"], position="first")

    children = listed(client, user, parent_id=t["root"])

    assert [c["id"] for c in children] == [first["id"], t["a"], t["b"]]
    assert all(c["parent_id"] == t["root"] for c in children)
    positions = [c["position"] for c in children]
    assert positions == sorted(positions) and len(set(positions)) == 3
    grandchildren = listed(client, user, parent_id=t["a"])
    assert [c["id"] for c in grandchildren] == [t["a1"], t["a2"]]
    assert listed(client, user, parent_id=t["a1"]) == []
    # Another order when asked for.
    newest = listed(client, user, parent_id=t["root"], sort="-created_at")
    assert [c["id"] for c in newest] == [first["id"], t["b"], t["a"]]


def test_parent_id_of_another_user_is_a_404(client, user, other_user):
    theirs = tree(client, other_user)
    for parent_id in (theirs["root"], 2147483647):
        response = client.get(f"{TASKS}?parent_id={parent_id}", headers=user.headers)
        body = assert_error(response, 404)
        assert "Task" in body["message"]


def test_top_level_filter(client, user):
    t = tree(client, user)
    single = create_task(client, user, title="single")["id"]

    top = listed(client, user, top_level="true", sort="id")
    sub = listed(client, user, top_level="false", sort="id")

    assert [task["id"] for task in top] == [t["root"], single]
    assert [task["id"] for task in sub] == sorted([t["a"], t["b"], t["a1"], t["a2"]])
    assert all(task["parent_id"] is not None for task in sub)
    work = new_list(client, user, "Work")
    elsewhere = create_task(client, user, list_id=work)["id"]
    assert [task["id"] for task in listed(client, user, list_id=work, top_level="true")] == [
        elsewhere]


# ------------------------------------------------------------------ completion


def _compat(user) -> str:
    return f"/api/{user.id}/tasks"


COMPLETE_ROUTES = {
    "v1 complete": lambda c, u, i: c.patch(f"{TASKS}/{i}/complete", json={"completed": True},
                                           headers=u.headers),
    "v1 complete toggle": lambda c, u, i: c.patch(f"{TASKS}/{i}/complete", headers=u.headers),
    "v1 PATCH": lambda c, u, i: c.patch(f"{TASKS}/{i}", json={"completed": True},
                                        headers=u.headers),
    "v1 PUT": lambda c, u, i: c.put(f"{TASKS}/{i}", json={"title": "root", "completed": True},
                                    headers=u.headers),
    "compat complete": lambda c, u, i: c.patch(f"{_compat(u)}/{i}/complete",
                                               json={"completed": True}, headers=u.headers),
    "compat complete toggle": lambda c, u, i: c.patch(f"{_compat(u)}/{i}/complete",
                                                      headers=u.headers),
    "compat PUT": lambda c, u, i: c.put(f"{_compat(u)}/{i}", json={"completed": True},
                                        headers=u.headers),
}


@pytest.mark.parametrize("route", sorted(COMPLETE_ROUTES))
def test_completing_a_parent_completes_open_subtasks_at_every_level(app, client, user, route):
    t = tree(client, user)
    done_before = client.patch(f"{TASKS}/{t['a2']}/complete", json={"completed": True},
                               headers=user.headers).get_json()
    unrelated = create_task(client, user, title="unrelated")["id"]
    before = {name: task_row(app, task_id) for name, task_id in t.items()}

    response = COMPLETE_ROUTES[route](client, user, t["root"])

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["completed"] is True
    after = {name: task_row(app, task_id) for name, task_id in t.items()}
    assert all(row["completed"] for row in after.values())
    assert all(row["completed_at"] is not None for row in after.values())
    # The subtask completed before keeps its completed_at.
    assert after["a2"]["completed_at"] == before["a2"]["completed_at"]
    assert after["a2"]["completed_at"].isoformat() == done_before["completed_at"]
    for name in ("a", "b", "a1"):
        assert after[name]["version"] > before[name]["version"], name
        assert after[name]["completed_at"] >= before[name]["updated_at"], name
    assert (after["root"]["subtask_count"], after["root"]["open_subtask_count"]) == (2, 0)
    assert (after["a"]["subtask_count"], after["a"]["open_subtask_count"]) == (2, 0)
    assert task_row(app, unrelated)["completed"] is False
    if route.startswith("v1"):
        assert response.get_json()["open_subtask_count"] == 0
    else:  # the original contract's JSON gains no field
        assert "open_subtask_count" not in response.get_json()
        assert "parent_id" not in response.get_json()
    # What the API says matches the rows.
    body = get(client, user, t["a"]).get_json()
    assert body["completed"] is True and body["open_subtask_count"] == 0


def test_completing_a_middle_task_completes_below_it_only(app, client, user):
    t = tree(client, user)
    response = client.patch(f"{TASKS}/{t['a']}/complete", json={"completed": True},
                            headers=user.headers)
    assert response.status_code == 200
    done = {name: task_row(app, task_id)["completed"] for name, task_id in t.items()}
    assert done == {"root": False, "a": True, "b": False, "a1": True, "a2": True}
    assert counts(app, t["root"]) == (2, 1)
    assert counts(app, t["a"]) == (2, 0)


def test_reopening_a_parent_reopens_nothing(app, client, user):
    t = tree(client, user)
    client.patch(f"{TASKS}/{t['root']}/complete", json={"completed": True}, headers=user.headers)
    closed = {name: task_row(app, task_id) for name, task_id in t.items()}

    response = client.patch(f"{TASKS}/{t['root']}/complete", json={"completed": False},
                            headers=user.headers)

    assert response.status_code == 200
    body = response.get_json()
    assert body["completed"] is False and body["completed_at"] is None
    assert body["open_subtask_count"] == 0
    for name in ("a", "b", "a1", "a2"):
        row = task_row(app, t[name])
        assert row["completed"] is True, name
        assert row["completed_at"] == closed[name]["completed_at"], name
        assert row["version"] == closed[name]["version"], name
    # PATCH completed:false and the compat toggle reopen nothing either.
    client.patch(f"{TASKS}/{t['a']}", json={"completed": False}, headers=user.headers)
    assert task_row(app, t["a1"])["completed"] is True
    assert counts(app, t["root"]) == (2, 1)


def test_counts_follow_child_completion_and_deletion(app, client, user):
    t = tree(client, user)
    assert counts(app, t["root"]) == (2, 2)
    version = task_row(app, t["root"])["version"]

    client.patch(f"{TASKS}/{t['b']}/complete", json={"completed": True}, headers=user.headers)
    assert counts(app, t["root"]) == (2, 1)
    assert task_row(app, t["root"])["version"] > version
    assert get(client, user, t["root"]).get_json()["open_subtask_count"] == 1

    client.patch(f"{TASKS}/{t['b']}", json={"completed": False}, headers=user.headers)
    assert counts(app, t["root"]) == (2, 2)

    client.patch(f"{TASKS}/{t['a1']}/complete", headers=user.headers)  # toggle: done
    assert counts(app, t["a"]) == (2, 1)
    assert counts(app, t["root"]) == (2, 2)  # direct subtasks only

    response = client.delete(f"{TASKS}/{t['a1']}", headers=user.headers)
    assert response.status_code == 204 and response.headers["X-Subtasks-Deleted"] == "0"
    assert counts(app, t["a"]) == (1, 1)
    response = client.delete(f"{TASKS}/{t['b']}", headers=user.headers)
    assert response.status_code == 204
    assert counts(app, t["root"]) == (1, 1)
    body = get(client, user, t["root"]).get_json()
    assert (body["subtask_count"], body["open_subtask_count"]) == (1, 1)


def test_unchanged_completion_leaves_the_parent_alone(app, client, user):
    t = tree(client, user)
    version = task_row(app, t["root"])["version"]
    response = client.patch(f"{TASKS}/{t['b']}", json={"title": "renamed"},
                            headers=user.headers)
    assert response.status_code == 200
    assert task_row(app, t["root"])["version"] == version
    assert counts(app, t["root"]) == (2, 2)


@pytest.mark.parametrize("change", ["add", "complete", "delete"])
def test_parent_etag_changes_with_its_counts(app, client, user, change):
    parent = create_task(client, user, title="parent")["id"]
    child = create_task(client, user, title="child", parent_id=parent)["id"]
    first = get(client, user, parent)
    etag, updated_at = first.headers["ETag"], first.get_json()["updated_at"]
    assert get(client, user, parent, {"If-None-Match": etag}).status_code == 304

    if change == "add":
        create_task(client, user, title="another", parent_id=parent)
    elif change == "complete":
        client.patch(f"{TASKS}/{child}/complete", json={"completed": True}, headers=user.headers)
    else:
        assert client.delete(f"{TASKS}/{child}", headers=user.headers).status_code == 204

    again = get(client, user, parent, {"If-None-Match": etag})
    assert again.status_code == 200
    assert again.headers["ETag"] != etag
    assert again.get_json()["updated_at"] > updated_at
    # The old ETag no longer matches a write either.
    stale = client.patch(f"{TASKS}/{parent}", json={"title": "x"},
                         headers={**user.headers, "If-Match": etag})
    assert_error(stale, 412)
    assert task_row(app, parent)["title"] == "parent"


# ------------------------------------------------------------------ deletion


def _tag_names(app, user_id: int) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(sa.select(Tag.name).where(Tag.user_id == user_id)))


def test_deleting_a_parent_deletes_every_level_and_says_how_many(app, client, user):
    t = tree(client, user)
    client.patch(f"{TASKS}/{t['a1']}", json={"tags": ["deep"]}, headers=user.headers)
    keep = create_task(client, user, title="keep", tags=["kept"])["id"]

    response = client.delete(f"{TASKS}/{t['root']}", headers=user.headers)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert response.headers["X-Subtasks-Deleted"] == "4"
    assert all(task_row(app, task_id) is None for task_id in t.values())
    assert task_row(app, keep) is not None
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 1
    assert _tag_names(app, user.id) == {"kept"}  # the subtask's tag went with it
    assert_error(get(client, user, t["a1"]), 404)


def test_deleting_a_middle_task_recounts_its_parent(app, client, user):
    t = tree(client, user)
    response = client.delete(f"{TASKS}/{t['a']}", headers=user.headers)
    assert response.status_code == 204
    assert response.headers["X-Subtasks-Deleted"] == "2"
    assert [task_row(app, t[n]) is None for n in ("a", "a1", "a2")] == [True] * 3
    assert counts(app, t["root"]) == (1, 1)
    assert task_row(app, t["b"]) is not None


def test_deleting_another_users_parent_is_a_404_and_keeps_everything(app, client, user,
                                                                     other_user):
    theirs = tree(client, other_user)
    response = client.delete(f"{TASKS}/{theirs['root']}", headers=user.headers)
    assert_error(response, 404)
    assert all(task_row(app, task_id) is not None for task_id in theirs.values())


def test_compat_delete_of_a_parent_keeps_204_and_deletes_subtasks(app, client, user):
    t = tree(client, user)

    response = client.delete(f"{_compat(user)}/{t['root']}", headers=user.headers)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert "X-Subtasks-Deleted" not in response.headers
    assert all(task_row(app, task_id) is None for task_id in t.values())
    assert task_count(app) == 0


def test_compat_list_sees_subtasks_too(app, client, user):
    t = tree(client, user)
    response = client.get(_compat(user), headers=user.headers)
    assert response.status_code == 200
    assert [task["id"] for task in response.get_json()] == sorted(t.values())
