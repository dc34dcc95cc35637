"""Bounds of the task list's parameters and of the dates a task may carry.

A list request names at most 20 ``tag`` and 20 ``priority`` values (a task
carries at most 20 tags, so more cannot match anything); the tag filter keeps
the tasks that carry all the tags given, with one statement for any count.
Datetimes whose UTC value falls outside the years 1-9999 (an offset can push
``9999-12-31T23:59:59`` into year 10000) and ``due_on`` days whose start or end
does not exist in UTC are a 422 in the one error shape, never a 500, and
nothing is stored.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from taskapi.data_version import bump
from taskapi.extensions import db
from taskapi.models import Tag, Task, task_tags, utcnow
from taskapi.tasks import rows
from tests.helpers import assert_error, create_task, in_inbox, task_count, task_row

TASKS = "/api/v1/tasks"
ME = "/api/v1/auth/me"
TOO_MANY = "At most 20 values."
#: Wall-clock bound of a refused oversized request (generous: it reads no task).
BOUND_S = 2.0


def get_list(client, account, params, path: str = TASKS):
    return client.get(f"{path}?{urlencode(list(params))}", headers=account.headers)


def listed_ids(client, account, params, path: str = TASKS) -> list[int]:
    response = get_list(client, account, [*params, ("page_size", "100")], path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return sorted(task["id"] for task in response.get_json())


def set_timezone(client, account, zone: str) -> None:
    response = client.patch(ME, json={"timezone": zone}, headers=account.headers)
    assert response.status_code == 200, response.get_data(as_text=True)


def query_errors(response, name: str) -> list[str]:
    """The messages for query parameter ``name`` of a 422 (asserting the shape)."""
    body = assert_error(response, 422, field=name)
    return body["errors"]["query"][name]


def no_error_logged(records) -> bool:
    return not [r for r in records if r.levelno >= logging.ERROR]


# ------------------------------------------------------- how many values


@pytest.mark.parametrize(("name", "values"), [
    ("tag", [f"tag{n}" for n in range(20)]),
    ("tag", ["same"] * 20),
    ("priority", ["high", "medium", "low", "high"] * 5),
])
def test_twenty_values_are_accepted(client, user, name, values):
    response = get_list(client, user, [(name, value) for value in values])
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == []


@pytest.mark.parametrize(("name", "values"), [
    ("tag", [f"tag{n}" for n in range(21)]),
    ("tag", ["same"] * 21),
    ("tag", [f"tag{n}" for n in range(380)]),
    ("priority", ["high", "medium", "low"] * 7),
    ("priority", ["high"] * 100),
])
def test_more_than_twenty_values_are_a_422_naming_the_parameter(
        client, user, taskapi_logs, name, values):
    create_task(client, user, title="Tagged", tags=["tag0"], priority="high")

    response = get_list(client, user, [(name, value) for value in values])

    assert TOO_MANY in query_errors(response, name)
    assert no_error_logged(taskapi_logs.records)


def test_too_many_values_on_the_original_contract(client, user):
    path = f"/api/{user.id}/tasks"
    response = get_list(client, user, [("tag", f"t{n}") for n in range(21)], path)
    assert TOO_MANY in query_errors(response, "tag")
    assert "detail" in response.get_json()
    response = get_list(client, user, [("priority", "low")] * 21, path)
    assert TOO_MANY in query_errors(response, "priority")


def insert_tagged_tasks(app, user_id: int, count: int, tag_count: int) -> None:
    """``count`` tasks for ``user_id``, each carrying ``tag_count`` of the user's
    tags ``t0``.., by Core inserts."""
    start = utcnow()
    with app.app_context():
        tag_ids = [db.session.execute(sa.insert(Tag.__table__).values(
            user_id=user_id, name=f"t{n}", name_key=f"t{n}")).inserted_primary_key[0]
            for n in range(tag_count)]
        db.session.execute(sa.insert(Task.__table__), in_inbox(user_id, [
            {"user_id": user_id, "title": f"Task {n}", "created_at": start + timedelta(
                microseconds=n), "updated_at": start} for n in range(count)]))
        task_ids = db.session.scalars(sa.select(Task.id).where(Task.user_id == user_id)).all()
        db.session.execute(sa.insert(task_tags), [
            {"task_id": task_id, "tag_id": tag_id} for task_id in task_ids for tag_id in tag_ids])
        bump(db.session, [user_id])
        db.session.commit()


def test_380_tags_on_a_user_with_thousands_of_tasks_is_a_quick_422(app, client, user):
    insert_tagged_tasks(app, user.id, 3000, 20)
    params = [("tag", f"t{n}") for n in range(380)]

    started = time.monotonic()
    response = get_list(client, user, params)
    elapsed = time.monotonic() - started

    assert TOO_MANY in query_errors(response, "tag")
    assert elapsed < BOUND_S, f"{elapsed:.2f} s"
    # The 20 tags every task carries still find them all.
    response = get_list(client, user, [*params[:20], ("page_size", "1")])
    assert response.status_code == 200
    assert json.loads(response.headers["X-Pagination"])["total"] == 3000


# --------------------------------------------------------- the tag filter


@pytest.fixture
def tagged(client, user, other_user) -> dict[str, int]:
    """Tasks of ``user`` by name, with their tags; the other user's carry them all."""
    twenty = [f"Label{n:02d}" for n in range(20)]
    tasks = {
        "all20": create_task(client, user, title="all20", tags=twenty),
        "first19": create_task(client, user, title="first19", tags=twenty[:19]),
        "work": create_task(client, user, title="work", tags=["Work"]),
        "work-home": create_task(client, user, title="work-home", tags=["work", "Home"]),
        "home-urgent": create_task(client, user, title="home-urgent", tags=["home", "URGENT"]),
        "none": create_task(client, user, title="none"),
    }
    create_task(client, other_user, title="theirs", tags=["work", "home", "urgent", "alone"])
    create_task(client, other_user, title="theirs20", tags=twenty)
    return {name: task["id"] for name, task in tasks.items()}


TWENTY = [f"Label{n:02d}" for n in range(20)]


@pytest.mark.parametrize(("tags", "expected"), [
    (["work"], ["work", "work-home"]),
    (["WORK"], ["work", "work-home"]),
    (["home"], ["work-home", "home-urgent"]),
    (["work", "home"], ["work-home"]),
    (["Home", "wOrK"], ["work-home"]),
    (["home", "urgent"], ["home-urgent"]),
    (["work", "urgent"], []),
    (["work", "work", "WORK", "Work"], ["work", "work-home"]),
    (["work", "home", "work", "HOME"], ["work-home"]),
    (["nosuchtag"], []),
    (["work", "nosuchtag"], []),
    (["alone"], []),  # only the other user has it
    (TWENTY, ["all20"]),
    ([name.upper() for name in TWENTY], ["all20"]),
    (TWENTY[:19], ["all20", "first19"]),
    (TWENTY[19:], ["all20"]),
    (TWENTY[:10] + TWENTY[:10], ["all20", "first19"]),
    (TWENTY[:19] + ["nosuchtag"], []),
    (["label00", "LABEL00"] * 10, ["all20", "first19"]),
], ids=lambda value: str(len(value)) if isinstance(value, list) and len(value) > 4 else None)
def test_the_tag_filter_keeps_tasks_carrying_every_tag(client, user, tagged, tags, expected):
    want = sorted(tagged[name] for name in expected)
    assert listed_ids(client, user, [("tag", tag) for tag in tags]) == want
    assert listed_ids(client, user, [("tag", tag) for tag in tags],
                      f"/api/{user.id}/tasks") == want


def test_the_tag_filter_with_other_filters_and_cursor_pages(client, user, other_user):
    ids = []
    for n in range(12):
        tags = ["a", "b"] if n % 2 else ["a"]
        ids.append(create_task(client, user, title=f"Task {n:02d}", tags=tags,
                               priority="high" if n % 3 else None)["id"])
    create_task(client, other_user, title="Task theirs", tags=["a", "b"], priority="high")
    both = [task_id for n, task_id in enumerate(ids) if n % 2]
    both_high = [task_id for n, task_id in enumerate(ids) if n % 2 and n % 3]

    assert listed_ids(client, user, [("tag", "a"), ("tag", "B")]) == both
    assert listed_ids(client, user, [("tag", "a"), ("tag", "b"), ("priority", "high")]) == \
        both_high

    params = [("tag", "b"), ("tag", "a"), ("sort", "title"), ("page_size", "2")]
    walked, response = [], get_list(client, user, params)
    while True:
        assert response.status_code == 200, response.get_data(as_text=True)
        walked += [task["id"] for task in response.get_json()]
        cursor = response.headers.get("X-Next-Cursor")
        if cursor is None:
            break
        response = get_list(client, user, [*params, ("cursor", cursor)])
    assert walked == both


def test_one_statement_for_any_number_of_tags(client, user, monkeypatch):
    seen = []
    page_statement = rows.page_statement

    def spy(*args, **kwargs):
        statement = page_statement(*args, **kwargs)
        seen.append(statement)
        return statement

    monkeypatch.setattr(rows, "page_statement", spy)
    for count in (2, 20, 7, 1):
        response = get_list(client, user, [("tag", f"t{n}") for n in range(count)])
        assert response.status_code == 200, response.get_data(as_text=True)

    assert len(seen) == 4
    assert all(statement is seen[0] for statement in seen)
    with client.application.app_context():
        sql = {str(statement.select.compile(dialect=db.engine.dialect)) for statement in seen}
    assert len(sql) == 1


# ------------------------------------------------------ out-of-range dates


#: Written with an offset, inside years 1-9999; in UTC, outside them.
BEYOND_END = "9999-12-31T23:59:59-12:00"
BEFORE_START = "0001-01-01T00:00:00+12:00"
OUT_OF_RANGE = [BEYOND_END, BEFORE_START, "9999-12-31T23:00:00-01:00",
                "0001-01-01T00:00:00+00:01"]


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_creating_a_task_due_out_of_range_is_a_422(app, client, user, taskapi_logs, value):
    response = client.post(TASKS, json={"title": "Far", "due_at": value}, headers=user.headers)

    assert_error(response, 422, field="due_at")
    assert task_count(app) == 0
    assert no_error_logged(taskapi_logs.records)


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("method", ["patch", "put"])
def test_changing_a_task_to_a_due_date_out_of_range_is_a_422(
        app, client, user, taskapi_logs, value, method):
    task = create_task(client, user, title="Near", due_at="2030-01-01T00:00:00Z")
    before = task_row(app, task["id"])

    response = getattr(client, method)(f"{TASKS}/{task['id']}",
                                       json={"title": "Near", "due_at": value},
                                       headers=user.headers)

    assert_error(response, 422, field="due_at")
    assert task_row(app, task["id"]) == before
    assert no_error_logged(taskapi_logs.records)


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59+14:00",
                                   "0001-01-01T00:00:00Z", "0001-01-01T00:00:00-12:00"])
def test_due_dates_at_the_ends_of_the_range_are_stored(app, client, user, value):
    task = create_task(client, user, title="Edge", due_at=value)
    response = client.get(f"{TASKS}/{task['id']}", headers=user.headers)
    assert response.status_code == 200
    assert task_row(app, task["id"])["due_at"] is not None
    assert response.get_json()["due_at"] == task["due_at"]


@pytest.mark.parametrize("name", ["due_before", "due_after", "updated_since"])
@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_list_datetimes_out_of_range_are_a_422(client, user, taskapi_logs, name, value):
    create_task(client, user, title="Any", due_at="2030-01-01T00:00:00Z")

    for path in (TASKS, f"/api/{user.id}/tasks"):
        response = get_list(client, user, [(name, value)], path)
        query_errors(response, name)
    assert no_error_logged(taskapi_logs.records)


@pytest.mark.parametrize(("zone", "day"), [
    ("UTC", "9999-12-31"),
    ("UTC", "0001-01-01"),
    ("Etc/GMT-14", "0001-01-01"),  # UTC+14: the day starts in year 0 in UTC
    ("Etc/GMT+12", "9999-12-31"),  # UTC-12: it ends in year 10000
])
def test_due_on_days_out_of_range_are_a_422(client, user, taskapi_logs, zone, day):
    set_timezone(client, user, zone)
    create_task(client, user, title="Any", due_at="2030-01-01T00:00:00Z")

    for path in (TASKS, f"/api/{user.id}/tasks"):
        query_errors(get_list(client, user, [("due_on", day)], path), "due_on")
    assert no_error_logged(taskapi_logs.records)


@pytest.mark.parametrize(("zone", "day", "due_at"), [
    ("Etc/GMT-14", "0001-01-02", "0001-01-01T10:00:00Z"),
    ("Etc/GMT+12", "9999-12-30", "9999-12-31T11:59:59Z"),
    ("UTC", "9999-12-30", "9999-12-30T23:59:59Z"),
    ("UTC", "0001-01-02", "0001-01-02T00:00:00Z"),
])
def test_due_on_the_first_and_last_days_of_the_range(client, user, zone, day, due_at):
    set_timezone(client, user, zone)
    task = create_task(client, user, title="Edge", due_at=due_at)
    create_task(client, user, title="Elsewhere", due_at="2030-01-01T00:00:00Z")
    assert listed_ids(client, user, [("due_on", day)]) == [task["id"]]


# ------------------------------------------------ the original contract's due_date


@pytest.mark.parametrize("field", ["due_date", "dueDate"])
@pytest.mark.parametrize("value", [*OUT_OF_RANGE, "9999-12-31T23:59:59.999999-00:01"])
def test_original_contract_due_date_out_of_range_is_a_422(
        app, client, user, taskapi_logs, field, value):
    path = f"/api/{user.id}/tasks"

    created = client.post(path, json={"title": "Far", field: value}, headers=user.headers)
    body = assert_error(created, 422, field=field)
    assert body["detail"].startswith(f"{field}: ")
    assert task_count(app) == 0

    task = client.post(path, json={"title": "Near", "due_date": "2030-01-01"},
                       headers=user.headers).get_json()
    before = task_row(app, task["id"])
    updated = client.put(f"{path}/{task['id']}", json={field: value}, headers=user.headers)
    assert_error(updated, 422, field=field)
    assert task_row(app, task["id"]) == before
    assert no_error_logged(taskapi_logs.records)


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "9999-12-31T23:59:59",
                                   "0001-01-01T00:00:00-05:00"])
def test_original_contract_due_date_at_the_ends_of_the_range(app, client, user, value):
    response = client.post(f"/api/{user.id}/tasks", json={"title": "Edge", "due_date": value},
                           headers=user.headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert task_row(app, response.get_json()["id"])["due_at"] is not None
