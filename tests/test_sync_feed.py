"""The change feed, GET /api/v1/sync (issue 18): full and incremental syncs,
tombstones, paging with ``limit``, 410 after pruning, token checks, and writes
through every route (v1, the original contract, tag and list deletion, parent
completion, the admin shell) landing in the feed exactly once, in order.

Each test checks the answer against the API's own GETs and the database rows.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.models import Task, User, utcnow
from taskapi.sync.models import SyncTombstone
from tests.helpers import assert_error, create_task

SYNC = "/api/v1/sync"
TASKS = "/api/v1/tasks"


def sync(client, account, since=None, limit=None, expected=200):
    query = {key: value for key, value in (("since", since), ("limit", limit)) if value}
    response = client.get(SYNC, query_string=query, headers=account.headers)
    assert response.status_code == expected, response.get_json()
    return response.get_json()


def sync_all(client, account, since=None, limit=None) -> tuple[list[dict], str, int]:
    """Every change after ``since``, following ``has_more``: (changes, token, calls)."""
    changes, calls = [], 0
    while True:
        page = sync(client, account, since, limit)
        changes += page["changes"]
        since, calls = page["sync_token"], calls + 1
        if not page["has_more"]:
            return changes, since, calls


def keys(changes) -> list[tuple]:
    return [(change["type"], change["id"], change["op"]) for change in changes]


def assert_in_order(changes) -> None:
    versions = [change["version"] for change in changes]
    assert versions == sorted(versions)


def current_state(client, account) -> dict[tuple, dict]:
    """What the API shows now, keyed like a replay: tasks, lists and tags."""
    state = {}
    for task in client.get(f"{TASKS}?page_size=100&sort=id", headers=account.headers).get_json():
        state["task", task["id"]] = task
    for item in client.get("/api/v1/lists?archived=true&page_size=100",
                           headers=account.headers).get_json():
        state["list", item["id"]] = item
    lists = client.get("/api/v1/lists?page_size=100", headers=account.headers).get_json()
    for item in lists:
        state["list", item["id"]] = item
    with db.engine.connect() as connection:
        tag_ids = dict(connection.execute(sa.text(
            "SELECT name, id FROM tags WHERE user_id = :u"), {"u": account.id}).all())
    for tag in client.get("/api/v1/tags?page_size=100", headers=account.headers).get_json():
        state["tag", tag_ids[tag["name"]]] = tag
    return state


def replay(changes, state=None) -> dict[tuple, dict]:
    state = dict(state or {})
    for change in changes:
        if change["op"] == "delete":
            state.pop((change["type"], change["id"]), None)
        else:
            state[change["type"], change["id"]] = change["data"]
    return state


def test_full_sync_is_everything_as_get_shows_it_and_no_deletion(app, client, user):
    work = client.post("/api/v1/lists", json={"name": "Work"}, headers=user.headers).get_json()
    kept = create_task(client, user, title="kept", tags=["home", "Urgent"], list_id=work["id"])
    create_task(client, user, title="sub", parent_id=kept["id"])
    gone = create_task(client, user, title="gone")
    assert client.delete(f"{TASKS}/{gone['id']}", headers=user.headers).status_code == 204
    with app.app_context():
        state = current_state(client, user)
    changes, _, _ = sync_all(client, user)
    assert all(change["op"] == "upsert" for change in changes)
    assert len(keys(changes)) == len(set(keys(changes)))
    assert replay(changes) == state
    assert ("task", gone["id"]) not in replay(changes)
    assert_in_order(changes)


def test_incremental_sync_reports_each_change_once_with_deletions(app, client, user):
    first = create_task(client, user, title="first")
    second = create_task(client, user, title="second")
    before, token, _ = sync_all(client, user)
    assert client.patch(f"{TASKS}/{first['id']}", json={"title": "1st"},
                        headers=user.headers).status_code == 200
    assert client.patch(f"{TASKS}/{first['id']}/complete", json={"completed": True},
                       headers=user.headers).status_code == 200
    third = create_task(client, user, title="third")
    assert client.delete(f"{TASKS}/{second['id']}", headers=user.headers).status_code == 204
    changes, token, _ = sync_all(client, user, since=token)
    assert_in_order(changes)
    tasks = [key for key in keys(changes) if key[0] == "task"]
    assert tasks == [("task", first["id"], "upsert"), ("task", third["id"], "upsert"),
                     ("task", second["id"], "delete")] or tasks == [
        ("task", first["id"], "upsert"), ("task", second["id"], "delete"),
        ("task", third["id"], "upsert")]
    by_key = {(c["type"], c["id"]): c for c in changes}
    assert by_key["task", first["id"]]["data"]["title"] == "1st"
    assert by_key["task", first["id"]]["data"]["completed"] is True
    assert by_key["task", second["id"]]["data"] is None
    with app.app_context():
        assert replay(changes, replay(before)) == current_state(client, user)
        row = db.session.get(SyncTombstone, (user.id, by_key["task", second["id"]]["version"],
                                             "task", second["id"]))
        assert row is not None and utcnow() - row.deleted_at < timedelta(minutes=5)
    # Nothing changed since: no change, the same token.
    page = sync(client, user, since=token)
    assert page == {"changes": [], "sync_token": token, "has_more": False}


def test_paging_with_limit_hands_out_every_change_once(app, client, user):
    for n in range(12):
        create_task(client, user, title=f"t{n}", tags=[f"tag{n % 3}"])
    everything, _, _ = sync_all(client, user)
    paged, token, calls = sync_all(client, user, limit=5)
    assert calls == -(-len(everything) // 5) and keys(paged) == keys(everything)
    # One transaction touching many rows (a tag removed from 4 tasks) split over pages.
    assert client.delete("/api/v1/tags/tag1", headers=user.headers).status_code == 204
    changes, _, calls = sync_all(client, user, since=token, limit=2)
    assert calls >= 3
    assert len(keys(changes)) == len(set(keys(changes)))
    assert sum(1 for key in keys(changes) if key[0] == "task") == 4  # t1, t4, t7, t10
    assert [key for key in keys(changes) if key[0] == "tag"][0][2] == "delete"


def test_a_write_between_pages_is_not_lost(client, user):
    for n in range(6):
        create_task(client, user, title=f"t{n}")
    page = sync(client, user, limit=3)
    assert page["has_more"] is True
    seen = [c for c in page["changes"] if c["type"] == "task"]
    edited = client.patch(f"{TASKS}/{seen[0]['id']}", json={"title": "edited"},
                          headers=user.headers).get_json()
    changes, _, _ = sync_all(client, user, since=page["sync_token"], limit=3)
    assert [c["data"]["title"] for c in changes if c["type"] == "task"
            and c["id"] == edited["id"]] == ["edited"]


def test_writes_of_every_route_land_in_the_feed(app, client, user):
    parent = create_task(client, user, title="parent")
    child = create_task(client, user, title="child", parent_id=parent["id"])
    doomed = client.post("/api/v1/lists", json={"name": "Doomed"}, headers=user.headers).get_json()
    moved = client.post("/api/v1/lists", json={"name": "Moved"}, headers=user.headers).get_json()
    in_doomed = create_task(client, user, title="in doomed", list_id=doomed["id"])
    in_moved = create_task(client, user, title="in moved", list_id=moved["id"], tags=["x"])
    _, token, _ = sync_all(client, user)

    # Parent completion completes its subtask too.
    assert client.patch(f"{TASKS}/{parent['id']}/complete", json={"completed": True},
                       headers=user.headers).status_code == 200
    # List deletion with its tasks, and with its tasks moved to the Inbox.
    assert client.delete(f"/api/v1/lists/{doomed['id']}?tasks=delete",
                         headers=user.headers).status_code == 204
    inbox = [item for item in client.get("/api/v1/lists", headers=user.headers).get_json()
             if item["is_inbox"]][0]
    assert client.delete(f"/api/v1/lists/{moved['id']}?tasks=move&to={inbox['id']}",
                         headers=user.headers).status_code == 204
    # Tag deletion, the original contract, and an ORM write as in `flask shell`.
    assert client.delete("/api/v1/tags/x", headers=user.headers).status_code == 204
    created = client.post(f"/api/{user.id}/tasks", json={"title": "compat"},
                          headers=user.headers).get_json()
    assert client.put(f"/api/{user.id}/tasks/{created['id']}", json={"title": "compat 2"},
                      headers=user.headers).status_code == 200
    with app.app_context():
        db.session.get(Task, child["id"]).title = "from the shell"
        db.session.commit()

    changes, _, _ = sync_all(client, user, since=token)
    assert_in_order(changes)
    assert len(keys(changes)) == len(set(keys(changes)))  # each change once
    latest = replay(changes)
    assert latest["task", child["id"]]["completed"] is True
    assert latest["task", child["id"]]["title"] == "from the shell"
    assert latest["task", parent["id"]]["completed"] is True
    assert ("task", in_doomed["id"], "delete") in keys(changes)
    assert ("list", doomed["id"], "delete") in keys(changes)
    assert ("list", moved["id"], "delete") in keys(changes)
    assert latest["task", in_moved["id"]]["list_id"] == inbox["id"]
    assert latest["task", in_moved["id"]]["tags"] == []
    assert [key for key in keys(changes) if key[0] == "tag"] == [("tag", key[1], "delete")
                                                                for key in keys(changes)
                                                                if key[0] == "tag"]
    assert latest["task", created["id"]]["title"] == "compat 2"
    assert latest["list", inbox["id"]] == client.get(f"/api/v1/lists/{inbox['id']}",
                                                     headers=user.headers).get_json()
    # Replayed on the full sync before, it is what the API shows now.
    with app.app_context():
        state = current_state(client, user)
    full, _, _ = sync_all(client, user)
    assert replay(full) == state


def test_other_users_changes_never_show(client, user, other_user):
    create_task(client, other_user, title="theirs")
    mine = create_task(client, user, title="mine")
    changes, _, _ = sync_all(client, user)
    assert [c["id"] for c in changes if c["type"] == "task"] == [mine["id"]]
    assert all(c["data"].get("user_id") in (None, user.id) for c in changes)


@pytest.mark.parametrize("since", ["nonsense", "WzEsNCw2LDAsMF0.forged-signature-xxxxxxx"])
def test_a_token_not_issued_here_is_a_422(client, user, since):
    assert_error(client.get(SYNC, query_string={"since": since}, headers=user.headers),
                 422, field="since")


def test_another_users_token_is_a_422(client, user, other_user):
    theirs = sync(client, other_user)["sync_token"]
    body = assert_error(client.get(SYNC, query_string={"since": theirs}, headers=user.headers),
                        422, field="since")
    assert "another user" in body["message"]


@pytest.mark.parametrize("limit", [0, 1001, -1])
def test_limit_out_of_range_is_a_422(client, user, limit):
    assert_error(client.get(SYNC, query_string={"limit": limit}, headers=user.headers),
                 422, field="limit")


def test_sync_needs_a_token(client):
    assert client.get(SYNC).status_code == 401


def test_pruning_old_tombstones_makes_older_tokens_gone(app, client, user):
    task = create_task(client, user, title="old")
    keep = create_task(client, user, title="keep")
    _, old_token, _ = sync_all(client, user)
    assert client.delete(f"{TASKS}/{task['id']}", headers=user.headers).status_code == 204
    _, new_token, _ = sync_all(client, user, since=old_token)
    with app.app_context():
        db.session.execute(sa.update(SyncTombstone).values(
            deleted_at=utcnow() - timedelta(days=91)))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["sync", "prune"])
    assert result.exit_code == 0 and "Pruned 1 tombstone(s)" in result.output, result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SyncTombstone)) == 0
        assert db.session.get(User, user.id).sync_horizon > 0
    body = assert_error(client.get(SYNC, query_string={"since": old_token},
                                   headers=user.headers), 410)
    assert "sync in full" in body["message"]
    # A token from after the pruned deletion still works, and so does a full sync.
    assert sync(client, user, since=new_token)["changes"] == []
    assert [c["id"] for c in sync_all(client, user)[0] if c["type"] == "task"] == [keep["id"]]


def test_recent_tombstones_are_kept_by_pruning(app, client, user):
    task = create_task(client, user, title="recent")
    _, token, _ = sync_all(client, user)
    client.delete(f"{TASKS}/{task['id']}", headers=user.headers)
    result = app.test_cli_runner().invoke(args=["sync", "prune"])
    assert "Pruned 0 tombstone(s)" in result.output
    assert keys(sync(client, user, since=token)["changes"])[0] == ("task", task["id"], "delete")
