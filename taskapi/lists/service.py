"""List writes: create, update, move, delete (with its tasks deleted or moved).

Every write takes the user's row lock first (:func:`taskapi.data_version.bump`;
on SQLite the database lock), so the quota, the name check and the neighbours
of a move are read by one writer at a time. A list's tasks are handled in
batches of :data:`BATCH_SIZE` top-level tasks (with their subtasks), each
committed on its own, as tag deletion does: other writers, on SQLite every
other writer, wait for one batch at most.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_smorest import abort
from fractional_indexing import generate_key_between, generate_n_keys_between

from taskapi.data_version import bump
from taskapi.database import end_batch
from taskapi.extensions import db
from taskapi.models import Task, TaskList, task_tags, utcnow
from taskapi.quotas import count_up_to
from taskapi.tags.service import remove_unused_tags
from taskapi.tasks.placement import MAX_KEY_LENGTH, field_error, owned_list, recount, subtree

log = logging.getLogger("taskapi.lists")

LISTS, TASKS = TaskList.__table__, Task.__table__
#: Top-level tasks handled per transaction by a list deletion.
BATCH_SIZE = 1000
INBOX_RULE = "The Inbox cannot be renamed, archived or deleted."


def _check_name(user_id: int, name: str, own_id: int | None = None) -> str:
    key = name.lower()
    query = sa.select(LISTS.c.id).where(LISTS.c.user_id == user_id, LISTS.c.name_key == key)
    if own_id is not None:
        query = query.where(LISTS.c.id != own_id)
    if db.session.scalar(query) is not None:
        field_error("name", "You have a list with this name already (names are "
                    "case-insensitive).")
    return key


def check_list_quota(user_id: int) -> None:
    """409 when the user has ``MAX_LISTS_PER_USER`` lists already (archived ones
    included)."""
    quota = current_app.config["MAX_LISTS_PER_USER"]
    if count_up_to(LISTS, user_id, quota) >= quota:
        abort(409, message=f"You have reached the limit of {quota:,} lists per account; "
              "delete some to create more.")


def create_list(user_id: int, data: dict) -> TaskList:
    """A new list from validated ``ListSchema`` data, last among the user's lists.
    409 at ``MAX_LISTS_PER_USER``; 422 naming ``name`` when it is taken."""
    bump(db.session, [user_id])
    check_list_quota(user_id)
    key = _check_name(user_id, data["name"])
    last = db.session.scalar(sa.select(sa.func.max(LISTS.c.position))
                             .where(LISTS.c.user_id == user_id))
    now = utcnow()
    task_list = TaskList(user_id=user_id, name=data["name"], name_key=key,
                         color=data.get("color"), archived=data.get("archived", False),
                         position=generate_key_between(last, None),
                         created_at=now, updated_at=now)
    db.session.add(task_list)
    db.session.commit()
    log.info("list created: list_id=%s user_id=%s", task_list.id, user_id)
    return task_list


def update_list(task_list: TaskList, changes: dict) -> TaskList:
    """Apply validated ``ListPatchSchema`` changes and commit. 422 naming the field:
    a name another list has, or renaming or archiving the Inbox."""
    bump(db.session, [task_list.user_id])
    if "name" in changes and changes["name"] != task_list.name:
        if task_list.is_inbox:
            field_error("name", INBOX_RULE)
        task_list.name_key = _check_name(task_list.user_id, changes["name"], task_list.id)
        task_list.name = changes["name"]
    if "archived" in changes:
        if task_list.is_inbox and changes["archived"]:
            field_error("archived", INBOX_RULE)
        task_list.archived = changes["archived"]
    if "color" in changes:
        task_list.color = changes["color"]
    task_list.updated_at = utcnow()
    db.session.commit()
    log.info("list updated: list_id=%s user_id=%s fields=%s", task_list.id,
             task_list.user_id, ",".join(sorted(changes)) or "-")
    return task_list


def move_list(task_list: TaskList, after_id: int | None) -> TaskList:
    """Put the list right after the user's list ``after_id`` (None: first) and
    commit; only its own row changes, unless its neighbours have equal positions
    (written outside taskapi) or the new key would be longer than
    :data:`~taskapi.tasks.placement.MAX_KEY_LENGTH` (hundreds of moves into one
    gap): then the user's lists are renumbered first. 422 naming ``after_id``
    when that is not another of the user's lists."""
    user_id = task_list.user_id
    bump(db.session, [user_id])
    mine = sa.and_(LISTS.c.user_id == user_id, LISTS.c.id != task_list.id)
    if after_id is not None:
        if after_id == task_list.id:
            field_error("after_id", "A list cannot be placed after itself.")
        if db.session.scalar(sa.select(LISTS.c.id).where(mine, LISTS.c.id == after_id)) is None:
            field_error("after_id", "No such list.")
    for _attempt in range(2):
        before, after = _neighbours(mine, after_id)
        key = (None if before is not None and after is not None and before >= after
               else generate_key_between(before, after))
        if key is not None and len(key) <= MAX_KEY_LENGTH:
            break
        _renumber_lists(user_id)
    else:  # pragma: no cover (renumbered keys are short and distinct)
        raise RuntimeError("no list position after renumbering")
    task_list.position = key
    task_list.updated_at = utcnow()
    db.session.commit()
    return task_list


def _neighbours(mine: sa.ColumnElement[bool], after_id: int | None) -> tuple[str | None,
                                                                            str | None]:
    """The positions a list placed after ``after_id`` (None: first) goes between."""
    if after_id is None:
        return None, db.session.scalar(sa.select(sa.func.min(LISTS.c.position)).where(mine))
    row = db.session.execute(sa.select(LISTS.c.position, LISTS.c.id).where(
        mine, LISTS.c.id == after_id)).one()
    after = db.session.scalar(
        sa.select(LISTS.c.position).where(
            mine, sa.tuple_(LISTS.c.position, LISTS.c.id) > sa.tuple_(
                sa.bindparam("p", row.position, type_=LISTS.c.position.type),
                sa.bindparam("i", row.id)))
        .order_by(LISTS.c.position, LISTS.c.id).limit(1))
    return row.position, after


def _renumber_lists(user_id: int) -> None:
    ids = list(db.session.scalars(sa.select(LISTS.c.id).where(LISTS.c.user_id == user_id)
                                  .order_by(LISTS.c.position, LISTS.c.id)))
    db.session.execute(
        sa.update(LISTS).where(LISTS.c.id == sa.bindparam("list_id"))
        .values(position=sa.bindparam("key"), version=LISTS.c.version + 1),
        [{"list_id": i, "key": k} for i, k in zip(ids, generate_n_keys_between(
            None, None, len(ids)), strict=True)])
    db.session.expire_all()


@dataclass
class DeletedList:
    """What :func:`delete_list` did to the list's tasks: rows deleted or moved
    (subtasks included)."""

    deleted: int = 0
    moved: int = 0


def _in_list(user_id: int, list_id: int) -> sa.ColumnElement[bool]:
    """The tasks of the user's list ``list_id``. ``user_id`` leads the index
    ``(user_id, list_id, position, id)``: without it every query here would read
    the whole table."""
    return sa.and_(TASKS.c.user_id == user_id, TASKS.c.list_id == list_id)


def _holds_tasks(user_id: int, list_id: int) -> bool:
    return db.session.scalar(sa.select(sa.exists().where(_in_list(user_id, list_id)))) or False


def _batch_roots(user_id: int, list_id: int, size: int) -> list[int]:
    """The next ``size`` top-level tasks of the list in their order, locked.

    None left while the list still holds tasks means subtasks whose parent is in
    another list (taskapi never writes those: a subtask shares its parent's
    list); they are detached from their parents and handled as top-level tasks,
    or the deletion would never end."""
    top = list(db.session.scalars(
        sa.select(TASKS.c.id).where(_in_list(user_id, list_id), TASKS.c.parent_id.is_(None))
        .order_by(TASKS.c.position, TASKS.c.id).limit(size).with_for_update()))
    if top or not _holds_tasks(user_id, list_id):
        return top
    parent = TASKS.alias("parent")
    strays = db.session.execute(
        sa.select(TASKS.c.id, TASKS.c.parent_id).where(
            _in_list(user_id, list_id), ~sa.exists().where(
                parent.c.id == TASKS.c.parent_id, parent.c.list_id == list_id))
        .order_by(TASKS.c.position, TASKS.c.id).limit(size).with_for_update()).all()
    if strays:
        ids = [row.id for row in strays]
        log.warning("list %s holds subtasks of tasks in other lists: %s", list_id, ids)
        db.session.execute(sa.update(TASKS).where(TASKS.c.id.in_(ids))
                           .values(parent_id=None, version=TASKS.c.version + 1))
        recount((row.parent_id for row in strays), utcnow())
    return [row.id for row in strays]


def delete_list(task_list: TaskList, tasks: str | None = None, to: int | None = None,
                *, batch_size: int | None = None) -> DeletedList:
    """Delete the list. ``tasks``: None (409 while it holds tasks), ``"delete"``
    (its tasks and their subtasks go too) or ``"move"`` (they go to list ``to``,
    after its own tasks, in their order, subtasks under their parents).

    The tasks go in batches of ``batch_size`` top-level tasks (default
    :data:`BATCH_SIZE`) with their subtasks, one transaction each; the list row
    is deleted in the last one, once no task is left in it. A list of up to one
    batch is therefore one transaction. If the request dies halfway, the
    batches done stay done and the list is still there: deleting it again
    finishes. 409 for the Inbox; 422 naming ``to`` when it is not
    another of the user's lists.
    """
    size, user_id, list_id = batch_size or BATCH_SIZE, task_list.user_id, task_list.id
    if task_list.is_inbox:
        abort(409, message=INBOX_RULE)
    if tasks == "move":
        if to == list_id:
            field_error("to", "Give another list to move the tasks to.")
        owned_list(user_id, to, "to")
    done = DeletedList()
    while True:
        bump(db.session, [user_id])  # each batch: the user row first, then task rows
        top = _batch_roots(user_id, list_id, size)
        if top and tasks is None:
            abort(409, message="The list holds tasks: delete it with ?tasks=delete, or "
                  "?tasks=move&to=<list_id> to keep them.")
        levels = subtree(top)
        if tasks == "move" and top:
            done.moved += _move_batch(user_id, levels, to)
        elif top:
            done.deleted += _delete_batch(user_id, levels)
        if len(top) < size and not _holds_tasks(user_id, list_id):
            db.session.execute(sa.delete(LISTS).where(LISTS.c.id == list_id))
            db.session.commit()
            log.info("list deleted: list_id=%s user_id=%s tasks_deleted=%s tasks_moved=%s",
                     list_id, user_id, done.deleted, done.moved)
            return done
        end_batch()
        task_list = db.session.get(TaskList, list_id)
        if task_list is None:  # deleted meanwhile by another request
            return done


def _move_batch(user_id: int, levels: list[list[int]], to: int) -> int:
    """Move top-level tasks ``levels[0]`` (in order) after the last top-level task
    of list ``to``, their subtasks along (positions unchanged under their parents)."""
    now = utcnow()
    last = db.session.scalar(sa.select(sa.func.max(TASKS.c.position)).where(
        _in_list(user_id, to), TASKS.c.parent_id.is_(None)))
    keys = generate_n_keys_between(last, None, len(levels[0]))
    db.session.execute(
        sa.update(TASKS).where(TASKS.c.id == sa.bindparam("task_id"))
        .values(list_id=to, position=sa.bindparam("key"), updated_at=now,
                version=TASKS.c.version + 1),
        [{"task_id": i, "key": k} for i, k in zip(levels[0], keys, strict=True)])
    below = [i for level in levels[1:] for i in level]
    for start in range(0, len(below), BATCH_SIZE):
        db.session.execute(
            sa.update(TASKS).where(TASKS.c.id.in_(below[start:start + BATCH_SIZE]))
            .values(list_id=to, updated_at=now, version=TASKS.c.version + 1))
    return len(levels[0]) + len(below)


def _delete_batch(user_id: int, levels: list[list[int]]) -> int:
    """Delete the tasks ``levels`` (deepest first) and the tags only they carried."""
    ids = [i for level in levels for i in level]
    tag_ids = set()
    for start in range(0, len(ids), BATCH_SIZE):
        tag_ids.update(db.session.scalars(sa.select(task_tags.c.tag_id).distinct().where(
            task_tags.c.task_id.in_(ids[start:start + BATCH_SIZE]))))
    for level in reversed(levels):
        for start in range(0, len(level), BATCH_SIZE):
            db.session.execute(sa.delete(TASKS).where(
                TASKS.c.id.in_(level[start:start + BATCH_SIZE])))
    remove_unused_tags(user_id, tag_ids)
    return len(ids)
