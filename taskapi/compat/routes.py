"""Routes of the Phase II contract, delegating to the v1 auth and tasks code.

What differs from v1, as the original backend did it: bodies are lenient
(:mod:`taskapi.compat.schemas`), error bodies carry ``detail``
(:func:`taskapi.errors.error_response`), lists are in creation order.
"""

from __future__ import annotations

import functools

from flask import current_app, redirect, request, url_for
from flask.views import MethodView
from flask_jwt_extended import current_user, jwt_required
from flask_smorest import abort

from taskapi import __version__
from taskapi.auth import tokens
from taskapi.auth.routes import authenticate, end_session, refresh_session, register_user
from taskapi.compat.schemas import (
    CompatAuthSchema,
    CompatCompleteSchema,
    CompatListArgsSchema,
    CompatLoginSchema,
    CompatLogoutSchema,
    CompatRefreshSchema,
    CompatRegisterSchema,
    CompatTaskSchema,
    CompatTaskUpdateSchema,
    HealthSchema,
    MessageSchema,
)
from taskapi.extensions import db
from taskapi.ratelimits import login_limits, register_limits
from taskapi.smorest import Blueprint, bearer_auth, created_links
from taskapi.tasks import queries
from taskapi.tasks.listing import LIST_ETAG_HEADER, list_page
from taskapi.tasks.page_cache import cached_list
from taskapi.tasks.service import complete_task, create_task, delete_task, update_task

TAG = "Phase II contract"
blp = Blueprint(
    "compat", __name__,
    description="Service routes of the original backend: /, /health, /docs.",
)
auth_doc = bearer_auth(blp)

USER_ID = "<int(min=1, max=2147483647):user_id>"
TASK_ID = "<int(min=1, max=2147483647):task_id>"
#: Without `page`/`page_size` the list holds every task up to COMPAT_LIST_CAP.
MAX_LIST = 1000

UPDATE_SCHEMA = CompatTaskUpdateSchema(partial=True)
LIST_ARGS = CompatListArgsSchema()


def path_user_required(view):
    """403 unless the path ``user_id`` is the token's user (runs after the token check)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if kwargs.get("user_id") != current_user.id:
            abort(403, message="You can only access your own tasks.")
        return view(*args, **kwargs)

    return wrapper


def auth_payload(user, issued: dict) -> dict:
    return {"user": user, "token": issued["access_token"],
            "refresh_token": issued["refresh_token"]}


@blp.route("/")
class Root(MethodView):
    @blp.doc(operationId="getServiceInfo", security=[])
    @blp.response(200, MessageSchema)
    def get(self):
        """Service name and version

        As the original backend answered at its root: `{"message": ...}`.
        """
        return {"message": f"taskapi {__version__}"}


@blp.route("/health")
class Health(MethodView):
    @blp.doc(operationId="getHealth", security=[])
    @blp.response(200, HealthSchema)
    def get(self):
        """Liveness: answers without touching the database

        200 while the process can serve requests; readiness (database
        reachable and migrated) is GET /ready.
        """
        return {"status": "healthy"}


@blp.route("/docs")
class Docs(MethodView):
    @blp.doc(operationId="openDocs", security=[])
    @blp.response(302)
    def get(self):
        """Redirect to the API docs page (/api/docs)

        The original backend's docs address, kept for bookmarks.
        """
        return redirect(url_for("api-docs.openapi_swagger_ui"))


@blp.route("/api/auth/register", tags=[TAG])
class Register(MethodView):
    decorators = [register_limits]

    @blp.doc(operationId="compatRegister", security=[])
    @blp.arguments(CompatRegisterSchema)
    @blp.response(201, CompatAuthSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data):
        """Create an account and log in

        Same rules as POST /api/v1/auth/register; answers the new user with a
        token pair, as the original backend did.
        """
        user = register_user(data)
        issued = tokens.issue_tokens(user)
        db.session.commit()
        return auth_payload(user, issued)


@blp.route("/api/auth/login", tags=[TAG])
class Login(MethodView):
    decorators = [login_limits]

    @blp.doc(operationId="compatLogIn", security=[])
    @blp.arguments(CompatLoginSchema)
    @blp.response(200, CompatAuthSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    def post(self, data):
        """Log in with email and password

        Answers the user with a token pair; 401 for a wrong email or password
        (the same message for both).
        """
        user = authenticate(data["email"], data["password"])
        issued = tokens.issue_tokens(user)
        db.session.commit()
        return auth_payload(user, issued)


@blp.route("/api/auth/refresh", tags=[TAG])
class Refresh(MethodView):
    decorators = [jwt_required(refresh=True, locations=["headers", "json"])]

    @blp.doc(operationId="compatRefresh")
    @blp.arguments(CompatRefreshSchema, required=False)
    @blp.response(200, CompatAuthSchema)
    @auth_doc
    def post(self, _data):
        """Exchange a refresh token (body or bearer header) for a new pair

        The refresh token is spent (rotation). Presented again within
        `JWT_REFRESH_REUSE_WINDOW` seconds (default 30: parallel calls of one
        page that all met an expired access token), it gets another new pair
        of the same session; later, it counts as reuse and the whole session
        is revoked.
        """
        user = tokens.current_account()  # before the commit: no second transaction
        return auth_payload(user, refresh_session())


@blp.route("/api/auth/logout", tags=[TAG])
class Logout(MethodView):
    decorators = [jwt_required()]

    @blp.doc(operationId="compatLogOut")
    @blp.arguments(CompatLogoutSchema, required=False)
    @blp.response(200, MessageSchema)
    @auth_doc
    def post(self, data):
        """Log out: the session ends

        The access token and every token of its session (the refresh token
        issued with it, those refreshed from it) are revoked, with or without
        a body; a `refresh_token` in the body ends that token's session too.
        """
        end_session(data.get("refresh_token"))
        return {"message": "Successfully logged out"}


@blp.route(f"/api/{USER_ID}/tasks", tags=[TAG])
class Tasks(MethodView):
    decorators = [path_user_required, jwt_required()]

    @cached_list
    @blp.doc(operationId="compatListTasks")
    @blp.arguments(LIST_ARGS, location="query")
    @blp.response(200, CompatTaskSchema(many=True), headers={"ETag": LIST_ETAG_HEADER})
    @blp.alt_response(304, response="NOT_MODIFIED", headers={"ETag": LIST_ETAG_HEADER})
    @blp.paginate(page_size=MAX_LIST, max_page_size=MAX_LIST)
    @blp.alt_response(403, response="FORBIDDEN")
    @auth_doc
    def get(self, args, user_id, pagination_parameters):
        """List the user's tasks, in creation order

        Oldest first (`id` ascending), as the original backend listed them;
        `sort` picks another order. Without `page_size` every task is
        returned, up to `COMPAT_LIST_CAP` (default 1000); `X-Pagination`
        tells whether the cap cut the list.
        """
        if "page_size" not in request.args:
            pagination_parameters.page_size = current_app.config["COMPAT_LIST_CAP"]
        return list_page(current_user, args, pagination_parameters, recurrence=False)

    @blp.doc(operationId="compatCreateTask", responses=created_links(
        ("compatGetTask", "compatUpdateTask", "compatDeleteTask", "compatCompleteTask"),
        user_id="$response.body#/user_id", task_id="$response.body#/id"))
    @blp.arguments(CompatTaskSchema)
    @blp.response(201, CompatTaskSchema)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(409, response="CONFLICT")
    @auth_doc
    def post(self, data, user_id):
        """Create a task

        `due_date` (or `dueDate`) takes a date (`YYYY-MM-DD`) or an ISO 8601
        datetime. As in the original backend, fields the contract does not
        know, and read-only ones (`id`, `user_id`, `created_at`...), are
        ignored; wrong types and bad values are a 422. 403 when `user_id` is
        not the token's user; 409 when the account holds `MAX_TASKS_PER_USER`
        tasks already (default 100,000).
        """
        return create_task(user_id, data)


@blp.route(f"/api/{USER_ID}/tasks/{TASK_ID}", tags=[TAG])
class TaskById(MethodView):
    decorators = [path_user_required, jwt_required()]

    @blp.doc(operationId="compatGetTask")
    @blp.response(200, CompatTaskSchema)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def get(self, user_id, task_id):
        """Get a task

        404 when the task does not exist or is not this user's.
        """
        return queries.get_task(user_id, task_id)

    @blp.doc(operationId="compatUpdateTask")
    @blp.arguments(UPDATE_SCHEMA)
    @blp.response(200, CompatTaskSchema)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def put(self, data, user_id, task_id):
        """Update a task (every field optional)

        In this contract PUT changes only the fields sent; unknown and
        read-only fields are ignored, `dueDate` is an alias of `due_date`
        (which wins when both are sent). Completing a recurring task moves
        it to its next occurrence; clearing its due date ends the recurrence.
        """
        if "due_at" in data and data["due_at"] is None:
            # This contract cannot show recurrence: clearing the due date ends it
            # (v1 asks for recurrence: null with it).
            data = {**data, "recurrence": None}
        return update_task(queries.get_task_or_404(user_id, task_id, for_update=True), data)

    @blp.doc(operationId="compatDeleteTask")
    @blp.response(204)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def delete(self, user_id, task_id):
        """Delete a task

        204 with no body; 404 when the task does not exist or is not this
        user's.
        """
        delete_task(queries.get_task_or_404(user_id, task_id, for_update=True))


@blp.route(f"/api/{USER_ID}/tasks/{TASK_ID}/complete", tags=[TAG])
class TaskComplete(MethodView):
    decorators = [path_user_required, jwt_required()]

    @blp.doc(operationId="compatCompleteTask")
    @blp.arguments(CompatCompleteSchema, required=False)
    @blp.response(200, CompatTaskSchema)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def patch(self, data, user_id, task_id):
        """Set `completed`, or toggle it when the body is empty

        Answers the task as it is after the change.
        """
        task = queries.get_task_or_404(user_id, task_id, for_update=True)
        return complete_task(task, data.get("completed"))
