"""Task queries, always scoped to one user: nobody reaches another's tasks."""

from __future__ import annotations

import sqlalchemy as sa
from flask_smorest import abort

from taskapi.extensions import db
from taskapi.models import Task
from taskapi.tasks.filters import apply_filters, order_by


def owned_tasks(user_id: int) -> sa.Select:
    """``SELECT`` of the user's tasks, no order."""
    return sa.select(Task).where(Task.user_id == user_id)


def list_tasks(
    user_id: int, args: dict, *, zone: str, offset: int, limit: int
) -> tuple[list[Task], int]:
    """One page of the user's tasks matching ``args`` and the total matching count.

    ``args`` is validated ``TaskListArgsSchema`` data (filters and ``sort``);
    ``zone`` is the user's IANA time zone for ``due_on``.
    """
    query = apply_filters(owned_tasks(user_id), user_id, args, zone)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    items = db.session.scalars(
        query.order_by(*order_by(args["sort"])).offset(offset).limit(limit)
    ).all()
    return list(items), total


def get_task_or_404(user_id: int, task_id: int) -> Task:
    """The user's task ``task_id``; 404 when missing or another user's (never 403)."""
    task = db.session.scalars(owned_tasks(user_id).where(Task.id == task_id)).first()
    if task is None:
        abort(404, message="Task not found.")
    return task
