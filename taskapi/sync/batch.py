"""Batches: operations run in order against the v1 routes, in one transaction.

Each operation is dispatched through the application itself (its own request
context and app context: the routes, schemas, ETags, quotas, rate limits and
``Idempotency-Key`` handling are exactly those of a lone request), with a
session bound to the batch request's connection in
``join_transaction_mode="create_savepoint"`` (SQLAlchemy docs, "Joining a
Session into an External Transaction"): a route's commit releases a savepoint,
its rollback returns to one, and only the batch commits. The first operation
answered with a status of 400 or more stops the batch and rolls everything
back, so a batch is applied entirely or not at all. Operations neither read
nor fill the list page cache (:mod:`taskapi.tasks.page_cache`): a page of data
that may still be rolled back must not be served to anyone later.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, g, request

from taskapi.auth.tokens import ORIGINAL_AUTHORIZATION
from taskapi.extensions import db
from taskapi.plugins import events
from taskapi.tasks.page_cache import IN_TRANSACTION

#: Operation paths start here; these prefixes under it are refused.
PREFIX = "/api/v1/"
REFUSED = ("/api/v1/auth/", "/api/v1/batch")
RESULT_HEADERS = ("ETag", "Location", "Idempotent-Replayed")


@dataclass(frozen=True, slots=True)
class Result:
    """One operation's answer: status, the headers that matter, JSON body (or None)."""

    status: int
    headers: dict[str, str]
    body: Any


class OperationFailed(Exception):
    """The operation ``index`` answered ``result`` (status >= 400): nothing was applied."""

    def __init__(self, index: int, result: Result):
        super().__init__(index, result)
        self.index, self.result = index, result


def path_error(path: str) -> str | None:
    """Why ``path`` cannot be an operation's, or None."""
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or not parts.path.startswith(PREFIX):
        return f"Must be a path under {PREFIX}."
    if parts.path.startswith(REFUSED) or parts.path.rstrip("/") == REFUSED[1]:
        return "Account and token routes, and batches, cannot run in a batch."
    return None


def _session_class():
    """Flask-SQLAlchemy's session class (with taskapi's session listeners), bound
    to the connection it is given instead of choosing an engine."""
    base = db.session.session_factory.class_

    class BatchSession(base):
        def get_bind(self, *_args, **_kwargs):
            return self.bind

    return BatchSession


def _dispatch(app, connection, session_class, operation: dict) -> Result:
    # The credential the client sent (not the stand-in JWT of a personal
    # access token: each operation authenticates it again).
    headers = {"Authorization": request.environ.get(
        ORIGINAL_AUTHORIZATION, request.headers.get("Authorization", ""))}
    headers.update(operation.get("headers") or {})
    path, _, query = operation["path"].partition("?")
    options: dict[str, Any] = {"method": operation["method"], "headers": headers,
                               "query_string": query, "base_url": request.host_url}
    if request.remote_addr:
        options["environ_overrides"] = {"REMOTE_ADDR": request.remote_addr}
    if "body" in operation:
        options["data"] = json.dumps(operation["body"])
        options["content_type"] = "application/json"
    with app.app_context(), app.test_request_context(path, **options):
        session = session_class(**{**db.session.session_factory.kw, "bind": connection,
                                   "join_transaction_mode": "create_savepoint"})
        db.session.registry.set(session)
        g.setdefault(IN_TRANSACTION, True)
        response = app.full_dispatch_request()
        body = response.get_json(silent=True) if response.data else None
        kept = {name: response.headers[name] for name in RESULT_HEADERS
                if name in response.headers}
        return Result(response.status_code, kept, body)


def run_batch(operations: list[dict]) -> list[Result]:
    """Run ``operations`` (validated by :class:`~taskapi.sync.schemas.BatchSchema`)
    in order in one transaction and commit; raises :class:`OperationFailed`
    after rolling back when one answers 400 or more."""
    app = current_app._get_current_object()
    connection = db.session.connection()  # the batch's transaction (SQLite: the write lock)
    session_class = _session_class()
    results: list[Result] = []
    token = events.defer()  # plugins hear of the writes once they are committed
    try:
        for index, operation in enumerate(operations):
            result = _dispatch(app, connection, session_class, operation)
            if result.status >= 400:
                raise OperationFailed(index, result)
            results.append(result)
    except BaseException:
        db.session.rollback()
        events.release(token, deliver=False)
        raise
    db.session.commit()
    events.release(token, deliver=True)
    return results
