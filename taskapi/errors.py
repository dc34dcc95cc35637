"""The one JSON error shape, and every error handler.

Body of every 4xx and 5xx response (flask-smorest's shape, with ``message``
always present)::

    {"code": 404, "status": "Not Found", "message": "Task not found.",
     "errors": {"json": {"title": ["Missing data for required field."]}}}

``errors`` appears on validation failures only. On the routes of the original
contract (:data:`COMPAT_PATH`) the body also carries ``detail``, the field its
clients show (FastAPI's): the message, or the first field error of a
validation failure (``"password: Length must be between 8 and 128."``).
Headers the exception carries (``Allow`` on 405, ``WWW-Authenticate`` on 401,
``Retry-After``) are kept.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, jsonify, request
from flask_limiter.errors import RateLimitExceeded
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, InternalServerError

from taskapi.database import is_statement_timeout
from taskapi.extensions import db

log = logging.getLogger("taskapi.errors")

DEFAULT_MESSAGES = {
    400: "The request body is not valid JSON or the request is malformed.",
    404: "The requested resource was not found.",
    405: "The method is not allowed for this resource.",
    413: "The request body is larger than the limit.",
    415: "The request body must be JSON.",
    422: "The request data is invalid.",
    503: "The database is unavailable; retry after the time in Retry-After.",
    "timeout": "The request took too long and was stopped (DB_STATEMENT_TIMEOUT_MS); "
               "retry after the time in Retry-After, or ask for less (fewer filters, "
               "a longer search text).",
    500: "Internal server error. The failure was logged; quote the request id.",
}


#: Paths of the original contract (the ``compat`` blueprint), for the requests no
#: route matched (404, 405): ``/``, ``/health``, ``/docs``, ``/api/auth/...``,
#: ``/api/<user_id>/tasks...``.
COMPAT_PATH = re.compile(r"/(?:health|docs)?|/api/(?:auth/.*|(?!v1/)[^/]+/tasks(?:/.*)?)")
#: Request locations webargs names first in ``errors`` (not part of a field's name).
LOCATIONS = frozenset({"json", "query", "querystring", "headers", "path", "view_args",
                       "form", "files", "cookies"})


def is_compat_request() -> bool:
    """Whether the current request is one of the original contract's."""
    if not has_request_context():
        return False
    if request.blueprint is not None:
        return request.blueprint == "compat"
    return COMPAT_PATH.fullmatch(request.path) is not None


def first_error(errors: Any) -> str | None:
    """``"field: message"`` for the first message of a marshmallow/webargs error
    dict (``{"json": {"password": ["..."]}}`` -> ``"password: ..."``; nested fields
    dotted, ``tags.0``; schema-level messages without a name), or None."""
    stack = [((), errors)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            names = [str(part) for part in path if part != "_schema"]
            if names and names[0] in LOCATIONS:
                names = names[1:]
            return f"{'.'.join(names)}: {node}" if names else node
        if isinstance(node, dict):
            stack.extend(reversed([((*path, key), value) for key, value in node.items()]))
        elif isinstance(node, (list, tuple)):
            stack.extend(reversed([(path, value) for value in node]))
    return None


def error_response(
    code: int, message: str | None = None, errors: Any = None, headers: dict | None = None
) -> Response:
    """Build the error response for HTTP status ``code``."""
    body: dict[str, Any] = {
        "code": code,
        "status": HTTPStatus(code).phrase,
        "message": message or DEFAULT_MESSAGES.get(code) or HTTPStatus(code).description,
    }
    if errors:
        body["errors"] = errors
    if is_compat_request():
        body["detail"] = (first_error(errors) if errors else None) or body["message"]
    response = jsonify(body)
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if "Retry-After" in response.headers and code != 429:
        g.retry_after = response.headers["Retry-After"]  # see taskapi.ratelimits
    return response


def register_error_handlers(app: Flask) -> None:
    """Install the handlers; call after ``api.init_app`` so these win."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(RateLimitExceeded, handle_rate_limit)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(StaleDataError, handle_stale_data)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(PoolTimeoutError, handle_database_unavailable)
    app.register_error_handler(DBAPIError, handle_dbapi_error)
    app.register_error_handler(Exception, handle_unexpected_error)


def handle_http_exception(error: HTTPException) -> Response:
    """Abort calls (``flask_smorest.abort``), validation and routing errors."""
    if error.code is None or error.code < 400:
        return error.get_response()
    if isinstance(error, InternalServerError):
        return handle_unexpected_error(getattr(error, "original_exception", None) or error)
    data = getattr(error, "data", None) or {}
    headers = {
        name: value
        for name, value in error.get_headers()
        if name.lower() != "content-type"
    }
    headers.update(data.get("headers") or {})
    if error.code == 401:
        # RFC 9110 section 15.5.2: a 401 carries a challenge.
        headers.setdefault("WWW-Authenticate", 'Bearer realm="taskapi"')
    message = data.get("message")
    errors = data.get("errors") or data.get("messages")
    if error.code == 400:
        errors = None  # webargs' {"json": ["Invalid JSON body."]}: no field to name
    if message is None and errors is None and error.description != type(error).description:
        message = error.description  # set explicitly by whoever raised it
    return error_response(error.code, message, errors, headers)


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # the connection itself may be what failed
        log.exception("rollback failed")


def handle_integrity_error(error: IntegrityError) -> Response:
    """A constraint the route did not check first (e.g. a concurrent duplicate)."""
    _rollback()
    log.warning("integrity error: %s", error.orig.__class__.__name__)
    return error_response(409, "The request conflicts with the current state of the data.")


def handle_rate_limit(error: RateLimitExceeded) -> Response:
    """429; Flask-Limiter adds ``Retry-After`` and ``X-RateLimit-*`` after this."""
    return error_response(
        429, f"Too many requests (limit: {error.limit.limit}); retry after the number "
        "of seconds in Retry-After."
    )


def handle_stale_data(error: StaleDataError) -> Response:
    """An UPDATE or DELETE found the row at another version (a concurrent write)."""
    _rollback()
    log.warning("stale data: %s", error)
    return error_response(409, "The task was changed by another request; read it again "
                          "and retry.")


def handle_database_unavailable(error: Exception) -> Response:
    """The database cannot be reached, or answered too slowly: 503 + Retry-After.

    A statement stopped at its time bound (``DB_STATEMENT_TIMEOUT_MS``; see
    :func:`taskapi.database.is_statement_timeout`) says so in its message and is
    logged as such, with the request id. The failed connection is discarded by
    the pool; with ``pool_pre_ping`` the next request gets a working one as soon
    as the server is back.
    """
    _rollback()
    headers = {"Retry-After": str(current_app.config["DB_RETRY_AFTER"])}
    if is_statement_timeout(error):
        log.error("statement timeout: stopped after %s ms: %s %s",
                  current_app.config["DB_STATEMENT_TIMEOUT_MS"],
                  request.method if has_request_context() else "-",
                  request.path if has_request_context() else "-")
        return error_response(503, DEFAULT_MESSAGES["timeout"], headers=headers)
    log.error("database unavailable: %s", type(getattr(error, "orig", None) or error).__name__)
    return error_response(503, headers=headers)


def handle_dbapi_error(error: DBAPIError) -> Response:
    """A lost connection (``connection_invalidated``) is a 503, anything else a 500."""
    if error.connection_invalidated:
        return handle_database_unavailable(error)
    return handle_unexpected_error(error)


def handle_unexpected_error(error: BaseException) -> Response:
    """Anything else: 500 with a generic body; the traceback goes to the log only."""
    _rollback()
    log.error("unhandled exception", exc_info=error)
    return error_response(500)
