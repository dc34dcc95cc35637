"""Idempotent writes: ``Idempotency-Key`` on every POST, PUT, PATCH and DELETE under /api/v1.

The rules are those of the IETF draft "The Idempotency-Key HTTP Header Field"
(draft-ietf-httpapi-idempotency-key-header): the first request with a key runs
and its response is kept for ``IDEMPOTENCY_TTL`` seconds, scoped to (user,
key); the same key with the same request (method, path, query and body: the
*fingerprint*) replays that response with ``Idempotent-Replayed: true`` and
runs nothing; the same key with another request is a 422 (key reuse); the same
key while the first request still runs is a 409 with ``Retry-After``.

**Exactly once.** The key is claimed (a row of
:class:`~taskapi.sync.models.IdempotencyKey` without a response) in the
request's own transaction, before the route runs, so it commits together with
the route's write or not at all: a request that failed before its commit left
no claim, and its retry runs; one that committed left the claim, and its retry
never runs again, even when the client never saw the answer (a dropped
connection). The response is stored just after, in a second short transaction.
On PostgreSQL a claim is first guarded by ``pg_try_advisory_xact_lock``, so a
concurrent duplicate is answered 409 at once instead of waiting on the unique
index; on SQLite the database lock serialises the two. Storage is the
database, so it holds across workers and machines.

The value is the draft's ``sf-string`` (RFC 8941: ``"..."``) or, as most
clients send it, the bare characters: 1-255 printable ASCII characters either
way. Routes whose answers carry tokens (register, login, refresh, password
change) ignore the header: tokens are never stored; repeating them is safe.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta
from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, has_request_context, request
from flask_jwt_extended import current_user, verify_jwt_in_request
from sqlalchemy import event
from sqlalchemy.orm import Session

from taskapi.errors import error_response
from taskapi.extensions import db
from taskapi.models import utcnow
from taskapi.sync.models import IdempotencyKey

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Endpoints whose answers carry tokens: the header is ignored there.
TOKEN_ENDPOINTS = frozenset({"auth.Register", "auth.Login", "auth.Refresh", "auth.Password"})
#: Response headers kept for a replay (the body's type, the new resource's
#: address and validator, and what the deletion routes report).
KEPT_HEADERS = ("Content-Type", "ETag", "Location", "Link", "X-Tasks-Deleted",
                "X-Tasks-Moved")
#: Seconds a client is told to wait while the first request runs.
RETRY_AFTER = 1

KEYS = IdempotencyKey.__table__
_CLAIM = "taskapi.idempotency.claim"
_ROW = sa.select(KEYS.c.fingerprint, KEYS.c.status, KEYS.c.headers, KEYS.c.body,
                 KEYS.c.expires_at).where(KEYS.c.user_id == sa.bindparam("user_id"),
                                          KEYS.c.key == sa.bindparam("key"))


class InvalidKey(ValueError):
    """The header's value is not a valid key."""


def parse_key(value: str) -> str:
    """The key of an ``Idempotency-Key`` value: an RFC 8941 sf-string (quotes,
    ``\\"`` and ``\\\\`` escapes) or the bare characters. Raises :class:`InvalidKey`
    unless it is 1-255 printable ASCII characters (``0x20``-``0x7E``)."""
    key = value.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        inner, key, escaped = key[1:-1], "", False
        for char in inner:
            if escaped:
                if char not in '"\\':
                    raise InvalidKey("Idempotency-Key: a quoted key may escape only \" and \\.")
                key, escaped = key + char, False
            elif char == "\\":
                escaped = True
            elif char == '"':
                raise InvalidKey("Idempotency-Key: an unescaped quote inside the key.")
            else:
                key += char
        if escaped:
            raise InvalidKey("Idempotency-Key: the key ends with a lone backslash.")
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidKey(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} characters.")
    if not all(" " <= char <= "~" for char in key):
        raise InvalidKey("Idempotency-Key must be printable ASCII characters.")
    return key


def fingerprint() -> str:
    """SHA-256 (hex) of the request's method, path, query string and body bytes."""
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(),
                 request.query_string, request.get_data(cache=True)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _replay(row) -> Response:
    response = Response(row.body, status=row.status)
    kept = json.loads(row.headers or "{}")
    if "Content-Type" not in kept:
        del response.headers["Content-Type"]  # a 204 had none
    for name, value in kept.items():
        response.headers[name] = value
    response.headers[REPLAYED] = "true"
    return response


def _in_progress() -> Response:
    return error_response(409, "A request with this Idempotency-Key is still being "
                          "processed; retry later.", headers={"Retry-After": str(RETRY_AFTER)})


def _locked(connection: sa.Connection, user_id: int, key: str) -> bool:
    """PostgreSQL: whether another transaction holds this (user, key) right now."""
    if connection.dialect.name != "postgresql":
        return False
    return not connection.scalar(sa.text(
        "SELECT pg_try_advisory_xact_lock(:user_id, hashtext(:key))"),
        {"user_id": user_id, "key": key})


def _claim(user_id: int, key: str, print_: str) -> Response | None:
    """Claim ``key`` in the request's transaction; a response when the request
    must not run (a replay, a 409 or a 422), None when it may."""
    connection = db.session.connection()
    if _locked(connection, user_id, key):
        return _in_progress()
    now = utcnow()
    params = {"user_id": user_id, "key": key}
    row = connection.execute(_ROW, params).first()
    if row is not None and row.expires_at <= now:
        connection.execute(sa.delete(KEYS).where(KEYS.c.user_id == user_id, KEYS.c.key == key))
        row = None
    if row is not None:
        db.session.rollback()  # nothing runs: let go of the transaction (SQLite's lock)
        if row.fingerprint != print_:
            return error_response(422, "This Idempotency-Key was used for another request "
                                  "(method, path or body differ).",
                                  errors={"headers": {HEADER: ["Key reused."]}})
        if row.status is None:
            return _in_progress()
        return _replay(row)
    ttl = timedelta(seconds=current_app.config["IDEMPOTENCY_TTL"])
    connection.execute(KEYS.insert().values(
        user_id=user_id, key=key, fingerprint=print_, method=request.method,
        path=request.path[:2048], created_at=now, expires_at=now + ttl))
    g.setdefault(_CLAIM, {"user_id": user_id, "key": key, "fingerprint": print_,
                          "state": "pending", "expires_at": now + ttl})
    return None


def idempotent(view):
    """Wrap a view so that its unsafe methods honour ``Idempotency-Key``."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any):
        value = request.headers.get(HEADER)
        if value is None or request.method not in UNSAFE_METHODS:
            return view(*args, **kwargs)
        try:
            key = parse_key(value)
        except InvalidKey as error:
            return error_response(400, str(error),
                                  errors={"headers": {HEADER: [str(error)]}})
        verify_jwt_in_request()  # the key's scope is the user: a 401 comes first
        answer = _claim(current_user.id, key, fingerprint())
        return answer if answer is not None else view(*args, **kwargs)

    return wrapped


def _store(response: Response) -> Response:
    """After the route: keep its response under the claimed key."""
    claim = g.pop(_CLAIM, None)
    if claim is None:
        return response
    committed = claim["state"] == "committed"
    if not committed and response.status_code >= 400:
        return response  # nothing was written, no claim is left: a retry runs again
    headers = json.dumps({name: response.headers[name] for name in KEPT_HEADERS
                          if name in response.headers})
    values = {"status": response.status_code, "headers": headers,
              "body": response.get_data()}
    try:
        if committed:
            db.session.execute(sa.update(KEYS).where(
                KEYS.c.user_id == claim["user_id"], KEYS.c.key == claim["key"]).values(**values))
        else:
            # The route committed nothing (or the claim was rolled back with a
            # retried statement): claim and response go in together now.
            db.session.execute(sa.delete(KEYS).where(
                KEYS.c.user_id == claim["user_id"], KEYS.c.key == claim["key"]))
            db.session.execute(KEYS.insert().values(
                user_id=claim["user_id"], key=claim["key"],
                fingerprint=claim["fingerprint"], method=request.method,
                path=request.path[:2048], created_at=utcnow(),
                expires_at=claim["expires_at"], **values))
        db.session.commit()
    except Exception:
        # The answer still goes out; a retry meets the claim and gets a 409
        # until the key expires.
        db.session.rollback()
        log.exception("could not store the response of Idempotency-Key %r", claim["key"])
    return response


def _committed(_session: Session) -> None:
    if has_request_context():
        claim = g.get(_CLAIM)
        if claim is not None and claim["state"] == "pending":
            claim["state"] = "committed"


def _rolled_back(_session: Session) -> None:
    if has_request_context():
        claim = g.get(_CLAIM)
        if claim is not None and claim["state"] == "pending":
            claim["state"] = "lost"


def prune_keys() -> int:
    """Delete keys whose ``expires_at`` has passed; the caller commits."""
    return db.session.execute(sa.delete(KEYS).where(KEYS.c.expires_at <= utcnow())).rowcount


#: The header as the OpenAPI document describes it (a component parameter).
PARAMETER = {
    "in": "header", "name": HEADER, "required": False,
    "description": "Makes a retry safe: the first request with a key runs and its answer "
    f"is kept (IDEMPOTENCY_TTL, 24 h by default); the same request again gets that answer "
    f"with `{REPLAYED}: true`; another request with the key is a 422, and a retry while "
    "the first still runs a 409 with Retry-After. 1-255 printable ASCII characters, "
    "bare or as a quoted string (draft-ietf-httpapi-idempotency-key-header).",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH,
               "pattern": "^[ -~]+$", "example": "5f0c9a36-4a1e-4b8e-9d2b-2a7f4f6c1b1e"},
}
#: Operations that ignore the header (their answers carry tokens), by path.
TOKEN_PATHS = frozenset({"/api/v1/auth/register", "/api/v1/auth/login",
                         "/api/v1/auth/refresh", "/api/v1/auth/password"})


def document(spec) -> None:
    """Add the header, and the 400 and 409 it can cause, to every unsafe /api/v1
    operation of ``spec`` (an apispec ``APISpec`` whose paths are registered)."""
    spec.components.parameter("IDEMPOTENCY_KEY", "header", PARAMETER)
    for path, operations in spec._paths.items():  # noqa: SLF001 (apispec keeps paths there)
        if not path.startswith("/api/v1/") or path in TOKEN_PATHS:
            continue
        for method, operation in operations.items():
            if method.upper() not in UNSAFE_METHODS:
                continue
            operation.setdefault("parameters", []).append(
                {"$ref": "#/components/parameters/IDEMPOTENCY_KEY"})
            responses = operation.setdefault("responses", {})
            responses.setdefault("400", {"$ref": "#/components/responses/BAD_REQUEST"})
            responses.setdefault("409", {"$ref": "#/components/responses/CONFLICT"})


def init_idempotency(app: Flask) -> None:
    """Wrap every unsafe /api/v1 endpoint of ``app`` (after the blueprints are
    registered) and store responses after each request."""
    for rule in app.url_map.iter_rules():
        if (rule.rule.startswith("/api/v1/") and rule.methods & UNSAFE_METHODS
                and rule.endpoint not in TOKEN_ENDPOINTS):
            app.view_functions[rule.endpoint] = idempotent(app.view_functions[rule.endpoint])
    app.after_request(_store)
    if not event.contains(Session, "after_commit", _committed):
        event.listen(Session, "after_commit", _committed)
        event.listen(Session, "after_rollback", _rolled_back)
