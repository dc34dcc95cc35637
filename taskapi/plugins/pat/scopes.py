"""Scopes of personal access tokens, and which a request needs.

A scope is ``<resource>:<access>`` (GitHub's fine-grained tokens and Vikunja's
API token permissions name them so). Reading (GET, HEAD) needs ``:read``, any
other method ``:write`` (which does not include ``:read``: ask for both).
Routes are matched by path (:data:`ROUTES`, then those plugins add with
:func:`add_route`); a route outside every scope (logging in or out, the
token routes, password and account changes) is a 403 with a personal access
token, whatever its scopes. Routes that need no token at all (health, the
docs, the OpenAPI document) ignore it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Flask

#: Every scope, with what it allows (shown in the OpenAPI document).
SCOPES: dict[str, str] = {
    "tasks:read": "Read tasks, their completions and statistics",
    "tasks:write": "Create, change, complete, move and delete tasks",
    "lists:read": "Read lists",
    "lists:write": "Create, change, move and delete lists",
    "tags:read": "Read tags",
    "tags:write": "Rename and delete tags",
    "sync:read": "Read the change feed (GET /api/v1/sync)",
    "account:read": "Read the account (GET /api/v1/auth/me)",
    "calendar:read": "Read the calendar feed (GET /api/v1/calendar.ics)",
}
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Route:
    """Paths matching ``pattern`` need ``read`` to read and ``write`` to write
    (None: not with a personal access token)."""

    pattern: re.Pattern
    read: str | None
    write: str | None


ROUTES = (
    Route(re.compile(r"^/api/v1/tasks(/|$)"), "tasks:read", "tasks:write"),
    Route(re.compile(r"^/api/v1/lists(/|$)"), "lists:read", "lists:write"),
    Route(re.compile(r"^/api/v1/tags(/|$)"), "tags:read", "tags:write"),
    Route(re.compile(r"^/api/v1/sync$"), "sync:read", None),
    Route(re.compile(r"^/api/v1/auth/me$"), "account:read", None),
    # The original contract's task routes (its /api/auth/* are not in any scope).
    Route(re.compile(r"^/api/[0-9]+/tasks(/|$)"), "tasks:read", "tasks:write"),
)
#: A batch needs no scope itself: each of its operations is checked as a request.
BATCH = re.compile(r"^/api/v1/batch$")
#: Routes that need no token: a token sent there is not looked at.
PUBLIC = re.compile(r"^/(health|ready|docs|api/docs|api/openapi\.json)?($|/)")
_EXTRA = "taskapi.pat.routes"


def add_route(app: Flask, pattern: str, read: str | None, write: str | None = None) -> None:
    """Let tokens with scope ``read`` (``write``) read (write) the paths that match
    regular expression ``pattern`` on ``app`` (a plugin's routes); scopes not in
    :data:`SCOPES` are added to it."""
    for scope in (read, write):
        if scope is not None:
            SCOPES.setdefault(scope, f"{scope} (a plugin's)")
    app.extensions.setdefault(_EXTRA, []).append(Route(re.compile(pattern), read, write))


def needed(app: Flask, path: str, method: str) -> tuple[bool, str | None]:
    """``(allowed at all, scope needed)`` for a request with a token: ``(True,
    None)`` for the batch and public routes, ``(False, None)`` outside every scope."""
    if BATCH.match(path) or PUBLIC.match(path):
        return True, None
    for route in (*ROUTES, *app.extensions.get(_EXTRA, [])):
        if route.pattern.match(path):
            scope = route.read if method in READ_METHODS else route.write
            return scope is not None, scope
    return False, None


def operation_scope(app: Flask, path: str, method: str) -> str | None:
    """The scope an OpenAPI operation needs (``path`` with ``{param}``s)."""
    concrete = re.sub(r"\{[^}]+\}", "1", path)
    allowed, scope = needed(app, concrete, method.upper())
    return scope if allowed else None
