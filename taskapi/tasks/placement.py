"""Where a task sits: its list, its parent and its manual position.

Positions are fractional index keys (the ``fractional-indexing`` package, the
scheme of https://observablehq.com/@dgreensp/implementing-fractional-indexing):
strings that sort byte by byte, with a key between any two. Placing a task
writes that task's row only, never its siblings'. Siblings are the tasks of
one list under one parent (``parent_id`` NULL: the top level); a list's order
is ``(position, id)``, so it is total even if two positions were ever equal.

Concurrency: every write here runs after the user's row lock
(:func:`taskapi.data_version.bump`; on SQLite the database lock), so two moves
or creates of one user never read the same neighbours: no two siblings get the
same key. Lock order as everywhere: the user row, then task rows, then the rest.

Subtasks: at most :data:`~taskapi.models.MAX_DEPTH` levels; a subtask has its
parent's user and list. A parent's ``subtask_count`` and ``open_subtask_count``
are recomputed from its children (:func:`recount`) by every write that changes
them, which also moves the parent's ``version`` (its JSON changed, so must its
ETag) and ``updated_at``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from flask_smorest import abort
from fractional_indexing import generate_key_between, generate_n_keys_between

from taskapi.extensions import db
from taskapi.models import (
    MAX_DEPTH,
    POSITION_LENGTH,
    Task,
    TaskList,
    last_sibling_position,
    sibling_filter,
)

TASKS, LISTS = Task.__table__, TaskList.__table__
#: Keys longer than this are not handed out: the sibling group is renumbered
#: first (:func:`renumber`). A key grows by about one character per six moves
#: into the same gap, so this happens after hundreds of such moves, if ever.
MAX_KEY_LENGTH = POSITION_LENGTH - 55
_CHILDREN = TASKS.alias("children")


def field_error(field: str, message: str, status: int = 422):
    """Abort with the one error shape naming a body field."""
    abort(status, message=message, errors={"json": {field: [message]}})


def _next_position(user_id: int, list_id: int, parent_id: int | None, position: str,
                   task_id: int, exclude: int | None) -> str | None:
    """The position of the sibling right after ``(position, task_id)``, or None."""
    query = (sa.select(TASKS.c.position).where(
        sibling_filter(user_id, list_id, parent_id),
        sa.tuple_(TASKS.c.position, TASKS.c.id) > sa.tuple_(
            sa.bindparam("p", position, type_=TASKS.c.position.type),
            sa.bindparam("i", task_id))))
    if exclude is not None:
        query = query.where(TASKS.c.id != exclude)
    return db.session.scalar(query.order_by(TASKS.c.position, TASKS.c.id).limit(1))


def _first_position(user_id: int, list_id: int, parent_id: int | None,
                    exclude: int | None) -> str | None:
    query = sa.select(sa.func.min(TASKS.c.position)).where(
        sibling_filter(user_id, list_id, parent_id))
    if exclude is not None:
        query = query.where(TASKS.c.id != exclude)
    return db.session.scalar(query)


def position_for(user_id: int, list_id: int, parent_id: int | None, *,
                 after_id: int | None = None, first: bool = False,
                 moving: int | None = None) -> str:
    """A new key among the user's siblings of ``(list_id, parent_id)``: right after the
    sibling ``after_id``, first (``first``, or ``after_id`` None with ``first``),
    or last. ``moving`` is the task being placed, left out of its own neighbours.
    ``after_id`` must be a sibling (checked by the caller). Renumbers the group
    when the key would exceed :data:`MAX_KEY_LENGTH`."""
    for _attempt in range(2):
        if after_id is not None:
            before = db.session.scalar(sa.select(TASKS.c.position).where(TASKS.c.id == after_id))
            after = _next_position(user_id, list_id, parent_id, before, after_id, moving)
        elif first:
            before, after = None, _first_position(user_id, list_id, parent_id, moving)
        else:
            before, after = _last_position(user_id, list_id, parent_id, moving), None
        if before is not None and after is not None and before >= after:
            key = None  # equal neighbours (written outside taskapi): renumber
        else:
            key = generate_key_between(before, after)
        if key is not None and len(key) <= MAX_KEY_LENGTH:
            return key
        renumber(user_id, list_id, parent_id)
    raise RuntimeError("no position after renumbering")  # pragma: no cover


#: Built once (SQLAlchemy's compiled cache serves it); bind parameter ``user_id``.
_INBOX_AND_LAST = sa.select(
    LISTS.c.id,
    sa.select(sa.func.max(TASKS.c.position))
    .where(sibling_filter(sa.bindparam("user_id"), LISTS.c.id, None)).scalar_subquery(),
).where(LISTS.c.user_id == sa.bindparam("user_id"), LISTS.c.is_inbox.is_(True))


def inbox_and_last_position(user_id: int) -> tuple[int, str | None]:
    """The id of the user's Inbox and the last position at its top level (None
    when it has no task): a new task's default place, in one statement."""
    row = db.session.execute(_INBOX_AND_LAST, {"user_id": user_id}).one()
    return row[0], row[1]


def key_after(last: str | None) -> str | None:
    """A key after ``last`` (None: the first key), or None when it would exceed
    :data:`MAX_KEY_LENGTH` (the caller then goes through :func:`position_for`,
    which renumbers)."""
    key = generate_key_between(last, None)
    return key if len(key) <= MAX_KEY_LENGTH else None


def _last_position(user_id: int, list_id: int, parent_id: int | None,
                   exclude: int | None) -> str | None:
    if exclude is None:
        return last_sibling_position(db.session.connection(), user_id, list_id, parent_id)
    return db.session.scalar(sa.select(sa.func.max(TASKS.c.position)).where(
        sibling_filter(user_id, list_id, parent_id), TASKS.c.id != exclude))


def renumber(user_id: int, list_id: int, parent_id: int | None) -> None:
    """Give the user's siblings of ``(list_id, parent_id)`` short, evenly spread keys in
    their current order (one UPDATE per task; their ``version`` moves)."""
    ids = list(db.session.scalars(sa.select(TASKS.c.id)
                                  .where(sibling_filter(user_id, list_id, parent_id))
                                  .order_by(TASKS.c.position, TASKS.c.id)))
    if not ids:
        return
    keys = generate_n_keys_between(None, None, len(ids))
    db.session.execute(
        sa.update(TASKS).where(TASKS.c.id == sa.bindparam("task_id"))
        .values(position=sa.bindparam("key"), version=TASKS.c.version + 1),
        [{"task_id": task_id, "key": key} for task_id, key in zip(ids, keys, strict=True)])
    expire(ids)


def depth_of(task_id: int) -> int:
    """1 for a top-level task, 2 for its subtask, 3 below that."""
    depth, current = 1, task_id
    while depth <= MAX_DEPTH:
        current = db.session.scalar(sa.select(TASKS.c.parent_id).where(TASKS.c.id == current))
        if current is None:
            return depth
        depth += 1
    return depth


def descendant_ids(task_id: int, *, lock: bool = False) -> list[list[int]]:
    """The ids of the task's children, then of their children: one list per level.

    ``lock`` takes their row locks (``FOR UPDATE``, in id order): a write that
    changes subtasks calls it after the user's row lock, the lock order of
    every write path (:mod:`taskapi.data_version`)."""
    levels, current = [], [task_id]
    for _level in range(MAX_DEPTH - 1):
        query = sa.select(TASKS.c.id).where(TASKS.c.parent_id.in_(current)).order_by(TASKS.c.id)
        if lock:
            query = query.with_for_update()
        current = list(db.session.scalars(query))
        if not current:
            break
        levels.append(current)
    return levels


def subtree(top: list[int]) -> list[list[int]]:
    """``top`` and the ids of all their subtasks, locked (``FOR UPDATE``, in id
    order), one list per level: ``[top, children, grandchildren, ...]`` (``[]``
    for no ``top``). For writes over many tasks (list and account deletion),
    after the user's row lock."""
    levels, current = [], list(top)
    while current:
        levels.append(current)
        current = list(db.session.scalars(
            sa.select(TASKS.c.id).where(TASKS.c.parent_id.in_(current))
            .order_by(TASKS.c.id).with_for_update()))
    return levels


def lock_tasks(user_id: int, ids: Iterable[int | None]) -> None:
    """Take the row locks (``FOR UPDATE``, in id order) of the user's tasks ``ids``
    (Nones ignored; other users' ids lock nothing): the parents whose counts a
    write will recompute. Called after the user's row lock (the lock order of
    :mod:`taskapi.data_version`)."""
    wanted = sorted({task_id for task_id in ids if task_id is not None})
    if wanted:
        db.session.execute(sa.select(TASKS.c.id).where(
            TASKS.c.user_id == user_id, TASKS.c.id.in_(wanted))
            .order_by(TASKS.c.id).with_for_update()).all()


def owned_list(user_id: int, list_id: int, field: str | None = "list_id") -> TaskList:
    """The user's list ``list_id``; otherwise a 422 naming ``field`` (a body field)
    or, with ``field=None``, a 404 (a path or query value)."""
    found = db.session.scalars(sa.select(TaskList).where(
        TaskList.user_id == user_id, TaskList.id == list_id)).first()
    if found is None:
        if field is None:
            abort(404, message="List not found.")
        field_error(field, "No such list.")
    return found


def parent_row(user_id: int, parent_id: int) -> sa.Row:
    """``(id, list_id, parent_id)`` of the user's task ``parent_id``; 422 naming
    ``parent_id`` when there is none (another user's task included)."""
    row = db.session.execute(
        sa.select(TASKS.c.id, TASKS.c.list_id, TASKS.c.parent_id)
        .where(TASKS.c.user_id == user_id, TASKS.c.id == parent_id)).first()
    if row is None:
        field_error("parent_id", "No such task.")
    return row


def check_parent(user_id: int, parent_id: int, list_id: int | None, *,
                 moving: int | None = None, height: int = 1) -> sa.Row:
    """Validate ``parent_id`` as the parent of a task (``moving``, None for a new
    one) whose subtree is ``height`` levels tall, in list ``list_id`` (None: the
    parent's). 422 naming ``parent_id``: not the user's task, in another list,
    the task itself or one of its descendants (a cycle), or deeper than
    :data:`~taskapi.models.MAX_DEPTH` levels."""
    parent = parent_row(user_id, parent_id)
    if list_id is not None and parent.list_id != list_id:
        field_error("parent_id", "The parent task is in another list; give that list_id "
                    "or none.")
    if moving is not None and (
            parent_id == moving or any(parent_id in level for level in descendant_ids(moving))):
        field_error("parent_id", "A task cannot be placed under itself or its own "
                    "subtasks.")
    if depth_of(parent_id) + height > MAX_DEPTH:
        field_error("parent_id", f"Subtasks nest at most {MAX_DEPTH} levels deep.")
    return parent


def check_after(user_id: int, after_id: int, list_id: int, parent_id: int | None,
                moving: int | None) -> None:
    """422 naming ``after_id`` unless it is one of the user's tasks among the
    siblings the task goes to (and not the task itself)."""
    row = db.session.execute(
        sa.select(TASKS.c.list_id, TASKS.c.parent_id)
        .where(TASKS.c.user_id == user_id, TASKS.c.id == after_id)).first()
    if row is None:
        field_error("after_id", "No such task.")
    if after_id == moving:
        field_error("after_id", "A task cannot be placed after itself.")
    if row.list_id != list_id or row.parent_id != parent_id:
        field_error("after_id", "after_id must be a task with the same list_id and "
                    "parent_id as the destination.")


_RECOUNT = (
    sa.update(TASKS)
    .where(TASKS.c.id.in_(sa.bindparam("ids", expanding=True)))
    .values(
        subtask_count=sa.select(sa.func.count()).select_from(_CHILDREN)
        .where(_CHILDREN.c.parent_id == TASKS.c.id).scalar_subquery(),
        open_subtask_count=sa.select(sa.func.count()).select_from(_CHILDREN)
        .where(_CHILDREN.c.parent_id == TASKS.c.id, _CHILDREN.c.completed.is_(False))
        .scalar_subquery(),
        version=TASKS.c.version + 1,
        updated_at=sa.bindparam("now", type_=TASKS.c.updated_at.type),
    )
)


def recount(parent_ids: Iterable[int | None], now: datetime) -> None:
    """Recompute the subtask counts of ``parent_ids`` (Nones ignored) from their
    children, moving their ``version`` and ``updated_at``; flushes first. ORM
    copies of those tasks are expired, so they reload the new values."""
    ids = sorted({task_id for task_id in parent_ids if task_id is not None})
    if not ids:
        return
    db.session.flush()
    db.session.execute(_RECOUNT, {"ids": ids, "now": now})
    expire(ids)


def expire(ids: Iterable[int]) -> None:
    """Expire the session's ORM copies of tasks ``ids`` (changed by a Core
    statement): they reload on next access instead of holding stale values."""
    wanted = set(ids)
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Task) and obj.id in wanted:
            db.session.expire(obj)


def forget(ids: Iterable[int]) -> None:
    """Drop the session's ORM copies of tasks ``ids`` (deleted by a Core statement)."""
    wanted = set(ids)
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Task) and obj.id in wanted:
            db.session.expunge(obj)
