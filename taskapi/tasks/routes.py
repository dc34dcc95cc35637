"""Task routes under /api/v1/tasks; every route needs an access token."""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_jwt_extended import current_user, jwt_required

from taskapi.models import Task
from taskapi.smorest import Blueprint, bearer_auth, created_links
from taskapi.tasks import queries
from taskapi.tasks.listing import LIST_ARGS, LIST_ETAG_HEADER, LIST_HEADERS, list_page
from taskapi.tasks.page_cache import cached_list
from taskapi.tasks.schemas import (
    TaskCompleteSchema,
    TaskPatchSchema,
    TaskSchema,
    TaskStatsSchema,
)
from taskapi.tasks.service import complete_task, create_task, delete_task, etag_data, update_task

blp = Blueprint(
    "tasks", __name__, url_prefix="/api/v1/tasks",
    description="The current user's tasks. Other users' tasks are never visible (404).",
)
auth_doc = bearer_auth(blp)

#: Task ids are 32-bit on every database; larger path values are a plain 404.
TASK_ID = "<int(min=1, max=2147483647):task_id>"

PAGE_SIZE, MAX_PAGE_SIZE = 20, 100

PATCH_SCHEMA = TaskPatchSchema(partial=True)


@blp.route("")
class Tasks(MethodView):
    decorators = [jwt_required()]

    @cached_list
    @blp.doc(operationId="listTasks")
    @blp.arguments(LIST_ARGS, location="query")
    @blp.response(200, TaskSchema(many=True), headers=LIST_HEADERS)
    @blp.alt_response(304, response="NOT_MODIFIED", headers={"ETag": LIST_ETAG_HEADER})
    @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
    @auth_doc
    def get(self, args, pagination_parameters):
        """List tasks, newest first

        Two ways to page. Offset pages: `page` and `page_size`; the
        `X-Pagination` header carries the total and page numbers. Cursor pages,
        for walking long lists: pass the `X-Next-Cursor` of the previous
        response as `cursor` (with the same `sort`; filters may stay), or follow
        the `Link: rel="next"` URL. A cursor page costs the same however deep it
        is, has no total, and never repeats or skips a task that was already in
        the list, even while tasks are added or deleted.
        """
        return list_page(current_user, args, pagination_parameters)

    @blp.etag
    @blp.arguments(TaskSchema)
    @blp.response(201, TaskSchema, headers={"Location": {
        "description": "URL of the new task", "schema": {"type": "string"}}})
    @blp.doc(operationId="createTask", responses=created_links(
        ("getTask", "replaceTask", "updateTask", "deleteTask", "completeTask"),
        task_id="$response.body#/id"))
    @blp.alt_response(409, response="CONFLICT")
    @auth_doc
    def post(self, data):
        """Create a task

        The response carries the new task's `ETag`. 409 when the account holds
        `MAX_TASKS_PER_USER` tasks already (default 100,000); 422 naming `tags`
        when new tags would take it past `MAX_TAGS_PER_USER` (default 1,000).
        """
        task = create_task(current_user.id, data)
        blp.set_etag(etag_data(task))
        return task, 201, {"Location": url_for("tasks.TaskById", task_id=task.id)}


@blp.route("/stats")
class TaskStats(MethodView):
    decorators = [jwt_required()]

    @blp.doc(operationId="getTaskStats")
    @blp.response(200, TaskStatsSchema)
    @auth_doc
    def get(self):
        """Count tasks

        Totals, overdue and due today (open tasks only), counts by priority,
        and tasks completed on each of the last 7 days. Days are calendar days
        in the user's time zone (`timezone` of GET /api/v1/auth/me).
        """
        return queries.task_stats(current_user.id, current_user.timezone)


def _write_target(task_id: int) -> Task:
    """The current user's task for a write: locked, and checked against If-Match."""
    task = queries.get_task_or_404(current_user.id, task_id, for_update=True)
    blp.check_etag(etag_data(task))
    return task


def _written(task: Task) -> Task:
    blp.set_etag(etag_data(task))
    return task


@blp.route(f"/{TASK_ID}")
@blp.etag
class TaskById(MethodView):
    """Conditional requests (RFC 9110 section 13): every response with a task
    carries its ``ETag``; GET honours ``If-None-Match`` (304), writes honour
    ``If-Match`` (412 when stale, with the current ``ETag``)."""

    decorators = [jwt_required()]

    @blp.doc(operationId="getTask")
    @blp.response(200, TaskSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def get(self, task_id):
        """Get a task

        `If-None-Match` with the current `ETag` gives 304 and no body.
        """
        return _written(queries.get_task(current_user.id, task_id))

    @blp.doc(operationId="replaceTask")
    @blp.arguments(TaskSchema)
    @blp.response(200, TaskSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def put(self, data, task_id):
        """Replace a task

        Every writable field is replaced: omitted optional fields are reset
        (`description`, `priority`, `due_at` to null, `completed` to false,
        `tags` to none). With `If-Match`, a stale ETag gives 412 and nothing changes.
        """
        return _written(update_task(_write_target(task_id), data))

    @blp.doc(operationId="updateTask")
    @blp.arguments(PATCH_SCHEMA)
    @blp.response(200, TaskSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def patch(self, data, task_id):
        """Update some fields of a task

        With `If-Match`, a stale ETag gives 412 and nothing changes.
        """
        return _written(update_task(_write_target(task_id), data))

    @blp.doc(operationId="deleteTask")
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def delete(self, task_id):
        """Delete a task

        With `If-Match`, a stale ETag gives 412 and the task stays.
        """
        delete_task(_write_target(task_id))


@blp.route(f"/{TASK_ID}/complete")
@blp.etag
class TaskComplete(MethodView):
    decorators = [jwt_required()]

    @blp.doc(operationId="completeTask")
    @blp.arguments(TaskCompleteSchema, required=False)
    @blp.response(200, TaskSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def patch(self, data, task_id):
        """Mark a task completed or not

        `{"completed": true|false}` sets the state; an empty body toggles it.
        With `If-Match`, a stale ETag gives 412 and nothing changes.
        """
        return _written(complete_task(_write_target(task_id), data.get("completed")))
