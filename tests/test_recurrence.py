"""taskapi.tasks.recurrence: the accepted RRULE subset, next occurrences against
python-dateutil's own iteration (hypothesis), daylight-saving transitions and
the English summaries."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from taskapi.tasks.recurrence import (
    FROM_COMPLETION,
    RuleError,
    describe,
    next_due,
    occurrences,
    parse_rule,
)

#: Zones with and without daylight saving, both hemispheres, odd offsets. Their
#: transitions are all before 05:00 local, so the wall times below (05:00-22:59)
#: exist exactly once on every day.
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
         "Pacific/Chatham", "America/St_Johns", "Australia/Lord_Howe", "Asia/Tokyo"]
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@st.composite
def rules(draw) -> str:
    """Rules of the accepted subset, with the BY parts each FREQ takes."""
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]))
    parts = [f"FREQ={freq}"]
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.integers(1, 4))}")
    by_parts = []
    if draw(st.booleans()):
        days = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True))
        if freq in ("MONTHLY", "YEARLY") and draw(st.booleans()):
            days = [f"{draw(st.sampled_from([1, 2, -1, -2]))}{day}" for day in days[:2]]
        by_parts.append("BYDAY=" + ",".join(days))
    if freq in ("MONTHLY", "YEARLY") and draw(st.booleans()):
        days = draw(st.lists(st.sampled_from([1, 2, 13, 15, 28, -1]), min_size=1, max_size=3,
                             unique=True))
        by_parts.append("BYMONTHDAY=" + ",".join(map(str, days)))
    if freq != "WEEKLY" and draw(st.booleans()) or (freq == "YEARLY" and not by_parts):
        months = draw(st.lists(st.integers(1, 12), min_size=1, max_size=4, unique=True))
        by_parts.append("BYMONTH=" + ",".join(map(str, months)))
    if freq in ("WEEKLY", "MONTHLY") and by_parts and "BYDAY=" in by_parts[0] \
            and not any(c.isdigit() for c in by_parts[0]) and draw(st.booleans()):
        by_parts.append(f"BYSETPOS={draw(st.sampled_from([1, -1, 2]))}")
    if draw(st.booleans()):
        by_parts.append(f"WKST={draw(st.sampled_from(DAYS))}")
    parts += by_parts
    if draw(st.booleans()):
        parts.append(f"COUNT={draw(st.integers(1, 12))}")
    elif draw(st.booleans()):
        parts.append(f"UNTIL={draw(st.sampled_from(['20270315T120000', '20290101T000000']))}")
    rule = ";".join(parts)
    try:  # BYSETPOS beyond the period's set, BYMONTHDAY no numbered weekday can be
        parse_rule(rule)
    except RuleError:
        assume(False)
    return rule


#: Naive: local days, given the zone under test afterwards.
instants = st.datetimes(min_value=datetime(2000, 1, 1),  # noqa: DTZ001
                        max_value=datetime(2040, 1, 1))  # noqa: DTZ001
wall_times = st.times(min_value=time(5), max_value=time(22, 59))


def dateutil_occurrences(rule: str, local_start: datetime, zone: str, limit: int):
    """The rule's occurrences from ``local_start`` as dateutil iterates them, in UTC."""
    tz = ZoneInfo(zone)
    found = itertools.islice(rrulestr(rule, dtstart=local_start), limit)
    return [moment.replace(tzinfo=tz).astimezone(UTC) for moment in found]


def period_start(rule: str, day: date) -> date:
    """``day``, or for a WEEKLY rule with BYDAY the first day of its week (WKST,
    default MO): dateutil iterates whole periods from there (from DTSTART's
    weekday on, its first week is a partial one, where BYSETPOS would count
    wrong). Without BYDAY, DTSTART's weekday is the rule's."""
    parts = dict(part.split("=") for part in rule.split(";"))
    if parts["FREQ"] != "WEEKLY" or "BYDAY" not in parts:
        return day
    return day - timedelta(days=(day.weekday() - DAYS.index(parts.get("WKST", "MO"))) % 7)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=rules(), zone=st.sampled_from(ZONES), instant=instants, clock=wall_times)
def test_occurrence_by_occurrence_equals_dateutils_iteration(rule, zone, instant, clock):
    """Advancing a task one occurrence at a time (each due date the start of the
    next step, COUNT by the stored occurrence number) gives dateutil's own
    iteration of the rule, COUNT and UNTIL included, from a start whose first
    occurrence is the task's first due date."""
    parse_rule(rule)
    start = datetime.combine(period_start(rule, instant.date()), clock)
    expected = dateutil_occurrences(rule, start, zone, 15)
    if not expected:
        return
    assert occurrences(rule, expected[0], zone, 15) == expected


@settings(max_examples=200, deadline=None)
@given(rule=rules(), zone=st.sampled_from(ZONES), instant=instants, clock=wall_times,
       delay=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)))
def test_from_completion_is_the_rule_restarted_on_the_completion_day(rule, zone, instant,
                                                                     clock, delay):
    """From completion: dateutil's first occurrence after the completion day at
    the due date's wall time, the rule restarted there (COUNT by occurrence)."""
    tz = ZoneInfo(zone)
    due = datetime.combine(instant.date(), clock).replace(tzinfo=tz).astimezone(UTC)
    completed_at = due + delay
    restart = datetime.combine(completed_at.astimezone(tz).date(), clock)
    without_count = ";".join(p for p in rule.split(";") if not p.startswith("COUNT="))
    begin = datetime.combine(period_start(rule, restart.date()), clock)
    expected = rrulestr(without_count, dtstart=begin).after(restart)
    got = next_due(rule, due, zone, anchor=FROM_COMPLETION, completed_at=completed_at)
    if "COUNT=1" in rule.split(";") or expected is None:
        assert got is None
    else:
        assert got == expected.replace(tzinfo=tz).astimezone(UTC)
        assert got.astimezone(tz).date() > completed_at.astimezone(tz).date()


def test_weekly_bysetpos_counts_in_whole_weeks():
    # The 2nd of Monday-Wednesday is Tuesday, every week; from a Tuesday the
    # next is the Tuesday after, not Wednesday (dateutil alone, starting on a
    # Tuesday, would count from it).
    tuesday = datetime(2026, 1, 6, 9, tzinfo=UTC)
    rule = "FREQ=WEEKLY;BYDAY=MO,TU,WE;BYSETPOS=2"
    assert occurrences(rule, tuesday, "UTC", 3) == [
        tuesday, tuesday + timedelta(days=7), tuesday + timedelta(days=14)]
    assert rrulestr(rule, dtstart=tuesday.replace(tzinfo=None)).after(
        tuesday.replace(tzinfo=None)) == datetime(2026, 1, 7, 9)  # noqa: DTZ001
    # Without BYDAY the weekday is the due date's, as in dateutil.
    assert next_due("FREQ=WEEKLY;BYMONTH=1,2;BYSETPOS=1", tuesday, "UTC") == \
        tuesday + timedelta(days=7)


# ------------------------------------------------------------ daylight saving


@pytest.mark.parametrize(("zone", "first", "offsets"), [
    ("Europe/Berlin", datetime(2026, 3, 28, 8, tzinfo=UTC), [1, 2, 2]),
    ("Europe/Berlin", datetime(2026, 10, 24, 7, tzinfo=UTC), [2, 1, 1]),
    ("America/New_York", datetime(2026, 3, 7, 14, tzinfo=UTC), [-5, -4, -4]),
    ("America/New_York", datetime(2026, 10, 31, 13, tzinfo=UTC), [-4, -5, -5]),
])
def test_nine_local_stays_nine_local_across_the_transition(zone, first, offsets):
    found = occurrences("FREQ=DAILY", first, zone, 3)
    local = [moment.astimezone(ZoneInfo(zone)) for moment in found]
    assert [(m.hour, m.minute) for m in local] == [(9, 0)] * 3
    assert [m.utcoffset() / timedelta(hours=1) for m in local] == offsets


def test_weekly_across_a_transition_keeps_the_weekday_and_the_wall_time():
    # Monday 23 March 2026, 18:00 Berlin (CET); Europe moves to CEST on the 29th.
    first = datetime(2026, 3, 23, 17, tzinfo=UTC)
    found = occurrences("FREQ=WEEKLY;BYDAY=MO", first, "Europe/Berlin", 3)
    assert found == [first, datetime(2026, 3, 30, 16, tzinfo=UTC),
                     datetime(2026, 4, 6, 16, tzinfo=UTC)]


def test_a_wall_time_skipped_by_the_transition_moves_to_the_hour_after():
    # 02:30 does not exist in Berlin on 29 March 2026 (02:00 -> 03:00).
    first = datetime(2026, 3, 28, 1, 30, tzinfo=UTC)  # 02:30 CET
    second = next_due("FREQ=DAILY", first, "Europe/Berlin")
    assert second.astimezone(ZoneInfo("Europe/Berlin")).time() == time(3, 30)


def test_the_local_day_decides_by_weekday():
    # Monday 23:30 UTC is Tuesday 08:30 in Tokyo and Monday 18:30 in New York.
    due = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)
    assert next_due("FREQ=WEEKLY;BYDAY=MO,TU", due, "Asia/Tokyo") == \
        datetime(2026, 1, 11, 23, 30, tzinfo=UTC)
    assert next_due("FREQ=WEEKLY;BYDAY=MO,TU", due, "America/New_York") == \
        datetime(2026, 1, 6, 23, 30, tzinfo=UTC)


# ------------------------------------------------------------ ends and limits


def test_count_counts_the_first_due_date():
    due = datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert len(occurrences("FREQ=DAILY;COUNT=3", due, "UTC", 10)) == 3
    assert next_due("FREQ=DAILY;COUNT=3", due, "UTC", occurrence=3) is None


@pytest.mark.parametrize(("until", "last"), [
    ("20260107", datetime(2026, 1, 7, 17, tzinfo=UTC)),  # a date: that whole local day
    ("20260107T170000Z", datetime(2026, 1, 7, 17, tzinfo=UTC)),
    ("20260107T165959Z", datetime(2026, 1, 6, 17, tzinfo=UTC)),
    ("20260107T180000", datetime(2026, 1, 7, 17, tzinfo=UTC)),  # floating: 18:00 Berlin
    ("20260107T175959", datetime(2026, 1, 6, 17, tzinfo=UTC)),
])
def test_until_forms(until, last):
    found = occurrences(f"FREQ=DAILY;UNTIL={until}", datetime(2026, 1, 5, 17, tzinfo=UTC),
                        "Europe/Berlin", 10)
    assert found[-1] == last


def test_no_occurrence_before_year_9999_is_none():
    due = datetime(9999, 6, 1, tzinfo=UTC)
    assert next_due("FREQ=YEARLY", due, "UTC") is None
    assert next_due("FREQ=DAILY", datetime(9999, 12, 29, 12, tzinfo=UTC), "Pacific/Kiritimati") \
        is None


def test_a_due_date_at_the_edge_of_the_calendar_has_no_occurrence():
    assert next_due("FREQ=DAILY", datetime(1, 1, 1, tzinfo=UTC), "America/New_York") is None
    assert next_due("FREQ=DAILY", datetime(9999, 12, 31, 23, tzinfo=UTC), "Asia/Tokyo") is None


def test_the_sparsest_accepted_rules_are_found_quickly():
    due = datetime(2026, 1, 5, 9, tzinfo=UTC)
    # The next 29 February that is a Monday is in 2044.
    leap_monday = next_due("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO", due, "UTC")
    assert leap_monday == datetime(2044, 2, 29, 9, tzinfo=UTC)
    assert next_due("FREQ=DAILY;BYMONTH=12;BYDAY=SU", due, "UTC") == \
        datetime(2026, 12, 6, 9, tzinfo=UTC)


@pytest.mark.parametrize("rule", [
    "FREQ=HOURLY", "FREQ=MINUTELY", "FREQ=SECONDLY", "FREQ=DAILY;BYMONTHDAY=1",
    "FREQ=DAILY;BYHOUR=1,2", "FREQ=MONTHLY;BYMONTH=4;BYMONTHDAY=31",
    "FREQ=MONTHLY;BYMONTH=2,6;BYMONTHDAY=31,-31", "FREQ=DAILY;COUNT=100001",
    "FREQ=WEEKLY;BYYEARDAY=1", "FREQ=YEARLY;BYWEEKNO=1;BYDAY=1MO", "FREQ=DAILY;BYSETPOS=1",
    # Never occur, whatever the due date (dateutil would search until year 9999):
    "FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2", "FREQ=WEEKLY;BYMONTH=1;BYSETPOS=2",
    "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6", "FREQ=MONTHLY;BYMONTHDAY=1,2;BYSETPOS=-3",
    "FREQ=YEARLY;BYMONTH=1,7;BYSETPOS=3", "FREQ=MONTHLY;BYDAY=5MO;BYMONTHDAY=1",
    "FREQ=MONTHLY;BYDAY=-1FR;BYMONTHDAY=1,2,3", "FREQ=YEARLY;BYMONTH=2;BYDAY=1SU;BYMONTHDAY=8",
    "FREQ=DAILY;INTERVAL=7;BYDAY=TU", "FREQ=DAILY;INTERVAL=21;BYDAY=MO,TU",
])
def test_refused(rule):
    with pytest.raises(RuleError):
        parse_rule(rule)


@pytest.mark.parametrize("rule", [
    "FREQ=WEEKLY;BYDAY=MO,TU,WE;BYSETPOS=-3", "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=5",
    "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13", "FREQ=MONTHLY;BYDAY=-1MO;BYMONTHDAY=-1,-2",
    "FREQ=MONTHLY;BYDAY=1SU;BYMONTHDAY=7", "FREQ=YEARLY;BYMONTH=2;BYDAY=-1SU;BYMONTHDAY=22",
    "FREQ=DAILY;INTERVAL=6;BYDAY=TU", "FREQ=YEARLY;BYMONTH=1,7;BYSETPOS=-2",
])
def test_accepted_near_the_limits(rule):
    assert next_due(rule, datetime(2026, 1, 5, 9, tzinfo=UTC), "UTC") is not None


def test_canonical_text():
    assert parse_rule("rrule: freq = weekly ; byday = mo,we ;").text == "FREQ=WEEKLY;BYDAY=MO,WE"


# ---------------------------------------------------------------- summaries


@pytest.mark.parametrize(("rule", "text"), [
    ("FREQ=DAILY", "every day"),
    ("FREQ=DAILY;INTERVAL=3", "every 3 days"),
    ("FREQ=WEEKLY;BYDAY=MO,WE", "every week on Monday and Wednesday"),
    ("FREQ=WEEKLY;BYDAY=MO,WE,FR", "every week on Monday, Wednesday and Friday"),
    ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "every weekday"),
    ("FREQ=DAILY;BYDAY=FR,TH,WE,TU,MO", "every weekday"),
    ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR",
     "every 2 weeks on Monday, Tuesday, Wednesday, Thursday and Friday"),
    ("FREQ=WEEKLY;INTERVAL=2", "every 2 weeks"),
    ("FREQ=MONTHLY;BYMONTHDAY=1", "every month on the 1st"),
    ("FREQ=MONTHLY;BYMONTHDAY=1,15", "every month on the 1st and the 15th"),
    ("FREQ=MONTHLY;BYMONTHDAY=-1", "every month on the last day"),
    ("FREQ=MONTHLY;BYDAY=-1FR", "every month on the last Friday"),
    ("FREQ=MONTHLY;BYDAY=2TU", "every month on the 2nd Tuesday"),
    ("FREQ=MONTHLY;BYDAY=-2MO", "every month on the 2nd to last Monday"),
    ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "every month on the last weekday"),
    ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYSETPOS=3", "every month on the 3rd day"),
    ("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15", "every year on March 15"),
    ("FREQ=YEARLY;BYMONTH=1,7", "every year in January and July"),
    ("FREQ=YEARLY;BYYEARDAY=100", "every year on day 100 of the year"),
    ("FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO", "every year on Monday in week 1"),
    ("FREQ=DAILY;BYHOUR=9;BYMINUTE=30", "every day at 09:30"),
    ("FREQ=DAILY;COUNT=1", "every day, once"),
    ("FREQ=DAILY;COUNT=5", "every day, 5 times"),
    ("FREQ=WEEKLY;UNTIL=20271231T230000Z", "every week, until 2027-12-31"),
    ("FREQ=MONTHLY;BYMONTHDAY=11;BYMONTH=11", "every month on the 11th in November"),
])
def test_summaries(rule, text):
    assert describe(parse_rule(rule).text) == text


@settings(max_examples=300, deadline=None)
@given(rule=rules())
def test_every_accepted_rule_has_a_summary(rule):
    text = describe(parse_rule(rule).text)
    assert text.startswith("every ") and "None" not in text
