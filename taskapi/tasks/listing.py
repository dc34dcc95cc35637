"""Task list pages (v1 and the original contract): offset or cursor, and their headers."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from flask import request
from flask_smorest import abort

from taskapi.auth.tokens import TokenUser
from taskapi.tasks import queries
from taskapi.tasks.cursors import CursorError, decode_cursor, encode_cursor
from taskapi.tasks.placement import owned_list
from taskapi.tasks.schemas import TaskListArgsSchema

#: One instance, parsed into on every request (a class would be instantiated each time).
LIST_ARGS = TaskListArgsSchema()

#: Response headers of a list page, for the OpenAPI document.
LIST_HEADERS = {
    "X-Next-Cursor": {
        "description": "Present while more tasks follow: pass it as `cursor` for the "
        "next page", "schema": {"type": "string"},
    },
    "Link": {
        "description": 'RFC 8288 `<url>; rel="next"`: this request with the next cursor, '
        "as a relative reference (path and query, e.g. `</api/v1/tasks?cursor=...>`)",
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
    user: TokenUser, args: dict, pagination_parameters, *, recurrence: bool = True
) -> tuple[list[dict], dict[str, str]]:
    """The page of ``user``'s tasks that ``args`` (filters, sort, cursor) and the
    flask-smorest ``pagination_parameters`` select, and its response headers.

    Without ``cursor`` it is an offset page (``page``, ``page_size``; the total
    goes to ``X-Pagination`` through ``item_count``). With ``cursor`` it is a
    keyset page of ``page_size`` tasks after the cursor's position, without
    ``X-Pagination``; ``page`` is then a 422, as is a cursor that is tampered
    with, issued for another sort or for another user. Either way, while more
    tasks follow, ``X-Next-Cursor`` and ``Link: <...>; rel="next"`` (RFC 8288; a
    path and query, relative to the request's URL) point to the next page.
    A ``list_id`` or ``parent_id`` filter that is not the user's is a 404.
    ``recurrence=False``: items without ``recurrence`` and ``next_due_at``
    (:func:`taskapi.tasks.queries.list_tasks`).
    """
    sort, limit = args["sort"], pagination_parameters.page_size
    token = args.get("cursor")
    if token is not None:
        if "page" in request.args:
            _cursor_error("Send either cursor or page, not both.")
        try:
            owner, values = decode_cursor(token, sort)
        except CursorError as error:
            _cursor_error(str(error))
        if owner != user.id:
            _cursor_error("Invalid cursor.")
    # The request is valid; now whether what it names exists.
    if args.get("list_id") is not None:
        owned_list(user.id, args["list_id"], field=None)
    if args.get("parent_id") is not None:
        queries.check_task_exists(user.id, args["parent_id"])
    if token is None:
        page = queries.list_tasks(user.id, args, zone=user.timezone, limit=limit,
                                  offset=pagination_parameters.first_item,
                                  recurrence=recurrence)
        pagination_parameters.item_count = page.total
    else:
        page = queries.list_tasks(user.id, args, zone=user.timezone, limit=limit,
                                  after=values, recurrence=recurrence)
        pagination_parameters.keyset, pagination_parameters.item_count = True, 0
    headers = {}
    if page.next_values is not None:
        next_cursor = encode_cursor(user.id, sort, page.next_values)
        query = [(name, value) for name, value in request.args.items(multi=True)
                 if name not in ("page", "cursor")]
        query.append(("cursor", next_cursor))
        headers["X-Next-Cursor"] = next_cursor
        # A relative reference (RFC 8288 section 3.2): nothing from the Host header.
        path = quote(request.script_root + request.path)
        headers["Link"] = f'<{path}?{urlencode(query)}>; rel="next"'
    return page.items, headers
