"""Task routes under /api/v1/tasks; every route needs an access token."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from flask import request, url_for
from flask.views import MethodView
from flask_jwt_extended import current_user, jwt_required
from flask_smorest import abort

from taskapi.auth.tokens import TokenUser
from taskapi.extensions import db
from taskapi.models import Task, utcnow
from taskapi.smorest import Blueprint, bearer_auth, created_links
from taskapi.tags.queries import resolve_tags
from taskapi.tasks import queries
from taskapi.tasks.cursors import CursorError, decode_cursor, encode_cursor
from taskapi.tasks.page_cache import cached_list
from taskapi.tasks.schemas import (
    TaskCompleteSchema,
    TaskListArgsSchema,
    TaskPatchSchema,
    TaskSchema,
    TaskStatsSchema,
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
#: One instance, parsed into on every request (a class would be instantiated each time).
LIST_ARGS = TaskListArgsSchema()


def _with_tags(user_id: int, data: dict) -> dict:
    """``data`` with ``tag_names`` (from the schema) resolved to the user's Tag rows."""
    changes = dict(data)
    if "tag_names" in changes:
        changes["tags"] = resolve_tags(user_id, changes.pop("tag_names"))
    return changes


#: Response headers of a list page, for the OpenAPI document.
LIST_HEADERS = {
    "X-Next-Cursor": {
        "description": "Present while more tasks follow: pass it as `cursor` for the "
        "next page", "schema": {"type": "string"},
    },
    "Link": {
        "description": 'RFC 8288 `<url>; rel="next"`: this request with the next cursor',
        "schema": {"type": "string"},
    },
}
LIST_ETAG_HEADER = {
    "description": "Strong ETag of this page: send it as `If-None-Match` to get a 304 "
    "while none of your tasks or tags changed (not with `overdue`, which depends on "
    "the clock)", "schema": {"type": "string"},
}
LIST_HEADERS["ETag"] = LIST_ETAG_HEADER


def _cursor_error(message: str):
    abort(422, message="The cursor is not valid for this request.",
          errors={"query": {"cursor": [message]}})


def list_page(
    user: TokenUser, args: dict, pagination_parameters
) -> tuple[list[dict], dict[str, str]]:
    """The page of ``user``'s tasks that ``args`` (filters, sort, cursor) and the
    flask-smorest ``pagination_parameters`` select, and its response headers.

    Without ``cursor`` it is an offset page (``page``, ``page_size``; the total
    goes to ``X-Pagination`` through ``item_count``). With ``cursor`` it is a
    keyset page of ``page_size`` tasks after the cursor's position, without
    ``X-Pagination``; ``page`` is then a 422, as is a cursor that is tampered
    with, issued for another sort or for another user. Either way, while more
    tasks follow, ``X-Next-Cursor`` and ``Link: <...>; rel="next"`` (RFC 8288)
    point to the next page.
    """
    sort, limit = args["sort"], pagination_parameters.page_size
    token = args.get("cursor")
    if token is None:
        page = queries.list_tasks(user.id, args, zone=user.timezone, limit=limit,
                                  offset=pagination_parameters.first_item)
        pagination_parameters.item_count = page.total
    else:
        if "page" in request.args:
            _cursor_error("Send either cursor or page, not both.")
        try:
            owner, values = decode_cursor(token, sort)
        except CursorError as error:
            _cursor_error(str(error))
        if owner != user.id:
            _cursor_error("Invalid cursor.")
        page = queries.list_tasks(user.id, args, zone=user.timezone, limit=limit,
                                  after=values)
        pagination_parameters.keyset, pagination_parameters.item_count = True, 0
    headers = {}
    if page.next_values is not None:
        next_cursor = encode_cursor(user.id, sort, page.next_values)
        query = [(name, value) for name, value in request.args.items(multi=True)
                 if name not in ("page", "cursor")]
        query.append(("cursor", next_cursor))
        headers["X-Next-Cursor"] = next_cursor
        headers["Link"] = f'<{request.base_url}?{urlencode(query)}>; rel="next"'
    return page.items, headers


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
    @auth_doc
    def post(self, data):
        """Create a task

        The response carries the new task's `ETag`.
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
