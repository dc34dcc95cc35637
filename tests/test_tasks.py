"""Task routes under /api/v1/tasks: CRUD, listing, completion, isolation, auth.

Every test goes through the HTTP test client and checks the status, the body and
the row in the database (read in a fresh app context, so never a cached object).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.models import Task
from tests.helpers import assert_error, create_task, task_count, task_row

TASKS = "/api/v1/tasks"
TASK_KEYS = {
    "id", "title", "description", "completed", "completed_at", "priority", "due_at",
    "created_at", "updated_at", "tags", "list_id", "parent_id", "position", "subtask_count",
    "open_subtask_count", "recurrence", "next_due_at",
}
FULL_TASK = {
    "title": "Write report",
    "description": "Quarterly numbers",
    "completed": True,
    "priority": "high",
    "due_at": "2025-12-31T17:00:00+00:00",
}


# --------------------------------------------------------------------- helpers



def create_tasks(client, account, count: int) -> list[int]:
    """Create ``count`` tasks titled "Task 1".."Task N"; return their ids in order."""
    return [create_task(client, account, title=f"Task {n}")["id"] for n in range(1, count + 1)]




def set_created_at(app, task_id: int, when: datetime) -> None:
    with app.app_context():
        db.session.execute(sa.update(Task).where(Task.id == task_id).values(created_at=when))
        db.session.commit()


def ts(value: str) -> datetime:
    """Parse an ISO 8601 timestamp from a response; it must carry an offset."""
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


def pagination(response) -> dict:
    return json.loads(response.headers["X-Pagination"])


def listed_ids(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [task["id"] for task in response.get_json()]


# ---------------------------------------------------------------------- create


def test_create_returns_201_task_and_location(client, app, user):
    response = client.post(TASKS, json={"title": "Buy milk"}, headers=user.headers)

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == TASK_KEYS
    assert body["title"] == "Buy milk"
    assert body["description"] is None
    assert body["completed"] is False
    assert body["completed_at"] is None
    assert body["priority"] is None
    assert body["due_at"] is None
    assert isinstance(body["id"], int)
    assert response.headers["Location"] == f"{TASKS}/{body['id']}"
    assert ts(body["created_at"]).utcoffset() == timedelta(0)
    assert ts(body["updated_at"]) >= ts(body["created_at"])

    fetched = client.get(response.headers["Location"], headers=user.headers)
    assert fetched.status_code == 200
    assert fetched.get_json() == body


def test_create_stores_row_owned_by_creator(client, app, user, other_user):
    body = create_task(client, user, **FULL_TASK)

    row = task_row(app, body["id"])
    assert row is not None
    assert row["user_id"] == user.id
    assert row["user_id"] != other_user.id
    assert row["title"] == "Write report"
    assert row["description"] == "Quarterly numbers"
    assert row["completed"] is True
    assert row["priority"] == "high"
    assert row["due_at"] == datetime(2025, 12, 31, 17, 0, tzinfo=UTC)
    assert task_count(app) == 1


def test_create_all_fields_echoed(client, user):
    body = create_task(client, user, **FULL_TASK)

    assert set(body) == TASK_KEYS
    assert body["title"] == FULL_TASK["title"]
    assert body["description"] == FULL_TASK["description"]
    assert body["completed"] is True
    assert body["priority"] == "high"
    assert body["due_at"] == "2025-12-31T17:00:00+00:00"


def test_create_trims_title(client, app, user):
    body = create_task(client, user, title="  \t Buy milk  ")

    assert body["title"] == "Buy milk"
    assert task_row(app, body["id"])["title"] == "Buy milk"


def test_create_completed_sets_completed_at(client, app, user):
    body = create_task(client, user, title="Done already", completed=True)

    assert body["completed"] is True
    assert body["completed_at"] is not None
    assert ts(body["completed_at"]) >= ts(body["created_at"])
    row = task_row(app, body["id"])
    assert row["completed"] is True
    assert row["completed_at"] == ts(body["completed_at"])


def test_create_not_completed_leaves_completed_at_null(client, app, user):
    body = create_task(client, user, completed=False)

    assert body["completed"] is False
    assert body["completed_at"] is None
    assert task_row(app, body["id"])["completed_at"] is None


@pytest.mark.parametrize(
    ("sent", "returned", "stored"),
    [
        ("2025-12-31T10:00:00+02:00", "2025-12-31T08:00:00+00:00",
         datetime(2025, 12, 31, 8, 0, tzinfo=UTC)),
        ("2025-12-31T10:00:00Z", "2025-12-31T10:00:00+00:00",
         datetime(2025, 12, 31, 10, 0, tzinfo=UTC)),
        ("2026-01-01T01:30:00+05:30", "2025-12-31T20:00:00+00:00",
         datetime(2025, 12, 31, 20, 0, tzinfo=UTC)),
        ("2025-12-31T20:00:00-05:00", "2026-01-01T01:00:00+00:00",
         datetime(2026, 1, 1, 1, 0, tzinfo=UTC)),
    ],
)
def test_create_due_at_converted_to_utc(client, app, user, sent, returned, stored):
    body = create_task(client, user, due_at=sent)

    assert body["due_at"] == returned
    assert task_row(app, body["id"])["due_at"] == stored
    fetched = client.get(f"{TASKS}/{body['id']}", headers=user.headers).get_json()
    assert fetched["due_at"] == returned


@pytest.mark.parametrize("priority", ["low", "medium", "high", None])
def test_create_accepts_each_priority(client, app, user, priority):
    body = create_task(client, user, priority=priority)

    assert body["priority"] == priority
    assert task_row(app, body["id"])["priority"] == priority


def test_create_description_keeps_inner_newlines_and_trims(client, app, user):
    body = create_task(client, user, description="  line 1\nline 2\tend  ")

    assert body["description"] == "line 1\nline 2\tend"
    assert task_row(app, body["id"])["description"] == "line 1\nline 2\tend"


# ------------------------------------------------------------------------ list


def test_list_empty(client, user):
    response = client.get(TASKS, headers=user.headers)

    assert response.status_code == 200
    assert response.get_json() == []
    assert pagination(response) == {"total": 0, "total_pages": 0}


def test_list_returns_task_objects(client, user):
    created = create_task(client, user, **FULL_TASK)

    response = client.get(TASKS, headers=user.headers)

    assert response.status_code == 200
    assert response.get_json() == [created]


def test_list_newest_first(client, user):
    ids = create_tasks(client, user, 5)

    assert listed_ids(client.get(TASKS, headers=user.headers)) == list(reversed(ids))


def test_list_orders_by_created_at_then_id(client, app, user):
    first, second, third, fourth = create_tasks(client, user, 4)
    base = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    # created_at decides, whatever the id; equal created_at falls back to id desc.
    set_created_at(app, first, base + timedelta(hours=1))
    set_created_at(app, second, base)
    set_created_at(app, third, base)
    set_created_at(app, fourth, base - timedelta(hours=1))

    response = client.get(TASKS, headers=user.headers)

    assert listed_ids(response) == [first, third, second, fourth]


def test_list_default_page_size_is_20(client, user):
    ids = create_tasks(client, user, 25)
    newest_first = list(reversed(ids))

    page1 = client.get(TASKS, headers=user.headers)
    page2 = client.get(f"{TASKS}?page=2", headers=user.headers)

    assert listed_ids(page1) == newest_first[:20]
    assert pagination(page1) == {
        "total": 25, "total_pages": 2, "first_page": 1, "last_page": 2,
        "page": 1, "next_page": 2,
    }
    assert listed_ids(page2) == newest_first[20:]
    assert pagination(page2) == {
        "total": 25, "total_pages": 2, "first_page": 1, "last_page": 2,
        "page": 2, "previous_page": 1,
    }


@pytest.mark.parametrize(
    ("page", "expected_slice", "header"),
    [
        (1, slice(0, 10), {"page": 1, "next_page": 2}),
        (2, slice(10, 20), {"page": 2, "previous_page": 1, "next_page": 3}),
        (3, slice(20, 25), {"page": 3, "previous_page": 2}),
        (4, slice(0, 0), {}),
    ],
)
def test_list_pages_with_page_size(client, user, page, expected_slice, header):
    newest_first = list(reversed(create_tasks(client, user, 25)))

    response = client.get(f"{TASKS}?page={page}&page_size=10", headers=user.headers)

    assert listed_ids(response) == newest_first[expected_slice]
    assert pagination(response) == {
        "total": 25, "total_pages": 3, "first_page": 1, "last_page": 3, **header,
    }


def test_list_pages_cover_every_task_once(client, user):
    ids = create_tasks(client, user, 25)

    seen = []
    for page in range(1, 7):
        response = client.get(f"{TASKS}?page={page}&page_size=5", headers=user.headers)
        seen.extend(listed_ids(response))

    assert seen == list(reversed(ids))


@pytest.mark.parametrize("page_size", [1, 100])
def test_list_page_size_bounds_accepted(client, user, page_size):
    ids = create_tasks(client, user, 3)

    response = client.get(f"{TASKS}?page_size={page_size}", headers=user.headers)

    assert listed_ids(response) == list(reversed(ids))[:page_size]
    assert pagination(response)["total_pages"] == -(-3 // page_size)


def test_list_largest_page_accepted(client, user):
    create_tasks(client, user, 2)

    response = client.get(f"{TASKS}?page=1000000", headers=user.headers)

    assert response.status_code == 200
    assert response.get_json() == []
    assert pagination(response) == {
        "total": 2, "total_pages": 1, "first_page": 1, "last_page": 1,
    }


@pytest.mark.parametrize(("value", "completed"), [("true", True), ("false", False)])
def test_list_filter_completed(client, user, other_user, value, completed):
    done = [create_task(client, user, title=f"done {n}", completed=True)["id"] for n in range(3)]
    open_ = [create_task(client, user, title=f"open {n}")["id"] for n in range(2)]
    create_task(client, other_user, title="other done", completed=True)
    create_task(client, other_user, title="other open")
    expected = done if completed else open_

    response = client.get(f"{TASKS}?completed={value}", headers=user.headers)

    assert listed_ids(response) == list(reversed(expected))
    assert all(task["completed"] is completed for task in response.get_json())
    assert pagination(response)["total"] == len(expected)


def test_list_filter_with_pagination(client, user):
    done = [create_task(client, user, title=f"d{n}", completed=True)["id"] for n in range(7)]
    create_tasks(client, user, 4)

    response = client.get(f"{TASKS}?completed=true&page=2&page_size=5", headers=user.headers)

    assert listed_ids(response) == list(reversed(done))[5:]
    assert pagination(response) == {
        "total": 7, "total_pages": 2, "first_page": 1, "last_page": 2,
        "page": 2, "previous_page": 1,
    }


# ------------------------------------------------------------------------- get


def test_get_task(client, user):
    created = create_task(client, user, **FULL_TASK)

    response = client.get(f"{TASKS}/{created['id']}", headers=user.headers)

    assert response.status_code == 200
    assert response.get_json() == created


# ------------------------------------------------------------------------- put


def test_put_replaces_every_writable_field(client, app, user):
    created = create_task(client, user, title="Old", description="old", priority="low")
    replacement = {
        "title": "  New  ",
        "description": "new",
        "completed": True,
        "priority": "medium",
        "due_at": "2026-03-01T09:00:00+01:00",
    }

    response = client.put(f"{TASKS}/{created['id']}", json=replacement, headers=user.headers)

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == TASK_KEYS
    assert body["id"] == created["id"]
    assert body["title"] == "New"
    assert body["description"] == "new"
    assert body["completed"] is True
    assert body["completed_at"] is not None
    assert body["priority"] == "medium"
    assert body["due_at"] == "2026-03-01T08:00:00+00:00"
    assert body["created_at"] == created["created_at"]
    row = task_row(app, created["id"])
    assert row["title"] == "New"
    assert row["description"] == "new"
    assert row["completed"] is True
    assert row["completed_at"] is not None
    assert row["priority"] == "medium"
    assert row["due_at"] == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert row["user_id"] == user.id


def test_put_resets_omitted_optional_fields(client, app, user):
    created = create_task(client, user, **FULL_TASK)

    response = client.put(f"{TASKS}/{created['id']}", json={"title": "Only title"},
                          headers=user.headers)

    assert response.status_code == 200
    body = response.get_json()
    assert body["title"] == "Only title"
    assert body["description"] is None
    assert body["priority"] is None
    assert body["due_at"] is None
    assert body["completed"] is False
    assert body["completed_at"] is None
    row = task_row(app, created["id"])
    assert (row["title"], row["description"], row["priority"], row["due_at"]) == (
        "Only title", None, None, None
    )
    assert row["completed"] is False
    assert row["completed_at"] is None


def test_put_without_title_is_422_and_changes_nothing(client, app, user):
    created = create_task(client, user, **FULL_TASK)
    before = task_row(app, created["id"])

    response = client.put(f"{TASKS}/{created['id']}", json={"description": "x"},
                          headers=user.headers)

    assert_error(response, 422, field="title")
    assert task_row(app, created["id"]) == before


# ----------------------------------------------------------------------- patch


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"title": " Renamed "}, {"title": "Renamed"}),
        ({"description": "New text"}, {"description": "New text"}),
        ({"description": None}, {"description": None}),
        ({"priority": "low"}, {"priority": "low"}),
        ({"priority": None}, {"priority": None}),
        ({"due_at": "2030-01-01T00:00:00+02:00"}, {"due_at": "2029-12-31T22:00:00+00:00"}),
        ({"due_at": None}, {"due_at": None}),
        ({"completed": False}, {"completed": False, "completed_at": None}),
    ],
)
def test_patch_changes_only_sent_fields(client, app, user, changes, expected):
    created = create_task(client, user, **FULL_TASK)
    before = task_row(app, created["id"])

    response = client.patch(f"{TASKS}/{created['id']}", json=changes, headers=user.headers)

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == TASK_KEYS
    unchanged = TASK_KEYS - set(expected) - {"updated_at"}
    assert {key: body[key] for key in unchanged} == {key: created[key] for key in unchanged}
    assert {key: body[key] for key in expected} == expected
    after = task_row(app, created["id"])
    for column in ("title", "description", "priority", "due_at", "completed", "completed_at"):
        if column not in expected:
            assert after[column] == before[column], column
    assert after["user_id"] == user.id
    assert after["created_at"] == before["created_at"]


def test_patch_empty_body_changes_no_field(client, app, user):
    created = create_task(client, user, **FULL_TASK)
    before = task_row(app, created["id"])

    response = client.patch(f"{TASKS}/{created['id']}", json={}, headers=user.headers)

    assert response.status_code == 200
    after = task_row(app, created["id"])
    before.pop("updated_at")
    after.pop("updated_at")
    assert after.pop("version") == before.pop("version") + 1  # a write: new ETag
    assert after.pop("sync_seq") > before.pop("sync_seq")  # and a change in the sync feed
    assert after == before


def test_patch_title_null_is_422_and_changes_nothing(client, app, user):
    created = create_task(client, user, title="Keep me")
    before = task_row(app, created["id"])

    response = client.patch(f"{TASKS}/{created['id']}", json={"title": None},
                            headers=user.headers)

    assert_error(response, 422, field="title")
    assert task_row(app, created["id"]) == before


# ------------------------------------------------------------------ updated_at


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("put", "", {"title": "Task"}),
        ("patch", "", {"title": "Changed"}),
        ("patch", "", {"title": "Task"}),
        ("patch", "", {"priority": "low"}),
        ("patch", "/complete", {"completed": True}),
        ("patch", "/complete", None),
    ],
)
def test_every_update_changes_updated_at(client, app, user, method, suffix, body):
    created = create_task(client, user, title="Task")
    before = task_row(app, created["id"])

    kwargs = {} if body is None else {"json": body}
    response = getattr(client, method)(
        f"{TASKS}/{created['id']}{suffix}", headers=user.headers, **kwargs
    )

    assert response.status_code == 200
    after = task_row(app, created["id"])
    assert after["updated_at"] > before["updated_at"]
    assert ts(response.get_json()["updated_at"]) == after["updated_at"]
    assert after["created_at"] == before["created_at"]


def test_updated_at_changes_on_each_successive_update(client, app, user):
    task_id = create_task(client, user)["id"]
    stamps = [task_row(app, task_id)["updated_at"]]

    for title in ("one", "two", "three"):
        response = client.patch(f"{TASKS}/{task_id}", json={"title": title},
                                headers=user.headers)
        assert response.status_code == 200
        stamps.append(task_row(app, task_id)["updated_at"])

    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 4


# ---------------------------------------------------------------- completed_at


@pytest.mark.parametrize("method", ["put", "patch"])
def test_completed_at_lifecycle(client, app, user, method):
    task_id = create_task(client, user, title="Task")["id"]
    send = getattr(client, method)
    url = f"{TASKS}/{task_id}"

    done = send(url, json={"title": "Task", "completed": True}, headers=user.headers)
    assert done.status_code == 200
    first_completed_at = done.get_json()["completed_at"]
    assert first_completed_at is not None
    assert task_row(app, task_id)["completed_at"] == ts(first_completed_at)

    again = send(url, json={"title": "Task", "completed": True}, headers=user.headers)
    assert again.status_code == 200
    assert again.get_json()["completed"] is True
    assert again.get_json()["completed_at"] == first_completed_at
    assert task_row(app, task_id)["completed_at"] == ts(first_completed_at)

    undone = send(url, json={"title": "Task", "completed": False}, headers=user.headers)
    assert undone.status_code == 200
    assert undone.get_json()["completed"] is False
    assert undone.get_json()["completed_at"] is None
    row = task_row(app, task_id)
    assert row["completed"] is False
    assert row["completed_at"] is None

    redone = send(url, json={"title": "Task", "completed": True}, headers=user.headers)
    assert redone.status_code == 200
    assert ts(redone.get_json()["completed_at"]) > ts(first_completed_at)


def test_patch_other_field_keeps_completed_at(client, app, user):
    created = create_task(client, user, title="Task", completed=True)

    response = client.patch(f"{TASKS}/{created['id']}", json={"title": "Renamed"},
                            headers=user.headers)

    assert response.status_code == 200
    assert response.get_json()["completed"] is True
    assert response.get_json()["completed_at"] == created["completed_at"]
    assert task_row(app, created["id"])["completed_at"] == ts(created["completed_at"])


# -------------------------------------------------------------------- complete


@pytest.mark.parametrize("initial", [False, True])
@pytest.mark.parametrize("target", [False, True])
def test_complete_sets_state(client, app, user, initial, target):
    created = create_task(client, user, completed=initial)

    response = client.patch(f"{TASKS}/{created['id']}/complete", json={"completed": target},
                            headers=user.headers)

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == TASK_KEYS
    assert body["completed"] is target
    row = task_row(app, created["id"])
    assert row["completed"] is target
    if not target:
        assert body["completed_at"] is None
        assert row["completed_at"] is None
    elif initial:
        assert body["completed_at"] == created["completed_at"]
        assert row["completed_at"] == ts(created["completed_at"])
    else:
        assert body["completed_at"] is not None
        assert row["completed_at"] == ts(body["completed_at"])
    assert row["title"] == created["title"]


def test_complete_without_body_toggles(client, app, user):
    task_id = create_task(client, user)["id"]
    url = f"{TASKS}/{task_id}/complete"

    first = client.patch(url, headers=user.headers)
    assert first.status_code == 200
    assert first.get_json()["completed"] is True
    assert first.get_json()["completed_at"] is not None
    row = task_row(app, task_id)
    assert row["completed"] is True
    assert row["completed_at"] == ts(first.get_json()["completed_at"])

    second = client.patch(url, headers=user.headers)
    assert second.status_code == 200
    assert second.get_json()["completed"] is False
    assert second.get_json()["completed_at"] is None
    row = task_row(app, task_id)
    assert row["completed"] is False
    assert row["completed_at"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"completed": "yes"}, "completed"),
        ({"completed": "true"}, "completed"),
        ({"completed": 1}, "completed"),
        ({"completed": None}, "completed"),
        ({"completed": True, "title": "x"}, "title"),
        ([True], None),
    ],
)
def test_complete_invalid_body_is_422_and_changes_nothing(client, app, user, body, field):
    task_id = create_task(client, user)["id"]
    before = task_row(app, task_id)

    response = client.patch(f"{TASKS}/{task_id}/complete", json=body, headers=user.headers)

    assert_error(response, 422, field=field)
    assert task_row(app, task_id) == before


# ---------------------------------------------------------------------- delete


def test_delete_removes_row(client, app, user):
    task_id = create_task(client, user)["id"]
    kept = create_task(client, user, title="Kept")["id"]

    response = client.delete(f"{TASKS}/{task_id}", headers=user.headers)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert task_row(app, task_id) is None
    assert task_row(app, kept) is not None
    assert_error(client.get(f"{TASKS}/{task_id}", headers=user.headers), 404)
    assert_error(client.delete(f"{TASKS}/{task_id}", headers=user.headers), 404)
    assert listed_ids(client.get(TASKS, headers=user.headers)) == [kept]


# ------------------------------------------------------------------- isolation

ITEM_ROUTES = [
    pytest.param("get", "", None, id="GET"),
    pytest.param("put", "", {"title": "Hijacked", "completed": True}, id="PUT"),
    pytest.param("patch", "", {"title": "Hijacked"}, id="PATCH"),
    pytest.param("delete", "", None, id="DELETE"),
    pytest.param("patch", "/complete", {"completed": True}, id="PATCH-complete"),
    pytest.param("patch", "/complete", None, id="PATCH-complete-toggle"),
]


@pytest.mark.parametrize(("method", "suffix", "body"), ITEM_ROUTES)
def test_other_user_gets_404_and_row_unchanged(
    client, app, user, other_user, method, suffix, body
):
    task_id = create_task(client, user, **{**FULL_TASK, "completed": False})["id"]
    before = task_row(app, task_id)

    kwargs = {} if body is None else {"json": body}
    response = getattr(client, method)(
        f"{TASKS}/{task_id}{suffix}", headers=other_user.headers, **kwargs
    )

    assert_error(response, 404)
    assert task_row(app, task_id) == before
    assert task_count(app) == 1
    # The owner still sees it, unchanged.
    assert client.get(f"{TASKS}/{task_id}", headers=user.headers).status_code == 200


def test_other_user_list_does_not_contain_task(client, user, other_user):
    mine = create_task(client, user, title="Ada's", completed=True)["id"]
    theirs = create_task(client, other_user, title="Bob's")["id"]

    for query in ("", "?completed=true", "?completed=false", "?page_size=100"):
        response = client.get(f"{TASKS}{query}", headers=other_user.headers)
        assert mine not in listed_ids(response), query

    other_list = client.get(TASKS, headers=other_user.headers)
    assert listed_ids(other_list) == [theirs]
    assert pagination(other_list)["total"] == 1
    assert listed_ids(client.get(TASKS, headers=user.headers)) == [mine]


@pytest.mark.parametrize("task_id", ["999", "0", str(2**31), str(2**70), "-1", "abc"])
@pytest.mark.parametrize(("method", "suffix", "body"), ITEM_ROUTES)
def test_missing_or_invalid_id_is_404(client, app, user, task_id, method, suffix, body):
    existing = create_task(client, user)["id"]
    before = task_row(app, existing)

    kwargs = {} if body is None else {"json": body}
    response = getattr(client, method)(
        f"{TASKS}/{task_id}{suffix}", headers=user.headers, **kwargs
    )

    assert_error(response, 404)
    assert task_row(app, existing) == before
    assert task_count(app) == 1


# ------------------------------------------------------------------------ auth

ALL_ROUTES = [
    pytest.param("get", "", None, id="GET-list"),
    pytest.param("post", "", {"title": "Sneaky"}, id="POST"),
    *(
        pytest.param(p.values[0], "/{id}" + p.values[1], p.values[2], id=p.id)
        for p in ITEM_ROUTES
    ),
]
BAD_AUTH = [
    pytest.param({}, id="no-header"),
    pytest.param({"Authorization": "Bearer "}, id="empty-bearer"),
    pytest.param({"Authorization": "Bearer not-a-jwt"}, id="garbage-token"),
    pytest.param({"Authorization": "Basic YWRhOnNlY3JldA=="}, id="basic-scheme"),
]


@pytest.mark.parametrize("headers", BAD_AUTH)
@pytest.mark.parametrize(("method", "path", "body"), ALL_ROUTES)
def test_no_valid_token_is_401_and_changes_nothing(
    client, app, user, headers, method, path, body
):
    task_id = create_task(client, user, title="Mine")["id"]
    before = task_row(app, task_id)

    kwargs = {} if body is None else {"json": body}
    url = TASKS + path.replace("{id}", str(task_id))
    response = getattr(client, method)(url, headers=headers, **kwargs)

    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert task_row(app, task_id) == before
    assert task_count(app) == 1
