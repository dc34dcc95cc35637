"""Input validation of the task routes: every bad input is a 422 in the one error
shape naming the field, and nothing is stored or changed."""

from __future__ import annotations

import pytest

from tests.helpers import assert_error, task_count, task_row

TASKS = "/api/v1/tasks"
EXISTING = {
    "title": "Existing",
    "description": "Keep me",
    "completed": True,
    "priority": "low",
    "due_at": "2025-12-31T17:00:00+00:00",
}

# (body, field named in errors). Applies to POST and PUT (both take a full task).
INVALID_BODIES = [
    pytest.param({}, "title", id="missing-title"),
    pytest.param({"description": "no title"}, "title", id="only-description"),
    pytest.param({"title": ""}, "title", id="empty-title"),
    pytest.param({"title": "   "}, "title", id="blank-title"),
    pytest.param({"title": " \t  "}, "title", id="whitespace-title"),
    pytest.param({"title": None}, "title", id="null-title"),
    pytest.param({"title": "a" * 256}, "title", id="title-256"),
    # maxLength counts the text as sent, as the OpenAPI document says
    pytest.param({"title": "  " + "a" * 254 + "  "}, "title", id="title-258-padded"),
    pytest.param({"title": 123}, "title", id="title-number"),
    pytest.param({"title": ["a"]}, "title", id="title-list"),
    pytest.param({"title": True}, "title", id="title-bool"),
    pytest.param({"title": "a\x00b"}, "title", id="title-nul"),
    pytest.param({"title": "bell\x07"}, "title", id="title-control"),
    pytest.param({"title": "two\nlines"}, "title", id="title-newline"),
    pytest.param({"title": "t", "description": "d" * 1001}, "description",
                 id="description-1001"),
    pytest.param({"title": "t", "description": "x\x00"}, "description",
                 id="description-nul"),
    pytest.param({"title": "t", "description": 5}, "description", id="description-number"),
    pytest.param({"title": "t", "priority": "urgent"}, "priority", id="priority-urgent"),
    pytest.param({"title": "t", "priority": "HIGH"}, "priority", id="priority-case"),
    pytest.param({"title": "t", "priority": ""}, "priority", id="priority-empty"),
    pytest.param({"title": "t", "due_at": "2025-12-31T10:00:00"}, "due_at",
                 id="due_at-naive"),
    pytest.param({"title": "t", "due_at": "next tuesday"}, "due_at", id="due_at-garbage"),
    pytest.param({"title": "t", "due_at": "2025-13-45T10:00:00Z"}, "due_at",
                 id="due_at-impossible"),
    pytest.param({"title": "t", "due_at": 1767225600}, "due_at", id="due_at-number"),
    pytest.param({"title": "t", "completed": "true"}, "completed", id="completed-string"),
    pytest.param({"title": "t", "completed": 1}, "completed", id="completed-one"),
    pytest.param({"title": "t", "completed": 0}, "completed", id="completed-zero"),
    pytest.param({"title": "t", "completed": "yes"}, "completed", id="completed-yes"),
    pytest.param({"title": "t", "completed": None}, "completed", id="completed-null"),
    pytest.param({"title": "t", "foo": "bar"}, "foo", id="unknown-field"),
    pytest.param({"title": "t", "id": 99}, "id", id="read-only-id"),
    pytest.param({"title": "t", "created_at": "2025-01-01T00:00:00Z"}, "created_at",
                 id="read-only-created_at"),
    pytest.param({"title": "t", "updated_at": "2025-01-01T00:00:00Z"}, "updated_at",
                 id="read-only-updated_at"),
    pytest.param({"title": "t", "completed_at": "2025-01-01T00:00:00Z"}, "completed_at",
                 id="read-only-completed_at"),
    pytest.param({"title": "t", "user_id": 2}, "user_id", id="foreign-user_id"),
    pytest.param({"title": "t", "user": {"id": 2}}, "user", id="foreign-user"),
]
NOT_AN_OBJECT = [
    pytest.param([{"title": "t"}], id="array"),
    pytest.param("title", id="string"),
    pytest.param(42, id="number"),
    pytest.param(None, id="null"),
]
# webargs reads a JSON ``null`` body as "no body"; for PATCH that is an empty update.
PATCH_NOT_AN_OBJECT = [p for p in NOT_AN_OBJECT if p.id != "null"]
# PATCH is partial: a missing title is fine, the rest of the table applies.
PATCH_INVALID_BODIES = [
    p for p in INVALID_BODIES if p.id not in ("missing-title", "only-description")
]




@pytest.fixture
def existing_task(client, user) -> int:
    response = client.post(TASKS, json=EXISTING, headers=user.headers)
    assert response.status_code == 201
    return response.get_json()["id"]


# ------------------------------------------------------------------------ POST


@pytest.mark.parametrize(("body", "field"), INVALID_BODIES)
def test_create_invalid_is_422_and_stores_nothing(client, app, user, body, field):
    response = client.post(TASKS, json=body, headers=user.headers)

    error = assert_error(response, 422, field=field)
    assert list(error["errors"]) == ["json"]
    assert "Location" not in response.headers
    assert task_count(app) == 0


@pytest.mark.parametrize("body", NOT_AN_OBJECT)
def test_create_body_not_an_object_is_422_and_stores_nothing(client, app, user, body):
    response = client.post(TASKS, json=body, headers=user.headers)

    error = assert_error(response, 422)
    assert error["errors"]
    assert task_count(app) == 0


def test_create_without_body_is_422(client, app, user):
    response = client.post(TASKS, headers=user.headers)

    error = assert_error(response, 422, field="_schema")
    assert error["message"] == "A JSON request body is required."
    assert task_count(app) == 0


def test_create_invalid_reports_every_bad_field(client, app, user):
    body = {"title": "", "priority": "urgent", "completed": "yes", "foo": 1}

    response = client.post(TASKS, json=body, headers=user.headers)

    error = assert_error(response, 422)
    assert set(error["errors"]["json"]) == {"title", "priority", "completed", "foo"}
    assert task_count(app) == 0


@pytest.mark.parametrize(
    ("body", "field", "stored"),
    [
        pytest.param({"title": "a" * 255}, "title", "a" * 255, id="title-255"),
        pytest.param({"title": "  " + "a" * 251 + "  "}, "title", "a" * 251,
                     id="title-255-padded"),
        pytest.param({"title": "x"}, "title", "x", id="title-1"),
        pytest.param({"title": "t", "description": "d" * 1000}, "description", "d" * 1000,
                     id="description-1000"),
        pytest.param({"title": "t", "description": ""}, "description", "",
                     id="description-empty"),
        pytest.param({"title": "Grüße, 東京 ✓"}, "title", "Grüße, 東京 ✓", id="title-unicode"),
    ],
)
def test_create_boundaries_accepted(client, app, user, body, field, stored):
    response = client.post(TASKS, json=body, headers=user.headers)

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()[field] == stored
    assert task_row(app, response.get_json()["id"])[field] == stored


# ------------------------------------------------------------------------- PUT


@pytest.mark.parametrize(("body", "field"), INVALID_BODIES)
def test_put_invalid_is_422_and_changes_nothing(
    client, app, user, existing_task, body, field
):
    before = task_row(app, existing_task)

    response = client.put(f"{TASKS}/{existing_task}", json=body, headers=user.headers)

    assert_error(response, 422, field=field)
    assert task_row(app, existing_task) == before
    assert task_count(app) == 1


@pytest.mark.parametrize("body", NOT_AN_OBJECT)
def test_put_body_not_an_object_is_422(client, app, user, existing_task, body):
    before = task_row(app, existing_task)

    response = client.put(f"{TASKS}/{existing_task}", json=body, headers=user.headers)

    assert_error(response, 422)
    assert task_row(app, existing_task) == before


# ----------------------------------------------------------------------- PATCH


@pytest.mark.parametrize(("body", "field"), PATCH_INVALID_BODIES)
def test_patch_invalid_is_422_and_changes_nothing(
    client, app, user, existing_task, body, field
):
    before = task_row(app, existing_task)

    response = client.patch(f"{TASKS}/{existing_task}", json=body, headers=user.headers)

    assert_error(response, 422, field=field)
    assert task_row(app, existing_task) == before


@pytest.mark.parametrize("body", PATCH_NOT_AN_OBJECT)
def test_patch_body_not_an_object_is_422(client, app, user, existing_task, body):
    before = task_row(app, existing_task)

    response = client.patch(f"{TASKS}/{existing_task}", json=body, headers=user.headers)

    assert_error(response, 422)
    assert task_row(app, existing_task) == before


def test_patch_one_bad_field_applies_none_of_the_good_ones(
    client, app, user, existing_task
):
    before = task_row(app, existing_task)

    response = client.patch(
        f"{TASKS}/{existing_task}",
        json={"title": "Renamed", "description": "changed", "priority": "urgent"},
        headers=user.headers,
    )

    assert_error(response, 422, field="priority")
    assert task_row(app, existing_task) == before


# ---------------------------------------------------------------- list queries


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        (f"page={10**12}", "page"),
        ("page=1000001", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page_size=-5", "page_size"),
        ("page_size=abc", "page_size"),
        ("completed=yes", "completed"),
        ("completed=1", "completed"),
        ("completed=0", "completed"),
        ("completed=True", "completed"),
        ("completed=", "completed"),
    ],
)
def test_list_invalid_query_is_422(client, user, query, field):
    response = client.get(f"{TASKS}?{query}", headers=user.headers)

    error = assert_error(response, 422, field=field)
    assert list(error["errors"]) == ["query"]
    assert "X-Pagination" not in response.headers
