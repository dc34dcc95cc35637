"""Filters and sort orders for task lists (GET /api/v1/tasks and the compat list).

Every filter is portable SQL: case-insensitive matching via ``lower()`` on both
sides, LIKE wildcards escaped, nulls placed with an explicit ``IS NULL`` key
(not ``NULLS LAST``, which SQLite before 3.30 lacks), and calendar days in the
user's time zone turned into UTC ranges in Python.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from taskapi.models import Tag, Task, task_tags, utcnow

#: Sort keys a client may name; each maps to SQL expressions, in order.
SORT_KEYS = ("created_at", "updated_at", "due_at", "priority", "title", "id")
DEFAULT_SORT = "-created_at"
_PRIORITY_RANK = sa.case(
    (Task.priority == "high", 3), (Task.priority == "medium", 2),
    (Task.priority == "low", 1), else_=0,
)


def parse_sort(value: str) -> list[tuple[str, bool]]:
    """``"-due_at,title"`` -> ``[("due_at", True), ("title", False)]`` (key, descending).

    Raises ValueError naming an unknown or repeated key.
    """
    keys: list[tuple[str, bool]] = []
    for part in value.split(","):
        part = part.strip()
        descending = part.startswith("-")
        key = part[1:] if descending else part
        if key not in SORT_KEYS:
            raise ValueError(f"Unknown sort key {key!r}; use {', '.join(SORT_KEYS)}.")
        if key in {k for k, _ in keys}:
            raise ValueError(f"Sort key {key!r} given twice.")
        keys.append((key, descending))
    return keys


#: True for a task without a due date; sorted ascending (false before true on
#: every database) it puts them last whichever the direction of ``due_at``. The
#: index ``ix_tasks_user_id_due_order`` is on exactly this expression.
DUE_MISSING = Task.due_at.is_(None)


def sort_columns(sort: list[tuple[str, bool]]) -> list[tuple[sa.ColumnElement, bool]]:
    """``(expression, descending)`` pairs of the full order of ``sort``.

    ``due_at`` expands to :data:`DUE_MISSING` (ascending) then ``due_at``;
    ``priority`` is its rank (high 3 .. none 0); ``title`` is ``lower(title)``.
    The last pair is always ``id`` (in the direction of the last key) so the
    order is total; keyset cursors compare exactly these expressions.
    """
    columns: list[tuple[sa.ColumnElement, bool]] = []
    for key, descending in sort:
        if key == "due_at":
            columns.append((DUE_MISSING, False))
            columns.append((Task.due_at, descending))
        elif key == "priority":
            columns.append((_PRIORITY_RANK, descending))
        elif key == "title":
            columns.append((sa.func.lower(Task.title, type_=Task.title.type), descending))
        else:
            columns.append((getattr(Task, key), descending))
    if not any(key == "id" for key, _ in sort):
        columns.append((Task.id, sort[-1][1] if sort else True))
    return columns


def order_by(sort: list[tuple[str, bool]]) -> list[sa.ColumnElement]:
    """ORDER BY expressions for ``sort``, ending with ``id`` so the order is total."""
    return [expr.desc() if descending else expr.asc() for expr, descending in sort_columns(sort)]


def sort_text(sort: list[tuple[str, bool]]) -> str:
    """The canonical ``sort`` parameter for parsed ``sort``: ``"-due_at,title"``."""
    return ",".join(("-" if descending else "") + key for key, descending in sort)


def escape_like(text: str) -> str:
    """``text`` with LIKE wildcards escaped by a backslash (used with ``escape="\\\\"``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def day_range(day: date, zone: str) -> tuple[datetime, datetime]:
    """The UTC instants ``[start, end)`` of calendar ``day`` in IANA ``zone``."""
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def apply_filters(query: sa.Select, user_id: int, args: dict, zone: str) -> sa.Select:
    """Add the validated list filters in ``args`` to ``query`` (all combined with AND)."""
    if args.get("completed") is not None:
        query = query.where(Task.completed == args["completed"])
    if args.get("priority"):
        query = query.where(Task.priority.in_(args["priority"]))
    for name in dict.fromkeys(t.lower() for t in args.get("tag") or []):
        query = query.where(
            sa.exists()
            .where(task_tags.c.task_id == Task.id, task_tags.c.tag_id == Tag.id)
            .where(Tag.user_id == user_id, Tag.name_key == name)
        )
    if args.get("q"):
        pattern = f"%{escape_like(args['q'].lower())}%"
        query = query.where(
            sa.or_(
                sa.func.lower(Task.title).like(pattern, escape="\\"),
                sa.func.lower(Task.description).like(pattern, escape="\\"),
            )
        )
    if args.get("due_before") is not None:
        query = query.where(Task.due_at < args["due_before"])
    if args.get("due_after") is not None:
        query = query.where(Task.due_at > args["due_after"])
    if args.get("due_on") is not None:
        start, end = day_range(args["due_on"], zone)
        query = query.where(Task.due_at >= start, Task.due_at < end)
    if args.get("overdue") is not None:
        overdue = sa.and_(Task.due_at < utcnow(), Task.completed.is_(False))
        if not args["overdue"]:
            overdue = sa.or_(sa.not_(overdue), Task.due_at.is_(None))
        query = query.where(overdue)
    if args.get("has_due") is not None:
        query = query.where(Task.due_at.isnot(None) if args["has_due"] else Task.due_at.is_(None))
    if args.get("updated_since") is not None:
        query = query.where(Task.updated_at >= args["updated_since"])
    return query
