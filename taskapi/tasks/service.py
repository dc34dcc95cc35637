"""Task writes: create, update, complete, delete; one transaction each.

Routes of every blueprint (v1 and the original contract) call these; each
commits, logs one line on ``taskapi.tasks``, and moves the user's data version
(:mod:`taskapi.data_version`, through the session's flush or explicitly). A tag
that a task drops (by an update replacing ``tags``, or by the task's deletion)
is deleted when no other task carries it (:func:`~taskapi.tags.service.remove_unused_tags`).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import current_app
from flask_smorest import abort

from taskapi.data_version import bump
from taskapi.extensions import db
from taskapi.models import Task, utcnow
from taskapi.tags.service import remove_unused_tags, resolve_tags

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


def check_task_quota(user_id: int) -> None:
    """409 when the user already has ``MAX_TASKS_PER_USER`` tasks.

    The count stops at the quota (``SELECT count(*) FROM (SELECT 1 FROM tasks
    WHERE user_id = ? LIMIT quota)``, on the ``user_id`` index): a few index
    entries for a normal user, at most the quota for one near it. Exact under
    concurrency when the caller holds the user's row lock first, as
    :func:`create_task` does: on PostgreSQL concurrent creates of one user then
    wait for each other at that lock (each for the previous one's commit) and
    the last ones over the quota get the 409, so the quota is never exceeded;
    on SQLite writes are serialised by the database lock.
    """
    quota = current_app.config["MAX_TASKS_PER_USER"]
    bounded = sa.select(sa.literal(1)).where(TASKS.c.user_id == user_id).limit(quota)
    if db.session.scalar(sa.select(sa.func.count()).select_from(bounded.subquery())) >= quota:
        abort(409, message=f"You have reached the limit of {quota:,} tasks per account; "
              "delete some to create more.")


def create_task(user_id: int, data: dict) -> Task:
    """Store a new task for ``user_id`` from validated ``TaskSchema`` data.

    409 when the user is at ``MAX_TASKS_PER_USER`` (:func:`check_task_quota`);
    422 naming ``tags`` when its new tags would exceed ``MAX_TAGS_PER_USER``.
    """
    bump(db.session, [user_id])  # the user's row lock first: the quotas count exactly
    check_task_quota(user_id)
    now = utcnow()
    task = Task(user_id=user_id, title=data["title"], created_at=now)
    task.apply(_with_tags(user_id, data), now)
    db.session.add(task)
    db.session.commit()
    log.info("task created: task_id=%s user_id=%s", task.id, user_id)
    return task


def update_task(task: Task, changes: dict) -> Task:
    """Apply validated changes to ``task`` and commit; tags it drops that no other
    task carries are deleted. 422 naming ``tags`` when its new tags would exceed
    ``MAX_TAGS_PER_USER``."""
    before = {tag.id for tag in task.tags} if "tag_names" in changes else set()
    task.apply(_with_tags(task.user_id, changes))
    if before:
        db.session.flush()
        remove_unused_tags(task.user_id, before - {tag.id for tag in task.tags})
    db.session.commit()
    log.info("task updated: task_id=%s user_id=%s fields=%s",
             task.id, task.user_id, ",".join(sorted(changes)) or "-")
    return task


def complete_task(task: Task, completed: bool | None) -> Task:
    """Set ``completed`` (toggle when None) and commit."""
    if completed is None:
        completed = not task.completed
    return update_task(task, {"completed": completed})


def delete_task(task: Task) -> None:
    """Delete ``task`` and commit; its tags that no other task carries go too."""
    task_id, user_id = task.id, task.user_id
    tag_ids = {tag.id for tag in task.tags}
    db.session.delete(task)
    if tag_ids:
        db.session.flush()
        remove_unused_tags(user_id, tag_ids)
    db.session.commit()
    log.info("task deleted: task_id=%s user_id=%s", task_id, user_id)
