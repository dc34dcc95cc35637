"""Task queries, always scoped to one user: nobody reaches another's tasks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_smorest import abort

from taskapi.data_version import bump
from taskapi.extensions import db
from taskapi.models import PRIORITIES, Task, TaskCompletion, utcnow
from taskapi.tasks import cursors, rows
from taskapi.tasks.filters import day_range, filter_terms, sort_text

#: Days in ``completed_last_7_days``, today included.
STATS_DAYS = 7


def owned_tasks(user_id: int) -> sa.Select:
    """``SELECT`` of the user's tasks (ORM entities), no order."""
    return sa.select(Task).where(Task.user_id == user_id)


@dataclass
class TaskPage:
    """One page of a task list.

    ``items`` are task rows as dicts (:mod:`taskapi.tasks.rows`). ``total`` is
    the number of matching tasks (offset pages only; None for a keyset page,
    which skips the count). ``next_values`` are the sort values of the page's
    last task when more tasks follow, else None.
    """

    items: list[dict]
    total: int | None
    next_values: tuple | None


def list_tasks(
    user_id: int,
    args: dict,
    *,
    zone: str,
    limit: int,
    offset: int = 0,
    after: list[Any] | None = None,
    recurrence: bool = True,
) -> TaskPage:
    """A page of the user's tasks matching ``args`` (validated ``TaskListArgsSchema``
    data: filters and ``sort``), in the order of ``args["sort"]``: one statement.

    With ``after`` (values decoded from a cursor) the page is the ``limit`` tasks
    after that position (a keyset query, no OFFSET, no count); otherwise it is
    ``limit`` tasks from ``offset`` plus the total count, computed by a scalar
    subquery of the same statement (same snapshot; a second query only for a
    page past the end). ``zone`` is the user's IANA time zone for ``due_on``.
    ``recurrence=False`` leaves ``recurrence`` and ``next_due_at`` out of the
    items (the original contract's lists, whose JSON has neither).
    """
    sort = args["sort"]
    dialect = db.session.get_bind().dialect.name
    terms = filter_terms(args, zone, dialect=dialect)
    if after is not None:
        terms.append(cursors.after_term(sort, after))
    statement = rows.page_statement(dialect, sort_text(sort),
                                    tuple(term.key for term in terms),
                                    keyset=after is not None,
                                    build=lambda: [term.build() for term in terms],
                                    recurrence=recurrence)
    params = {"user_id": user_id, "limit": limit + 1 if after is not None else limit,
              "offset": offset}
    for term in terms:
        params.update(term.params)
    connection = db.session.connection()
    result = connection.execute(statement.select, params).all()
    keys = rows.key_count(sort)
    if after is None:
        if result:
            total = result[0][-keys - 1]
        elif offset:
            total = connection.execute(statement.count, params).scalar_one()
        else:
            total = 0
        more = total > offset + len(result)
    else:
        total = None
        more = len(result) > limit
        result = result[:limit]
    next_values = rows.sort_values(result[-1], keys) if more and result else None
    convert = rows.converter(dialect, recurrence)
    return TaskPage([convert(row) for row in result], total, next_values)


def get_task(user_id: int, task_id: int) -> dict:
    """The user's task ``task_id`` as a row dict; 404 when missing or another
    user's (never 403). One Core statement, tags included."""
    dialect = db.session.get_bind().dialect.name
    row = db.session.connection().execute(
        rows.one_statement(dialect), {"user_id": user_id, "task_id": task_id}).first()
    if row is None:
        abort(404, message="Task not found.")
    return rows.converter(dialect)(row)


def check_task_exists(user_id: int, task_id: int) -> None:
    """404 unless ``task_id`` is one of the user's tasks."""
    if db.session.scalar(sa.select(Task.id).where(Task.user_id == user_id,
                                                  Task.id == task_id)) is None:
        abort(404, message="Task not found.")


def get_task_or_404(user_id: int, task_id: int, *, for_update: bool = False) -> Task:
    """The user's task ``task_id`` as an ORM object, for writes; 404 when missing
    or another user's (never 403).

    ``for_update`` is for a write: it takes the user's row lock first
    (:func:`taskapi.data_version.bump`, the lock order of every write path),
    then the task's (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite write
    requests already hold the database lock), both until the transaction ends,
    so a concurrent writer waits and then sees the new version.
    """
    query = owned_tasks(user_id).where(Task.id == task_id)
    if for_update:
        bump(db.session, [user_id])
        query = query.with_for_update()
    task = db.session.scalars(query).first()
    if task is None:
        abort(404, message="Task not found.")
    return task


COMPLETIONS = TaskCompletion.__table__


def task_completions(user_id: int, task_id: int, *, limit: int, offset: int
                     ) -> tuple[list[dict], int]:
    """A page of the completions of the user's recurring task ``task_id``, newest
    first (``{completed_at, due_at, next_due_at}``, aware UTC), and their total.
    404 when the task is not the user's."""
    check_task_exists(user_id, task_id)
    where = (COMPLETIONS.c.task_id == task_id, COMPLETIONS.c.user_id == user_id)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(COMPLETIONS).where(*where))
    result = db.session.execute(
        sa.select(COMPLETIONS.c.completed_at, COMPLETIONS.c.due_at, COMPLETIONS.c.next_due_at)
        .where(*where).order_by(COMPLETIONS.c.completed_at.desc(), COMPLETIONS.c.id.desc())
        .limit(limit).offset(offset))
    return [dict(row._mapping) for row in result], total


def task_stats(user_id: int, zone: str, now: datetime | None = None,
               list_id: int | None = None) -> dict:
    """Counts over the user's tasks (of list ``list_id`` only, when given), in one
    aggregate query.

    Returns ``{total, completed, open, overdue, due_today, by_priority: {high,
    medium, low, none}, completed_last_7_days: [{date, count}]}``. ``overdue`` is
    open with ``due_at`` before ``now``; ``due_today`` is open with ``due_at``
    on today's date in ``zone``; the 7 day buckets (oldest first, today last)
    count ``completed_at`` by calendar day in ``zone``, and the completions of
    recurring tasks that moved them on (:class:`~taskapi.models.TaskCompletion`;
    the last one, which completes the task for good, is its ``completed_at``). Day boundaries are
    computed in Python as UTC instants, so the SQL is the same on every database.
    """
    now = now or utcnow()
    today = now.astimezone(ZoneInfo(zone)).date()
    days = [today - timedelta(days=n) for n in range(STATS_DAYS - 1, -1, -1)]

    def count(*conditions: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.count(sa.case((sa.and_(*conditions), 1)))

    def within(column: sa.ColumnElement, day: date) -> sa.ColumnElement[bool]:
        start, end = day_range(day, zone)
        return sa.and_(column >= start, column < end)

    is_open = Task.completed.is_(False)
    columns = {
        "total": sa.func.count(),
        "completed": count(Task.completed.is_(True)),
        "overdue": count(is_open, Task.due_at < now),
        "due_today": count(is_open, within(Task.due_at, today)),
        **{f"priority_{name}": count(Task.priority == name) for name in PRIORITIES},
        "priority_none": count(Task.priority.is_(None)),
        **{
            f"day_{n}": count(Task.completed.is_(True), within(Task.completed_at, day))
            for n, day in enumerate(days)
        },
    }
    query = (sa.select(*(column.label(name) for name, column in columns.items()))
             .where(Task.user_id == user_id))
    if list_id is not None:
        query = query.where(Task.list_id == list_id)
    row = db.session.execute(query).one()._mapping
    advances = (sa.select(*(count(within(COMPLETIONS.c.completed_at, day)).label(f"day_{n}")
                            for n, day in enumerate(days)))
                .where(COMPLETIONS.c.user_id == user_id,
                       COMPLETIONS.c.completed_at >= day_range(days[0], zone)[0],
                       COMPLETIONS.c.next_due_at.isnot(None)))
    if list_id is not None:
        advances = advances.where(COMPLETIONS.c.task_id.in_(
            sa.select(Task.id).where(Task.user_id == user_id, Task.list_id == list_id)))
    advanced = db.session.execute(advances).one()._mapping
    return {
        "total": row["total"],
        "completed": row["completed"],
        "open": row["total"] - row["completed"],
        "overdue": row["overdue"],
        "due_today": row["due_today"],
        "by_priority": {
            name: row[f"priority_{name}"] for name in (*reversed(PRIORITIES), "none")
        },
        "completed_last_7_days": [
            {"date": day, "count": row[f"day_{n}"] + advanced[f"day_{n}"]}
            for n, day in enumerate(days)
        ],
    }
