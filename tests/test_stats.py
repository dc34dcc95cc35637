"""GET /api/v1/tasks/stats and ``taskapi.tasks.queries.task_stats``.

Tasks are inserted directly (ORM) so that ``due_at`` and ``completed_at`` are
whatever the test needs. The endpoint reads the real clock, so fixtures for it
are built around the current local day of the zone under test, and
:func:`settled_now` keeps well away from a local midnight so that no test
depends on the time of day it runs. The pure function takes a fixed ``now``,
which allows exact checks on daylight-saving days (23- and 25-hour days).
"""

from __future__ import annotations

import time as systime
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from taskapi.extensions import db
from taskapi.models import Task
from taskapi.tasks.queries import task_stats
from tests.helpers import assert_error, auth_headers

STATS = "/api/v1/tasks/stats"
ME = "/api/v1/auth/me"
KIRITIMATI = "Pacific/Kiritimati"  # UTC+14 all year
PAGO_PAGO = "Pacific/Pago_Pago"  # UTC-11 all year
LOS_ANGELES = "America/Los_Angeles"  # UTC-8 / UTC-7 (DST)
STATS_KEYS = {
    "total", "completed", "open", "overdue", "due_today", "by_priority",
    "completed_last_7_days",
}
MINUTE = timedelta(minutes=1)
#: settled_now() keeps at least this far from any local midnight of the zones used.
MARGIN = timedelta(seconds=90)


# --------------------------------------------------------------------- helpers


def local_today(instant: datetime, zone: str) -> date:
    return instant.astimezone(ZoneInfo(zone)).date()


def day_start(day: date, zone: str) -> datetime:
    """The UTC instant of local midnight starting ``day`` in ``zone``."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def settled_now(*zones: str) -> datetime:
    """The current UTC time, at least MARGIN after the last and before the next
    local midnight of every zone. Very rarely it sleeps (under 2 * MARGIN) to get
    there, so that a fixture built now and the request that follows see the same
    "today" and instants one minute inside today are in the past/future as meant.
    """
    while True:
        now = datetime.now(UTC)
        wait = timedelta(0)
        for zone in zones:
            today = local_today(now, zone)
            since_start = now - day_start(today, zone)
            until_end = day_start(today + timedelta(days=1), zone) - now
            if since_start < MARGIN:
                wait = max(wait, MARGIN - since_start)
            if until_end < MARGIN:
                wait = max(wait, until_end + MARGIN)
        if not wait:
            return now
        systime.sleep(wait.total_seconds() + 0.5)


def set_timezone(client, account, zone: str) -> None:
    response = client.patch(ME, json={"timezone": zone}, headers=account.headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["timezone"] == zone


def get_stats(client, account) -> dict:
    response = client.get(STATS, headers=account.headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    body = response.get_json()
    assert set(body) == STATS_KEYS
    assert set(body["by_priority"]) == {"high", "medium", "low", "none"}
    assert len(body["completed_last_7_days"]) == 7
    for entry in body["completed_last_7_days"]:
        assert set(entry) == {"date", "count"}
    return body


def add_task(app, user_id: int, title: str = "Task", *, completed: bool = False,
             completed_at: datetime | None = None, priority: str | None = None,
             due_at: datetime | None = None) -> int:
    """Insert a task row as is (no API rules): returns its id."""
    with app.app_context():
        task = Task(user_id=user_id, title=title, completed=completed,
                    completed_at=completed_at, priority=priority, due_at=due_at,
                    created_at=datetime.now(UTC))
        db.session.add(task)
        db.session.commit()
        return task.id


def week(today: date) -> list[str]:
    """The 7 bucket dates ending ``today``, oldest first, as ISO strings."""
    return [(today - timedelta(days=n)).isoformat() for n in range(6, -1, -1)]


def expected_buckets(today: date, counts: Counter) -> list[dict]:
    """``completed_last_7_days`` for ``today`` with ``counts`` by date (others 0)."""
    days = [today - timedelta(days=n) for n in range(6, -1, -1)]
    assert set(counts) <= set(days), (counts, days)  # the fixture stays in the window
    return [{"date": day.isoformat(), "count": counts.get(day, 0)} for day in days]


def pure_stats(app, user_id: int, zone: str, now: datetime) -> dict:
    with app.app_context():
        return task_stats(user_id, zone, now=now)


def jsonable(stats: dict) -> dict:
    """task_stats() output with dates as ISO strings, as the endpoint sends them."""
    return {
        **stats,
        "completed_last_7_days": [
            {"date": entry["date"].isoformat(), "count": entry["count"]}
            for entry in stats["completed_last_7_days"]
        ],
    }


ZEROS = {
    "total": 0, "completed": 0, "open": 0, "overdue": 0, "due_today": 0,
    "by_priority": {"high": 0, "medium": 0, "low": 0, "none": 0},
}


# ------------------------------------------------------------------- auth


def test_stats_without_token_is_401(client):
    response = client.get(STATS)

    body = assert_error(response, 401)
    assert "errors" not in body
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_stats_with_bad_token_is_401(client):
    response = client.get(STATS, headers=auth_headers("not-a-jwt"))

    assert_error(response, 401)


def test_stats_with_refresh_token_is_401(client, user):
    response = client.get(STATS, headers=auth_headers(user.refresh_token))

    assert_error(response, 401)


# ------------------------------------------------------------- empty account


@pytest.mark.parametrize("zone", ["UTC", KIRITIMATI, PAGO_PAGO, LOS_ANGELES])
def test_empty_account_is_all_zeros_with_week_ending_today(client, user, zone):
    if zone != "UTC":
        set_timezone(client, user, zone)
    before = local_today(datetime.now(UTC), zone)

    body = get_stats(client, user)

    after = local_today(datetime.now(UTC), zone)
    days = body.pop("completed_last_7_days")
    assert body == ZEROS
    assert [entry["count"] for entry in days] == [0] * 7
    # Both "today"s are the same unless the request straddled local midnight.
    assert [entry["date"] for entry in days] in (week(before), week(after))


def test_week_dates_follow_the_user_zone(client, user):
    now = settled_now(KIRITIMATI, PAGO_PAGO)
    set_timezone(client, user, KIRITIMATI)
    kiritimati_days = get_stats(client, user)["completed_last_7_days"]
    set_timezone(client, user, PAGO_PAGO)
    pago_pago_days = get_stats(client, user)["completed_last_7_days"]

    today_k, today_p = local_today(now, KIRITIMATI), local_today(now, PAGO_PAGO)
    assert [entry["date"] for entry in kiritimati_days] == week(today_k)
    assert [entry["date"] for entry in pago_pago_days] == week(today_p)
    # 25 hours apart: Kiritimati's date is always 1 or 2 days after Pago Pago's.
    assert (today_k - today_p).days in (1, 2)


# --------------------------------------------------------- hand-computed set


@pytest.mark.parametrize("zone", ["UTC", KIRITIMATI, PAGO_PAGO, LOS_ANGELES])
def test_hand_computed_stats(app, client, user, other_user, zone):
    """Twelve tasks with chosen dates; every figure below is counted by hand.

    ``start(n)`` is local midnight starting day today+n in ``zone`` (as UTC), so
    the same literals hold in every zone, DST included (LA).
    """
    if zone != "UTC":
        set_timezone(client, user, zone)
    now = settled_now(zone)
    today = local_today(now, zone)

    def start(n: int) -> datetime:
        return day_start(today + timedelta(days=n), zone)

    hour = timedelta(hours=1)
    me = user.id
    # -- open tasks
    add_task(app, me, "1 overdue since yesterday", priority="high",
             due_at=start(0) - hour)                   # overdue; due yesterday
    add_task(app, me, "2 due at midnight today", priority="high",
             due_at=start(0))                          # overdue (< now) AND due today
    add_task(app, me, "3 due tonight", priority="medium",
             due_at=start(1) - MINUTE)                 # due today, still ahead (> now)
    add_task(app, me, "4 due tomorrow", priority="low",
             due_at=start(1) + MINUTE)                 # neither
    add_task(app, me, "5 no due date")                 # neither; priority none
    add_task(app, me, "12 open, stale completed_at",
             completed_at=start(0) + MINUTE)           # open: in no bucket; none
    # -- completed tasks: never overdue nor due today, whatever due_at
    add_task(app, me, "6 done today, was overdue", priority="high", completed=True,
             completed_at=start(0), due_at=start(-2))  # bucket today
    add_task(app, me, "7 done yesterday, due today", completed=True,
             completed_at=start(0) - MINUTE,
             due_at=start(1) - MINUTE)                 # bucket today-1; none
    add_task(app, me, "8 done 6 days ago", priority="medium", completed=True,
             completed_at=start(-6))                   # oldest bucket (today-6)
    add_task(app, me, "9 done 7 days ago", priority="low", completed=True,
             completed_at=start(-6) - MINUTE)          # today-7: outside the window
    add_task(app, me, "10 done 3 days ago", completed=True,
             completed_at=start(-3) + 12 * hour)       # bucket today-3; none
    add_task(app, me, "11 done, no completed_at", priority="low",
             completed=True)                           # completed, in no bucket
    # -- another user's tasks, one of each kind: none may count.
    bob = other_user.id
    add_task(app, bob, "bob overdue", priority="high", due_at=start(0) - hour)
    add_task(app, bob, "bob due today", priority="medium", due_at=start(1) - MINUTE)
    add_task(app, bob, "bob done today", priority="low", completed=True,
             completed_at=start(0) + MINUTE)
    add_task(app, bob, "bob done 2 days ago", completed=True,
             completed_at=start(-2) + hour)

    body = get_stats(client, user)

    assert body == {
        "total": 12,                       # tasks 1-12
        "completed": 6,                    # 6, 7, 8, 9, 10, 11
        "open": 6,                         # 1, 2, 3, 4, 5, 12
        "overdue": 2,                      # 1 and 2 (open, due before now)
        "due_today": 2,                    # 2 and 3 (7 is due today but completed)
        "by_priority": {
            "high": 3,                     # 1, 2, 6
            "medium": 2,                   # 3, 8
            "low": 3,                      # 4, 9, 11
            "none": 4,                     # 5, 7, 10, 12
        },
        "completed_last_7_days": [
            {"date": (today - timedelta(days=6)).isoformat(), "count": 1},  # 8
            {"date": (today - timedelta(days=5)).isoformat(), "count": 0},
            {"date": (today - timedelta(days=4)).isoformat(), "count": 0},
            {"date": (today - timedelta(days=3)).isoformat(), "count": 1},  # 10
            {"date": (today - timedelta(days=2)).isoformat(), "count": 0},  # (bob's)
            {"date": (today - timedelta(days=1)).isoformat(), "count": 1},  # 7
            {"date": today.isoformat(), "count": 1},                        # 6
        ],
    }
    # The other user sees only their own four.
    bob_stats = get_stats(client, other_user)
    assert (bob_stats["total"], bob_stats["completed"], bob_stats["open"]) == (4, 2, 2)
    assert bob_stats["by_priority"] == {"high": 1, "medium": 1, "low": 1, "none": 1}


def test_stats_follow_api_writes(client, user):
    """Through the API only: create, complete, reopen, delete."""
    now = settled_now("UTC")
    today = local_today(now, "UTC")
    tonight = (day_start(today + timedelta(days=1), "UTC") - MINUTE).isoformat()
    yesterday = (day_start(today, "UTC") - timedelta(hours=1)).isoformat()
    ids = [
        client.post("/api/v1/tasks", json=fields, headers=user.headers).get_json()["id"]
        for fields in (
            {"title": "a", "priority": "high", "due_at": yesterday},
            {"title": "b", "priority": "low", "due_at": tonight},
            {"title": "c"},
        )
    ]
    stats = get_stats(client, user)
    assert (stats["total"], stats["open"], stats["overdue"], stats["due_today"]) == (3, 3, 1, 1)

    # Completing "a" (overdue) and "b" (due today) removes them from both counts
    # and puts two completions in today's bucket (completed_at = now).
    for task_id in ids[:2]:
        response = client.patch(f"/api/v1/tasks/{task_id}/complete", json={"completed": True},
                                headers=user.headers)
        assert response.status_code == 200
    stats = get_stats(client, user)
    assert (stats["completed"], stats["open"], stats["overdue"], stats["due_today"]) == (
        2, 1, 0, 0)
    assert stats["completed_last_7_days"][-1] == {"date": today.isoformat(), "count": 2}

    # Reopening "b" clears its completed_at: out of the bucket, due today again.
    client.patch(f"/api/v1/tasks/{ids[1]}/complete", json={"completed": False},
                 headers=user.headers)
    stats = get_stats(client, user)
    assert (stats["completed"], stats["due_today"]) == (1, 1)
    assert stats["completed_last_7_days"][-1]["count"] == 1

    assert client.delete(f"/api/v1/tasks/{ids[0]}", headers=user.headers).status_code == 204
    stats = get_stats(client, user)
    assert stats["total"] == 2 and stats["completed"] == 0
    assert sum(entry["count"] for entry in stats["completed_last_7_days"]) == 0
    assert stats["by_priority"] == {"high": 0, "medium": 0, "low": 1, "none": 1}


# ------------------------------------------------------ time-zone boundaries


def test_completed_bucket_depends_on_user_zone(app, client, user):
    """The same completed_at instants, bucketed in Kiritimati (UTC+14) and in
    Pago Pago (UTC-11), 25 hours apart. Each instant's local dates in both zones
    follow from its position 1 minute from one of the two zones' midnights, so
    they do not depend on the time of day the test runs."""
    now = settled_now(KIRITIMATI, PAGO_PAGO)
    today_k, today_p = local_today(now, KIRITIMATI), local_today(now, PAGO_PAGO)
    one_day = timedelta(days=1)
    start_k, start_p = day_start(today_k, KIRITIMATI), day_start(today_p, PAGO_PAGO)
    # x: Kiritimati today 00:01  = Pago Pago (today_k - 2) 23:01
    # y: Kiritimati (today_k - 1) 23:59 = Pago Pago (today_k - 2) 22:59
    # u: Pago Pago today 00:01   = Kiritimati (today_p + 1) 01:01
    # v: Pago Pago (today_p - 1) 23:59 = Kiritimati (today_p + 1) 00:59
    for title, instant in (("x", start_k + MINUTE), ("y", start_k - MINUTE),
                           ("u", start_p + MINUTE), ("v", start_p - MINUTE)):
        add_task(app, user.id, title, completed=True, completed_at=instant)

    set_timezone(client, user, KIRITIMATI)
    in_kiritimati = get_stats(client, user)["completed_last_7_days"]
    set_timezone(client, user, PAGO_PAGO)
    in_pago_pago = get_stats(client, user)["completed_last_7_days"]

    # x and y are a day apart in Kiritimati but on the same day in Pago Pago;
    # u and v are a day apart in Pago Pago but on the same day in Kiritimati.
    assert in_kiritimati == expected_buckets(today_k, Counter({
        today_k: 1, today_k - one_day: 1}) + Counter({today_p + one_day: 2}))
    assert in_pago_pago == expected_buckets(today_p, Counter({
        today_k - 2 * one_day: 2}) + Counter({today_p: 1, today_p - one_day: 1}))


@pytest.mark.parametrize(("zone", "other"), [(KIRITIMATI, PAGO_PAGO),
                                             (PAGO_PAGO, KIRITIMATI)])
def test_due_today_depends_on_user_zone(app, client, user, zone, other):
    """Open tasks 1 minute inside and outside ``zone``'s today. The other zone's
    today is shifted by 1 or 23 hours (25 hours apart, mod 24), so it holds
    exactly one of the two first-and-last-minute tasks, and exactly one of the
    two just-outside ones."""
    now = settled_now(zone, other)
    today = local_today(now, zone)
    start = day_start(today, zone)
    end = day_start(today + timedelta(days=1), zone)
    add_task(app, user.id, "first minute of today", due_at=start + MINUTE)  # past
    add_task(app, user.id, "last minute of today", due_at=end - MINUTE)  # future

    set_timezone(client, user, zone)
    here = get_stats(client, user)
    set_timezone(client, user, other)
    there = get_stats(client, user)

    assert here["due_today"] == 2
    assert there["due_today"] == 1
    # Overdue compares instants: the same in every zone (first minute is past).
    assert here["overdue"] == there["overdue"] == 1

    add_task(app, user.id, "last minute of yesterday", due_at=start - MINUTE)  # past
    add_task(app, user.id, "first minute of tomorrow", due_at=end + MINUTE)  # future

    set_timezone(client, user, zone)
    here = get_stats(client, user)
    set_timezone(client, user, other)
    there = get_stats(client, user)

    assert here["due_today"] == 2  # the two new ones are outside today here
    assert there["due_today"] == 2  # one of the two new ones is today there
    assert here["overdue"] == there["overdue"] == 2
    assert here["total"] == here["open"] == 4


def test_changing_zone_keeps_totals(app, client, user):
    now = settled_now("UTC", KIRITIMATI)
    add_task(app, user.id, "a", priority="high", due_at=now - timedelta(days=3))
    add_task(app, user.id, "b", completed=True, completed_at=now - timedelta(days=10))

    utc = get_stats(client, user)
    set_timezone(client, user, KIRITIMATI)
    kiritimati = get_stats(client, user)

    for key in ("total", "completed", "open", "overdue", "by_priority"):
        assert utc[key] == kiritimati[key], key
    assert (utc["total"], utc["completed"], utc["overdue"]) == (2, 1, 1)


# ----------------------------------------- the pure function, fixed ``now``


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_pure_function_shape_and_order(app, user):
    add_task(app, user.id, "h", priority="high")
    add_task(app, user.id, "l", priority="low")

    stats = pure_stats(app, user.id, "UTC", utc("2026-01-15T12:00:00"))

    assert list(stats["by_priority"]) == ["high", "medium", "low", "none"]
    assert stats["by_priority"] == {"high": 1, "medium": 0, "low": 1, "none": 0}
    assert [entry["date"] for entry in stats["completed_last_7_days"]] == [
        date(2026, 1, 9), date(2026, 1, 10), date(2026, 1, 11), date(2026, 1, 12),
        date(2026, 1, 13), date(2026, 1, 14), date(2026, 1, 15),
    ]


def test_pure_function_berlin_spring_forward_23_hour_day(app, user):
    """Europe/Berlin, Sunday 2026-03-29: 02:00 CET -> 03:00 CEST, a 23-hour day,
    [2026-03-28T23:00Z, 2026-03-29T22:00Z). now = 2026-03-31 12:00 CEST."""
    now = utc("2026-03-31T10:00:00")
    for instant in (
        "2026-03-24T22:59:00",  # Mar 24 23:59 CET: a day before the window
        "2026-03-24T23:00:00",  # Mar 25 00:00 CET: oldest bucket
        "2026-03-28T22:59:00",  # Mar 28 23:59 CET
        "2026-03-28T23:00:00",  # Mar 29 00:00 CET
        "2026-03-29T21:59:00",  # Mar 29 23:59 CEST
        "2026-03-29T22:00:00",  # Mar 30 00:00 CEST
        "2026-03-29T22:30:00",  # Mar 30 00:30 CEST (a fixed 24 h day would say Mar 29)
    ):
        add_task(app, user.id, instant, completed=True, completed_at=utc(instant))

    stats = pure_stats(app, user.id, "Europe/Berlin", now)

    assert jsonable(stats)["completed_last_7_days"] == [
        {"date": "2026-03-25", "count": 1},
        {"date": "2026-03-26", "count": 0},
        {"date": "2026-03-27", "count": 0},
        {"date": "2026-03-28", "count": 1},
        {"date": "2026-03-29", "count": 2},
        {"date": "2026-03-30", "count": 2},
        {"date": "2026-03-31", "count": 0},
    ]
    assert (stats["total"], stats["completed"], stats["open"]) == (7, 7, 0)


def test_pure_function_berlin_fall_back_25_hour_day(app, user):
    """Europe/Berlin, Sunday 2026-10-25: 03:00 CEST -> 02:00 CET, a 25-hour day,
    [2026-10-24T22:00Z, 2026-10-25T23:00Z). now = 2026-10-25 13:00 CET."""
    now = utc("2026-10-25T12:00:00")
    for instant in (
        "2026-10-24T21:59:00",  # Oct 24 23:59 CEST: yesterday; overdue
        "2026-10-24T22:00:00",  # Oct 25 00:00 CEST: today; overdue
        "2026-10-25T00:30:00",  # Oct 25 02:30 CEST (first 02:30): today; overdue
        "2026-10-25T01:30:00",  # Oct 25 02:30 CET (second 02:30): today; overdue
        "2026-10-25T22:30:00",  # Oct 25 23:30 CET: today (hour 25); not overdue
        "2026-10-25T23:00:00",  # Oct 26 00:00 CET: tomorrow; not overdue
    ):
        add_task(app, user.id, instant, due_at=utc(instant))
    add_task(app, user.id, "done at 00:00", completed=True,
             completed_at=utc("2026-10-24T22:00:00"), due_at=utc("2026-10-25T10:00:00"))
    add_task(app, user.id, "done at 23:59", completed=True,
             completed_at=utc("2026-10-25T22:59:00"), due_at=utc("2026-10-24T10:00:00"))
    add_task(app, user.id, "done at 23:59 the day before", completed=True,
             completed_at=utc("2026-10-24T21:59:00"))

    stats = pure_stats(app, user.id, "Europe/Berlin", now)

    assert jsonable(stats) == {
        "total": 9,
        "completed": 3,
        "open": 6,
        "overdue": 4,    # the four open ones due before 12:00Z (done ones excluded)
        "due_today": 4,  # 22:00Z, 00:30Z, 01:30Z, 22:30Z (done ones excluded)
        "by_priority": {"high": 0, "medium": 0, "low": 0, "none": 9},
        "completed_last_7_days": [
            {"date": "2026-10-19", "count": 0},
            {"date": "2026-10-20", "count": 0},
            {"date": "2026-10-21", "count": 0},
            {"date": "2026-10-22", "count": 0},
            {"date": "2026-10-23", "count": 0},
            {"date": "2026-10-24", "count": 1},  # 21:59Z = Oct 24 23:59 CEST
            {"date": "2026-10-25", "count": 2},  # 00:00 CEST and 23:59 CET
        ],
    }


def test_pure_function_new_york_spring_forward_due_today(app, user):
    """America/New_York, Sunday 2026-03-08: 02:00 EST -> 03:00 EDT, a 23-hour day,
    [2026-03-08T05:00Z, 2026-03-09T04:00Z). now = 11:00 EDT."""
    now = utc("2026-03-08T15:00:00")
    for instant in (
        "2026-03-08T04:59:00",  # Mar 7 23:59 EST: yesterday; overdue
        "2026-03-08T05:00:00",  # Mar 8 00:00 EST: today; overdue
        "2026-03-08T14:59:00",  # Mar 8 10:59 EDT: today; overdue
        "2026-03-08T15:01:00",  # Mar 8 11:01 EDT: today; not overdue
        "2026-03-09T03:59:00",  # Mar 8 23:59 EDT: today; not overdue
        "2026-03-09T04:00:00",  # Mar 9 00:00 EDT: tomorrow
        "2026-03-09T04:30:00",  # Mar 9 00:30 EDT: tomorrow (a 24 h day would say today)
    ):
        add_task(app, user.id, instant, due_at=utc(instant))

    stats = pure_stats(app, user.id, "America/New_York", now)

    assert (stats["overdue"], stats["due_today"]) == (3, 4)
    assert stats["completed_last_7_days"][-1] == {"date": date(2026, 3, 8), "count": 0}
    assert stats["completed_last_7_days"][0]["date"] == date(2026, 3, 2)


def test_pure_function_new_york_fall_back_bucket(app, user):
    """America/New_York, Sunday 2026-11-01: 02:00 EDT -> 01:00 EST, 25 hours,
    [2026-11-01T04:00Z, 2026-11-02T05:00Z). now = 2026-11-02 09:00 EST."""
    now = utc("2026-11-02T14:00:00")
    for instant in (
        "2026-11-01T03:59:00",  # Oct 31 23:59 EDT
        "2026-11-01T04:00:00",  # Nov 1 00:00 EDT
        "2026-11-01T05:30:00",  # Nov 1 01:30 EDT (first)
        "2026-11-01T06:30:00",  # Nov 1 01:30 EST (second)
        "2026-11-02T04:30:00",  # Nov 1 23:30 EST (a fixed 24 h day would say Nov 2)
        "2026-11-02T05:00:00",  # Nov 2 00:00 EST
    ):
        add_task(app, user.id, instant, completed=True, completed_at=utc(instant))

    stats = pure_stats(app, user.id, "America/New_York", now)

    assert jsonable(stats)["completed_last_7_days"][-3:] == [
        {"date": "2026-10-31", "count": 1},
        {"date": "2026-11-01", "count": 4},
        {"date": "2026-11-02", "count": 1},
    ]


def test_pure_function_today_depends_on_zone_for_one_instant(app, user):
    """now = 2026-01-01T10:30Z is Jan 2 00:30 in Kiritimati, Dec 31 23:30 in Pago
    Pago and Jan 1 10:30 in UTC: "today" is a different date in each zone."""
    now = utc("2026-01-01T10:30:00")
    add_task(app, user.id, "due", due_at=utc("2026-01-01T10:45:00"))  # not overdue
    add_task(app, user.id, "done", completed=True, completed_at=utc("2026-01-01T10:15:00"))

    kiritimati = jsonable(pure_stats(app, user.id, KIRITIMATI, now))
    pago_pago = jsonable(pure_stats(app, user.id, PAGO_PAGO, now))
    utc_stats = jsonable(pure_stats(app, user.id, "UTC", now))

    # 10:45Z: Jan 2 00:45 (K, today), Dec 31 23:45 (PP, today), Jan 1 10:45 (UTC, today)
    assert kiritimati["due_today"] == pago_pago["due_today"] == utc_stats["due_today"] == 1
    # 10:15Z: Jan 2 00:15 (K, today), Dec 31 23:15 (PP, today), Jan 1 10:15 (UTC)
    assert kiritimati["completed_last_7_days"][-1] == {"date": "2026-01-02", "count": 1}
    assert pago_pago["completed_last_7_days"][-1] == {"date": "2025-12-31", "count": 1}
    assert utc_stats["completed_last_7_days"][-1] == {"date": "2026-01-01", "count": 1}
    # One minute before Kiritimati's midnight (09:59Z = Jan 1 23:59 there), the
    # same two tasks are tomorrow's there: no completion today, nothing due today.
    earlier = utc("2026-01-01T09:59:00")
    kiritimati = jsonable(pure_stats(app, user.id, KIRITIMATI, earlier))
    assert kiritimati["completed_last_7_days"][-1] == {"date": "2026-01-01", "count": 0}
    assert kiritimati["due_today"] == 0  # due Jan 2 00:45 there: tomorrow


def test_pure_function_overdue_is_strictly_before_now(app, user):
    now = utc("2026-05-05T12:00:00")
    add_task(app, user.id, "exactly now", due_at=now)
    add_task(app, user.id, "1 microsecond before", due_at=now - timedelta(microseconds=1))
    add_task(app, user.id, "1 microsecond after", due_at=now + timedelta(microseconds=1))
    add_task(app, user.id, "done and late", completed=True, completed_at=now,
             due_at=now - timedelta(days=1))

    stats = pure_stats(app, user.id, "UTC", now)

    assert stats["overdue"] == 1
    assert stats["due_today"] == 3
