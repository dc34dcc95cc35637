"""Task writes: create, update, complete, move, delete; one transaction each.

Routes of every blueprint (v1 and the original contract) call these; each
commits, logs one line on ``taskapi.tasks``, sends its task events to plugins
after the commit (:mod:`taskapi.plugins.events`), and moves the user's data version
(:mod:`taskapi.data_version`, through the session's flush or explicitly). A tag
that a task drops (by an update replacing ``tags``, or by the task's deletion)
is deleted when no other task carries it (:func:`~taskapi.tags.service.remove_unused_tags`).

Subtasks (:mod:`taskapi.tasks.placement`): completing a task completes its open
subtasks at every level, in the same transaction (reopening reopens nothing);
deleting a task deletes its subtasks; moving it to another list takes them
along. Every write that changes a task's children recounts that parent.

Recurring tasks (:mod:`taskapi.tasks.recurrence`), as Todoist's: completing one
moves its ``due_at`` to the next occurrence in the user's time zone and keeps
it open (its subtasks are reopened), recording a :class:`TaskCompletion`; when
the rule has no more occurrences it is completed like any task (recorded too).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import current_app, g, has_app_context
from flask_smorest import abort

from taskapi.data_version import bump
from taskapi.extensions import db
from taskapi.models import Task, TaskCompletion, User, inbox_id, task_tags, utcnow
from taskapi.plugins import events
from taskapi.quotas import count_up_to
from taskapi.tags.service import remove_unused_tags, resolve_tags
from taskapi.tasks import placement, recurrence

log = logging.getLogger("taskapi.tasks")

TASKS = Task.__table__


def _with_tags(user_id: int, data: dict) -> dict:
    """``data`` with ``tag_names`` (from the schema) resolved to the user's Tag rows."""
    changes = dict(data)
    if "tag_names" in changes:
        changes["tags"] = resolve_tags(user_id, changes.pop("tag_names"))
    return changes


def etag_data(task: Task | dict) -> dict:
    """What a task's ETag is computed from: it changes on every modification
    (``version``) and differs between a deleted task and a new one given the
    same id (``created_at``). ``task`` is an ORM object or a row dict
    (:mod:`taskapi.tasks.rows`, whose datetimes are ISO strings already)."""
    if isinstance(task, dict):
        return {"id": task["id"], "version": task["version"], "created_at": task["created_at"]}
    return {"id": task.id, "version": task.version, "created_at": task.created_at.isoformat()}


def user_zone(user_id: int) -> str:
    """The IANA time zone of ``user_id``: the request's token user's (read with the
    token, no query), else the account's row (``flask shell``, batch contexts)."""
    token_user = g.get("current_token_user") if has_app_context() else None
    if token_user is not None and token_user.id == user_id:
        return token_user.timezone
    return db.session.scalar(sa.select(User.timezone).where(User.id == user_id)) or "UTC"


def _apply_recurrence(task: Task, changes: dict, zone: str) -> None:
    """Set, change or remove the task's recurrence from ``changes["recurrence"]``
    (``{rule, from_}`` or None) and recompute ``next_due_at``. A new or changed
    rule starts at occurrence 1 (``due_at``). 422 naming ``recurrence`` when the
    task would recur without a ``due_at``, or a new rule has no occurrence after
    ``due_at``."""
    new_rule = False
    if "recurrence" in changes:
        value = changes["recurrence"]
        if value is None:
            task.recurrence_rule = task.recurrence_from = None
            task.recurrence_occurrence = task.next_due_at = None
            return
        new_rule = value["rule"] != task.recurrence_rule
        if new_rule:
            task.recurrence_rule, task.recurrence_occurrence = value["rule"], 1
        task.recurrence_from = value.get("from_", recurrence.FROM_DUE)
    if task.recurrence_rule is None:
        return
    if task.due_at is None:
        placement.field_error("recurrence", "A recurring task needs a due_at; set one, or "
                              "send recurrence: null to stop it recurring.")
    task.next_due_at = recurrence.next_due(task.recurrence_rule, task.due_at, zone,
                                           occurrence=task.recurrence_occurrence or 1)
    if new_rule and task.next_due_at is None:
        placement.field_error("recurrence", "The rule has no occurrence after due_at "
                              "(COUNT, UNTIL or its BY parts end it there).")


def _advance(task: Task, now, zone: str) -> bool:
    """Complete the current occurrence of recurring ``task``: record it, then move
    ``due_at`` to the next occurrence (from the due date or from ``now``, the
    completion time). False when the rule has no more: the caller completes
    the task for good."""
    due_at = task.due_at
    following = recurrence.next_due(task.recurrence_rule, due_at, zone,
                                    occurrence=task.recurrence_occurrence or 1,
                                    anchor=task.recurrence_from or recurrence.FROM_DUE,
                                    completed_at=now)
    db.session.add(TaskCompletion(task_id=task.id, user_id=task.user_id, completed_at=now,
                                  due_at=due_at, next_due_at=following))
    if following is None:
        return False
    task.due_at = following
    task.recurrence_occurrence = (task.recurrence_occurrence or 1) + 1
    task.next_due_at = recurrence.next_due(task.recurrence_rule, following, zone,
                                           occurrence=task.recurrence_occurrence)
    return True


def refresh_next_due(user_id: int, zone: str) -> int:
    """Recompute ``next_due_at`` of the user's recurring tasks for IANA ``zone``
    (after a time zone change: occurrences are wall times in it), in the caller's
    transaction; tasks whose value changes get a new ``version``. The number of
    tasks changed."""
    rows = db.session.execute(
        sa.select(TASKS.c.id, TASKS.c.recurrence_rule, TASKS.c.due_at,
                  TASKS.c.recurrence_occurrence, TASKS.c.next_due_at)
        .where(TASKS.c.user_id == user_id, TASKS.c.recurrence_rule.isnot(None),
               TASKS.c.due_at.isnot(None))).all()
    changed = []
    for task_id, rule, due_at, occurrence, current in rows:
        following = recurrence.next_due(rule, due_at, zone, occurrence=occurrence or 1)
        if following != current:
            changed.append({"task_id": task_id, "next_due": following})
    if changed:
        bump(db.session, [user_id])
        db.session.execute(
            sa.update(TASKS).where(TASKS.c.id == sa.bindparam("task_id"))
            .values(next_due_at=sa.bindparam("next_due"), updated_at=utcnow(),
                    version=TASKS.c.version + 1)
            .execution_options(synchronize_session=False), changed)
    return len(changed)


def check_task_quota(user_id: int) -> None:
    """409 when the user already has ``MAX_TASKS_PER_USER`` tasks (counted up to
    the quota: :mod:`taskapi.quotas`). Exact under concurrency when the caller
    holds the user's row lock first, as :func:`create_task` does: on PostgreSQL
    concurrent creates of one user then wait for each other at that lock (each
    for the previous one's commit) and the last ones over the quota get the 409,
    so the quota is never exceeded; on SQLite writes are serialised by the
    database lock.
    """
    quota = current_app.config["MAX_TASKS_PER_USER"]
    if count_up_to(TASKS, user_id, quota) >= quota:
        abort(409, message=f"You have reached the limit of {quota:,} tasks per account; "
              "delete some to create more.")


def create_task(user_id: int, data: dict) -> Task:
    """Store a new task for ``user_id`` from validated ``TaskSchema`` data.

    Placement: ``list_id`` (default: the parent's list, else the Inbox),
    ``parent_id`` (default: none) and ``position`` (``"last"``, the default, or
    ``"first"`` among its siblings). 409 when the user is at
    ``MAX_TASKS_PER_USER`` (:func:`check_task_quota`); 422 naming ``tags`` when
    its new tags would exceed ``MAX_TAGS_PER_USER``, naming ``list_id`` or
    ``parent_id`` when they are not the user's, or the parent is in another
    list or too deep (:func:`~taskapi.tasks.placement.check_parent`).
    """
    list_id, parent_id = data.get("list_id"), data.get("parent_id")
    bump(db.session, [user_id])  # the user's row lock first: the quotas count exactly
    placement.lock_tasks(user_id, [parent_id])  # then the parent, whose counts change
    check_task_quota(user_id)
    now = utcnow()
    first, position = data.get("position") == "first", None
    if parent_id is not None:
        list_id = placement.check_parent(user_id, parent_id, list_id).list_id
    elif list_id is not None:
        placement.owned_list(user_id, list_id)
    elif first:
        list_id = inbox_id(db.session.connection(), user_id)
    else:  # the common case, last in the Inbox: one statement finds both
        list_id, last = placement.inbox_and_last_position(user_id)
        position = placement.key_after(last)
    if position is None:
        position = placement.position_for(user_id, list_id, parent_id, first=first)
    task = Task(user_id=user_id, title=data["title"], created_at=now, list_id=list_id,
                parent_id=parent_id, position=position)
    task.apply(_with_tags(user_id, data), now)
    if data.get("recurrence") is not None:
        _apply_recurrence(task, data, user_zone(user_id))
    db.session.add(task)
    placement.recount([parent_id], now)
    db.session.commit()
    log.info("task created: task_id=%s user_id=%s", task.id, user_id)
    events.send(events.task_created, task, user_id)
    return task


def update_task(task: Task, changes: dict) -> Task:
    """Apply validated changes to ``task`` and commit; tags it drops that no other
    task carries are deleted. 422 naming ``tags`` when its new tags would exceed
    ``MAX_TAGS_PER_USER``; naming ``recurrence`` when the task would recur without
    a ``due_at`` or a new rule has no occurrence after it. Completing the task
    completes its open subtasks (each gets ``completed_at``); its parent's
    counts follow its state. Completing a recurring task advances it instead
    (:func:`_advance`): it stays open at its next occurrence and its subtasks
    are reopened, unless the rule has no more occurrences."""
    was_completed = task.completed
    completing = changes.get("completed") is True and not was_completed
    # The user's row lock (already held when the task came locked from
    # get_task_or_404), then the rows this write changes besides the task: its
    # subtasks when it is completed or advanced, its parent when its state
    # changes (a recurring task's may, when its rule ends).
    bump(db.session, [task.user_id])
    # subtask_count is exact here: every write that adds or moves a child locks
    # its parent first, and this task's row is locked (get_task_or_404).
    levels = placement.descendant_ids(task.id, lock=True) if completing \
        and task.subtask_count else []
    if changes.get("completed", was_completed) != was_completed:
        placement.lock_tasks(task.user_id, [task.parent_id])
    before = {tag.id for tag in task.tags} if "tag_names" in changes else set()
    now = utcnow()
    rest = {key: value for key, value in changes.items() if key != "completed"}
    task.apply(_with_tags(task.user_id, rest), now)
    recurs = "recurrence" in changes or task.recurrence_rule is not None
    zone = user_zone(task.user_id) if recurs else None  # no query in a request
    if "recurrence" in changes or (recurs and "due_at" in changes):
        _apply_recurrence(task, changes, zone)
    advanced = completing and task.recurrence_rule is not None and task.due_at is not None \
        and _advance(task, now, zone)
    if "completed" in changes and not advanced:
        task.set_completed(changes["completed"], now)
    if before:
        db.session.flush()
        remove_unused_tags(task.user_id, before - {tag.id for tag in task.tags})
    if advanced:
        placement.recount(_set_subtasks(task, levels, now, completed=False), now)
    elif task.completed != was_completed:
        parents = [task.parent_id]
        if task.completed:
            parents += _set_subtasks(task, levels, now, completed=True)
        placement.recount(parents, now)
    db.session.commit()
    log.info("task updated: task_id=%s user_id=%s fields=%s%s",
             task.id, task.user_id, ",".join(sorted(changes)) or "-",
             " advanced" if advanced else "")
    events.send(events.task_updated, task, task.user_id)
    if completing:
        events.send(events.task_completed, task, task.user_id)
    return task


def complete_task(task: Task, completed: bool | None) -> Task:
    """Set ``completed`` (toggle when None) and commit."""
    if completed is None:
        completed = not task.completed
    return update_task(task, {"completed": completed})


def _set_subtasks(task: Task, levels: list[list[int]], now, *, completed: bool) -> list[int]:
    """Complete the open subtasks ``levels`` of ``task``, or reopen the completed
    ones (one UPDATE per level, each changed row's ``version`` moves); the ids of
    the tasks whose counts changed."""
    bump(db.session, [task.user_id])  # bulk UPDATEs bypass the flush listener
    for level in levels:
        db.session.execute(
            sa.update(TASKS).where(TASKS.c.id.in_(level), TASKS.c.completed.is_(not completed))
            .values(completed=completed, completed_at=now if completed else None,
                    updated_at=now, version=TASKS.c.version + 1))
    placement.expire(task_id for level in levels for task_id in level)
    # The task itself (when it has subtasks) and its children with children of their own.
    return [*([task.id] if levels else []), *(levels[0] if len(levels) > 1 else [])]


def move_task(task: Task, changes: dict) -> Task:
    """Move ``task`` (locked) to another list, parent or position and commit: the
    body of ``POST /api/v1/tasks/{id}/move``, ``{list_id?, parent_id?, after_id?}``
    (Google Tasks' ``move``, ``after_id`` being its ``previous``).

    ``parent_id`` given: under that task (null: the top level), in its list
    (``list_id`` may repeat it; another is a 422). ``list_id`` alone: the top
    level of that list (a subtask moved to another list leaves its parent).
    Neither: the same list and parent. ``after_id``: right after that sibling
    at the destination; absent or null: first. The subtasks come along (same
    parent, same order, the new list). One row gets a new position; nothing is
    renumbered (:mod:`taskapi.tasks.placement`). 422 naming the field at fault
    (another user's list or task, a cycle, more than 3 levels, an ``after_id``
    that is not a sibling at the destination).
    """
    user_id, now = task.user_id, utcnow()
    # The user's row lock, then the task rows (its subtasks, the old and the
    # new parent, whose counts change).
    bump(db.session, [user_id])
    levels = placement.descendant_ids(task.id, lock=True)
    placement.lock_tasks(user_id, [task.parent_id, changes.get("parent_id")])
    old_parent = task.parent_id
    list_id = changes.get("list_id")
    if "parent_id" in changes and changes["parent_id"] is not None:
        parent = placement.check_parent(user_id, changes["parent_id"], list_id,
                                        moving=task.id, height=1 + len(levels))
        list_id, parent_id = parent.list_id, parent.id
    else:
        if list_id is not None:
            placement.owned_list(user_id, list_id)
        # list_id alone is the top level of that list, the task's own list too.
        parent_id = None if "parent_id" in changes or list_id is not None else task.parent_id
        list_id = list_id if list_id is not None else task.list_id
    after_id = changes.get("after_id")
    if after_id is not None:
        placement.check_after(user_id, after_id, list_id, parent_id, task.id)
    task.position = placement.position_for(user_id, list_id, parent_id, after_id=after_id,
                                           first=after_id is None, moving=task.id)
    if list_id != task.list_id:
        moved = [i for level in levels for i in level]
        if moved:
            db.session.execute(
                sa.update(TASKS).where(TASKS.c.id.in_(moved))
                .values(list_id=list_id, updated_at=now, version=TASKS.c.version + 1))
            placement.expire(moved)
    task.list_id, task.parent_id, task.updated_at = list_id, parent_id, now
    placement.recount([old_parent, parent_id] if old_parent != parent_id else [], now)
    db.session.commit()
    log.info("task moved: task_id=%s user_id=%s list_id=%s parent_id=%s",
             task.id, user_id, list_id, parent_id)
    events.send(events.task_updated, task, user_id)
    return task


def delete_task(task: Task) -> int:
    """Delete ``task`` with its subtasks and commit; the number of subtasks
    deleted. Tags that no other task carries any more go too."""
    task_id, user_id, parent_id = task.id, task.user_id, task.parent_id
    before = events.snapshot(events.task_deleted, task)
    bump(db.session, [user_id])  # the user's row lock, then the task rows
    levels = placement.descendant_ids(task_id, lock=True)
    placement.lock_tasks(user_id, [parent_id])  # recounted
    subtasks = [i for level in levels for i in level]
    tag_ids = {tag.id for tag in task.tags}
    if subtasks:
        tag_ids.update(db.session.scalars(
            sa.select(task_tags.c.tag_id).where(task_tags.c.task_id.in_(subtasks))))
        for level in reversed(levels):  # deepest first: no cascade needed
            db.session.execute(sa.delete(TASKS).where(TASKS.c.id.in_(level)))
        placement.forget(subtasks)
    db.session.delete(task)
    if tag_ids or parent_id is not None:
        db.session.flush()
        remove_unused_tags(user_id, tag_ids)
        placement.recount([parent_id], utcnow())
    db.session.commit()
    log.info("task deleted: task_id=%s user_id=%s subtasks=%s", task_id, user_id,
             len(subtasks))
    if before is not None:
        events.send(events.task_deleted, before, user_id)
    return len(subtasks)
