"""Recurring tasks through the API: recurrence on tasks, completion through every
route, exhaustion, completions, stats, subtasks, ETags, the change feed, the
user's time zone and daylight saving, and the original contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.models import Task, TaskCompletion
from tests.helpers import assert_error

TASKS = "/api/v1/tasks"
ME = "/api/v1/auth/me"
SYNC = "/api/v1/sync"
WEEKLY = {"rule": "FREQ=WEEKLY;BYDAY=MO,WE", "from": "due"}
#: Monday 5 January 2026, 17:00 UTC.
MONDAY = "2026-01-05T17:00:00+00:00"


def create(client, account, expected=201, **fields):
    body = {"title": "Water the plants", **fields}
    response = client.post(TASKS, json=body, headers=account.headers)
    assert response.status_code == expected, response.get_json()
    return response.get_json()


def get(client, account, task_id):
    response = client.get(f"{TASKS}/{task_id}", headers=account.headers)
    assert response.status_code == 200
    return response.get_json()


def complete(client, account, task_id, body=None):
    kwargs = {"json": body} if body is not None else {}
    response = client.patch(f"{TASKS}/{task_id}/complete", headers=account.headers, **kwargs)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def completions(app, task_id):
    with app.app_context():
        return [(row.completed_at, row.due_at, row.next_due_at) for row in db.session.scalars(
            sa.select(TaskCompletion).where(TaskCompletion.task_id == task_id)
            .order_by(TaskCompletion.id))]


def set_zone(client, account, zone):
    response = client.patch(ME, json={"timezone": zone}, headers=account.headers)
    assert response.status_code == 200


# ------------------------------------------------------------ shape and storage


def test_a_recurring_task_shows_its_rule_summary_and_next_due_date(app, client, user):
    task = create(client, user, due_at=MONDAY, recurrence=WEEKLY)
    assert task["recurrence"] == {"rule": "FREQ=WEEKLY;BYDAY=MO,WE", "from": "due",
                                  "text": "every week on Monday and Wednesday"}
    assert task["due_at"] == MONDAY
    assert task["next_due_at"] == "2026-01-07T17:00:00+00:00"
    assert get(client, user, task["id"]) == task
    with app.app_context():
        row = db.session.get(Task, task["id"])
        assert (row.recurrence_rule, row.recurrence_from, row.recurrence_occurrence) == (
            "FREQ=WEEKLY;BYDAY=MO,WE", "due", 1)


def test_a_task_that_does_not_recur_shows_nulls(client, user):
    task = create(client, user, due_at=MONDAY)
    assert task["recurrence"] is None and task["next_due_at"] is None


def test_the_rule_is_stored_in_canonical_form(client, user):
    task = create(client, user, due_at=MONDAY,
                  recurrence={"rule": " rrule:freq=daily;interval=3 "})
    assert task["recurrence"] == {"rule": "FREQ=DAILY;INTERVAL=3", "from": "due",
                                  "text": "every 3 days"}


def test_list_shows_recurrence_and_filters_by_it(client, user):
    recurring = create(client, user, due_at=MONDAY, recurrence=WEEKLY)
    plain = create(client, user, due_at=MONDAY)
    listed = client.get(TASKS, headers=user.headers).get_json()
    assert {task["id"]: task["recurrence"] for task in listed} == {
        recurring["id"]: recurring["recurrence"], plain["id"]: None}
    for value, expected in (("true", [recurring["id"]]), ("false", [plain["id"]])):
        response = client.get(TASKS, query_string={"recurring": value}, headers=user.headers)
        assert [task["id"] for task in response.get_json()] == expected
    assert_error(client.get(TASKS, query_string={"recurring": "yes"}, headers=user.headers),
                 422, field="recurring")


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(("rule", "named"), [
    ("FREQ=HOURLY", "FREQ=HOURLY"),
    ("FREQ=MINUTELY", "FREQ=MINUTELY"),
    ("FREQ=SECONDLY;INTERVAL=30", "FREQ=SECONDLY"),
    ("FREQ=FORTNIGHTLY", "FREQ"),
    ("INTERVAL=2", "FREQ"),
    ("", "FREQ"),
    ("FREQ=DAILY;INTERVAL=0", "INTERVAL"),
    ("FREQ=DAILY;INTERVAL=1001", "INTERVAL"),
    ("FREQ=DAILY;INTERVAL=two", "INTERVAL"),
    ("FREQ=DAILY;COUNT=0", "COUNT"),
    ("FREQ=DAILY;COUNT=3;UNTIL=20270101", "UNTIL"),
    ("FREQ=DAILY;UNTIL=tomorrow", "UNTIL"),
    ("FREQ=DAILY;UNTIL=20270230", "UNTIL"),
    ("FREQ=WEEKLY;BYDAY=XX", "BYDAY"),
    ("FREQ=WEEKLY;BYDAY=1MO", "BYDAY"),
    ("FREQ=MONTHLY;BYDAY=6FR", "BYDAY"),
    ("FREQ=DAILY;BYMONTHDAY=1", "BYMONTHDAY"),
    ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY"),
    ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY"),
    ("FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30", "BYMONTHDAY"),
    ("FREQ=MONTHLY;BYYEARDAY=100", "BYYEARDAY"),
    ("FREQ=YEARLY;BYYEARDAY=367", "BYYEARDAY"),
    ("FREQ=YEARLY;BYWEEKNO=54", "BYWEEKNO"),
    ("FREQ=YEARLY;BYMONTH=13", "BYMONTH"),
    ("FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS"),
    ("FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2", "BYSETPOS"),
    ("FREQ=MONTHLY;BYDAY=5MO;BYMONTHDAY=1", "BYMONTHDAY"),
    ("FREQ=DAILY;INTERVAL=14;BYDAY=TU", "INTERVAL"),
    ("FREQ=DAILY;BYHOUR=9,17", "BYHOUR"),
    ("FREQ=DAILY;BYMINUTE=60", "BYMINUTE"),
    ("FREQ=DAILY;WKST=XX", "WKST"),
    ("FREQ=YEARLY;BYEASTER=0", "BYEASTER"),
    ("FREQ=DAILY;X-NAME=1", "X-NAME"),
    ("FREQ=DAILY;FREQ=WEEKLY", "FREQ"),
    ("FREQ=DAILY;INTERVAL", "INTERVAL"),
    ("DTSTART:20260101T090000\nRRULE:FREQ=DAILY", "DTSTART"),
])
def test_a_rule_outside_the_subset_is_a_422_naming_the_part(client, user, rule, named):
    response = client.post(TASKS, json={"title": "x", "due_at": MONDAY,
                                        "recurrence": {"rule": rule}}, headers=user.headers)
    body = assert_error(response, 422)
    message = body["errors"]["json"]["recurrence"]["rule"][0]
    assert named in message, message
    assert client.get(TASKS, headers=user.headers).get_json() == []


def test_a_rule_longer_than_500_characters_is_a_422(client, user):
    rule = "FREQ=DAILY;" + ";".join(["BYMONTH=1"] * 60)
    response = client.post(TASKS, json={"title": "x", "due_at": MONDAY,
                                        "recurrence": {"rule": rule}}, headers=user.headers)
    assert assert_error(response, 422)["errors"]["json"]["recurrence"]["rule"]


@pytest.mark.parametrize("recurrence", [
    {}, {"from": "due"}, {"rule": "FREQ=DAILY", "from": "start"}, {"rule": 7},
    {"rule": "FREQ=DAILY", "text": "every day"}, {"rule": "FREQ=DAILY", "extra": 1}, "FREQ=DAILY",
])
def test_a_malformed_recurrence_object_is_a_422(client, user, recurrence):
    response = client.post(TASKS, json={"title": "x", "due_at": MONDAY,
                                        "recurrence": recurrence}, headers=user.headers)
    assert "recurrence" in assert_error(response, 422)["errors"]["json"]


def test_a_recurring_task_needs_a_due_date(client, user):
    response = client.post(TASKS, json={"title": "x", "recurrence": WEEKLY},
                           headers=user.headers)
    assert "due_at" in assert_error(response, 422, field="recurrence")["message"]
    task = create(client, user)
    response = client.patch(f"{TASKS}/{task['id']}", json={"recurrence": WEEKLY},
                            headers=user.headers)
    assert_error(response, 422, field="recurrence")
    assert get(client, user, task["id"])["recurrence"] is None


def test_clearing_the_due_date_of_a_recurring_task_needs_recurrence_null(client, user):
    task = create(client, user, due_at=MONDAY, recurrence=WEEKLY)
    path = f"{TASKS}/{task['id']}"
    assert_error(client.patch(path, json={"due_at": None}, headers=user.headers), 422,
                 field="recurrence")
    assert get(client, user, task["id"]) == task
    response = client.patch(path, json={"due_at": None, "recurrence": None},
                            headers=user.headers)
    assert response.status_code == 200
    assert (response.get_json()["due_at"], response.get_json()["recurrence"]) == (None, None)


@pytest.mark.parametrize("rule", [
    "FREQ=DAILY;COUNT=1",
    "FREQ=DAILY;UNTIL=20260105T170000Z",
    "FREQ=DAILY;UNTIL=20260104",
    "FREQ=YEARLY;UNTIL=20260601",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;UNTIL=20271231",
])
def test_a_rule_with_no_occurrence_after_the_due_date_is_a_422(client, user, rule):
    response = client.post(TASKS, json={"title": "x", "due_at": MONDAY,
                                        "recurrence": {"rule": rule}}, headers=user.headers)
    assert "no occurrence" in assert_error(response, 422, field="recurrence")["message"]


# ------------------------------------------------------- completion, every route


def _v1_complete(client, user, task):
    return complete(client, user, task["id"], {"completed": True})


def _v1_toggle(client, user, task):
    return complete(client, user, task["id"])


def _v1_patch(client, user, task):
    response = client.patch(f"{TASKS}/{task['id']}", json={"completed": True},
                            headers=user.headers)
    assert response.status_code == 200
    return response.get_json()


def _v1_put(client, user, task):
    body = {"title": task["title"], "due_at": task["due_at"], "completed": True,
            "recurrence": {"rule": task["recurrence"]["rule"]}}
    response = client.put(f"{TASKS}/{task['id']}", json=body, headers=user.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _compat_complete(client, user, task):
    response = client.patch(f"/api/{user.id}/tasks/{task['id']}/complete",
                            json={"completed": True}, headers=user.headers)
    assert response.status_code == 200
    return get(client, user, task["id"])


def _compat_toggle(client, user, task):
    response = client.patch(f"/api/{user.id}/tasks/{task['id']}/complete",
                            headers=user.headers)
    assert response.status_code == 200
    return get(client, user, task["id"])


def _compat_put(client, user, task):
    response = client.put(f"/api/{user.id}/tasks/{task['id']}", json={"completed": True},
                          headers=user.headers)
    assert response.status_code == 200
    return get(client, user, task["id"])


def _batch(client, user, task):
    response = client.post("/api/v1/batch", json={"operations": [
        {"method": "PATCH", "path": f"{TASKS}/{task['id']}/complete",
         "body": {"completed": True}}]}, headers=user.headers)
    assert response.status_code == 200
    [result] = response.get_json()["results"]
    assert result["status"] == 200
    return result["body"]


ROUTES = [_v1_complete, _v1_toggle, _v1_patch, _v1_put, _compat_complete, _compat_toggle,
          _compat_put, _batch]


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.__name__.strip("_"))
def test_completing_through_every_route_advances_the_task(app, client, user, route):
    task = create(client, user, due_at=MONDAY, recurrence=WEEKLY)
    before = client.get(f"{TASKS}/{task['id']}", headers=user.headers)
    advanced = route(client, user, task)
    assert advanced["id"] == task["id"]
    assert advanced["completed"] is False and advanced["completed_at"] is None
    assert advanced["due_at"] == "2026-01-07T17:00:00+00:00"
    assert advanced["next_due_at"] == "2026-01-12T17:00:00+00:00"
    assert advanced["recurrence"] == task["recurrence"]
    after = client.get(f"{TASKS}/{task['id']}", headers=user.headers)
    assert after.headers["ETag"] != before.headers["ETag"]
    [(completed_at, due_at, next_due_at)] = completions(app, task["id"])
    assert due_at == datetime(2026, 1, 5, 17, tzinfo=UTC)
    assert next_due_at == datetime(2026, 1, 7, 17, tzinfo=UTC)
    assert abs(completed_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert len(client.get(TASKS, headers=user.headers).get_json()) == 1


def test_the_original_contract_shows_a_recurring_task_as_any_task(client, user):
    plain = create(client, user, due_at=MONDAY)
    recurring = create(client, user, due_at=MONDAY, recurrence=WEEKLY)
    listed = client.get(f"/api/{user.id}/tasks", headers=user.headers).get_json()
    shapes = {task["id"]: set(task) for task in listed}
    assert shapes[plain["id"]] == shapes[recurring["id"]]
    assert not {"recurrence", "next_due_at"} & shapes[recurring["id"]]


def test_clearing_the_due_date_in_the_original_contract_ends_the_recurrence(client, user):
    task = create(client, user, due_at=MONDAY, recurrence=WEEKLY)
    response = client.put(f"/api/{user.id}/tasks/{task['id']}", json={"due_date": None},
                          headers=user.headers)
    assert response.status_code == 200
    shown = get(client, user, task["id"])
    assert (shown["due_at"], shown["recurrence"], shown["next_due_at"]) == (None, None, None)


def test_if_match_guards_the_completion_and_the_etag_moves(client, user):
    task = create(client, user, due_at=MONDAY, recurrence=WEEKLY)
    path = f"{TASKS}/{task['id']}/complete"
    etag = client.get(f"{TASKS}/{task['id']}", headers=user.headers).headers["ETag"]
    response = client.patch(path, headers={**user.headers, "If-Match": etag})
    assert response.status_code == 200 and response.headers["ETag"] != etag
    stale = client.patch(path, headers={**user.headers, "If-Match": etag})
    assert_error(stale, 412)
    assert get(client, user, task["id"])["due_at"] == "2026-01-07T17:00:00+00:00"


def test_counting_from_completion_restarts_the_rule_at_the_completion_day(app, client, user):
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(days=5)
    task = create(client, user, due_at=due.isoformat(),
                  recurrence={"rule": "FREQ=DAILY;INTERVAL=3", "from": "completion"})
    assert task["recurrence"]["text"] == "every 3 days"
    assert task["next_due_at"] == (due + timedelta(days=3)).isoformat()
    advanced = complete(client, user, task["id"], {"completed": True})
    [(completed_at, _, _)] = completions(app, task["id"])
    expected = datetime.combine(completed_at.date(), due.time(), tzinfo=UTC) + timedelta(days=3)
    assert advanced["due_at"] == expected.isoformat()
    assert advanced["next_due_at"] == (expected + timedelta(days=3)).isoformat()


def test_counting_from_the_due_date_keeps_the_schedule_of_an_overdue_task(client, user):
    task = create(client, user, due_at="2020-01-01T09:00:00+00:00",
                  recurrence={"rule": "FREQ=DAILY;INTERVAL=3"})
    assert complete(client, user, task["id"], {"completed": True})["due_at"] == \
        "2020-01-04T09:00:00+00:00"


def test_an_exhausted_rule_completes_the_task_for_good(app, client, user):
    task = create(client, user, due_at=MONDAY,
                  recurrence={"rule": "FREQ=WEEKLY;BYDAY=MO;COUNT=3"})
    assert task["recurrence"]["text"] == "every week on Monday, 3 times"
    second = complete(client, user, task["id"])
    assert (second["due_at"], second["next_due_at"]) == (
        "2026-01-12T17:00:00+00:00", "2026-01-19T17:00:00+00:00")
    third = complete(client, user, task["id"])
    assert (third["due_at"], third["next_due_at"], third["completed"]) == (
        "2026-01-19T17:00:00+00:00", None, False)
    done = complete(client, user, task["id"])
    assert done["completed"] is True and done["completed_at"] is not None
    assert done["due_at"] == "2026-01-19T17:00:00+00:00"
    assert [row[2] for row in completions(app, task["id"])] == [
        datetime(2026, 1, 12, 17, tzinfo=UTC), datetime(2026, 1, 19, 17, tzinfo=UTC), None]
    reopened = complete(client, user, task["id"])
    assert reopened["completed"] is False
    assert len(completions(app, task["id"])) == 3


def test_until_ends_the_rule(client, user):
    task = create(client, user, due_at=MONDAY,
                  recurrence={"rule": "FREQ=DAILY;UNTIL=20260106T235959Z"})
    assert task["next_due_at"] == "2026-01-06T17:00:00+00:00"
    assert complete(client, user, task["id"])["next_due_at"] is None
    assert complete(client, user, task["id"])["completed"] is True


# ---------------------------------------------------------------- the listing


def test_completions_are_listed_newest_first_with_pages(client, user, other_user):
    task = create(client, user, due_at=MONDAY, recurrence={"rule": "FREQ=DAILY;COUNT=4"})
    for _ in range(4):
        complete(client, user, task["id"])
    path = f"{TASKS}/{task['id']}/completions"
    response = client.get(path, headers=user.headers)
    assert response.status_code == 200
    listed = response.get_json()
    assert [entry["due_at"] for entry in listed] == [
        "2026-01-08T17:00:00+00:00", "2026-01-07T17:00:00+00:00",
        "2026-01-06T17:00:00+00:00", "2026-01-05T17:00:00+00:00"]
    assert [entry["next_due_at"] for entry in listed] == [
        None, "2026-01-08T17:00:00+00:00", "2026-01-07T17:00:00+00:00",
        "2026-01-06T17:00:00+00:00"]
    assert all(set(entry) == {"completed_at", "due_at", "next_due_at"} for entry in listed)
    page = client.get(path, query_string={"page": 2, "page_size": 3}, headers=user.headers)
    assert page.get_json() == listed[3:]
    assert '"total": 4' in page.headers["X-Pagination"]
    assert_error(client.get(path, headers=other_user.headers), 404)
    assert_error(client.get(f"{TASKS}/2147483647/completions", headers=user.headers), 404)
    plain = create(client, user)
    assert client.get(f"{TASKS}/{plain['id']}/completions",
                      headers=user.headers).get_json() == []


def test_completions_go_with_the_task(app, client, user):
    task = create(client, user, due_at=MONDAY, recurrence=WEEKLY)
    complete(client, user, task["id"])
    assert client.delete(f"{TASKS}/{task['id']}", headers=user.headers).status_code == 204
    assert completions(app, task["id"]) == []


# ------------------------------------------------------------- changing the rule


def test_patch_changes_and_removes_the_recurrence(app, client, user):
    task = create(client, user, due_at=MONDAY, recurrence={"rule": "FREQ=DAILY;COUNT=2"})
    complete(client, user, task["id"])
    path = f"{TASKS}/{task['id']}"
    response = client.patch(path, json={"recurrence": {"rule": "FREQ=MONTHLY;BYDAY=-1FR"}},
                            headers=user.headers)
    changed = response.get_json()
    assert changed["recurrence"]["text"] == "every month on the last Friday"
    assert changed["due_at"] == "2026-01-06T17:00:00+00:00"
    assert changed["next_due_at"] == "2026-01-30T17:00:00+00:00"
    with app.app_context():
        assert db.session.get(Task, task["id"]).recurrence_occurrence == 1
    only_from = client.patch(path, json={"recurrence": {"rule": "FREQ=MONTHLY;BYDAY=-1FR",
                                                        "from": "completion"}},
                             headers=user.headers).get_json()
    assert only_from["recurrence"]["from"] == "completion"
    moved = client.patch(path, json={"due_at": "2026-03-02T08:00:00Z"},
                         headers=user.headers).get_json()
    assert moved["next_due_at"] == "2026-03-27T08:00:00+00:00"
    removed = client.patch(path, json={"recurrence": None}, headers=user.headers).get_json()
    assert (removed["recurrence"], removed["next_due_at"]) == (None, None)
    with app.app_context():
        row = db.session.get(Task, task["id"])
        assert (row.recurrence_rule, row.recurrence_from, row.recurrence_occurrence,
                row.next_due_at) == (None, None, None, None)
    assert complete(client, user, task["id"])["completed"] is True


def test_put_without_recurrence_ends_it(client, user):
    task = create(client, user, due_at=MONDAY, recurrence=WEEKLY)
    response = client.put(f"{TASKS}/{task['id']}", json={"title": "t", "due_at": MONDAY},
                          headers=user.headers)
    assert response.get_json()["recurrence"] is None


def test_put_repeating_the_rule_keeps_its_count(client, user):
    task = create(client, user, due_at=MONDAY, recurrence={"rule": "FREQ=DAILY;COUNT=2"})
    last = complete(client, user, task["id"])
    assert last["next_due_at"] is None
    body = {"title": "t", "due_at": last["due_at"],
            "recurrence": {"rule": "FREQ=DAILY;COUNT=2"}}
    response = client.put(f"{TASKS}/{task['id']}", json=body, headers=user.headers)
    assert response.status_code == 200 and response.get_json()["next_due_at"] is None


# -------------------------------------------------------- subtasks, stats, sync


def test_advancing_reopens_the_subtasks(client, user):
    parent = create(client, user, due_at=MONDAY, recurrence=WEEKLY)
    child = create(client, user, parent_id=parent["id"])
    grandchild = create(client, user, parent_id=child["id"])
    for task in (child, grandchild):
        complete(client, user, task["id"], {"completed": True})
    assert get(client, user, parent["id"])["open_subtask_count"] == 0
    advanced = complete(client, user, parent["id"], {"completed": True})
    assert advanced["open_subtask_count"] == 1 and advanced["completed"] is False
    for task in (child, grandchild):
        shown = get(client, user, task["id"])
        assert shown["completed"] is False and shown["completed_at"] is None
    assert get(client, user, child["id"])["open_subtask_count"] == 1


def test_an_exhausted_recurring_task_completes_its_subtasks(client, user):
    parent = create(client, user, due_at=MONDAY, recurrence={"rule": "FREQ=DAILY;COUNT=2"})
    child = create(client, user, parent_id=parent["id"])
    complete(client, user, parent["id"])
    assert get(client, user, child["id"])["completed"] is False
    assert complete(client, user, parent["id"])["completed"] is True
    assert get(client, user, child["id"])["completed"] is True


def test_stats_count_each_advance_once(client, user):
    task = create(client, user, due_at=MONDAY, recurrence={"rule": "FREQ=DAILY;COUNT=3"})
    for _ in range(3):
        complete(client, user, task["id"])
    create(client, user, completed=True)
    stats = client.get(f"{TASKS}/stats", headers=user.headers).get_json()
    assert stats["completed_last_7_days"][-1]["count"] == 4  # 2 advances, 1 + 1 for good
    assert sum(day["count"] for day in stats["completed_last_7_days"]) == 4
    assert stats["completed"] == 2
    elsewhere = client.post("/api/v1/lists", json={"name": "Elsewhere"}, headers=user.headers)
    listed = client.get(f"{TASKS}/stats", query_string={"list_id": elsewhere.get_json()["id"]},
                        headers=user.headers).get_json()
    assert sum(day["count"] for day in listed["completed_last_7_days"]) == 0


def test_the_advance_is_one_upsert_in_the_change_feed(client, user):
    task = create(client, user, due_at=MONDAY, recurrence=WEEKLY)
    token = client.get(SYNC, headers=user.headers).get_json()["sync_token"]
    complete(client, user, task["id"])
    changes = client.get(SYNC, query_string={"since": token},
                         headers=user.headers).get_json()["changes"]
    assert [(c["type"], c["id"], c["op"]) for c in changes] == [("task", task["id"], "upsert")]
    assert changes[0]["data"]["due_at"] == "2026-01-07T17:00:00+00:00"
    assert changes[0]["data"]["recurrence"] == task["recurrence"]


# --------------------------------------------------- time zones, daylight saving


@pytest.mark.parametrize(("zone", "first", "local_hours"), [
    # Europe/Berlin: CET (+1) to CEST (+2) on 29 March 2026, back on 25 October.
    ("Europe/Berlin", "2026-03-27T08:00:00Z", [9, 9, 9, 9]),
    ("Europe/Berlin", "2026-10-23T07:00:00Z", [9, 9, 9, 9]),
    # America/New_York: EST (-5) to EDT (-4) on 8 March 2026, back on 1 November.
    ("America/New_York", "2026-03-06T14:00:00Z", [9, 9, 9, 9]),
    ("America/New_York", "2026-10-30T13:00:00Z", [9, 9, 9, 9]),
])
def test_daily_at_nine_stays_at_nine_local_across_daylight_saving(client, user, zone, first,
                                                                  local_hours):
    set_zone(client, user, zone)
    task = create(client, user, due_at=first, recurrence={"rule": "FREQ=DAILY"})
    due = [task["due_at"]]
    for _ in range(3):
        due.append(complete(client, user, task["id"])["due_at"])
    local = [datetime.fromisoformat(value).astimezone(ZoneInfo(zone)) for value in due]
    assert [moment.hour for moment in local] == local_hours
    assert [moment.minute for moment in local] == [0] * 4
    assert [(b.date() - a.date()).days for a, b in zip(local, local[1:], strict=False)] == [1] * 3
    offsets = {datetime.fromisoformat(value).utcoffset() for value in due}
    assert offsets == {timedelta(0)}
    utc_hours = {datetime.fromisoformat(value).hour for value in due}
    assert len(utc_hours) == 2  # the UTC time moved by the hour the clocks did


def test_a_time_zone_change_recomputes_next_due_at(client, user):
    set_zone(client, user, "Europe/Berlin")
    # 23:30 UTC on Monday is 00:30 on Tuesday in Berlin: the next weekly Tuesday.
    task = create(client, user, due_at="2026-01-05T23:30:00Z",
                  recurrence={"rule": "FREQ=WEEKLY"})
    assert task["next_due_at"] == "2026-01-12T23:30:00+00:00"
    before = client.get(f"{TASKS}/{task['id']}", headers=user.headers).headers["ETag"]
    set_zone(client, user, "America/New_York")
    response = client.get(f"{TASKS}/{task['id']}", headers=user.headers)
    assert response.get_json()["next_due_at"] == "2026-01-12T23:30:00+00:00"
    # A weekly rule on BYDAY is where the local day matters.
    client.patch(f"{TASKS}/{task['id']}", json={"recurrence": {"rule": "FREQ=WEEKLY;BYDAY=MO"}},
                 headers=user.headers)
    assert get(client, user, task["id"])["next_due_at"] == "2026-01-12T23:30:00+00:00"
    set_zone(client, user, "Europe/Berlin")
    # Monday 23:30 New York time is Tuesday in Berlin: the next Monday there is
    # the 12th at 00:30 local, 11 January 23:30 UTC.
    after = client.get(f"{TASKS}/{task['id']}", headers=user.headers)
    assert after.get_json()["next_due_at"] == "2026-01-11T23:30:00+00:00"
    assert after.headers["ETag"] != before
    assert after.get_json()["due_at"] == "2026-01-05T23:30:00+00:00"
