"""Built-in plugin ``pat``: personal access tokens.

Long-lived, scoped bearer tokens for scripts and integrations (Todoist's API
token, GitHub's fine-grained personal access tokens, Vikunja's API tokens):
``POST /api/v1/auth/tokens`` makes one (``tapi_`` and 256 random bits, shown
once, stored as a SHA-256), ``GET`` lists them, ``DELETE .../{id}`` revokes one.
``Authorization: Bearer tapi_...`` then works on every route its scopes allow
(:mod:`taskapi.plugins.pat.scopes`): a route outside them is a 403 naming the
missing scope, a revoked or expired token a 401. Requests are rate-limited per
user, as with a JWT (the token check stands a JWT of the user in for it:
:func:`taskapi.auth.tokens.register_bearer_authenticator`).
"""

from __future__ import annotations

from flask import Flask, current_app, g, request
from flask_smorest import abort

from taskapi import __version__
from taskapi.plugins.pat.scopes import SCOPES, needed, operation_scope

PERSONAL_ACCESS_TOKEN = "personalAccessToken"
_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})


class Plugin:
    name = "pat"
    version = __version__
    config = {
        "PAT_MAX_PER_USER": (50, "Most personal access tokens a user may hold"),
        "PAT_MAX_DAYS": (365, "Longest lifetime of a personal access token, in days; "
                              "None: tokens may live for ever (and do when created "
                              "without expires_in_days)"),
    }

    def init_app(self, app: Flask, api) -> None:
        from taskapi.auth.tokens import register_bearer_authenticator
        from taskapi.plugins.pat.routes import TOKEN_PREFIX, authenticate, blp

        api.register_blueprint(blp)
        register_bearer_authenticator(app, TOKEN_PREFIX, authenticate)
        app.before_request(_check_scope)

    def finalize(self, app: Flask, api) -> None:
        """Document the token: its security scheme, with every scope (other
        plugins' too), and each operation's scope."""
        api.spec.components.security_scheme(PERSONAL_ACCESS_TOKEN, {
            "type": "http", "scheme": "bearer", "bearerFormat": "tapi_...",
            "description": "A personal access token (POST /api/v1/auth/tokens), sent "
            "as `Authorization: Bearer tapi_...`. Each operation's `x-required-scopes` "
            "names the scope it needs; without it, the answer is 403. Scopes: "
            + "; ".join(f"`{scope}`: {text}" for scope, text in SCOPES.items()) + "."})
        document(app, api.spec)


def _check_scope():
    """Before every request made with a personal access token: 403 naming the
    scope the route needs when the token lacks it, or when no scope allows it."""
    identity = g.get("bearer_identity")
    if identity is None or identity.scheme != "pat":
        return
    allowed, scope = needed(current_app._get_current_object(), request.path, request.method)
    if not allowed:
        abort(403, message="This route is not available with a personal access token; "
              "use the access token of a password login.")
    if scope is not None and scope not in identity.scopes:
        abort(403, message=f"The personal access token lacks the scope {scope}.")


def document(app: Flask, spec) -> None:
    """Add the personal access token to the security of every operation some
    scope allows, with its scope as ``x-required-scopes``."""
    for path, operations in spec._paths.items():  # noqa: SLF001 (apispec keeps paths there)
        for method, operation in operations.items():
            if method not in _METHODS:  # path-level "parameters" and the like
                continue
            security = operation.get("security")
            if not security:
                continue
            scope = operation_scope(app, path, method)
            if scope is None:
                continue
            operation["security"] = [*security, {PERSONAL_ACCESS_TOKEN: []}]
            operation["x-required-scopes"] = [scope]


plugin = Plugin()
