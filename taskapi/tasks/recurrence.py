"""Recurrence rules of tasks: RFC 5545 ``RRULE`` values, evaluated by python-dateutil.

A recurring task stores its rule text (``FREQ=WEEKLY;BYDAY=MO,WE``), where the
next due date is counted from (``due`` or ``completion``) and which occurrence
its current ``due_at`` is (1-based). Occurrences are computed in the user's IANA
time zone on naive local wall times, then given the zone and converted to UTC,
so "every day at 09:00" stays at 09:00 local across daylight-saving changes
(a wall time skipped by a transition maps with ``fold=0``, PEP 495: 02:30 on
the night clocks go forward becomes 03:30, and the next occurrences are
counted from that due date, at 03:30).

The accepted subset of RFC 5545 section 3.3.10 (:func:`parse_rule` refuses the
rest with a message naming the part):

- ``FREQ``: ``DAILY``, ``WEEKLY``, ``MONTHLY``, ``YEARLY``; ``SECONDLY``,
  ``MINUTELY`` and ``HOURLY`` are refused (a task is not a cron job).
- ``INTERVAL`` (1-1000), ``COUNT`` (1-100000) or ``UNTIL`` (not both: RFC 5545),
  ``WKST``, ``BYDAY``, ``BYMONTH``, ``BYMONTHDAY``, ``BYYEARDAY``, ``BYWEEKNO``,
  ``BYSETPOS``, and ``BYHOUR``/``BYMINUTE``/``BYSECOND`` with one value each
  (at most one occurrence a day).
- The RFC's restrictions per ``FREQ``: ``BYDAY`` with a number (``-1FR``) only
  with ``MONTHLY`` or ``YEARLY`` (not with ``BYWEEKNO``), ``BYYEARDAY`` and
  ``BYWEEKNO`` only with ``YEARLY``, ``BYMONTHDAY`` not with ``WEEKLY``,
  ``BYSETPOS`` only with another ``BY`` part. ``DAILY`` takes ``BYDAY`` and
  ``BYMONTH`` only, as filters (every day of those), so that its next occurrence
  is always within a year and cheap to find.
- Rules that never occur whatever the due date are refused at once (dateutil
  would search up to year 9999, up to a second of CPU): day numbers no month
  has (``BYMONTH=2;BYMONTHDAY=30``), a ``BYSETPOS`` beyond the largest set a
  period can have (``FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2``), a ``BYMONTHDAY`` no
  numbered weekday falls on (``BYDAY=5MO;BYMONTHDAY=1``), and ``DAILY`` with an
  ``INTERVAL`` of whole weeks and ``BYDAY``. What can still have no occurrence
  after a given due date (``FREQ=MONTHLY;INTERVAL=12;BYMONTH=3`` from January)
  is found out within about 0.15 s (docs/performance.md).

``COUNT`` counts the task's occurrences, its first ``due_at`` being the first
(RFC 5545: "The DTSTART property value always counts as the first
occurrence"); it is enforced here through the stored occurrence number, not by
dateutil, because a rule counted from completion restarts from each completion.
``UNTIL`` is a UTC time (``...Z``), a floating local time or a date (the end of
that day, local).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

#: Where the next due date is counted from.
FROM_DUE, FROM_COMPLETION = "due", "completion"
ANCHORS = (FROM_DUE, FROM_COMPLETION)
MAX_RULE_LENGTH = 500
MAX_INTERVAL, MAX_COUNT = 1000, 100_000
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
REFUSED_FREQUENCIES = ("SECONDLY", "MINUTELY", "HOURLY")
PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST", "BYDAY", "BYMONTH", "BYMONTHDAY",
         "BYYEARDAY", "BYWEEKNO", "BYSETPOS", "BYHOUR", "BYMINUTE", "BYSECOND")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: The parts each FREQ accepts besides FREQ, INTERVAL, COUNT, UNTIL and WKST.
BY_PARTS = {
    "DAILY": {"BYDAY", "BYMONTH", "BYHOUR", "BYMINUTE", "BYSECOND"},
    "WEEKLY": {"BYDAY", "BYMONTH", "BYSETPOS", "BYHOUR", "BYMINUTE", "BYSECOND"},
    "MONTHLY": {"BYDAY", "BYMONTH", "BYMONTHDAY", "BYSETPOS", "BYHOUR", "BYMINUTE",
                "BYSECOND"},
    "YEARLY": {"BYDAY", "BYMONTH", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYSETPOS",
               "BYHOUR", "BYMINUTE", "BYSECOND"},
}
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_BYDAY = re.compile(r"^([+-]?)(\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_INTEGER = re.compile(r"^[+-]?\d{1,6}$")
_UNTIL = re.compile(r"^(\d{8})(?:T(\d{6})(Z?))?$")
#: Latest local wall time an occurrence may have: converting it to UTC stays
#: within Python's datetime in every zone.
_LAST = datetime(9999, 12, 30)  # noqa: DTZ001 (a wall time: naive on purpose)


class RuleError(ValueError):
    """A rule outside the accepted subset; ``str()`` names the part at fault."""


@dataclass(frozen=True)
class Rule:
    """A parsed rule: ``text`` canonical (upper case, no ``RRULE:`` prefix, parts
    in the order given), ``parts`` by name, ``count`` (or None) and ``until``:
    ``(date, time | None, utc)`` as written (or None)."""

    text: str
    parts: dict[str, str]
    count: int | None
    until: tuple[date, time | None, bool] | None

    def dateutil_rule(self, dtstart: datetime, zone: ZoneInfo) -> rrule:
        """The dateutil ``rrule`` from naive local ``dtstart``, without ``COUNT`` and
        with ``UNTIL`` as a naive local wall time (dateutil needs both naive)."""
        text = ";".join(f"{name}={value}" for name, value in self.parts.items()
                        if name not in ("COUNT", "UNTIL"))
        rule = rrulestr(text, dtstart=dtstart)
        until = self.local_until(zone)
        return rule.replace(until=until) if until is not None else rule

    def local_until(self, zone: ZoneInfo) -> datetime | None:
        if self.until is None:
            return None
        day, clock, utc = self.until
        if clock is None:  # a date: the whole day, local
            return datetime.combine(day, time(23, 59, 59))
        moment = datetime.combine(day, clock)
        if utc:
            try:
                moment = moment.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
            except OverflowError:
                return None if moment.year > 1 else moment
        return moment


def _integers(name: str, value: str, low: int, high: int, *, zero: bool = False,
              negative: bool = True) -> list[int]:
    numbers = []
    for item in value.split(","):
        if not _INTEGER.match(item):
            raise RuleError(f"{name}: {item!r} is not a number.")
        number = int(item)
        if not (low <= abs(number) <= high) or (number < 0 and not negative) \
                or (number == 0 and not zero):
            span = f"{-high} to -{low} or {low} to {high}" if negative else f"{low} to {high}"
            raise RuleError(f"{name}: {item} is out of range ({span}).")
        numbers.append(number)
    return numbers


def parse_rule(text: str) -> Rule:
    """Parse and check ``text`` (``FREQ=...;...``, an optional ``RRULE:`` prefix,
    any case); raises :class:`RuleError` naming the part at fault. dateutil's
    ``rrulestr`` parses the checked text as well, so every accepted rule is one
    it evaluates."""
    if len(text) > MAX_RULE_LENGTH:
        raise RuleError(f"At most {MAX_RULE_LENGTH} characters.")
    body = text.strip().upper()
    if body.startswith("RRULE:"):
        body = body[len("RRULE:"):]
    if not body:
        raise RuleError("FREQ is required, e.g. FREQ=WEEKLY;BYDAY=MO.")
    parts: dict[str, str] = {}
    for item in body.split(";"):
        if not item.strip():  # FREQ=DAILY; from some generators
            continue
        name, sep, value = item.strip().partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise RuleError(f"{item.strip()!r} is not NAME=VALUE.")
        if name not in PARTS:
            raise RuleError(f"{name} is not supported; use {', '.join(PARTS)}.")
        if name in parts:
            raise RuleError(f"{name} is given twice.")
        parts[name] = value
    freq = parts.get("FREQ")
    if freq is None:
        raise RuleError("FREQ is required, e.g. FREQ=WEEKLY;BYDAY=MO.")
    if freq in REFUSED_FREQUENCIES:
        raise RuleError(f"FREQ={freq} is not supported: a task recurs at most daily "
                        "(DAILY, WEEKLY, MONTHLY or YEARLY).")
    if freq not in FREQUENCIES:
        raise RuleError(f"FREQ must be one of {', '.join(FREQUENCIES)}.")
    for name in parts:
        if name.startswith("BY") and name not in BY_PARTS[freq]:
            raise RuleError(f"{name} is not allowed with FREQ={freq}"
                            + (" (RFC 5545 section 3.3.10)" if freq != "DAILY"
                               else "; use FREQ=MONTHLY or YEARLY for it") + ".")
    if "INTERVAL" in parts:
        _integers("INTERVAL", parts["INTERVAL"], 1, MAX_INTERVAL, negative=False)
        if "," in parts["INTERVAL"]:
            raise RuleError("INTERVAL takes one number.")
    count = None
    if "COUNT" in parts:
        if "UNTIL" in parts:
            raise RuleError("COUNT and UNTIL cannot both be given (RFC 5545).")
        if "," in parts["COUNT"]:
            raise RuleError("COUNT takes one number.")
        count = _integers("COUNT", parts["COUNT"], 1, MAX_COUNT, negative=False)[0]
    until = _parse_until(parts["UNTIL"]) if "UNTIL" in parts else None
    if "WKST" in parts and parts["WKST"] not in WEEKDAYS:
        raise RuleError(f"WKST must be one of {', '.join(WEEKDAYS)}.")
    _check_by_parts(freq, parts)
    canonical = ";".join(f"{name}={value}" for name, value in parts.items())
    try:
        rrulestr(";".join(f"{n}={v}" for n, v in parts.items() if n != "UNTIL"),
                 dtstart=datetime(2000, 1, 1))  # noqa: DTZ001 (as dateutil needs)
    except (ValueError, TypeError) as error:  # what the checks above missed
        raise RuleError(f"Not a valid RRULE: {error}.") from error
    return Rule(canonical, parts, count, until)


def _parse_until(value: str) -> tuple[date, time | None, bool]:
    match = _UNTIL.match(value)
    if match is None:
        raise RuleError("UNTIL must be a date (20271231), a UTC time (20271231T170000Z) "
                        "or a local time (20271231T170000).")
    day_text, clock_text, utc = match.groups()
    try:
        day = date(int(day_text[:4]), int(day_text[4:6]), int(day_text[6:]))
        clock = (time(int(clock_text[:2]), int(clock_text[2:4]), int(clock_text[4:]))
                 if clock_text else None)
    except ValueError as error:
        raise RuleError(f"UNTIL: {value} is not a valid date or time.") from error
    return day, clock, bool(utc)


def _check_by_parts(freq: str, parts: dict[str, str]) -> None:
    ordinals = False
    if "BYDAY" in parts:
        for item in parts["BYDAY"].split(","):
            match = _BYDAY.match(item)
            if match is None:
                raise RuleError(f"BYDAY: {item!r} is not a weekday (MO, TU, WE, TH, FR, "
                                "SA, SU), optionally with a number (1MO, -1FR).")
            if match.group(2) is not None:
                number = int(match.group(2))
                limit = 53 if freq == "YEARLY" else 5
                if not 1 <= number <= limit:
                    raise RuleError(f"BYDAY: {item} is out of range (1-{limit} or "
                                    f"-{limit}--1).")
                ordinals = True
    if ordinals and (freq not in ("MONTHLY", "YEARLY") or "BYWEEKNO" in parts):
        raise RuleError("BYDAY with a number (1MO, -1FR) needs FREQ=MONTHLY or YEARLY "
                        "without BYWEEKNO (RFC 5545 section 3.3.10).")
    for name in ("BYHOUR", "BYMINUTE", "BYSECOND"):
        if name in parts:
            if "," in parts[name]:
                raise RuleError(f"{name} takes one value: a task has at most one "
                                "occurrence a day.")
            high = {"BYHOUR": 23, "BYMINUTE": 59, "BYSECOND": 59}[name]
            _integers(name, parts[name], 0, high, zero=True, negative=False)
    months = (_integers("BYMONTH", parts["BYMONTH"], 1, 12, negative=False)
              if "BYMONTH" in parts else list(range(1, 13)))
    if "BYMONTHDAY" in parts:
        days = _integers("BYMONTHDAY", parts["BYMONTHDAY"], 1, 31)
        longest = max(_DAYS_IN_MONTH[month - 1] for month in months)
        if all(abs(day) > longest for day in days):
            raise RuleError(f"BYMONTHDAY: no month of BYMONTH has day "
                            f"{', '.join(str(d) for d in days)}.")
    if "BYYEARDAY" in parts:
        _integers("BYYEARDAY", parts["BYYEARDAY"], 1, 366)
    if "BYWEEKNO" in parts:
        _integers("BYWEEKNO", parts["BYWEEKNO"], 1, 53)
    if "BYSETPOS" in parts:
        _integers("BYSETPOS", parts["BYSETPOS"], 1, 366)
        if not any(name.startswith("BY") and name != "BYSETPOS" for name in parts):
            raise RuleError("BYSETPOS needs another BY part, e.g. BYDAY "
                            "(RFC 5545 section 3.3.10).")
    _check_possible(freq, parts, months)


def _check_possible(freq: str, parts: dict[str, str], months: list[int]) -> None:
    """Refuse the combinations that never (or, for DAILY, almost never) occur,
    whatever the due date: dateutil would search up to year 9999 for them
    (a second or so). What remains of rules without occurrences (an INTERVAL
    that never reaches BYMONTH, say) is found within about 0.15 s."""
    days = parts["BYDAY"].split(",") if "BYDAY" in parts else []
    if freq == "DAILY" and days and int(parts.get("INTERVAL", "1")) % 7 == 0:
        raise RuleError("INTERVAL: a multiple of 7 days with BYDAY is always the due "
                        "date's weekday; use FREQ=WEEKLY with INTERVAL in weeks.")
    if "BYSETPOS" in parts:
        most = _largest_set(freq, parts, days)
        position = max(abs(int(n)) for n in parts["BYSETPOS"].split(","))
        if position > most:
            raise RuleError(f"BYSETPOS: {position} is beyond the {most} occurrence(s) a "
                            f"{_UNITS[freq]} of this rule has at most.")
    ordinals = [day for day in days if _BYDAY.match(day).group(2) is not None]
    if "BYMONTHDAY" in parts and ordinals and (freq == "MONTHLY" or "BYMONTH" in parts):
        monthdays = [int(n) for n in parts["BYMONTHDAY"].split(",")]
        lengths = sorted({_DAYS_IN_MONTH[month - 1] for month in months} | (
            {28} if 2 in months else set()))
        if not any(_ordinal_days(day, length) & _month_days(monthdays, length)
                   for day in ordinals for length in lengths):
            raise RuleError("BYMONTHDAY: none of these days can be the numbered weekday "
                            "of BYDAY (a 5th or last weekday is never the 1st).")


def _largest_set(freq: str, parts: dict[str, str], days: list[str]) -> int:
    """An upper bound of the occurrences in one period (week, month, year) of a
    rule: each BY part limits the set, one time of day (BYHOUR etc. single)."""
    bounds = [{"WEEKLY": 7, "MONTHLY": 31, "YEARLY": 366}.get(freq, 1)]
    if days:
        ordinal = all(_BYDAY.match(day).group(2) is not None for day in days)
        per_day = {"WEEKLY": 1, "MONTHLY": 5, "YEARLY": 53}.get(freq, 1)
        bounds.append(len(days) if ordinal else len(days) * per_day)
    elif freq == "WEEKLY":
        bounds.append(1)  # the due date's weekday
    if "BYMONTHDAY" in parts:
        count = len(parts["BYMONTHDAY"].split(","))
        bounds.append(count * (len(parts.get("BYMONTH", "").split(",")) if "BYMONTH" in parts
                               else 12) if freq == "YEARLY" else count)
    if "BYYEARDAY" in parts:
        bounds.append(len(parts["BYYEARDAY"].split(",")))
    if "BYMONTH" in parts and freq == "YEARLY" and not days and "BYMONTHDAY" not in parts \
            and "BYYEARDAY" not in parts and "BYWEEKNO" not in parts:
        bounds.append(len(parts["BYMONTH"].split(",")))  # the due date's day of each
    return min(bounds)


def _ordinal_days(day: str, length: int) -> set[int]:
    """The days of a month of ``length`` days that weekday ``day`` numbered
    (``2TU``, ``-1FR``) can fall on."""
    sign, number, _weekday = _BYDAY.match(day).groups()
    n = int(number)
    if sign == "-":
        return set(range(length - 7 * n + 1, length - 7 * (n - 1) + 1)) & set(
            range(1, length + 1))
    return set(range(7 * n - 6, min(7 * n, length) + 1))


def _month_days(numbers: list[int], length: int) -> set[int]:
    """BYMONTHDAY ``numbers`` (negative: from the end) in a month of ``length`` days."""
    return {n if n > 0 else length + 1 + n for n in numbers if abs(n) <= length}


@lru_cache(maxsize=1024)
def _parsed(text: str) -> Rule:
    return parse_rule(text)


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    """``instant`` (aware) as a naive wall time in ``zone``."""
    return instant.astimezone(zone).replace(tzinfo=None)


def _aware(wall: datetime, zone: ZoneInfo) -> datetime:
    """Naive wall time ``wall`` in ``zone`` as an aware UTC instant (fold=0)."""
    return wall.replace(tzinfo=zone).astimezone(UTC)


def next_due(text: str, due_at: datetime, zone: str, *, occurrence: int = 1,
             anchor: str = FROM_DUE, completed_at: datetime | None = None) -> datetime | None:
    """The due date that follows the occurrence ``occurrence`` (1-based) due at
    ``due_at`` (aware) of rule ``text`` in IANA ``zone``: aware UTC, or None when
    the rule has no more occurrences (``COUNT`` reached, ``UNTIL`` passed, or
    none before year 9999).

    ``anchor`` ``due``: the rule's first occurrence after ``due_at``, the rule
    starting at ``due_at``. ``completion``: the rule restarted at the local day
    of ``completed_at`` at the local time of day of ``due_at``, and its first
    occurrence after that start ("every 3 days" from a completion on the 10th is
    the 13th). Raises :class:`RuleError` for a rule :func:`parse_rule` refuses.
    """
    rule = _parsed(text)
    if rule.count is not None and occurrence >= rule.count:
        return None
    tz = _zone(zone)
    try:
        start = _local(due_at, tz)
        if anchor == FROM_COMPLETION and completed_at is not None:
            start = datetime.combine(_local(completed_at, tz).date(), start.time())
    except OverflowError:  # within hours of year 1 or 9999: no local wall time
        return None
    begin = start
    weekly_sets = rule.parts["FREQ"] == "WEEKLY" and "BYSETPOS" in rule.parts
    try:
        if weekly_sets:
            # dateutil builds the first week from DTSTART's weekday on, so BYSETPOS
            # would count in a partial week: iterate from the week's start (WKST),
            # the weekday DTSTART implies made explicit.
            week_start = WEEKDAYS.index(rule.parts.get("WKST", "MO"))
            begin = start - timedelta(days=(start.weekday() - week_start) % 7)
        evaluated = rule.dateutil_rule(begin, tz)
        if weekly_sets and "BYDAY" not in rule.parts:
            evaluated = evaluated.replace(byweekday=start.weekday())
        found = evaluated.after(start)
        if found is None or found > _LAST:
            return None
        return _aware(found, tz)
    except (OverflowError, ValueError):  # before year 1 or past year 9999
        return None


def occurrences(text: str, due_at: datetime, zone: str, limit: int) -> list[datetime]:
    """Up to ``limit`` due dates from ``due_at`` (the first occurrence) on, as
    :func:`next_due` gives them one after another (aware UTC)."""
    found, current = [due_at], due_at
    while len(found) < limit:
        current = next_due(text, current, zone, occurrence=len(found))
        if current is None:
            break
        found.append(current)
    return found


# -- the human summary ------------------------------------------------------

_DAY_NAMES = dict(zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                 "Saturday", "Sunday"), strict=True))
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")
_UNITS = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}
_WORKDAYS = ["MO", "TU", "WE", "TH", "FR"]


def _ordinal(number: int) -> str:
    if number == -1:
        return "last"
    if number < 0:
        return f"{_ordinal(-number)} to last"
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(
        number % 10, "th")
    return f"{number}{suffix}"


def _join(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _weekday(item: str) -> str:
    sign, number, day = _BYDAY.match(item).groups()
    if number is None:
        return _DAY_NAMES[day]
    return f"the {_ordinal(int(sign + number))} {_DAY_NAMES[day]}"


@lru_cache(maxsize=1024)
def describe(text: str) -> str:
    """An English summary of rule ``text`` (accepted by :func:`parse_rule`):
    ``FREQ=WEEKLY;BYDAY=MO,WE`` -> "every week on Monday and Wednesday",
    ``FREQ=MONTHLY;BYDAY=-1FR`` -> "every month on the last Friday",
    ``FREQ=DAILY;INTERVAL=3`` -> "every 3 days". Times of day are not named:
    they are the task's ``due_at`` (or ``BYHOUR``/``BYMINUTE``, shown "at HH:MM")."""
    parts = _parsed(text).parts
    freq, interval = parts["FREQ"], int(parts.get("INTERVAL", "1"))
    unit = _UNITS[freq]
    days = parts["BYDAY"].split(",") if "BYDAY" in parts else []
    setpos = [int(n) for n in parts["BYSETPOS"].split(",")] if "BYSETPOS" in parts else []
    phrase = f"every {unit}" if interval == 1 else f"every {interval} {unit}s"
    details = []
    workdays = sorted(days, key=lambda d: WEEKDAYS.index(d) if d in WEEKDAYS else -1) \
        == _WORKDAYS
    if workdays and interval == 1 \
            and freq in ("DAILY", "WEEKLY") and not setpos:
        phrase, days = "every weekday", []
    if setpos and days and not parts.get("BYMONTHDAY"):
        chosen = ("weekday" if workdays
                  else "day" if set(days) == set(WEEKDAYS) else "of " + _join(
                      [_weekday(d) for d in days]))
        details.append(f"on the {_join([_ordinal(n) for n in setpos])} {chosen}")
        days, setpos = [], []
    if days:
        details.append("on " + _join([_weekday(d) for d in days]))
    if freq == "YEARLY" and set(parts) - {"FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST"} \
            == {"BYMONTH", "BYMONTHDAY"} and "," not in parts["BYMONTH"] + parts["BYMONTHDAY"] \
            and int(parts["BYMONTHDAY"]) > 0:
        details.append(f"on {_MONTH_NAMES[int(parts['BYMONTH']) - 1]} "
                       f"{int(parts['BYMONTHDAY'])}")
        parts = {name: value for name, value in parts.items()
                 if name not in ("BYMONTH", "BYMONTHDAY")}
    if "BYMONTHDAY" in parts:
        numbers = [int(n) for n in parts["BYMONTHDAY"].split(",")]
        names = ["the last day" if n == -1 else f"the {_ordinal(n)}" for n in numbers]
        details.append("on " + _join(names))
    if "BYYEARDAY" in parts:
        numbers = [int(n) for n in parts["BYYEARDAY"].split(",")]
        details.append("on day " + _join([_ordinal(n) if n < 0 else str(n)
                                         for n in numbers]) + " of the year")
    if "BYWEEKNO" in parts:
        numbers = [int(n) for n in parts["BYWEEKNO"].split(",")]
        details.append("in week " + _join([_ordinal(n) if n < 0 else str(n)
                                          for n in numbers]))
    if "BYMONTH" in parts:
        months = [_MONTH_NAMES[int(n) - 1] for n in parts["BYMONTH"].split(",")]
        details.append("in " + _join(months))
    if setpos:
        details.append(f"(occurrence {_join([str(n) for n in setpos])} of each {unit})")
    if "BYHOUR" in parts or "BYMINUTE" in parts:
        hour = int(parts.get("BYHOUR", "0"))
        minute = int(parts.get("BYMINUTE", "0"))
        details.append(f"at {hour:02d}:{minute:02d}" if "BYHOUR" in parts
                       else f"at minute {minute}")
    summary = " ".join([phrase, *details])
    rule = _parsed(text)
    if rule.count is not None:
        summary += ", once" if rule.count == 1 else f", {rule.count} times"
    if rule.until is not None:
        summary += f", until {rule.until[0].isoformat()}"
    return summary


def as_json(text: str | None, anchor: str | None) -> dict | None:
    """The ``recurrence`` object of a task's JSON (``rule``, ``from``, ``text``),
    None for a task that does not recur. ``from_`` is the attribute of the
    ``from`` field (:class:`~taskapi.tasks.schemas.RecurrenceSchema`)."""
    if text is None:
        return None
    return {"rule": text, "from_": anchor or FROM_DUE, "text": describe(text)}

