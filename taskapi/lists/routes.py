"""List routes under /api/v1/lists; every route needs an access token."""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_jwt_extended import current_user, jwt_required

from taskapi.data_version import bump
from taskapi.extensions import db
from taskapi.lists import queries, service
from taskapi.lists.schemas import (
    ListArgsSchema,
    ListDeleteArgsSchema,
    ListMoveSchema,
    ListPatchSchema,
    ListSchema,
)
from taskapi.smorest import Blueprint, bearer_auth, created_links
from taskapi.tasks.page_cache import cached_list
from taskapi.tasks.placement import owned_list

blp = Blueprint(
    "lists", __name__, url_prefix="/api/v1/lists",
    description="The current user's task lists, in their manual order. Every user has "
    "an Inbox, where tasks go unless they name a list. Other users' lists are never "
    "visible (404).",
)
auth_doc = bearer_auth(blp)

LIST_ID = "<int(min=1, max=2147483647):list_id>"
#: A client usually wants every list (a sidebar): one page of the default size
#: holds them all for most users.
PAGE_SIZE, MAX_PAGE_SIZE = 100, 1000
PAGE_ETAG_HEADER = {
    "description": "Strong ETag of this page: send it as `If-None-Match` to get a 304 "
    "while none of your lists, tasks or tags changed", "schema": {"type": "string"},
}
COUNT_HEADER = {"schema": {"type": "integer"}}
PATCH_SCHEMA = ListPatchSchema(partial=True)


def _current(list_id: int) -> dict:
    return queries.get_list(current_user.id, list_id)


def _written(list_id: int) -> dict:
    item = _current(list_id)
    blp.set_etag(queries.etag_data(item))
    return item


def _write_target(list_id: int):
    """The current user's list for a write, checked against If-Match (its ETag
    covers its counts, so they are read too). The user's row lock comes first
    (the lock order of every write path, :mod:`taskapi.data_version`): a
    concurrent writer of the same list waits, then compares If-Match with what
    the first one committed, so the loser gets the 412 (RFC 9110 section
    13.1.1). Checked before the lock, both passed on PostgreSQL and the second
    overwrote the first (a lost update)."""
    bump(db.session, [current_user.id])
    blp.check_etag(queries.etag_data(_current(list_id)))
    return owned_list(current_user.id, list_id, field=None)


@blp.route("")
class Lists(MethodView):
    decorators = [jwt_required()]

    @cached_list
    @blp.doc(operationId="listLists")
    @blp.arguments(ListArgsSchema, location="query")
    @blp.response(200, ListSchema(many=True), headers={"ETag": PAGE_ETAG_HEADER})
    @blp.alt_response(304, response="NOT_MODIFIED", headers={"ETag": PAGE_ETAG_HEADER})
    @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
    @auth_doc
    def get(self, args, pagination_parameters):
        """List your lists

        In their manual order (`position`, see POST /api/v1/lists/{list_id}/move),
        each with `task_count` and `open_count`, in offset pages (`page`,
        `page_size`: default 100, at most 1000; `X-Pagination` carries the
        total). Archived lists only with `archived=true`.
        """
        items, total = queries.list_page(
            current_user.id, archived=args["archived"],
            limit=pagination_parameters.page_size, offset=pagination_parameters.first_item)
        pagination_parameters.item_count = total
        return items

    @blp.etag
    @blp.arguments(ListSchema)
    @blp.response(201, ListSchema, headers={"Location": {
        "description": "URL of the new list", "schema": {"type": "string"}}})
    @blp.doc(operationId="createList", responses=created_links(
        ("getList", "updateList", "deleteList", "moveList"), list_id="$response.body#/id"))
    @blp.alt_response(409, response="CONFLICT")
    @auth_doc
    def post(self, data):
        """Create a list

        It goes last among your lists. 422 naming `name` when you have a list
        of that name (case-insensitive); 409 at `MAX_LISTS_PER_USER` lists
        (default 1,000).
        """
        task_list = service.create_list(current_user.id, data)
        return _written(task_list.id), 201, {
            "Location": url_for("lists.ListById", list_id=task_list.id)}


@blp.route(f"/{LIST_ID}")
@blp.etag
class ListById(MethodView):
    """Conditional requests as for tasks: `If-None-Match` on GET (304), `If-Match`
    on writes (412 when stale). The ETag covers the counts too."""

    decorators = [jwt_required()]

    @blp.doc(operationId="getList")
    @blp.response(200, ListSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def get(self, list_id):
        """Get a list

        With its `task_count` and `open_count`. `If-None-Match` with the
        current `ETag` gives 304 and no body.
        """
        return _written(list_id)

    @blp.doc(operationId="updateList")
    @blp.arguments(PATCH_SCHEMA)
    @blp.response(200, ListSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def patch(self, data, list_id):
        """Rename, recolour, archive or restore a list

        Only the fields sent change. The Inbox cannot be renamed or archived
        (422 naming the field).
        """
        service.update_list(_write_target(list_id), data)
        return _written(list_id)

    @blp.doc(operationId="deleteList")
    @blp.arguments(ListDeleteArgsSchema, location="query")
    @blp.response(204, headers={
        "X-Tasks-Deleted": {**COUNT_HEADER, "description": "Tasks deleted with the list "
                            "(subtasks included)"},
        "X-Tasks-Moved": {**COUNT_HEADER, "description": "Tasks moved to list `to` "
                          "(subtasks included)"}})
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @auth_doc
    def delete(self, args, list_id):
        """Delete a list

        A list that holds tasks is a 409 unless `tasks=delete` (they are
        deleted, subtasks included) or `tasks=move&to=<list_id>` (they go to
        the end of that list, in their order, subtasks under their parents).
        More than 1,000 top-level tasks are handled in batches of 1,000, each
        committed on its own: if the request fails halfway, deleting again
        finishes. The Inbox cannot be deleted (409).
        """
        done = service.delete_list(_write_target(list_id), args.get("tasks"), args.get("to"))
        return None, 204, {"X-Tasks-Deleted": str(done.deleted),
                           "X-Tasks-Moved": str(done.moved)}


@blp.route(f"/{LIST_ID}/move")
@blp.etag
class ListMove(MethodView):
    decorators = [jwt_required()]

    @blp.doc(operationId="moveList")
    @blp.arguments(ListMoveSchema)
    @blp.response(200, ListSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def post(self, data, list_id):
        """Move a list in your manual order

        `{"after_id": <list id>}` puts it right after that list; no `after_id`
        (or null) puts it first. Only this list's `position` changes. With
        `If-Match`, a stale ETag gives 412 and nothing moves.
        """
        service.move_list(_write_target(list_id), data["after_id"])
        return _written(list_id)
