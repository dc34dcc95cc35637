"""Task writes: create, update, complete, delete; one transaction each.

Routes of every blueprint (v1 and the original contract) call these; each
commits, logs one line on ``taskapi.tasks``, and moves the user's data version
(:mod:`taskapi.data_version`, through the session's flush).
"""

from __future__ import annotations

import logging

from taskapi.extensions import db
from taskapi.models import Task, utcnow
from taskapi.tags.queries import resolve_tags

log = logging.getLogger("taskapi.tasks")


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


def create_task(user_id: int, data: dict) -> Task:
    """Store a new task for ``user_id`` from validated ``TaskSchema`` data."""
    now = utcnow()
    task = Task(user_id=user_id, title=data["title"], created_at=now)
    task.apply(_with_tags(user_id, data), now)
    db.session.add(task)
    db.session.commit()
    log.info("task created: task_id=%s user_id=%s", task.id, user_id)
    return task


def update_task(task: Task, changes: dict) -> Task:
    """Apply validated changes to ``task`` and commit."""
    task.apply(_with_tags(task.user_id, changes))
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
    """Delete ``task`` and commit."""
    task_id, user_id = task.id, task.user_id
    db.session.delete(task)
    db.session.commit()
    log.info("task deleted: task_id=%s user_id=%s", task_id, user_id)
