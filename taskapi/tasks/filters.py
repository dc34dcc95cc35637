"""Filters and sort orders for task lists (GET /api/v1/tasks and the compat list).

Every filter is portable SQL: case-insensitive matching via ``lower()`` on both
sides, LIKE wildcards escaped, nulls placed with an explicit ``IS NULL`` key
(not ``NULLS LAST``, which SQLite before 3.30 lacks), and calendar days in the
user's time zone turned into UTC ranges in Python.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.models import Tag, Task, TaskList, task_tags, utcnow

#: Sort keys a client may name; each maps to SQL expressions, in order.
SORT_KEYS = ("created_at", "updated_at", "due_at", "priority", "title", "position", "id")
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


@dataclass(frozen=True)
class Term:
    """One filter of a list query: ``key`` says what it does to the SQL (two terms
    with the same key build the same SQL), ``params`` are its bound values, and
    ``build()`` makes its ``WHERE`` condition with bind parameters of those names.

    Statements are cached by the tuple of their terms' keys
    (:mod:`taskapi.tasks.queries`): a request only computes keys and values."""

    key: tuple
    params: dict[str, Any]
    build: Callable[[], sa.ColumnElement[bool]]


def _param(name: str, value: Any, type_: Any = None) -> sa.BindParameter:
    return sa.bindparam(name, value, type_=type_)


#: Most ``tag`` and ``priority`` values one list request may give (the tags a task
#: can carry; more cannot match anything).
MAX_FILTER_VALUES = 20
#: Shortest ``q`` the text index answers: a trigram is 3 characters. Shorter
#: texts are matched by LIKE over the user's tasks (cheap: a 1-2 character
#: pattern costs one pass over each title).
MIN_INDEXED_QUERY = 3


def _tags_term(names: list[str]) -> Term:
    """Tasks carrying every tag in ``names`` (name keys, distinct): one shape for
    any count, so one cached statement. One uncorrelated ``IN`` subquery: the
    task_tags rows of the user's tags of these names, grouped by task, kept when
    a task has all ``len(names)`` of them (``GROUP BY ... HAVING count(*) = n``;
    (task_id, tag_id) is the primary key, so the count is of distinct tags). Its
    cost is the number of tasks carrying any of the tags, whatever the order or
    the page; it is computed once per statement."""

    def build():
        wanted = (sa.select(Tag.id)
                  .where(Tag.user_id == sa.bindparam("user_id"),
                         Tag.name_key.in_(sa.bindparam("f_tags", names, expanding=True))))
        carrying = (sa.select(task_tags.c.task_id)
                    .where(task_tags.c.tag_id.in_(wanted))
                    .group_by(task_tags.c.task_id)
                    .having(sa.func.count() == _param("f_tag_count", len(names), sa.Integer())))
        return Task.id.in_(carrying)

    return Term(("tags",), {"f_tags": names, "f_tag_count": len(names)}, build)


def fts_trigrams(text: str) -> str:
    """An FTS5 query for the rows holding every distinct trigram of ``text``
    (3 or more characters): ``"abc" AND "bcd" ...``, each a quoted string (double
    quotes doubled) so nothing in ``text`` is query syntax
    (https://www.sqlite.org/fts5.html#fts5_strings). The trigrams are the
    original characters: FTS5 folds their case itself, as it did when indexing."""
    trigrams = dict.fromkeys(text[i:i + 3] for i in range(len(text) - 2))
    return " AND ".join('"' + trigram.replace('"', '""') + '"' for trigram in trigrams)


_SEARCH = sa.table("tasks_fts", sa.column("rowid"))


def _text_term(text: str, dialect: str) -> Term:
    """Case-insensitive substring ``text`` of the title or description.

    A ``LIKE`` on the lower-cased columns decides (``%`` and ``_`` escaped); an
    index first narrows the candidates to the tasks holding every trigram of a
    ``text`` of 3 or more characters, so the cost follows the tasks that share
    its trigrams, not the length of the text or of the user's list:

    - SQLite: the FTS5 trigram table (:data:`taskapi.models.TASK_SEARCH_DDL`),
      asked for the distinct trigrams (``AND``) rather than the phrase: a phrase
      is checked position by position, which costs seconds on texts that repeat
      one trigram (``aaaa...``), even another user's. ``lower()`` is
      :func:`taskapi.database.unicode_lower` (SQLite's own only folds ASCII), so
      case is ignored as on PostgreSQL.
    - PostgreSQL: the pg_trgm GIN indexes on ``lower(title)`` and
      ``lower(description)``, as an uncorrelated ``id IN (... UNION ...)``
      computed once, so the plan does not depend on how many tasks the planner
      thinks the user has (trigrams rather than a ``tsvector``: a tsvector
      matches words and stems, not arbitrary substrings such as ``sk-12``, which
      ``q`` promises).

    Shorter texts: the LIKE over the user's tasks (a trigram index cannot help).
    """
    pattern = f"%{escape_like(text.lower())}%"
    indexed = len(text) >= MIN_INDEXED_QUERY
    query = fts_trigrams(text) if indexed and dialect == "sqlite" else None
    lower = sa.func.unicode_lower if dialect == "sqlite" else sa.func.lower

    def text_match():
        bound = _param("f_q", pattern, sa.String())
        title = lower(Task.title, type_=sa.String()).like(bound, escape="\\")
        description = lower(Task.description, type_=sa.String()).like(bound, escape="\\")
        condition = sa.or_(title, description)
        if not indexed:
            return condition
        if dialect == "sqlite":
            match = sa.literal_column("tasks_fts").op("MATCH")(
                _param("f_q_index", query, sa.String()))
            candidates = sa.select(_SEARCH.c.rowid).where(match)
            return sa.and_(Task.id.in_(candidates), condition)
        # The subquery is exact (its bitmap scans recheck the LIKE): repeating the
        # LIKE outside would let the planner run it on each of the user's tasks
        # before the IN.
        found = sa.table("tasks", sa.column("id"), sa.column("title"),
                         sa.column("description")).alias("found")
        return Task.id.in_(sa.union(
            sa.select(found.c.id).where(sa.func.lower(found.c.title).like(
                bound, escape="\\")),
            sa.select(found.c.id).where(sa.func.lower(found.c.description).like(
                bound, escape="\\"))))

    params = {"f_q": pattern}
    if query is not None:
        params["f_q_index"] = query
    return Term(("q", "indexed" if indexed else "like"), params, text_match)


def filter_terms(args: dict, zone: str, now: datetime | None = None,
                 dialect: str | None = None) -> list[Term]:
    """The validated list filters in ``args`` as :class:`Term` objects, all combined
    with AND. ``zone`` is the user's IANA time zone (``due_on``); ``now`` the
    instant ``overdue`` compares with (default: the current time); ``dialect``
    the database's (default: the session's), which decides how ``q`` is matched."""
    terms: list[Term] = []

    def add(key: tuple, params: dict, build) -> None:
        terms.append(Term(key, params, build))

    for name in ("list_id", "parent_id"):
        if args.get(name) is not None:
            add((name,), {f"f_{name}": args[name]},
                lambda name=name: getattr(Task, name) == _param(f"f_{name}", None, sa.Integer()))
    if args.get("top_level") is not None:
        top = args["top_level"]
        add(("top_level", top), {},
            lambda: Task.parent_id.is_(None) if top else Task.parent_id.isnot(None))
    if args.get("hide_archived"):
        # An uncorrelated subquery over the user's few lists, computed once.
        add(("hide_archived",), {}, lambda: Task.list_id.notin_(
            sa.select(TaskList.id).where(TaskList.user_id == sa.bindparam("user_id"),
                                         TaskList.archived.is_(True))))

    if args.get("completed") is not None:
        add(("completed",), {"f_completed": args["completed"]},
            lambda: Task.completed == _param("f_completed", args["completed"], sa.Boolean()))
    if args.get("priority"):
        priorities = list(args["priority"])
        add(("priority",), {"f_priority": priorities},
            lambda: Task.priority.in_(sa.bindparam("f_priority", priorities, expanding=True)))
    names = list(dict.fromkeys(t.lower() for t in args.get("tag") or []))
    if names:
        terms.append(_tags_term(names))
    if args.get("q"):
        terms.append(_text_term(args["q"], dialect or db.session.get_bind().dialect.name))
    for name, op in (("due_before", operator.lt), ("due_after", operator.gt),
                     ("updated_since", operator.ge)):
        if args.get(name) is not None:
            column = Task.updated_at if name == "updated_since" else Task.due_at
            add((name,), {f"f_{name}": args[name]},
                lambda column=column, op=op, name=name, value=args[name]:
                op(column, _param(f"f_{name}", value, column.type)))
    if args.get("due_on") is not None:
        start, end = day_range(args["due_on"], zone)
        add(("due_on",), {"f_due_start": start, "f_due_end": end},
            lambda: sa.and_(Task.due_at >= _param("f_due_start", start, Task.due_at.type),
                            Task.due_at < _param("f_due_end", end, Task.due_at.type)))
    if args.get("overdue") is not None:
        instant = now or utcnow()

        def overdue():
            condition = sa.and_(Task.due_at < _param("f_now", instant, Task.due_at.type),
                                Task.completed.is_(False))
            if not args["overdue"]:
                condition = sa.or_(sa.not_(condition), Task.due_at.is_(None))
            return condition

        add(("overdue", args["overdue"]), {"f_now": instant}, overdue)
    if args.get("has_due") is not None:
        has_due = args["has_due"]
        add(("has_due", has_due), {},
            lambda: Task.due_at.isnot(None) if has_due else Task.due_at.is_(None))
    if args.get("recurring") is not None:
        recurring = args["recurring"]
        add(("recurring", recurring), {},
            lambda: (Task.recurrence_rule.isnot(None) if recurring
                     else Task.recurrence_rule.is_(None)))
    return terms


def apply_filters(query: sa.Select, user_id: int, args: dict, zone: str) -> sa.Select:
    """Add the validated list filters in ``args`` to ``query`` (all combined with AND).

    ``user_id`` is kept for callers; tag filters match tags of the task's own user."""
    for term in filter_terms(args, zone):
        query = query.where(term.build())
    return query
