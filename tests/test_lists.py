"""Task lists (issue 17): /api/v1/lists, the Inbox, list ETags, manual order of
lists, archived lists, the ``list_id`` filter and stats, deleting a list with
its tasks deleted or moved (in batches), isolation between users, the
``MAX_LISTS_PER_USER`` quota and the original contract's view of it all.

Every test goes through the HTTP client (the batch tests call the service) and
checks status, body and the rows in the database (read in a fresh app context).
"""

from __future__ import annotations

import json
import random

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from taskapi.config import ConfigurationError, Defaults
from taskapi.extensions import db
from taskapi.lists import service
from taskapi.models import Tag, Task, TaskList, User, task_tags, utcnow
from taskapi.tasks.placement import MAX_KEY_LENGTH
from tests.helpers import PASSWORD, assert_error, create_task, dispose, make_app

LISTS = "/api/v1/lists"
TASKS = "/api/v1/tasks"
LIST_KEYS = {"id", "name", "color", "position", "archived", "is_inbox", "task_count",
             "open_count", "created_at", "updated_at"}
#: The original contract's task JSON (tests/test_compat.py): nothing of issue 17.
COMPAT_TASK_KEYS = {"id", "user_id", "title", "description", "completed", "priority",
                    "due_date", "dueDate", "created_at", "updated_at"}
NEW_TASK_FIELDS = {"list_id", "parent_id", "position", "subtask_count", "open_subtask_count"}
MISSING_ID = 2_000_000


# --------------------------------------------------------------------- helpers


def create_list(client, account, **fields) -> dict:
    response = client.post(LISTS, json=fields, headers=account.headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def lists_of(client, account, query: str = "") -> list[dict]:
    response = client.get(f"{LISTS}{query}", headers=account.headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def names(client, account, query: str = "") -> list[str]:
    return [item["name"] for item in lists_of(client, account, query)]


def inbox(client, account) -> dict:
    (found,) = [item for item in lists_of(client, account, "?archived=true")
                if item["is_inbox"]]
    return found


def list_row(app, list_id: int) -> dict | None:
    with app.app_context():
        row = db.session.execute(sa.select(TaskList.__table__)
                                 .where(TaskList.id == list_id)).first()
        return None if row is None else dict(row._mapping)


def list_rows(app, user_id: int) -> list[dict]:
    with app.app_context():
        return [dict(row._mapping) for row in db.session.execute(
            sa.select(TaskList.__table__).where(TaskList.user_id == user_id)
            .order_by(TaskList.id))]


def task_rows(app, **where) -> dict[int, dict]:
    """``{id: row}`` of the tasks matching ``where`` (column=value)."""
    table = Task.__table__
    with app.app_context():
        query = sa.select(table).order_by(table.c.id)
        for name, value in where.items():
            query = query.where(table.c[name] == value)
        return {row.id: dict(row._mapping) for row in db.session.execute(query)}


def count_tasks(app, **where) -> int:
    return len(task_rows(app, **where))


def tag_rows(app) -> list[tuple[int, str]]:
    with app.app_context():
        return [tuple(row) for row in db.session.execute(
            sa.select(Tag.user_id, Tag.name).order_by(Tag.user_id, Tag.name_key))]


def link_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(task_tags))


def snapshot(app) -> dict:
    """Every row of lists, tasks, tags and task_tags: equal snapshots, nothing changed."""
    with app.app_context():
        return {table.name: [tuple(row) for row in db.session.execute(
            sa.select(table).order_by(*table.primary_key.columns))]
            for table in (TaskList.__table__, Task.__table__, Tag.__table__, task_tags)}


def data_version(app, user_id: int) -> int:
    with app.app_context():
        return db.session.get(User, user_id).data_version


def titles(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [task["title"] for task in response.get_json()]


def get_tasks(client, account, query: str) -> list[str]:
    return titles(client.get(f"{TASKS}?{query}", headers=account.headers))


def move_task(client, account, task_id: int, **body) -> dict:
    response = client.post(f"{TASKS}/{task_id}/move", json=body, headers=account.headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def complete(client, account, task_id: int) -> None:
    response = client.patch(f"{TASKS}/{task_id}", json={"completed": True},
                            headers=account.headers)
    assert response.status_code == 200, response.get_data(as_text=True)


def pagination(response) -> dict:
    return json.loads(response.headers["X-Pagination"])


def etag_of(client, account, list_id: int) -> str:
    response = client.get(f"{LISTS}/{list_id}", headers=account.headers)
    assert response.status_code == 200
    return response.headers["ETag"]


# ------------------------------------------------------------------- the Inbox


def test_inbox_exists_right_after_registration(app, client, user, other_user):
    items = lists_of(client, user)

    assert len(items) == 1
    (item,) = items
    assert set(item) == LIST_KEYS
    assert item["name"] == "Inbox" and item["is_inbox"] is True
    assert item["archived"] is False and item["color"] is None
    assert (item["task_count"], item["open_count"]) == (0, 0)
    rows = list_rows(app, user.id)
    assert [(row["id"], row["is_inbox"], row["name_key"]) for row in rows] == [
        (item["id"], True, "inbox")]
    theirs = list_rows(app, other_user.id)
    assert [row["is_inbox"] for row in theirs] == [True]
    assert theirs[0]["id"] != item["id"]


@pytest.mark.parametrize("how", ["compat", "cli"])
def test_every_way_of_creating_an_account_creates_its_inbox(app, client, how):
    if how == "compat":
        response = client.post("/api/auth/register", json={
            "email": "carol@example.com", "password": PASSWORD, "name": "Carol"})
        assert response.status_code == 201
    else:
        result = app.test_cli_runner().invoke(
            args=["users", "create", "carol@example.com", "--name", "Carol",
                  "--password-stdin"], input=f"{PASSWORD}\n")
        assert result.exit_code == 0, result.output
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(
            User.email == "carol@example.com"))

    assert [(row["name"], row["is_inbox"]) for row in list_rows(app, user_id)] == [
        ("Inbox", True)]


def test_exactly_one_inbox_per_user(app, client, user):
    create_list(client, user, name="Work")
    create_list(client, user, name="Home", archived=True)

    flags = [row["is_inbox"] for row in list_rows(app, user.id)]
    assert flags.count(True) == 1 and len(flags) == 3
    assert [item["is_inbox"] for item in lists_of(client, user, "?archived=true")].count(
        True) == 1
    # The database refuses a second one, whatever writes it.
    now = utcnow()
    with app.app_context():
        db.session.add(TaskList(user_id=user.id, name="Second", name_key="second",
                                position="zz", is_inbox=True, created_at=now,
                                updated_at=now))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
    assert [row["is_inbox"] for row in list_rows(app, user.id)].count(True) == 1


def test_tasks_go_to_the_inbox_by_default(app, client, user):
    box = inbox(client, user)
    task = create_task(client, user, title="Buy milk")
    sub = create_task(client, user, title="Skimmed", parent_id=task["id"])

    assert task["list_id"] == sub["list_id"] == box["id"]
    assert task_rows(app)[task["id"]]["list_id"] == box["id"]
    assert (inbox(client, user)["task_count"], inbox(client, user)["open_count"]) == (2, 2)


@pytest.mark.parametrize("name", ["Todo", "inbox", "INBOX", "Inbox 2"])
def test_inbox_cannot_be_renamed(app, client, user, name):
    box = inbox(client, user)
    before = list_row(app, box["id"])

    response = client.patch(f"{LISTS}/{box['id']}", json={"name": name}, headers=user.headers)

    assert_error(response, 422, field="name")
    assert list_row(app, box["id"]) == before


def test_inbox_keeps_its_name_and_takes_a_colour(app, client, user):
    box = inbox(client, user)

    response = client.patch(f"{LISTS}/{box['id']}", json={"name": "Inbox", "color": "#112233",
                                                          "archived": False},
                            headers=user.headers)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["name"] == "Inbox"
    assert response.get_json()["color"] == "#112233"
    row = list_row(app, box["id"])
    assert (row["name"], row["color"], row["is_inbox"]) == ("Inbox", "#112233", True)


def test_inbox_cannot_be_archived(app, client, user):
    box = inbox(client, user)
    before = list_row(app, box["id"])

    response = client.patch(f"{LISTS}/{box['id']}", json={"archived": True},
                            headers=user.headers)

    assert_error(response, 422, field="archived")
    assert list_row(app, box["id"]) == before
    assert names(client, user) == ["Inbox"]


@pytest.mark.parametrize("query", ["", "?tasks=delete", "?tasks=move&to={other}"])
def test_inbox_cannot_be_deleted(app, client, user, query):
    box = inbox(client, user)
    other = create_list(client, user, name="Other")
    task = create_task(client, user, title="stays")
    before = snapshot(app)

    response = client.delete(f"{LISTS}/{box['id']}{query.format(other=other['id'])}",
                             headers=user.headers)

    body = assert_error(response, 409)
    assert "Inbox" in body["message"]
    assert snapshot(app) == before
    assert task_rows(app)[task["id"]]["list_id"] == box["id"]


def test_no_list_may_be_named_like_the_inbox(app, client, user):
    response = client.post(LISTS, json={"name": "inBOX"}, headers=user.headers)

    assert_error(response, 422, field="name")
    assert len(list_rows(app, user.id)) == 1


def test_the_inbox_can_be_moved(client, user):
    create_list(client, user, name="A")
    box = inbox(client, user)
    last = lists_of(client, user)[-1]["id"]

    response = client.post(f"{LISTS}/{box['id']}/move", json={"after_id": last},
                           headers=user.headers)

    assert response.status_code == 200
    assert names(client, user) == ["A", "Inbox"]


# ------------------------------------------------------------------------ create


def test_create_returns_201_location_etag_and_stores_the_row(app, client, user):
    response = client.post(LISTS, json={"name": "  Groceries  ", "color": "#2E7D32"},
                           headers=user.headers)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == LIST_KEYS
    assert body["name"] == "Groceries" and body["color"] == "#2E7D32"
    assert body["archived"] is False and body["is_inbox"] is False
    assert (body["task_count"], body["open_count"]) == (0, 0)
    assert body["position"] > inbox(client, user)["position"]
    assert response.headers["Location"] == f"{LISTS}/{body['id']}"
    assert response.headers["ETag"]
    assert client.get(response.headers["Location"], headers=user.headers).get_json() == body
    row = list_row(app, body["id"])
    assert (row["user_id"], row["name"], row["name_key"], row["color"], row["archived"],
            row["is_inbox"]) == (user.id, "Groceries", "groceries", "#2E7D32", False, False)
    assert names(client, user) == ["Inbox", "Groceries"]


def test_new_lists_go_last(client, user):
    for name in ("One", "Two", "Three"):
        create_list(client, user, name=name)

    items = lists_of(client, user)
    assert [item["name"] for item in items] == ["Inbox", "One", "Two", "Three"]
    positions = [item["position"] for item in items]
    assert positions == sorted(positions) and len(set(positions)) == 4


def test_create_archived_list_is_hidden_by_default(app, client, user):
    made = create_list(client, user, name="Old", archived=True)

    assert made["archived"] is True and list_row(app, made["id"])["archived"] is True
    assert names(client, user) == ["Inbox"]
    assert names(client, user, "?archived=true") == ["Inbox", "Old"]


@pytest.mark.parametrize("body", [
    {},
    {"name": ""},
    {"name": "   "},
    {"name": None},
    {"name": 5},
    {"name": "x" * 101},
    {"name": "ok", "id": 9},
    {"name": "ok", "is_inbox": True},
    {"name": "ok", "position": "a0"},
    {"name": "ok", "task_count": 3},
    {"name": "ok", "archived": "yes"},
    {"name": "ok", "archived": None},
    {"name": "ok", "owner": 1},
], ids=lambda body: json.dumps(body)[:40])
def test_create_rejects_bad_bodies(app, client, user, body):
    response = client.post(LISTS, json=body, headers=user.headers)

    assert_error(response, 422)
    assert len(list_rows(app, user.id)) == 1


def test_create_name_of_100_characters(app, client, user):
    made = create_list(client, user, name="n" * 100)

    assert list_row(app, made["id"])["name"] == "n" * 100


@pytest.mark.parametrize("color", ["red", "#abc", "#GGGGGG", "aabbcc", "#aabbccdd",
                                   "#aabbc", " #aabbcc", 123, True])
def test_create_rejects_bad_colours(app, client, user, color):
    response = client.post(LISTS, json={"name": "Paint", "color": color},
                           headers=user.headers)

    assert_error(response, 422, field="color")
    assert len(list_rows(app, user.id)) == 1


@pytest.mark.parametrize("color", ["#000000", "#ffffff", "#A1b2C3", None])
def test_create_accepts_colours(app, client, user, color):
    made = create_list(client, user, name="Paint", color=color)

    assert made["color"] == color
    assert list_row(app, made["id"])["color"] == color


def test_create_needs_a_token(app, client, user):
    response = client.post(LISTS, json={"name": "Nope"})

    assert_error(response, 401)
    assert len(list_rows(app, user.id)) == 1
    assert_error(client.get(LISTS), 401)


# ------------------------------------------------------------- name uniqueness


@pytest.mark.parametrize("again", ["Work", "work", "WORK", "  wOrK  "])
def test_names_are_unique_case_insensitively(app, client, user, again):
    create_list(client, user, name="Work")

    response = client.post(LISTS, json={"name": again}, headers=user.headers)

    assert_error(response, 422, field="name")
    assert [row["name"] for row in list_rows(app, user.id)] == ["Inbox", "Work"]


def test_names_are_unique_beyond_ascii(app, client, user):
    create_list(client, user, name="Ärger")

    assert_error(client.post(LISTS, json={"name": "äRGER"}, headers=user.headers), 422,
                 field="name")
    assert len(list_rows(app, user.id)) == 2


def test_archived_lists_keep_their_names(app, client, user):
    create_list(client, user, name="Old", archived=True)

    assert_error(client.post(LISTS, json={"name": "old"}, headers=user.headers), 422,
                 field="name")


def test_other_users_names_are_free(app, client, user, other_user):
    create_list(client, other_user, name="Work")

    made = create_list(client, user, name="work")

    assert list_row(app, made["id"])["user_id"] == user.id


def test_rename_to_a_taken_name_is_422(app, client, user):
    create_list(client, user, name="Work")
    home = create_list(client, user, name="Home")
    before = list_row(app, home["id"])

    response = client.patch(f"{LISTS}/{home['id']}", json={"name": "WORK"},
                            headers=user.headers)

    assert_error(response, 422, field="name")
    assert list_row(app, home["id"]) == before


def test_rename_changing_only_case(app, client, user):
    made = create_list(client, user, name="work")

    response = client.patch(f"{LISTS}/{made['id']}", json={"name": "Work"},
                            headers=user.headers)

    assert response.status_code == 200 and response.get_json()["name"] == "Work"
    row = list_row(app, made["id"])
    assert (row["name"], row["name_key"]) == ("Work", "work")


def test_a_deleted_lists_name_is_free_again(app, client, user):
    made = create_list(client, user, name="Temp")
    assert client.delete(f"{LISTS}/{made['id']}", headers=user.headers).status_code == 204

    again = create_list(client, user, name="temp")

    assert list_row(app, again["id"])["name"] == "temp"


# ----------------------------------------------------------------- get and patch


def test_get_a_list_with_its_counts(client, user):
    made = create_list(client, user, name="Work")
    first = create_task(client, user, title="a", list_id=made["id"])
    create_task(client, user, title="b", list_id=made["id"])
    create_task(client, user, title="a.1", parent_id=first["id"])
    complete(client, user, first["id"])  # completes its subtask too
    create_task(client, user, title="elsewhere")

    response = client.get(f"{LISTS}/{made['id']}", headers=user.headers)

    assert response.status_code == 200
    body = response.get_json()
    assert (body["task_count"], body["open_count"]) == (3, 1)
    assert body["name"] == "Work"
    assert response.headers["ETag"]
    listed = {item["id"]: item for item in lists_of(client, user)}
    assert (listed[made["id"]]["task_count"], listed[made["id"]]["open_count"]) == (3, 1)
    assert listed[inbox(client, user)["id"]]["task_count"] == 1


@pytest.mark.parametrize("path", [f"{LISTS}/{MISSING_ID}", f"{LISTS}/0",
                                  f"{LISTS}/99999999999", f"{LISTS}/abc"])
def test_get_missing_list_is_404(client, user, path):
    assert_error(client.get(path, headers=user.headers), 404)


def test_get_with_if_none_match_is_304(client, user):
    made = create_list(client, user, name="Work")
    etag = etag_of(client, user, made["id"])

    response = client.get(f"{LISTS}/{made['id']}",
                          headers={**user.headers, "If-None-Match": etag})

    assert response.status_code == 304 and response.data == b""


def test_etag_covers_the_counts(app, client, user):
    made = create_list(client, user, name="Work")
    etag = etag_of(client, user, made["id"])
    version = list_row(app, made["id"])["version"]

    task = create_task(client, user, title="new", list_id=made["id"])

    assert list_row(app, made["id"])["version"] == version  # the row did not change
    fresh = client.get(f"{LISTS}/{made['id']}", headers={**user.headers, "If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["ETag"] != etag
    assert fresh.get_json()["task_count"] == 1
    after_create = fresh.headers["ETag"]
    complete(client, user, task["id"])
    assert etag_of(client, user, made["id"]) != after_create


def test_patch_changes_only_the_fields_sent(app, client, user):
    made = create_list(client, user, name="Work", color="#111111")
    etag = etag_of(client, user, made["id"])
    before = list_row(app, made["id"])

    response = client.patch(f"{LISTS}/{made['id']}", json={"color": "#222222"},
                            headers=user.headers)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["name"], body["color"], body["archived"]) == ("Work", "#222222", False)
    assert response.headers["ETag"] not in ("", etag)
    row = list_row(app, made["id"])
    assert row["color"] == "#222222"
    assert {key: row[key] for key in ("name", "name_key", "position", "archived")} == {
        key: before[key] for key in ("name", "name_key", "position", "archived")}
    assert row["version"] == before["version"] + 1
    assert row["updated_at"] > before["updated_at"]
    assert body["updated_at"] != made["updated_at"]


def test_patch_rename_recolour_archive_and_restore(app, client, user):
    made = create_list(client, user, name="Work", color="#111111")
    path = f"{LISTS}/{made['id']}"

    renamed = client.patch(path, json={"name": " Job ", "color": None}, headers=user.headers)
    assert renamed.status_code == 200
    assert (renamed.get_json()["name"], renamed.get_json()["color"]) == ("Job", None)
    row = list_row(app, made["id"])
    assert (row["name"], row["name_key"], row["color"]) == ("Job", "job", None)

    archived = client.patch(path, json={"archived": True}, headers=user.headers)
    assert archived.status_code == 200 and archived.get_json()["archived"] is True
    assert list_row(app, made["id"])["archived"] is True
    assert names(client, user) == ["Inbox"]

    restored = client.patch(path, json={"archived": False}, headers=user.headers)
    assert restored.status_code == 200 and restored.get_json()["archived"] is False
    assert names(client, user) == ["Inbox", "Job"]


@pytest.mark.parametrize("body", [
    {"name": ""}, {"name": None}, {"name": "x" * 101}, {"color": "blue"}, {"color": "#12345"},
    {"archived": "true"}, {"archived": None}, {"is_inbox": True}, {"position": "a0"},
    {"id": 3}, {"unknown": 1},
], ids=lambda body: json.dumps(body)[:40])
def test_patch_rejects_bad_bodies(app, client, user, body):
    made = create_list(client, user, name="Work")
    before = list_row(app, made["id"])

    response = client.patch(f"{LISTS}/{made['id']}", json=body, headers=user.headers)

    assert_error(response, 422)
    assert list_row(app, made["id"]) == before


def test_patch_color_error_names_color(client, user):
    made = create_list(client, user, name="Work")

    assert_error(client.patch(f"{LISTS}/{made['id']}", json={"color": "#zzzzzz"},
                              headers=user.headers), 422, field="color")


def test_patch_missing_list_is_404(client, user):
    assert_error(client.patch(f"{LISTS}/{MISSING_ID}", json={"name": "x"},
                              headers=user.headers), 404)


def test_patch_with_current_if_match(app, client, user):
    made = create_list(client, user, name="Work")
    etag = etag_of(client, user, made["id"])

    response = client.patch(f"{LISTS}/{made['id']}", json={"name": "Job"},
                            headers={**user.headers, "If-Match": etag})

    assert response.status_code == 200
    assert list_row(app, made["id"])["name"] == "Job"
    assert response.headers["ETag"] != etag


def test_patch_with_stale_if_match_is_412(app, client, user):
    made = create_list(client, user, name="Work")
    stale = etag_of(client, user, made["id"])
    assert client.patch(f"{LISTS}/{made['id']}", json={"color": "#123456"},
                        headers=user.headers).status_code == 200
    before = list_row(app, made["id"])

    response = client.patch(f"{LISTS}/{made['id']}", json={"name": "Job"},
                            headers={**user.headers, "If-Match": stale})

    assert_error(response, 412)
    assert list_row(app, made["id"]) == before


def test_if_match_is_stale_once_the_counts_change(app, client, user):
    made = create_list(client, user, name="Work")
    stale = etag_of(client, user, made["id"])
    create_task(client, user, title="new", list_id=made["id"])

    response = client.patch(f"{LISTS}/{made['id']}", json={"name": "Job"},
                            headers={**user.headers, "If-Match": stale})

    assert_error(response, 412)
    assert list_row(app, made["id"])["name"] == "Work"


# ------------------------------------------------------------------ GET /lists


def test_list_page_in_manual_order_with_pagination(client, user):
    for n in range(5):
        create_list(client, user, name=f"L{n}")

    response = client.get(f"{LISTS}?page_size=2&page=2", headers=user.headers)

    assert response.status_code == 200
    assert [item["name"] for item in response.get_json()] == ["L1", "L2"]
    assert pagination(response)["total"] == 6
    last = client.get(f"{LISTS}?page_size=2&page=3", headers=user.headers)
    assert [item["name"] for item in last.get_json()] == ["L3", "L4"]
    past = client.get(f"{LISTS}?page_size=2&page=9", headers=user.headers)
    assert past.status_code == 200 and past.get_json() == []
    assert pagination(past)["total"] == 6
    whole = client.get(LISTS, headers=user.headers)
    assert len(whole.get_json()) == 6 and pagination(whole)["total"] == 6


def test_default_page_size_is_100(app, client, user):
    now = utcnow()
    with app.app_context():
        db.session.add_all(TaskList(user_id=user.id, name=f"L{n:03}", name_key=f"l{n:03}",
                                    position=f"b{n:03}", created_at=now, updated_at=now)
                           for n in range(105))
        db.session.commit()

    response = client.get(LISTS, headers=user.headers)

    assert len(response.get_json()) == 100
    assert pagination(response)["total"] == 106
    rest = client.get(f"{LISTS}?page=2", headers=user.headers).get_json()
    assert [item["name"] for item in rest] == [f"L{n:03}" for n in range(99, 105)]


@pytest.mark.parametrize("query", ["?page_size=1001", "?page_size=0", "?page=0",
                                   "?archived=maybe"])
def test_list_page_rejects_bad_queries(client, user, query):
    assert_error(client.get(f"{LISTS}{query}", headers=user.headers), 422)


def test_archived_lists_are_hidden_unless_asked_for(client, user):
    create_list(client, user, name="A")
    old = create_list(client, user, name="B")
    create_list(client, user, name="C")
    client.patch(f"{LISTS}/{old['id']}", json={"archived": True}, headers=user.headers)

    shown = client.get(LISTS, headers=user.headers)
    assert [item["name"] for item in shown.get_json()] == ["Inbox", "A", "C"]
    assert pagination(shown)["total"] == 3
    every = client.get(f"{LISTS}?archived=true", headers=user.headers)
    assert [item["name"] for item in every.get_json()] == ["Inbox", "A", "B", "C"]
    assert pagination(every)["total"] == 4
    assert names(client, user, "?archived=false") == ["Inbox", "A", "C"]
    # An archived list is still readable by id.
    assert client.get(f"{LISTS}/{old['id']}", headers=user.headers).get_json()["archived"]


def test_list_page_if_none_match(client, user):
    first = client.get(LISTS, headers=user.headers)
    etag = first.headers["ETag"]

    same = client.get(LISTS, headers={**user.headers, "If-None-Match": etag})
    assert same.status_code == 304 and same.data == b""

    create_list(client, user, name="New")
    changed = client.get(LISTS, headers={**user.headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert [item["name"] for item in changed.get_json()] == ["Inbox", "New"]


@pytest.mark.parametrize("write", ["task", "patch", "move", "delete"])
def test_list_page_etag_moves_with_every_write(client, user, write):
    made = create_list(client, user, name="A")
    create_list(client, user, name="B")
    etag = client.get(LISTS, headers=user.headers).headers["ETag"]

    if write == "task":
        create_task(client, user, title="t", list_id=made["id"])
    elif write == "patch":
        client.patch(f"{LISTS}/{made['id']}", json={"color": "#010101"}, headers=user.headers)
    elif write == "move":
        client.post(f"{LISTS}/{made['id']}/move", json={"after_id": None},
                    headers=user.headers)
    else:
        client.delete(f"{LISTS}/{made['id']}", headers=user.headers)

    response = client.get(LISTS, headers={**user.headers, "If-None-Match": etag})
    assert response.status_code == 200


def test_list_page_etag_differs_with_the_archived_flag(client, user):
    old = create_list(client, user, name="Old", archived=True)
    etag = client.get(LISTS, headers=user.headers).headers["ETag"]

    response = client.get(f"{LISTS}?archived=true",
                          headers={**user.headers, "If-None-Match": etag})

    assert response.status_code == 200
    assert old["id"] in [item["id"] for item in response.get_json()]


# ------------------------------------------------------------- moving lists


def test_move_after_a_list_and_first(app, client, user):
    box = inbox(client, user)
    a = create_list(client, user, name="A")
    b = create_list(client, user, name="B")
    c = create_list(client, user, name="C")
    before = {row["id"]: row for row in list_rows(app, user.id)}

    response = client.post(f"{LISTS}/{c['id']}/move", json={"after_id": box["id"]},
                           headers=user.headers)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["id"] == c["id"]
    assert response.headers["ETag"]
    assert names(client, user) == ["Inbox", "C", "A", "B"]
    after = {row["id"]: row for row in list_rows(app, user.id)}
    # Only the moved row changed.
    assert {i: row for i, row in after.items() if i != c["id"]} == {
        i: row for i, row in before.items() if i != c["id"]}
    assert after[c["id"]]["position"] == response.get_json()["position"]
    assert before[box["id"]]["position"] < after[c["id"]]["position"] < before[a["id"]][
        "position"]
    assert after[c["id"]]["version"] == before[c["id"]]["version"] + 1

    first = client.post(f"{LISTS}/{b['id']}/move", json={}, headers=user.headers)
    assert first.status_code == 200
    assert names(client, user) == ["B", "Inbox", "C", "A"]
    again = client.post(f"{LISTS}/{a['id']}/move", json={"after_id": None},
                        headers=user.headers)
    assert again.status_code == 200
    assert names(client, user) == ["A", "B", "Inbox", "C"]
    last = client.post(f"{LISTS}/{a['id']}/move", json={"after_id": c["id"]},
                       headers=user.headers)
    assert last.status_code == 200
    assert names(client, user) == ["B", "Inbox", "C", "A"]


def test_move_first_when_already_first_and_after_its_predecessor(client, user):
    a = create_list(client, user, name="A")
    box = inbox(client, user)

    assert client.post(f"{LISTS}/{box['id']}/move", json={}, headers=user.headers) \
        .status_code == 200
    assert client.post(f"{LISTS}/{a['id']}/move", json={"after_id": box["id"]},
                       headers=user.headers).status_code == 200
    assert names(client, user) == ["Inbox", "A"]


def test_move_among_archived_lists(client, user):
    a = create_list(client, user, name="A")
    old = create_list(client, user, name="Old", archived=True)

    response = client.post(f"{LISTS}/{a['id']}/move", json={"after_id": old["id"]},
                           headers=user.headers)

    assert response.status_code == 200
    assert names(client, user, "?archived=true") == ["Inbox", "Old", "A"]


def test_random_moves_keep_a_total_order(app, client, user):
    ids = [inbox(client, user)["id"]] + [create_list(client, user, name=f"L{n}")["id"]
                                        for n in range(5)]
    expected = list(ids)
    rng = random.Random(17)  # noqa: S311 (deterministic test data)

    for _ in range(30):
        moving = rng.choice(ids)
        expected.remove(moving)
        after = rng.choice([None, *expected])
        body = {} if after is None and rng.random() < 0.5 else {"after_id": after}
        response = client.post(f"{LISTS}/{moving}/move", json=body, headers=user.headers)
        assert response.status_code == 200, response.get_json()
        expected.insert(0 if after is None else expected.index(after) + 1, moving)
        assert [item["id"] for item in lists_of(client, user)] == expected

    positions = [row["position"] for row in sorted(list_rows(app, user.id),
                                                   key=lambda row: expected.index(row["id"]))]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)


@pytest.mark.parametrize("body", [{"after_id": "2"}, {"after_id": 0}, {"after_id": 1.5},
                                  {"after_id": True}, {"before_id": 2}, {"position": "a0"}],
                         ids=lambda body: json.dumps(body))
def test_move_rejects_bad_bodies(app, client, user, body):
    made = create_list(client, user, name="A")
    before = list_rows(app, user.id)

    response = client.post(f"{LISTS}/{made['id']}/move", json=body, headers=user.headers)

    assert_error(response, 422)
    assert list_rows(app, user.id) == before


@pytest.mark.parametrize("target", ["self", "missing"])
def test_move_after_itself_or_a_missing_list_is_422(app, client, user, target):
    made = create_list(client, user, name="A")
    after_id = made["id"] if target == "self" else MISSING_ID
    before = list_rows(app, user.id)

    response = client.post(f"{LISTS}/{made['id']}/move", json={"after_id": after_id},
                           headers=user.headers)

    assert_error(response, 422, field="after_id")
    assert list_rows(app, user.id) == before


def test_move_missing_list_is_404(client, user):
    assert_error(client.post(f"{LISTS}/{MISSING_ID}/move", json={}, headers=user.headers), 404)


def test_move_with_if_match(app, client, user):
    a = create_list(client, user, name="A")
    stale = etag_of(client, user, a["id"])
    client.patch(f"{LISTS}/{a['id']}", json={"color": "#101010"}, headers=user.headers)
    before = list_rows(app, user.id)

    response = client.post(f"{LISTS}/{a['id']}/move", json={},
                           headers={**user.headers, "If-Match": stale})

    assert_error(response, 412)
    assert list_rows(app, user.id) == before
    current = etag_of(client, user, a["id"])
    moved = client.post(f"{LISTS}/{a['id']}/move", json={},
                        headers={**user.headers, "If-Match": current})
    assert moved.status_code == 200
    assert names(client, user) == ["A", "Inbox"]


def test_move_renumbers_equal_positions_written_outside_taskapi(app, client, user):
    a = create_list(client, user, name="A")
    b = create_list(client, user, name="B")
    c = create_list(client, user, name="C")
    with app.app_context():
        db.session.execute(sa.update(TaskList).where(TaskList.id.in_([a["id"], b["id"]]))
                           .values(position="a5"))
        db.session.commit()

    response = client.post(f"{LISTS}/{c['id']}/move", json={"after_id": a["id"]},
                           headers=user.headers)

    assert response.status_code == 200, response.get_json()
    order = names(client, user)
    assert order.index("C") == order.index("A") + 1
    positions = [item["position"] for item in lists_of(client, user)]
    assert positions == sorted(positions) and len(set(positions)) == 4


def test_move_into_a_worn_gap_renumbers_instead_of_overflowing(app, client, user):
    # Hundreds of moves into one gap leave long keys; the next key between them
    # would pass the column's 255 characters (an error on PostgreSQL).
    x = create_list(client, user, name="X")
    y = create_list(client, user, name="Y")
    moving = create_list(client, user, name="M")
    worn = "a1" + "V" * 252
    with app.app_context():
        for list_id, position in ((x["id"], worn), (y["id"], worn + "1")):
            db.session.execute(sa.update(TaskList).where(TaskList.id == list_id)
                               .values(position=position))
        db.session.commit()

    response = client.post(f"{LISTS}/{moving['id']}/move", json={"after_id": x["id"]},
                           headers=user.headers)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert names(client, user) == ["Inbox", "X", "M", "Y"]
    positions = [row["position"] for row in list_rows(app, user.id)]
    assert max(len(position) for position in positions) <= MAX_KEY_LENGTH
    assert len(set(positions)) == 4


# ----------------------------------------------- archived lists and the tasks


def test_tasks_of_archived_lists_are_hidden_from_the_default_listing(app, client, user):
    shelf = create_list(client, user, name="Shelf")
    create_task(client, user, title="visible")
    hidden = create_task(client, user, title="hidden", list_id=shelf["id"])
    create_task(client, user, title="hidden sub", parent_id=hidden["id"])

    assert sorted(get_tasks(client, user, "")) == ["hidden", "hidden sub", "visible"]
    client.patch(f"{LISTS}/{shelf['id']}", json={"archived": True}, headers=user.headers)

    response = client.get(TASKS, headers=user.headers)
    assert titles(response) == ["visible"]
    assert pagination(response)["total"] == 1
    assert get_tasks(client, user, "completed=false") == ["visible"]
    assert get_tasks(client, user, f"list_id={shelf['id']}") == ["hidden", "hidden sub"]
    assert get_tasks(client, user, f"list_id={shelf['id']}&top_level=true") == ["hidden"]
    assert get_tasks(client, user, f"parent_id={hidden['id']}") == ["hidden sub"]
    # Still in the database, still readable by id.
    assert count_tasks(app, list_id=shelf["id"]) == 2
    assert client.get(f"{TASKS}/{hidden['id']}", headers=user.headers).status_code == 200

    client.patch(f"{LISTS}/{shelf['id']}", json={"archived": False}, headers=user.headers)
    assert sorted(get_tasks(client, user, "")) == ["hidden", "hidden sub", "visible"]


def test_default_listing_etag_moves_when_a_list_is_archived(client, user):
    shelf = create_list(client, user, name="Shelf")
    create_task(client, user, title="hidden", list_id=shelf["id"])
    etag = client.get(TASKS, headers=user.headers).headers["ETag"]

    client.patch(f"{LISTS}/{shelf['id']}", json={"archived": True}, headers=user.headers)

    response = client.get(TASKS, headers={**user.headers, "If-None-Match": etag})
    assert response.status_code == 200 and response.get_json() == []


# --------------------------------------------------------- the list_id filter


def test_list_id_filter_in_manual_order(app, client, user):
    work = create_list(client, user, name="Work")
    home = create_list(client, user, name="Home")
    for title in ("w1", "w2", "w3"):
        create_task(client, user, title=title, list_id=work["id"])
    create_task(client, user, title="h1", list_id=home["id"])
    create_task(client, user, title="inbox task")
    w3 = task_rows(app, title="w3").popitem()[0]
    move_task(client, user, w3)  # first

    assert get_tasks(client, user, f"list_id={work['id']}") == ["w3", "w1", "w2"]
    assert get_tasks(client, user, f"list_id={work['id']}&sort=-position") == [
        "w2", "w1", "w3"]
    assert get_tasks(client, user, f"list_id={work['id']}&sort=-created_at") == [
        "w3", "w2", "w1"]
    assert get_tasks(client, user, f"list_id={home['id']}") == ["h1"]
    assert get_tasks(client, user, f"list_id={inbox(client, user)['id']}") == ["inbox task"]


def test_list_id_filter_with_another_filter_and_cursor_pages(app, client, user):
    work = create_list(client, user, name="Work")
    made = [create_task(client, user, title=f"w{n}", list_id=work["id"], priority="high"
                        if n % 2 else "low") for n in range(7)]
    create_task(client, user, title="w0.sub", parent_id=made[0]["id"], priority="high")
    complete(client, user, made[3]["id"])
    create_task(client, user, title="other", priority="high")
    rows = task_rows(app, list_id=work["id"])
    expected = [row["title"] for row in sorted(rows.values(),
                                               key=lambda row: (row["position"], row["id"]))
                if row["priority"] == "high" and not row["completed"]]
    assert expected == ["w0.sub", "w1", "w5"]  # a subtask sorts among the list's tasks

    query = f"list_id={work['id']}&priority=high&completed=false&page_size=2"
    first = client.get(f"{TASKS}?{query}", headers=user.headers)
    assert first.status_code == 200
    seen = titles(first)
    cursor = first.headers["X-Next-Cursor"]
    assert f"list_id={work['id']}" in first.headers["Link"]
    second = client.get(f"{TASKS}?{query}&cursor={cursor}", headers=user.headers)
    assert second.status_code == 200
    assert "X-Pagination" not in second.headers and "X-Next-Cursor" not in second.headers
    seen += titles(second)
    assert seen == expected
    assert pagination(first)["total"] == 3


def test_list_id_filter_cursor_walk_over_the_whole_list(app, client, user):
    work = create_list(client, user, name="Work")
    for n in range(9):
        create_task(client, user, title=f"t{n}", list_id=work["id"])
    create_task(client, user, title="elsewhere")
    ids = list(task_rows(app, list_id=work["id"]))
    move_task(client, user, ids[8])  # first
    move_task(client, user, ids[0], after_id=ids[4])
    expected = [row["title"] for row in sorted(task_rows(app, list_id=work["id"]).values(),
                                               key=lambda row: (row["position"], row["id"]))]

    seen, url = [], f"{TASKS}?list_id={work['id']}&sort=position&page_size=4"
    while url:
        response = client.get(url, headers=user.headers)
        seen += titles(response)
        link = response.headers.get("Link")
        url = link[1:link.index(">")] if link else None

    assert seen == expected
    assert seen[0] == "t8" and seen.index("t0") == seen.index("t4") + 1


@pytest.mark.parametrize("value", ["0", "-1", "x", "2147483648"])
def test_list_id_filter_rejects_bad_values(client, user, value):
    assert_error(client.get(f"{TASKS}?list_id={value}", headers=user.headers), 422,
                 field="list_id")


def test_list_id_filter_of_a_missing_list_is_404(client, user):
    assert_error(client.get(f"{TASKS}?list_id={MISSING_ID}", headers=user.headers), 404)


# ------------------------------------------------------------------------ stats


def test_stats_of_one_list(client, user):
    work = create_list(client, user, name="Work")
    a = create_task(client, user, title="a", list_id=work["id"], priority="high")
    create_task(client, user, title="b", list_id=work["id"])
    create_task(client, user, title="a.1", parent_id=a["id"], priority="low")
    complete(client, user, a["id"])
    create_task(client, user, title="inbox", priority="high")

    response = client.get(f"{TASKS}/stats?list_id={work['id']}", headers=user.headers)

    assert response.status_code == 200
    stats = response.get_json()
    assert (stats["total"], stats["completed"], stats["open"]) == (3, 2, 1)
    assert stats["by_priority"] == {"high": 1, "medium": 0, "low": 1, "none": 1}
    assert stats["completed_last_7_days"][-1]["count"] == 2
    whole = client.get(f"{TASKS}/stats", headers=user.headers).get_json()
    assert (whole["total"], whole["completed"]) == (4, 2)
    boxed = client.get(f"{TASKS}/stats?list_id={inbox(client, user)['id']}",
                       headers=user.headers).get_json()
    assert (boxed["total"], boxed["by_priority"]["high"]) == (1, 1)
    empty = create_list(client, user, name="Empty")
    assert client.get(f"{TASKS}/stats?list_id={empty['id']}",
                      headers=user.headers).get_json()["total"] == 0


def test_stats_of_a_missing_list(client, user):
    assert_error(client.get(f"{TASKS}/stats?list_id={MISSING_ID}", headers=user.headers), 404)
    assert_error(client.get(f"{TASKS}/stats?list_id=0", headers=user.headers), 422,
                 field="list_id")


# ----------------------------------------------------------------------- delete


def test_delete_an_empty_list(app, client, user):
    made = create_list(client, user, name="Empty")

    response = client.delete(f"{LISTS}/{made['id']}", headers=user.headers)

    assert response.status_code == 204 and response.data == b""
    assert response.headers["X-Tasks-Deleted"] == "0"
    assert response.headers["X-Tasks-Moved"] == "0"
    assert list_row(app, made["id"]) is None
    assert_error(client.get(f"{LISTS}/{made['id']}", headers=user.headers), 404)
    assert names(client, user) == ["Inbox"]
    assert_error(client.delete(f"{LISTS}/{made['id']}", headers=user.headers), 404)


@pytest.mark.parametrize("query", ["", "?tasks=delete", "?tasks=move&to={inbox}"])
def test_delete_an_empty_archived_list(app, client, user, query):
    made = create_list(client, user, name="Old", archived=True)

    response = client.delete(f"{LISTS}/{made['id']}"
                             f"{query.format(inbox=inbox(client, user)['id'])}",
                             headers=user.headers)

    assert response.status_code == 204
    assert list_row(app, made["id"]) is None


def test_delete_a_list_holding_tasks_is_409(app, client, user):
    made = create_list(client, user, name="Full")
    create_task(client, user, title="t", list_id=made["id"])
    before = snapshot(app)

    response = client.delete(f"{LISTS}/{made['id']}", headers=user.headers)

    body = assert_error(response, 409)
    assert "tasks=delete" in body["message"]
    assert snapshot(app) == before


def build_tree(client, user, list_id: int) -> dict[str, int]:
    """In ``list_id``: top-level a1, a2, a3 in the order a3, a1, a2 (a3 moved first);
    a1 has s11 (which has g111) and s12; a3 has s31. Titles -> ids."""
    ids: dict[str, int] = {}
    for title in ("a1", "a2", "a3"):
        ids[title] = create_task(client, user, title=title, list_id=list_id)["id"]
    for title, parent in (("s11", "a1"), ("s12", "a1"), ("g111", "s11"), ("s31", "a3")):
        ids[title] = create_task(client, user, title=title, parent_id=ids[parent])["id"]
    move_task(client, user, ids["a3"])
    return ids


def test_delete_moving_the_tasks_to_another_list(app, client, user):
    source = create_list(client, user, name="Source")
    target = create_list(client, user, name="Target")
    for title in ("b1", "b2"):
        create_task(client, user, title=title, list_id=target["id"])
    ids = build_tree(client, user, source["id"])
    assert get_tasks(client, user, f"list_id={source['id']}&top_level=true") == [
        "a3", "a1", "a2"]
    total = count_tasks(app)
    before = task_rows(app, list_id=source["id"])

    response = client.delete(f"{LISTS}/{source['id']}?tasks=move&to={target['id']}",
                             headers=user.headers)

    assert response.status_code == 204, response.get_data(as_text=True)
    assert response.headers["X-Tasks-Moved"] == "7"
    assert response.headers["X-Tasks-Deleted"] == "0"
    assert list_row(app, source["id"]) is None
    assert count_tasks(app) == total
    assert count_tasks(app, list_id=source["id"]) == 0
    assert count_tasks(app, list_id=target["id"]) == 9
    assert get_tasks(client, user, f"list_id={target['id']}&top_level=true") == [
        "b1", "b2", "a3", "a1", "a2"]
    assert get_tasks(client, user, f"parent_id={ids['a1']}") == ["s11", "s12"]
    assert get_tasks(client, user, f"parent_id={ids['s11']}") == ["g111"]
    assert get_tasks(client, user, f"parent_id={ids['a3']}") == ["s31"]
    after = task_rows(app)
    for task_id, row in before.items():
        assert after[task_id]["list_id"] == target["id"]
        assert after[task_id]["parent_id"] == row["parent_id"]
        assert after[task_id]["version"] > row["version"]
        if row["parent_id"] is not None:  # positions among siblings unchanged
            assert after[task_id]["position"] == row["position"]
    assert after[ids["a1"]]["subtask_count"] == 2
    counts = {item["id"]: item for item in lists_of(client, user)}[target["id"]]
    assert (counts["task_count"], counts["open_count"]) == (9, 9)


def test_delete_moving_the_tasks_to_an_empty_list_and_to_the_inbox(app, client, user):
    source = create_list(client, user, name="Source")
    target = create_list(client, user, name="Target", archived=True)
    build_tree(client, user, source["id"])

    response = client.delete(f"{LISTS}/{source['id']}?tasks=move&to={target['id']}",
                             headers=user.headers)

    assert response.status_code == 204
    assert get_tasks(client, user, f"list_id={target['id']}&top_level=true") == [
        "a3", "a1", "a2"]
    box = inbox(client, user)
    create_task(client, user, title="already in inbox")
    response = client.delete(f"{LISTS}/{target['id']}?tasks=move&to={box['id']}",
                             headers=user.headers)
    assert response.status_code == 204 and response.headers["X-Tasks-Moved"] == "7"
    assert get_tasks(client, user, f"list_id={box['id']}&top_level=true") == [
        "already in inbox", "a3", "a1", "a2"]
    assert count_tasks(app, list_id=box["id"]) == 8
    assert [row["name"] for row in list_rows(app, user.id)] == ["Inbox"]


def test_delete_with_the_tasks(app, client, user, other_user):
    doomed = create_list(client, user, name="Doomed")
    kept = create_list(client, user, name="Kept")
    a1 = create_task(client, user, title="a1", list_id=doomed["id"], tags=["only-a", "shared"])
    s11 = create_task(client, user, title="s11", parent_id=a1["id"], tags=["sub-only"])
    create_task(client, user, title="g111", parent_id=s11["id"])
    create_task(client, user, title="a2", list_id=doomed["id"])
    b1 = create_task(client, user, title="b1", list_id=kept["id"], tags=["Shared"])
    boxed = create_task(client, user, title="boxed", tags=["inbox-tag"])
    theirs = create_task(client, other_user, title="theirs", tags=["only-a"])
    assert link_count(app) == 6

    response = client.delete(f"{LISTS}/{doomed['id']}?tasks=delete", headers=user.headers)

    assert response.status_code == 204, response.get_data(as_text=True)
    assert response.headers["X-Tasks-Deleted"] == "4"
    assert response.headers["X-Tasks-Moved"] == "0"
    assert list_row(app, doomed["id"]) is None
    assert set(task_rows(app)) == {b1["id"], boxed["id"], theirs["id"]}
    assert tag_rows(app) == sorted([(user.id, "inbox-tag"), (user.id, "shared"),
                                    (other_user.id, "only-a")])
    assert link_count(app) == 3
    assert get_tasks(client, user, "sort=title") == ["b1", "boxed"]
    assert client.get(f"{TASKS}/{a1['id']}", headers=user.headers).status_code == 404
    # The search index forgot them too.
    assert get_tasks(client, user, "q=g111") == []


@pytest.mark.parametrize(("query", "field"), [
    ("?tasks=move", "to"),
    ("?to={other}", "to"),
    ("?tasks=delete&to={other}", "to"),
    ("?tasks=keep", "tasks"),
    ("?tasks=", "tasks"),
    ("?tasks=move&to=0", "to"),
    ("?tasks=move&to=x", "to"),
    ("?tasks=move&to={self}", "to"),
    (f"?tasks=move&to={MISSING_ID}", "to"),
])
def test_delete_rejects_bad_queries(app, client, user, query, field):
    made = create_list(client, user, name="Full")
    other = create_list(client, user, name="Other")
    create_task(client, user, title="t", list_id=made["id"])
    before = snapshot(app)

    response = client.delete(
        f"{LISTS}/{made['id']}{query.format(other=other['id'], self=made['id'])}",
        headers=user.headers)

    assert_error(response, 422, field=field)
    assert snapshot(app) == before


def test_delete_with_stale_if_match_is_412(app, client, user):
    made = create_list(client, user, name="Full")
    stale = etag_of(client, user, made["id"])
    create_task(client, user, title="t", list_id=made["id"])
    before = snapshot(app)

    response = client.delete(f"{LISTS}/{made['id']}?tasks=delete",
                             headers={**user.headers, "If-Match": stale})

    assert_error(response, 412)
    assert snapshot(app) == before
    current = etag_of(client, user, made["id"])
    done = client.delete(f"{LISTS}/{made['id']}?tasks=delete",
                         headers={**user.headers, "If-Match": current})
    assert done.status_code == 204 and list_row(app, made["id"]) is None


# ---------------------------------------------------------------------- batches


def five_with_subtasks(client, user, list_id: int) -> list[int]:
    """Five top-level tasks t0..t4 in ``list_id``, in the order t4, t0, t1, t2, t3;
    each with a subtask, t0 and t2 with a second one, t0's first with a child:
    14 rows. Returns the top-level ids in their order."""
    top = [create_task(client, user, title=f"t{n}", list_id=list_id)["id"] for n in range(5)]
    for n, task_id in enumerate(top):
        sub = create_task(client, user, title=f"t{n}.a", parent_id=task_id, tags=[f"tag{n}"])
        if n % 2 == 0:
            create_task(client, user, title=f"t{n}.b", parent_id=task_id)
        if n == 0:
            create_task(client, user, title="t0.a.x", parent_id=sub["id"])
    move_task(client, user, top[4])
    return [top[4], *top[:4]]


def test_batched_delete_moving_the_tasks(app, client, user):
    source = create_list(client, user, name="Source")
    target = create_list(client, user, name="Target")
    create_task(client, user, title="b1", list_id=target["id"])
    order = five_with_subtasks(client, user, source["id"])
    total = count_tasks(app)
    assert count_tasks(app, list_id=source["id"]) == 14

    with app.app_context():
        done = service.delete_list(db.session.get(TaskList, source["id"]), "move",
                                   target["id"], batch_size=2)
        db.session.remove()

    assert (done.moved, done.deleted) == (14, 0)
    assert list_row(app, source["id"]) is None
    assert count_tasks(app) == total
    assert count_tasks(app, list_id=target["id"]) == 15
    top = sorted((row for row in task_rows(app, list_id=target["id"]).values()
                  if row["parent_id"] is None), key=lambda row: (row["position"], row["id"]))
    assert [row["title"] for row in top] == ["b1", "t4", "t0", "t1", "t2", "t3"]
    assert [row["id"] for row in top[1:]] == order
    assert len({row["position"] for row in top}) == 6
    assert get_tasks(client, user, f"parent_id={order[1]}") == ["t0.a", "t0.b"]
    t0a = task_rows(app, title="t0.a").popitem()[1]
    assert get_tasks(client, user, f"parent_id={t0a['id']}") == ["t0.a.x"]
    assert len(tag_rows(app)) == 5


@pytest.mark.parametrize("top_level", [5, 4])
def test_batched_delete_with_the_tasks(app, client, user, top_level):
    doomed = create_list(client, user, name="Doomed")
    kept = create_task(client, user, title="kept", tags=["tag1"])
    five_with_subtasks(client, user, doomed["id"])
    if top_level == 4:  # a multiple of the batch size
        t4 = task_rows(app, title="t4").popitem()[0]
        assert client.delete(f"{TASKS}/{t4}", headers=user.headers).status_code in (200, 204)
    rows = count_tasks(app, list_id=doomed["id"])

    with app.app_context():
        done = service.delete_list(db.session.get(TaskList, doomed["id"]), "delete",
                                   batch_size=2)
        db.session.remove()

    assert (done.deleted, done.moved) == (rows, 0)
    assert rows == (14 if top_level == 5 else 11)
    assert list_row(app, doomed["id"]) is None
    assert set(task_rows(app)) == {kept["id"]}
    assert tag_rows(app) == [(user.id, "tag1")]
    assert link_count(app) == 1


def test_batched_delete_that_fails_halfway_finishes_when_repeated(app, client, user,
                                                                  monkeypatch):
    doomed = create_list(client, user, name="Doomed")
    five_with_subtasks(client, user, doomed["id"])
    real = service._delete_batch
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the request died")
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "_delete_batch", failing)
    with app.app_context():
        with pytest.raises(RuntimeError):
            service.delete_list(db.session.get(TaskList, doomed["id"]), "delete",
                                batch_size=2)
        db.session.rollback()
        db.session.remove()
    # The first batch (two top-level tasks and their subtasks) is done, the list is there.
    assert list_row(app, doomed["id"]) is not None
    left = task_rows(app, list_id=doomed["id"])
    assert sorted(row["title"] for row in left.values() if row["parent_id"] is None) == [
        "t1", "t2", "t3"]
    assert all(row["parent_id"] is None or row["parent_id"] in left for row in left.values())

    monkeypatch.setattr(service, "_delete_batch", real)
    response = client.delete(f"{LISTS}/{doomed['id']}?tasks=delete", headers=user.headers)
    assert response.status_code == 204
    assert response.headers["X-Tasks-Deleted"] == str(len(left))
    assert list_row(app, doomed["id"]) is None
    assert count_tasks(app) == 0 and tag_rows(app) == []


@pytest.fixture
def stray(app, client, user) -> dict:
    """A list holding only a subtask whose parent is in the Inbox: never written
    by taskapi (a subtask shares its parent's list), so written directly."""
    stray_list = create_list(client, user, name="Stray")
    target = create_list(client, user, name="Target")
    parent = create_task(client, user, title="parent")
    now = utcnow()
    with app.app_context():
        task_id = db.session.execute(sa.insert(Task.__table__).values(
            user_id=user.id, list_id=stray_list["id"], parent_id=parent["id"], position="a0",
            title="stray", created_at=now, updated_at=now)).inserted_primary_key[0]
        db.session.commit()
    return {"list": stray_list["id"], "to": target["id"], "parent": parent["id"],
            "task": task_id}


def bounded_batches(monkeypatch, limit: int = 20) -> None:
    """Fail instead of looping for ever: at most ``limit`` batches per deletion."""
    real, calls = service.end_batch, []

    def counted():
        calls.append(1)
        if len(calls) > limit:
            raise AssertionError("delete_list does not finish")
        real()

    monkeypatch.setattr(service, "end_batch", counted)


@pytest.mark.parametrize("mode", [None, "delete", "move"])
def test_delete_a_list_holding_only_a_stray_subtask_finishes(app, client, user, stray,
                                                           monkeypatch, mode):
    bounded_batches(monkeypatch)

    with app.app_context():
        task_list = db.session.get(TaskList, stray["list"])
        if mode is None:
            with pytest.raises(HTTPException) as raised:
                service.delete_list(task_list, None, batch_size=2)
            assert raised.value.code == 409
            db.session.rollback()
        else:
            done = service.delete_list(task_list, mode, stray["to"] if mode == "move"
                                       else None, batch_size=2)
        db.session.remove()

    if mode is None:
        assert list_row(app, stray["list"]) is not None
        assert task_rows(app)[stray["task"]]["list_id"] == stray["list"]
        return
    assert list_row(app, stray["list"]) is None
    rows = task_rows(app)
    if mode == "delete":
        assert (done.deleted, done.moved) == (1, 0)
        assert stray["task"] not in rows
    else:
        assert (done.deleted, done.moved) == (0, 1)
        assert (rows[stray["task"]]["list_id"], rows[stray["task"]]["parent_id"]) == (
            stray["to"], None)
    assert rows[stray["parent"]]["subtask_count"] == 0


# -------------------------------------------------------------------- isolation


@pytest.fixture
def theirs(client, other_user) -> dict:
    """Bob's list with a task and a subtask, and his Inbox."""
    made = create_list(client, other_user, name="Bob's", color="#abcdef")
    task = create_task(client, other_user, title="bob task", list_id=made["id"])
    create_task(client, other_user, title="bob sub", parent_id=task["id"])
    return {"list": made["id"], "inbox": inbox(client, other_user)["id"], "task": task["id"]}


def test_another_users_list_in_every_path_is_404(app, client, user, other_user, theirs):
    mine = create_list(client, user, name="Mine")
    create_task(client, user, title="my task", list_id=mine["id"])
    before = snapshot(app)
    versions = (data_version(app, user.id), data_version(app, other_user.id))

    for list_id in (theirs["list"], theirs["inbox"]):
        path = f"{LISTS}/{list_id}"
        missing = f"{LISTS}/{MISSING_ID}"
        requests = [
            ("get", "", None), ("patch", "", {"name": "mine now"}),
            ("patch", "", {"archived": True}), ("delete", "", None),
            ("delete", "?tasks=delete", None),
            ("delete", f"?tasks=move&to={mine['id']}", None),
            ("post", "/move", {}), ("post", "/move", {"after_id": mine["id"]}),
        ]
        for method, suffix, body in requests:
            response = getattr(client, method)(f"{path}{suffix}", json=body,
                                               headers=user.headers)
            found = assert_error(response, 404)
            # Exactly what a list that does not exist gives: no hint.
            nothing = getattr(client, method)(f"{missing}{suffix}", json=body,
                                              headers=user.headers)
            assert found == nothing.get_json(), (method, suffix)
        for query in (f"{TASKS}?list_id={list_id}", f"{TASKS}/stats?list_id={list_id}",
                      f"{TASKS}?list_id={list_id}&top_level=true&completed=false"):
            response = client.get(query, headers=user.headers)
            assert assert_error(response, 404) == client.get(
                query.replace(str(list_id), str(MISSING_ID), 1),
                headers=user.headers).get_json()

    assert snapshot(app) == before
    assert (data_version(app, user.id), data_version(app, other_user.id)) == versions


def test_another_users_list_in_every_field_is_422(app, client, user, other_user, theirs):
    mine = create_list(client, user, name="Mine")
    my_task = create_task(client, user, title="my task", list_id=mine["id"])
    before = snapshot(app)
    versions = (data_version(app, user.id), data_version(app, other_user.id))

    for list_id in (theirs["list"], theirs["inbox"]):
        created = client.post(TASKS, json={"title": "sneaky", "list_id": list_id},
                              headers=user.headers)
        assert_error(created, 422, field="list_id")
        moved = client.post(f"{TASKS}/{my_task['id']}/move", json={"list_id": list_id},
                            headers=user.headers)
        assert_error(moved, 422, field="list_id")
        after = client.post(f"{LISTS}/{mine['id']}/move", json={"after_id": list_id},
                            headers=user.headers)
        assert_error(after, 422, field="after_id")
        deleted = client.delete(f"{LISTS}/{mine['id']}?tasks=move&to={list_id}",
                                headers=user.headers)
        assert_error(deleted, 422, field="to")
        # Same answer as for a list that does not exist.
        assert deleted.get_json() == client.delete(
            f"{LISTS}/{mine['id']}?tasks=move&to={MISSING_ID}", headers=user.headers).get_json()

    assert snapshot(app) == before
    assert (data_version(app, user.id), data_version(app, other_user.id)) == versions
    assert names(client, other_user) == ["Inbox", "Bob's"]
    assert get_tasks(client, other_user, "") == ["bob sub", "bob task"]


def test_lists_pages_show_only_your_lists(client, user, other_user, theirs):
    create_list(client, user, name="Mine")

    assert names(client, user, "?archived=true") == ["Inbox", "Mine"]
    assert names(client, other_user, "?archived=true") == ["Inbox", "Bob's"]
    assert get_tasks(client, user, "") == []
    assert client.get(f"{TASKS}/stats", headers=user.headers).get_json()["total"] == 0


# ----------------------------------------------------------------------- quota


def test_lists_quota_default():
    assert Defaults.MAX_LISTS_PER_USER == 1_000


@pytest.mark.parametrize("value", [0, -1, "many", True, 2.5])
def test_lists_quota_must_be_a_positive_integer(database_url, value):
    with pytest.raises(ConfigurationError, match="MAX_LISTS_PER_USER"):
        make_app(database_url, MAX_LISTS_PER_USER=value)


def test_lists_quota_from_the_environment(database_url, monkeypatch):
    monkeypatch.setenv("TASKAPI_MAX_LISTS_PER_USER", "7")
    app = make_app(database_url)
    try:
        assert app.config["MAX_LISTS_PER_USER"] == 7
    finally:
        dispose(app)


class TestListQuota:
    """``MAX_LISTS_PER_USER`` = 3: the Inbox and two more, archived ones included."""

    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "MAX_LISTS_PER_USER": 3}

    def test_create_beyond_the_quota_is_409(self, app, client, user, other_user):
        create_list(client, user, name="One")
        create_list(client, user, name="Two", archived=True)

        response = client.post(LISTS, json={"name": "Three"}, headers=user.headers)

        body = assert_error(response, 409)
        assert "3" in body["message"]
        assert [row["name"] for row in list_rows(app, user.id)] == ["Inbox", "One", "Two"]
        # Per user: Bob is not affected.
        create_list(client, other_user, name="Three")

    def test_a_deleted_list_frees_its_place(self, app, client, user):
        create_list(client, user, name="One")
        two = create_list(client, user, name="Two")
        assert_error(client.post(LISTS, json={"name": "Three"}, headers=user.headers), 409)

        assert client.delete(f"{LISTS}/{two['id']}", headers=user.headers).status_code == 204
        create_list(client, user, name="Three")

        assert [row["name"] for row in list_rows(app, user.id)] == ["Inbox", "One", "Three"]


# ------------------------------------------------------ the original contract


def test_compat_list_shows_tasks_of_archived_lists_without_new_fields(app, client, user):
    shelf = create_list(client, user, name="Shelf")
    parent = create_task(client, user, title="shelved", list_id=shelf["id"])
    create_task(client, user, title="shelved sub", parent_id=parent["id"])
    create_task(client, user, title="in inbox")
    client.patch(f"{LISTS}/{shelf['id']}", json={"archived": True}, headers=user.headers)
    assert get_tasks(client, user, "") == ["in inbox"]

    response = client.get(f"/api/{user.id}/tasks", headers=user.headers)

    assert response.status_code == 200
    body = response.get_json()
    assert [task["title"] for task in body] == ["shelved", "shelved sub", "in inbox"]
    for task in body:
        assert set(task) == COMPAT_TASK_KEYS
        assert not NEW_TASK_FIELDS & set(task)
    one = client.get(f"/api/{user.id}/tasks/{parent['id']}", headers=user.headers)
    assert one.status_code == 200 and set(one.get_json()) == COMPAT_TASK_KEYS
    assert pagination(response)["total"] == 3


def test_compat_create_goes_to_the_inbox(app, client, user):
    response = client.post(f"/api/{user.id}/tasks", json={"title": "old client"},
                           headers=user.headers)

    assert response.status_code == 201
    assert set(response.get_json()) == COMPAT_TASK_KEYS
    row = task_rows(app)[response.get_json()["id"]]
    assert row["list_id"] == inbox(client, user)["id"] and row["parent_id"] is None


# ------------------------------------------------- counts kept by the database


def stored_and_counted(app) -> tuple[list[tuple], list[tuple]]:
    """Every list's ``(id, task_count, open_count)`` as stored, and as counted now."""
    lists, tasks = TaskList.__table__, Task.__table__
    mine = tasks.c.list_id == lists.c.id
    with app.app_context():
        stored = [tuple(row) for row in db.session.execute(
            sa.select(lists.c.id, lists.c.task_count, lists.c.open_count).order_by(lists.c.id))]
        counted = [tuple(row) for row in db.session.execute(sa.select(
            lists.c.id,
            sa.select(sa.func.count()).where(mine).scalar_subquery(),
            sa.select(sa.func.count()).where(mine, tasks.c.completed.is_(False))
            .scalar_subquery()).order_by(lists.c.id))]
    return stored, counted


def test_list_counts_follow_every_kind_of_write(app, client, user, other_user):
    """The triggers of LIST_COUNT_DDL against a fresh count after each write: the
    API's creates, completions (with subtasks), reopenings, moves, deletions,
    list deletions with their tasks moved or deleted, a Core bulk insert and
    SQL typed in a shell."""
    from tests.helpers import in_inbox

    def check():
        stored, counted = stored_and_counted(app)
        assert stored == counted
        return {row[0]: row[1:] for row in stored}

    work, home = create_list(client, user, name="Work"), create_list(client, user, name="Home")
    parent = create_task(client, user, title="parent", list_id=work["id"])
    child = create_task(client, user, title="child", parent_id=parent["id"])
    create_task(client, user, title="grandchild", parent_id=child["id"])
    create_task(client, user, title="loose", list_id=work["id"])
    create_task(client, other_user, title="theirs")
    assert check()[work["id"]] == (4, 4)
    complete(client, user, parent["id"])  # completes its subtasks too
    assert check()[work["id"]] == (4, 1)
    reopened = client.patch(f"{TASKS}/{child['id']}", json={"completed": False},
                            headers=user.headers)
    assert reopened.status_code == 200
    assert check()[work["id"]] == (4, 2)
    move_task(client, user, parent["id"], list_id=home["id"])  # the subtree goes along
    counts = check()
    assert (counts[work["id"]], counts[home["id"]]) == ((1, 1), (3, 1))
    deleted = client.delete(f"{TASKS}/{child['id']}", headers=user.headers)
    assert deleted.status_code == 204 and deleted.headers["X-Subtasks-Deleted"] == "1"
    assert check()[home["id"]] == (1, 0)
    moved = client.delete(f"{LISTS}/{work['id']}?tasks=move&to={home['id']}",
                          headers=user.headers)
    assert moved.status_code == 204
    assert check()[home["id"]] == (2, 1)
    with app.app_context():
        db.session.execute(sa.insert(Task), in_inbox(user.id, [
            {"user_id": user.id, "title": f"bulk {n}", "created_at": utcnow(),
             "updated_at": utcnow(), "completed": n % 2 == 0} for n in range(6)]))
        db.session.execute(sa.text("UPDATE tasks SET completed = true WHERE title = 'loose'"))
        db.session.commit()
    inbox_id = inbox(client, user)["id"]
    counts = check()
    assert (counts[inbox_id], counts[home["id"]]) == ((6, 3), (2, 0))
    gone = client.delete(f"{LISTS}/{home['id']}?tasks=delete", headers=user.headers)
    assert gone.status_code == 204 and gone.headers["X-Tasks-Deleted"] == "2"
    check()
    shown = {item["id"]: (item["task_count"], item["open_count"])
             for item in lists_of(client, user)}
    assert shown == {inbox_id: (6, 3)}


def overwrite_list_counters(app, account, list_id: int, task_count: int,
                            open_count: int) -> None:
    """Set a list's counters by SQL (as a stray shell write would), and move the
    user's data version so that no cached page hides the effect."""
    with app.app_context():
        db.session.execute(sa.update(TaskList).where(TaskList.id == list_id)
                           .values(task_count=task_count, open_count=open_count))
        db.session.execute(sa.update(User).where(User.id == account.id)
                           .values(data_version=User.data_version + 1))
        db.session.commit()


def assert_totals(client, account, base: str, expected) -> None:
    """``X-Pagination`` total of ``base + query`` for each ``(query, total)``."""
    for query, total in expected:
        response = client.get(base + query, headers=account.headers)
        assert response.status_code == 200, query
        assert pagination(response)["total"] == total, query


def test_a_list_pages_total_is_the_lists_counter(app, client, user):
    """Page 1 of ``list_id`` (alone or with ``completed``) takes its total from the
    list row, not from counting the list's tasks: the row says 1,000 here."""
    work = create_list(client, user, name="Work")
    for n in range(5):
        made = create_task(client, user, title=f"t{n}", list_id=work["id"])
        if n < 2:
            complete(client, user, made["id"])
    base = f"{TASKS}?list_id={work['id']}&page_size=2"
    assert_totals(client, user, base, (("", 5), ("&completed=false", 3), ("&completed=true", 2),
                                       ("&sort=position", 5), ("&top_level=true", 5)))
    overwrite_list_counters(app, user, work["id"], 1000, 997)
    assert_totals(client, user, base, (("", 1000), ("&completed=false", 997),
                                       ("&completed=true", 3),
                                       ("&top_level=true", 5)))  # another filter: counted
    past_the_end = client.get(f"{base}&page=600", headers=user.headers)
    assert past_the_end.status_code == 200 and past_the_end.get_json() == []
    assert pagination(past_the_end)["total"] == 1000


def test_concurrent_writes_with_one_if_match_one_wins_the_other_is_412(app, client, user):
    """Two renames of one list sent with the same If-Match at once: the user's row
    lock comes before the If-Match check, so the second compares with the first
    one's commit and gets a 412; exactly one name lands."""
    from tests.helpers import concurrently

    work = create_list(client, user, name="Work")
    etag = etag_of(client, user, work["id"])

    def rename(name):
        def call(own_client):
            return own_client.patch(f"{LISTS}/{work['id']}", json={"name": name},
                                    headers={**user.headers, "If-Match": etag})
        return call

    for attempt in range(5):
        answers = concurrently(app, [rename(f"First {attempt}"), rename(f"Second {attempt}")])
        assert sorted(answer.status_code for answer in answers) == [200, 412]
        (won,) = [answer for answer in answers if answer.status_code == 200]
        (lost,) = [answer for answer in answers if answer.status_code == 412]
        assert lost.get_json()["code"] == 412
        assert list_row(app, work["id"])["name"] == won.get_json()["name"]
        etag = won.headers["ETag"]


def test_the_default_listings_total_sums_the_counters_of_lists_shown(app, client, user,
                                                                      other_user):
    """Without ``list_id`` the total of page 1 is the sum of the counters of the
    user's lists that are not archived (their tasks are the ones listed)."""
    work, home = create_list(client, user, name="Work"), create_list(client, user, name="Home")
    for n in range(3):
        create_task(client, user, title=f"inbox {n}")
    for n in range(4):
        made = create_task(client, user, title=f"work {n}", list_id=work["id"])
        if n == 0:
            complete(client, user, made["id"])
    for n in range(2):
        create_task(client, user, title=f"home {n}", list_id=home["id"])
    create_task(client, other_user, title="theirs")
    archived = client.patch(f"{LISTS}/{home['id']}", json={"archived": True},
                            headers=user.headers)
    assert archived.status_code == 200
    base = f"{TASKS}?page_size=2"
    assert_totals(client, user, base, (("", 7), ("&completed=false", 6), ("&completed=true", 1),
                                       ("&sort=due_at", 7), ("&priority=high", 0)))
    overwrite_list_counters(app, user, work["id"], 100, 90)
    assert_totals(client, user, base, (("", 103), ("&completed=false", 93),
                                       ("&completed=true", 10),
                                       ("&priority=high", 0)))  # another filter: counted
