"""Task rows for the read paths: Core statements built once, rows as dicts.

Lists and single-task reads go straight from rows to JSON, so they skip the ORM
(identity map, object loading): one Core ``SELECT`` per request on the
session's connection, tags aggregated in the same statement, statements built
once per shape and cached here, so SQLAlchemy's compiled cache serves their SQL.
("All of SQLAlchemy is the stack": SQLAlchemy docs, "Working with Data" and
"SQL Compilation Caching".)

A row becomes a dict with the attribute names of :class:`~taskapi.models.Task`
plus ``tag_names`` and ``recurrence`` (:func:`taskapi.tasks.recurrence.as_json`);
datetimes are already ISO 8601 strings in UTC, exactly what
``datetime.isoformat()`` gives for the aware value (SQLite's stored text is
rewritten without a round trip through ``datetime``). Tags come in the order of
``name_key``, as the ORM relationship loads them: PostgreSQL sorts in the
aggregate; on SQLite (whose ``group_concat`` has no order before 3.44) the
names are sorted by ``str.lower``, which is ``name_key``, in code point order
like SQLite's BINARY collation. Tag names cannot contain commas (TagName).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from taskapi.models import Tag, Task, TaskList, task_tags
from taskapi.tasks.filters import order_by, parse_sort, sort_columns
from taskapi.tasks.recurrence import as_json

TASKS, TAGS, LISTS = Task.__table__, Tag.__table__, TaskList.__table__
#: Columns of a task row, in order; the datetimes among them. The original
#: contract's lists leave out :data:`RECURRENCE_COLUMNS` (its JSON has no
#: recurrence): a 1,000-task list reads 3,000 fewer values.
RECURRENCE_COLUMNS = ("recurrence_rule", "recurrence_from", "next_due_at")
COLUMNS = ("id", "user_id", "title", "description", "completed", "completed_at",
           "priority", "due_at", "created_at", "updated_at", "version", "list_id",
           "parent_id", "position", "subtask_count", "open_subtask_count",
           *RECURRENCE_COLUMNS)
DATETIMES = frozenset({"completed_at", "due_at", "created_at", "updated_at", "next_due_at"})
#: Most statement shapes kept (sort x filters x cursor); past it the cache restarts.
MAX_SHAPES = 512


def _tags_column(dialect: str) -> sa.ColumnElement:
    joined = task_tags.join(TAGS, TAGS.c.id == task_tags.c.tag_id)
    if dialect == "postgresql":
        aggregate = sa.func.array_agg(aggregate_order_by(TAGS.c.name, TAGS.c.name_key))
    else:
        aggregate = sa.func.group_concat(TAGS.c.name, ",")
    return (sa.select(aggregate).select_from(joined)
            .where(task_tags.c.task_id == TASKS.c.id).scalar_subquery().label("tag_names"))


def _columns(dialect: str, recurrence: bool = True) -> list[sa.ColumnElement]:
    columns = []
    for name in COLUMNS if recurrence else COLUMNS[:-len(RECURRENCE_COLUMNS)]:
        column = TASKS.c[name]
        if name in DATETIMES and dialect == "sqlite":
            # The stored text itself: converted by _sqlite_iso, not via datetime.
            column = sa.type_coerce(column, sa.String()).label(name)
        columns.append(column)
    return [*columns, _tags_column(dialect)]


def task_columns(dialect: str) -> list[sa.ColumnElement]:
    """The columns of a task row for :func:`converter`: :data:`COLUMNS`, then the
    tag names aggregated (for other read paths, such as the change feed)."""
    return _columns(dialect)


def _list_count(shape: tuple) -> sa.Select | None:
    """The total of a list of ``shape`` read from list rows, for the shapes whose
    total is a sum of lists' counters (``lists.task_count``, ``open_count``:
    kept by triggers, :data:`taskapi.models.LIST_COUNT_DDL`):

    - ``list_id``, alone or with ``completed``: that list's row;
    - the default listing (``hide_archived``: no list or parent named), alone
      or with ``completed``: the sum over the user's lists that are not
      archived (a few rows, not the user's tasks).

    None for any other shape (the tasks are counted)."""
    filters = [key for key in shape if key != ("completed",)]
    if filters == [("list_id",)]:
        where = [LISTS.c.id == sa.bindparam("f_list_id", type_=sa.Integer())]
    elif filters == [("hide_archived",)]:
        where = [LISTS.c.archived.is_(False)]
    else:
        return None
    if ("completed",) in shape:
        count = sa.case((sa.bindparam("f_completed", type_=sa.Boolean()),
                         LISTS.c.task_count - LISTS.c.open_count), else_=LISTS.c.open_count)
    else:
        count = LISTS.c.task_count
    return (sa.select(sa.func.coalesce(sa.func.sum(count), 0))
            .where(LISTS.c.user_id == sa.bindparam("user_id"), *where))


class PageStatement:
    """The page ``SELECT`` of one shape (``select``: task columns, the total for
    offset pages, then the sort keys) and its ``count`` for a page past the end.

    The total is a scalar subquery of the page statement (one snapshot). For a
    list's tasks and for the default listing (maybe with ``completed``) it sums
    list counters (:func:`_list_count`), so that page 1 of a 100,000-task list
    or account reads about ``page_size`` rows, as a cursor page does; other
    filters count their rows."""

    def __init__(self, dialect: str, sort_text: str, conditions: list, keyset: bool,
                 shape: tuple = (), recurrence: bool = True):
        sort = parse_sort(sort_text)
        where = [TASKS.c.user_id == sa.bindparam("user_id"), *conditions]
        keys = [expr.label(f"_k{index}") for index, (expr, _) in enumerate(sort_columns(sort))]
        counter = _list_count(shape)
        self.count = (counter if counter is not None
                      else sa.select(sa.func.count()).select_from(TASKS).where(*where))
        select = sa.select(*_columns(dialect, recurrence)).where(*where)
        if keyset:
            select = select.add_columns(*keys)
        else:
            total = self.count.correlate(None).scalar_subquery().label("_total")
            select = select.add_columns(total, *keys).offset(sa.bindparam("offset"))
        self.select = select.order_by(*order_by(sort)).limit(sa.bindparam("limit"))


_pages: dict[tuple, PageStatement] = {}
_one: dict[str, sa.Select] = {}


def page_statement(dialect: str, sort_text: str, shape: tuple, *, keyset: bool,
                   build: Callable[[], list], recurrence: bool = True) -> PageStatement:
    """The cached :class:`PageStatement` for a list of ``shape`` (the filter terms'
    keys, :class:`taskapi.tasks.filters.Term`); ``build()`` makes the terms'
    conditions the first time. Bind parameters: ``user_id``, ``limit``,
    ``offset`` (offset pages) and the terms' own. ``recurrence=False``: rows
    without :data:`RECURRENCE_COLUMNS` (read them with ``converter(dialect,
    recurrence=False)``)."""
    key = (dialect, sort_text, shape, keyset, recurrence)
    statement = _pages.get(key)
    if statement is None:
        statement = PageStatement(dialect, sort_text, build(), keyset, shape, recurrence)
        if len(_pages) >= MAX_SHAPES:
            _pages.clear()
        _pages[key] = statement
    return statement


def one_statement(dialect: str) -> sa.Select:
    """``SELECT`` of one task by ``user_id`` and ``task_id`` (bind parameters)."""
    statement = _one.get(dialect)
    if statement is None:
        statement = _one[dialect] = sa.select(*_columns(dialect)).where(
            TASKS.c.user_id == sa.bindparam("user_id"), TASKS.c.id == sa.bindparam("task_id"))
    return statement


def key_count(sort: list[tuple[str, bool]]) -> int:
    """How many sort expressions :func:`~taskapi.tasks.filters.sort_columns` gives."""
    count = sum(2 if key == "due_at" else 1 for key, _ in sort)
    return count if any(key == "id" for key, _ in sort) else count + 1


def sort_values(row: sa.Row, keys: int) -> tuple:
    """The sort values at the end of a page row (for its cursor)."""
    return tuple(row[len(row) - keys:])


def _sqlite_iso(text: str | None) -> str | None:
    """SQLite's stored UTC text (``2026-11-21 09:30:00.123456``, SQLAlchemy's format)
    as ``datetime.isoformat()`` of the aware value: ``2026-11-21T09:30:00.123456+00:00``,
    without the fraction when it is zero."""
    if text is None:
        return None
    if len(text) == 26 and text[10] == " " and text[19] == ".":
        if text.endswith("000000"):
            return f"{text[:10]}T{text[11:19]}+00:00"
        return f"{text[:10]}T{text[11:]}+00:00"
    value = datetime.fromisoformat(text)  # another writer's format: the slow way
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _sqlite_tags(text: str | None) -> list[str]:
    return sorted(text.split(","), key=str.lower) if text else []


def _postgresql_tags(names: list[str] | None) -> list[str]:
    return names or []


def _row_converter(iso: Callable, tags: Callable) -> Callable[[sa.Row], dict[str, Any]]:
    def convert(row: sa.Row) -> dict[str, Any]:
        (id_, user_id, title, description, completed, completed_at, priority, due_at,
         created_at, updated_at, version, list_id, parent_id, position, subtask_count,
         open_subtask_count, rule, anchor, next_due_at, tag_names) = row[:20]
        return {"id": id_, "user_id": user_id, "title": title, "description": description,
                "completed": completed, "completed_at": iso(completed_at),
                "priority": priority, "due_at": iso(due_at), "created_at": iso(created_at),
                "updated_at": iso(updated_at), "version": version, "list_id": list_id,
                "parent_id": parent_id, "position": position, "subtask_count": subtask_count,
                "open_subtask_count": open_subtask_count,
                "recurrence": None if rule is None else as_json(rule, anchor),
                "next_due_at": None if next_due_at is None else iso(next_due_at),
                "tag_names": tags(tag_names)}

    return convert


def _lean_converter(iso: Callable, tags: Callable) -> Callable[[sa.Row], dict[str, Any]]:
    def convert(row: sa.Row) -> dict[str, Any]:
        (id_, user_id, title, description, completed, completed_at, priority, due_at,
         created_at, updated_at, version, list_id, parent_id, position, subtask_count,
         open_subtask_count, tag_names) = row[:17]
        return {"id": id_, "user_id": user_id, "title": title, "description": description,
                "completed": completed, "completed_at": iso(completed_at),
                "priority": priority, "due_at": iso(due_at), "created_at": iso(created_at),
                "updated_at": iso(updated_at), "version": version, "list_id": list_id,
                "parent_id": parent_id, "position": position, "subtask_count": subtask_count,
                "open_subtask_count": open_subtask_count, "tag_names": tags(tag_names)}

    return convert


_CONVERTERS = {
    (True, "sqlite"): _row_converter(_sqlite_iso, _sqlite_tags),
    (True, "postgresql"): _row_converter(_iso, _postgresql_tags),
    (False, "sqlite"): _lean_converter(_sqlite_iso, _sqlite_tags),
    (False, "postgresql"): _lean_converter(_iso, _postgresql_tags),
}


def converter(dialect: str, recurrence: bool = True) -> Callable[[sa.Row], dict[str, Any]]:
    """row -> dict for the rows of :func:`page_statement` and :func:`one_statement`
    (``recurrence=False``: rows without :data:`RECURRENCE_COLUMNS`, dicts without
    ``recurrence`` and ``next_due_at``)."""
    return _CONVERTERS.get((recurrence, dialect), _CONVERTERS[recurrence, "postgresql"])
