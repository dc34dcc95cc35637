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
from taskapi.tasks.placement import owned_list
from taskapi.tasks.schemas import (
    CompletionSchema,
    TaskCompleteSchema,
    TaskCreateSchema,
    TaskMoveSchema,
    TaskPatchSchema,
    TaskSchema,
    TaskStatsArgsSchema,
    TaskStatsSchema,
)
from taskapi.tasks.service import (
    complete_task,
    create_task,
    delete_task,
    etag_data,
    move_task,
    update_task,
)

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
    @blp.arguments(TaskCreateSchema)
    @blp.response(201, TaskSchema, headers={"Location": {
        "description": "URL of the new task", "schema": {"type": "string"}}})
    @blp.doc(operationId="createTask", responses=created_links(
        ("getTask", "replaceTask", "updateTask", "deleteTask", "completeTask"),
        task_id="$response.body#/id"))
    @blp.alt_response(409, response="CONFLICT")
    @auth_doc
    def post(self, data):
        """Create a task

        It goes into `list_id` (default: the parent's list, else your Inbox),
        under `parent_id` when given (a subtask, at most 3 levels), last among
        its siblings, or first with `"position": "first"`. 422 naming
        `list_id` or `parent_id` when it is not yours, or the parent is in
        another list or too deep.
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
    @blp.arguments(TaskStatsArgsSchema, location="query")
    @blp.response(200, TaskStatsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def get(self, args):
        """Count tasks

        Totals, overdue and due today (open tasks only), counts by priority,
        and tasks completed on each of the last 7 days, over all your tasks
        or those of `list_id` (404 when it is not one of your lists). Days are
        calendar days in the user's time zone (`timezone` of GET /api/v1/auth/me).
        """
        list_id = args.get("list_id")
        if list_id is not None:
            owned_list(current_user.id, list_id, field=None)
        return queries.task_stats(current_user.id, current_user.timezone, list_id=list_id)


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
    @blp.response(204, headers={"X-Subtasks-Deleted": {
        "description": "How many subtasks (all levels) were deleted with the task",
        "schema": {"type": "integer"}}})
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def delete(self, task_id):
        """Delete a task and its subtasks

        The response's `X-Subtasks-Deleted` says how many subtasks went with
        it. With `If-Match`, a stale ETag gives 412 and the task stays.
        """
        subtasks = delete_task(_write_target(task_id))
        return None, 204, {"X-Subtasks-Deleted": str(subtasks)}


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


@blp.route(f"/{TASK_ID}/completions")
class TaskCompletions(MethodView):
    decorators = [jwt_required()]

    @blp.doc(operationId="listTaskCompletions")
    @blp.response(200, CompletionSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
    @auth_doc
    def get(self, task_id, pagination_parameters):
        """List the completions of a recurring task, newest first

        Each time a recurring task is completed, `{completed_at, due_at,
        next_due_at}` is kept: the occurrence completed, when, and the due
        date the task moved to (null when its rule had no more occurrences
        and it stayed completed). Empty for a task that never recurred.
        Offset pages (`page`, `page_size`; the total in `X-Pagination`).
        """
        items, total = queries.task_completions(
            current_user.id, task_id, limit=pagination_parameters.page_size,
            offset=pagination_parameters.first_item)
        pagination_parameters.item_count = total
        return items


@blp.route(f"/{TASK_ID}/move")
@blp.etag
class TaskMove(MethodView):
    decorators = [jwt_required()]

    @blp.doc(operationId="moveTask")
    @blp.arguments(TaskMoveSchema)
    @blp.response(200, TaskSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def post(self, data, task_id):
        """Move a task: list, parent and position in one request

        `{"list_id"?, "parent_id"?, "after_id"?}` (Google Tasks' move, with
        `after_id` as its `previous`). `parent_id`: under that task (null: top
        level), in its list. `list_id` alone: the top level of that list.
        Neither: same list and parent. `after_id`: right after that sibling at
        the destination; absent or null: first. Subtasks come along. Only
        this task's `position` changes, never its siblings'. 422 naming the
        field: another user's list or task, a cycle, more than 3 levels, an
        `after_id` that is not a sibling at the destination. With `If-Match`,
        a stale ETag gives 412 and nothing moves.
        """
        return _written(move_task(_write_target(task_id), data))
