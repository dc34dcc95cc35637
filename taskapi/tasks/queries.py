"""Task queries, always scoped to one user: nobody reaches another's tasks."""

from __future__ import annotations

import sqlalchemy as sa
from flask_smorest import abort

from taskapi.extensions import db
from taskapi.models import Task


def owned_tasks(user_id: int) -> sa.Select:
    """``SELECT`` of the user's tasks, no order."""
    return sa.select(Task).where(Task.user_id == user_id)


def list_tasks(
    user_id: int, *, completed: bool | None, offset: int, limit: int
) -> tuple[list[Task], int]:
    """One page of the user's tasks, newest first, and the total matching count.

    ``completed`` None means both states. Order: ``created_at`` descending,
    then ``id`` descending, so equal timestamps still page stably.
    """
    query = owned_tasks(user_id)
    if completed is not None:
        query = query.where(Task.completed == completed)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    items = db.session.scalars(
        query.order_by(Task.created_at.desc(), Task.id.desc()).offset(offset).limit(limit)
    ).all()
    return list(items), total


def get_task_or_404(user_id: int, task_id: int) -> Task:
    """The user's task ``task_id``; 404 when missing or another user's (never 403)."""
    task = db.session.scalars(owned_tasks(user_id).where(Task.id == task_id)).first()
    if task is None:
        abort(404, message="Task not found.")
    return task
