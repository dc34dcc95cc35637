"""Built-in plugin ical: GET /api/v1/calendar.ics, read back with the icalendar
package and with ics (an independent parser), checked against RFC 5545's
required properties, time zones, filters, tokens and conditional requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import ics
import pytest
from icalendar import Calendar

from tests.helpers import assert_error, auth_headers

FEED = "/api/v1/calendar.ics"
TASKS = "/api/v1/tasks"


def token_for(client, account, scopes=("calendar:read",)) -> str:
    response = client.post("/api/v1/auth/tokens",
                           json={"name": "calendar", "scopes": list(scopes)},
                           headers=account.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def feed(client, token, expected=200, **query):
    response = client.get(FEED, query_string=query, headers=auth_headers(token))
    assert response.status_code == expected, response.get_data(as_text=True)
    return response


def create(client, account, **fields):
    response = client.post(TASKS, json={"title": "t", **fields}, headers=account.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def parse(response) -> Calendar:
    assert response.mimetype == "text/calendar"
    return Calendar.from_ical(response.data)


def todos(calendar: Calendar) -> list:
    return [component for component in calendar.walk("VTODO")]


def assert_rfc5545(calendar: Calendar, kind: str = "VTODO") -> None:
    """The properties RFC 5545 requires (sections 3.6, 3.6.1, 3.6.2, 3.7)."""
    assert calendar.name == "VCALENDAR"
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"]
    tzids = {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")}
    for component in calendar.walk(kind):
        assert component["UID"] and component["DTSTAMP"]
        for name in ("DUE", "DTSTART", "DTEND"):
            if name in component and component[name].params.get("TZID"):
                assert component[name].params["TZID"] in tzids
        if kind == "VTODO" and "DTSTART" in component:
            assert component.decoded("DUE") >= component.decoded("DTSTART")
        if kind == "VEVENT":
            assert component.decoded("DTEND") > component.decoded("DTSTART")


def test_each_open_due_task_is_a_vtodo_with_every_field(client, user):
    due = create(client, user, title="Pay rent", description="Landlord, IBAN in notes",
                 priority="high", due_at="2026-02-01T09:00:00Z", tags=["home", "Money"])
    create(client, user, title="No due date")
    done = create(client, user, title="Done", due_at="2026-02-02T09:00:00Z")
    client.patch(f"{TASKS}/{done['id']}/complete", headers=user.headers)
    response = feed(client, token_for(client, user))
    calendar = parse(response)
    assert_rfc5545(calendar)
    [todo] = todos(calendar)
    assert str(todo["UID"]) == f"task-{due['id']}@taskapi"
    assert str(todo["SUMMARY"]) == "Pay rent"
    assert str(todo["DESCRIPTION"]) == "Landlord, IBAN in notes"
    assert todo.decoded("DUE") == datetime(2026, 2, 1, 9, tzinfo=UTC)
    assert todo["PRIORITY"] == 1
    assert [str(c) for c in todo["CATEGORIES"].cats] == ["home", "Money"]
    assert str(todo["STATUS"]) == "NEEDS-ACTION"
    # iCalendar times are to the second.
    assert todo.decoded("LAST-MODIFIED") == datetime.fromisoformat(
        due["updated_at"]).replace(microsecond=0)
    assert todo.decoded("CREATED") == datetime.fromisoformat(
        due["created_at"]).replace(microsecond=0)
    assert "RRULE" not in todo


def test_an_independent_parser_reads_the_same(client, user):
    task = create(client, user, title="Dentist; bring card", priority="low",
                  due_at="2026-03-30T07:30:00Z", tags=["health"])
    client.patch("/api/v1/auth/me", json={"timezone": "Europe/Berlin"}, headers=user.headers)
    body = feed(client, token_for(client, user)).get_data(as_text=True)
    [todo] = list(ics.Calendar(body).todos)
    assert todo.uid == f"task-{task['id']}@taskapi"
    assert todo.name == "Dentist; bring card"
    assert todo.priority == 9
    assert todo.due.datetime == datetime(2026, 3, 30, 9, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert todo.due.to("UTC").datetime == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)


def test_times_carry_the_users_zone_and_its_vtimezone(client, user):
    client.patch("/api/v1/auth/me", json={"timezone": "America/New_York"}, headers=user.headers)
    create(client, user, due_at="2026-07-01T13:00:00Z")
    calendar = parse(feed(client, token_for(client, user)))
    assert_rfc5545(calendar)
    [todo] = todos(calendar)
    assert todo["DUE"].params["TZID"] == "America/New_York"
    assert todo.decoded("DUE").hour == 9
    assert todo.decoded("DUE") == datetime(2026, 7, 1, 13, tzinfo=UTC)
    [zone] = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "America/New_York"
    assert str(calendar["X-WR-TIMEZONE"]) == "America/New_York"


def test_a_recurring_task_carries_its_rrule_from_its_due_time(client, user):
    client.patch("/api/v1/auth/me", json={"timezone": "Europe/Berlin"}, headers=user.headers)
    create(client, user, title="Standup", due_at="2026-03-27T08:30:00Z",
           recurrence={"rule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"})
    calendar = parse(feed(client, token_for(client, user)))
    assert_rfc5545(calendar)
    [todo] = todos(calendar)
    assert todo["RRULE"].to_ical() == b"FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    assert todo.decoded("DTSTART") == todo.decoded("DUE")
    assert todo["DTSTART"].params["TZID"] == "Europe/Berlin"
    # 09:30 local on both sides of the change to summer time (29 March).
    import recurring_ical_events

    moments = [c.decoded("DTSTART") for c in recurring_ical_events.of(calendar, components=[
        "VTODO"]).between(datetime(2026, 3, 26, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))]
    assert [(m.day, m.hour, m.minute) for m in moments] == [
        (27, 9, 30), (30, 9, 30), (31, 9, 30)]


def test_events_for_apps_that_ignore_todos(client, user):
    task = create(client, user, title="Call mum", due_at="2026-02-01T18:00:00Z")
    calendar = parse(feed(client, token_for(client, user), **{"as": "events"}))
    assert_rfc5545(calendar, "VEVENT")
    assert todos(calendar) == []
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"task-{task['id']}@taskapi"
    assert event.decoded("DTSTART") == datetime(2026, 2, 1, 18, tzinfo=UTC)
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(minutes=30)
    assert list(ics.Calendar(parse(feed(client, token_for(client, user), **{
        "as": "events"})).to_ical().decode()).events)[0].name == "Call mum"


def test_filters_apply_and_completed_tasks_on_request(client, user):
    create(client, user, title="work", due_at="2026-02-01T09:00:00Z", tags=["work"])
    create(client, user, title="home", due_at="2026-02-01T10:00:00Z", tags=["home"])
    done = create(client, user, title="done", due_at="2026-02-01T11:00:00Z")
    client.patch(f"{TASKS}/{done['id']}/complete", headers=user.headers)
    token = token_for(client, user)
    assert [str(t["SUMMARY"]) for t in todos(parse(feed(client, token, tag="work")))] == [
        "work"]
    [completed] = todos(parse(feed(client, token, completed="true")))
    assert str(completed["STATUS"]) == "COMPLETED" and "COMPLETED" in completed
    assert [str(t["SUMMARY"]) for t in todos(parse(feed(client, token)))] == ["work", "home"]
    assert "as" in assert_error(feed(client, token, 422, **{"as": "journal"}), 422)[
        "errors"]["query"]
    assert "due_on" in assert_error(feed(client, token, 422, due_on="tomorrow"), 422)[
        "errors"]["query"]


def test_only_the_users_own_tasks(client, user, other_user):
    create(client, other_user, title="not yours", due_at="2026-02-01T09:00:00Z")
    assert todos(parse(feed(client, token_for(client, user)))) == []


def test_a_token_in_the_url_for_calendar_apps(client, user):
    create(client, user, due_at="2026-02-01T09:00:00Z")
    token = token_for(client, user)
    response = client.get(FEED, query_string={"token": token})
    assert response.status_code == 200 and len(todos(parse(response))) == 1
    assert_error(client.get(FEED, query_string={"token": "tapi_" + "x" * 43}), 401)
    # A password session's JWT is never read from a URL.
    assert_error(client.get(FEED, query_string={"token": user.access_token}), 401)
    assert_error(client.get(TASKS, query_string={"token": token}), 401)


def test_scopes(client, user):
    tasks_only = token_for(client, user, scopes=("tasks:read",))
    assert "calendar:read" in assert_error(feed(client, tasks_only, 403), 403)["message"]
    calendar_only = token_for(client, user)
    assert_error(client.get(TASKS, headers=auth_headers(calendar_only)), 403)
    assert_error(client.get(FEED), 401)
    assert client.get(FEED, headers=user.headers).status_code == 200  # an access JWT


def test_if_none_match_gives_304_until_something_changes(client, user):
    task = create(client, user, due_at="2026-02-01T09:00:00Z")
    token = token_for(client, user)
    first = feed(client, token)
    etag = first.headers["ETag"]
    again = client.get(FEED, headers={**auth_headers(token), "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    assert feed(client, token).data == first.data
    client.patch(f"{TASKS}/{task['id']}", json={"title": "renamed"}, headers=user.headers)
    changed = client.get(FEED, headers={**auth_headers(token), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert str(todos(parse(changed))[0]["SUMMARY"]) == "renamed"
    other_query = client.get(FEED, query_string={"tag": "x"},
                             headers={**auth_headers(token), "If-None-Match": etag})
    assert other_query.status_code == 200


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "Pacific/Chatham"])
def test_every_zone_round_trips(client, user, zone):
    client.patch("/api/v1/auth/me", json={"timezone": zone}, headers=user.headers)
    create(client, user, due_at="2026-06-15T12:34:00Z")
    [todo] = todos(parse(feed(client, token_for(client, user))))
    assert todo.decoded("DUE") == datetime(2026, 6, 15, 12, 34, tzinfo=UTC)
    [parsed] = list(ics.Calendar(feed(client, token_for(client, user)).get_data(
        as_text=True)).todos)
    assert parsed.due.to("UTC").datetime == datetime(2026, 6, 15, 12, 34, tzinfo=UTC)


def test_the_feed_is_documented(client):
    spec = client.get("/api/openapi.json").get_json()
    operation = spec["paths"][FEED]["get"]
    assert "text/calendar" in operation["responses"]["200"]["content"]
    assert operation["x-required-scopes"] == ["calendar:read"]
    assert {"name": "token", "in": "query"}.items() <= next(
        p for p in operation["parameters"] if p["name"] == "token").items()
