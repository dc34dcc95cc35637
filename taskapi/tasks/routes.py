"""Task routes under /api/v1/tasks; every route needs an access token."""

from __future__ import annotations

import logging

from flask import url_for
from flask.views import MethodView
from flask_jwt_extended import current_user, jwt_required

from taskapi.extensions import db
from taskapi.models import Task, User, utcnow
from taskapi.smorest import Blueprint, bearer_auth
from taskapi.tags.queries import resolve_tags
from taskapi.tasks import queries
from taskapi.tasks.schemas import (
    TaskCompleteSchema,
    TaskListArgsSchema,
    TaskPatchSchema,
    TaskSchema,
)

log = logging.getLogger("taskapi.tasks")

blp = Blueprint(
    "tasks", __name__, url_prefix="/api/v1/tasks",
    description="The current user's tasks. Other users' tasks are never visible (404).",
)
auth_doc = bearer_auth(blp)

#: Task ids are 32-bit on every database; larger path values are a plain 404.
TASK_ID = "<int(min=1, max=2147483647):task_id>"

PAGE_SIZE, MAX_PAGE_SIZE = 20, 100

PATCH_SCHEMA = TaskPatchSchema(partial=True)


def _with_tags(user_id: int, data: dict) -> dict:
    """``data`` with ``tag_names`` (from the schema) resolved to the user's Tag rows."""
    changes = dict(data)
    if "tag_names" in changes:
        changes["tags"] = resolve_tags(user_id, changes.pop("tag_names"))
    return changes


def list_page(user: User, args: dict, pagination_parameters) -> list[Task]:
    """The page of ``user``'s tasks that ``args`` (filters, sort) and the
    flask-smorest ``pagination_parameters`` select; sets their ``item_count``."""
    items, total = queries.list_tasks(
        user.id,
        args,
        zone=user.timezone,
        offset=pagination_parameters.first_item,
        limit=pagination_parameters.page_size,
    )
    pagination_parameters.item_count = total
    return items


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


@blp.route("")
class Tasks(MethodView):
    decorators = [jwt_required()]

    @blp.arguments(TaskListArgsSchema, location="query")
    @blp.response(200, TaskSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
    @auth_doc
    def get(self, args, pagination_parameters):
        """List tasks, newest first

        Paginated by `page` and `page_size`; the `X-Pagination` header carries
        the total and page numbers.
        """
        return list_page(current_user, args, pagination_parameters)

    @blp.arguments(TaskSchema)
    @blp.response(201, TaskSchema, headers={"Location": {
        "description": "URL of the new task", "schema": {"type": "string"}}})
    @auth_doc
    def post(self, data):
        """Create a task"""
        task = create_task(current_user.id, data)
        return task, 201, {"Location": url_for("tasks.TaskById", task_id=task.id)}


@blp.route(f"/{TASK_ID}")
class TaskById(MethodView):
    decorators = [jwt_required()]

    @blp.response(200, TaskSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def get(self, task_id):
        """Get a task"""
        return queries.get_task_or_404(current_user.id, task_id)

    @blp.arguments(TaskSchema)
    @blp.response(200, TaskSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def put(self, data, task_id):
        """Replace a task

        Every writable field is replaced: omitted optional fields are reset
        (`description`, `priority`, `due_at` to null, `completed` to false).
        """
        return update_task(queries.get_task_or_404(current_user.id, task_id), data)

    @blp.arguments(PATCH_SCHEMA)
    @blp.response(200, TaskSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def patch(self, data, task_id):
        """Update some fields of a task"""
        return update_task(queries.get_task_or_404(current_user.id, task_id), data)

    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def delete(self, task_id):
        """Delete a task"""
        delete_task(queries.get_task_or_404(current_user.id, task_id))


@blp.route(f"/{TASK_ID}/complete")
class TaskComplete(MethodView):
    decorators = [jwt_required()]

    @blp.arguments(TaskCompleteSchema, required=False)
    @blp.response(200, TaskSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def patch(self, data, task_id):
        """Mark a task completed or not

        `{"completed": true|false}` sets the state; an empty body toggles it.
        """
        task = queries.get_task_or_404(current_user.id, task_id)
        return complete_task(task, data.get("completed"))
