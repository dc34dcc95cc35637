"""The API docs page (/api/docs), served entirely by taskapi.

flask-smorest renders the page and the OpenAPI document; its default page loads
Swagger UI from a CDN, so behind a firewall or offline it stays blank. Here the
Swagger UI build shipped in the ``flask-swagger-ui`` package (its ``dist``
folder, Swagger UI's own release files) is served at ``/api/docs/assets/`` and
the page points there, so opening the docs makes no request that leaves the
server.

The page carries a Content-Security-Policy that only allows this origin
(plus inline styles and data: images, which Swagger UI needs), so the browser
itself refuses any other host. Scripts come from this origin, and the page's
one inline start-up script runs because it carries the response's nonce
(CSP Level 3, "nonce-source": a new random value per response, :func:`csp_nonce`);
no other inline script would (no ``'unsafe-inline'``). Swagger UI's online
validator badge is off for the same reason (``validatorUrl: null``, Swagger UI
configuration docs).
"""

from __future__ import annotations

import secrets
from importlib.resources import files

from flask import Blueprint, Flask, Response, g, request

#: Where the Swagger UI release files are served; ``OPENAPI_SWAGGER_UI_URL`` default.
ASSETS_URL = "/api/docs/assets/"

#: Swagger UI options (https://swagger.io/docs/open-source-tools/swagger-ui/usage/configuration/).
SWAGGER_UI_CONFIG = {
    "validatorUrl": None,  # no badge fetched from validator.swagger.io
    "displayOperationId": True,  # the names a generated client uses
    "deepLinking": True,
    "docExpansion": "list",
    "defaultModelsExpandDepth": 0,
    "tryItOutEnabled": False,
    "persistAuthorization": False,  # tokens never land in localStorage
}

#: Same-origin only; Swagger UI needs inline styles and data: icons. The docs page
#: adds its nonce to script-src (:func:`docs_policy`).
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


#: ``info.description`` of the OpenAPI document (CommonMark, as OpenAPI 3.0.3 says).
API_DESCRIPTION = """\
Per-user tasks (todos) behind JWT bearer authentication. Every user sees and
changes only their own tasks.

**Getting a token.** Create an account with `POST /api/v1/auth/register`, then
`POST /api/v1/auth/login` with the same email and password. The answer holds an
`access_token` (valid 15 minutes by default) and a single-use `refresh_token`.
Send the access token as `Authorization: Bearer <access_token>`; on the docs
page, click **Authorize** and paste it. When it expires,
`POST /api/v1/auth/refresh` with the refresh token as the bearer gives a new pair.

**Errors.** Every 4xx and 5xx answer has one JSON shape, `Error`:
`{"code": 404, "status": "Not Found", "message": "Task not found."}`; a 422 adds
`errors`, by location (`json`, `query`) and field.

**Paging.** `GET /api/v1/tasks` pages by `page` and `page_size` (total in the
`X-Pagination` header) or by cursor: follow `X-Next-Cursor` or the
`Link: rel="next"` header.

**Conditional requests** (RFC 9110). Tasks carry an `ETag`; `If-None-Match`
on a read gives 304 while it is current, and `If-Match` on a write gives 412 when
someone changed the task since you read it.

**Rate limits.** Over a limit the answer is 429 with `Retry-After`.

**Request size.** With the default server settings, the request line (method,
path and query string) may be up to 8190 bytes, and a request may carry up to
100 header fields of up to 8190 bytes each; beyond that the answer is a 414 or a
431, in the same error shape. A `GET /api/v1/tasks` with every parameter at its
documented maximum fits (about 6,400 bytes when its text is ASCII; a non-ASCII
character takes up to 12 bytes percent-encoded).

**The original contract.** `/api/auth/*` and `/api/{user_id}/tasks` (tag
"Phase II contract") serve the previous backend's clients unchanged.
"""

#: The ``bearerAuth`` security scheme; its description is what "Authorize" shows.
BEARER_SCHEME = {
    "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
    "description": "Paste an access token, without the word Bearer. To get one: "
                   "POST /api/v1/auth/login (Try it out on logIn, below) with your email "
                   "and password, and copy `access_token` from the answer; no account yet? "
                   "POST /api/v1/auth/register first. Access tokens expire after 15 "
                   "minutes by default: log in again, or POST /api/v1/auth/refresh with "
                   "the refresh token.",
}

_RETRY_AFTER = {"description": "Seconds to wait before retrying (RFC 9110 section 10.2.3)",
                "schema": {"type": "integer", "example": 30}}

#: Error responses as the document describes them: status -> (description, headers).
#: Statuses not listed keep the reason phrase (flask-smorest's default).
ERROR_RESPONSES: dict[int, tuple[str, dict]] = {
    401: ("Missing, malformed, expired or revoked bearer token (RFC 6750).",
          {"WWW-Authenticate": {
              "description": "Bearer challenge (RFC 6750 section 3)",
              "schema": {"type": "string", "example": 'Bearer realm="taskapi"'}}}),
    403: ("The path names another user's resources.", {}),
    404: ("No such resource, or not yours.", {}),
    409: ("Conflicts with the current state of the data (an email already registered, "
          "a concurrent change, or a quota reached: MAX_TASKS_PER_USER).", {}),
    412: ("If-Match is stale: the resource changed since that ETag and nothing was "
          "written. The current tag is in ETag.", {}),
    422: ("Invalid input: `errors` lists the messages by location (json, query) and "
          "field.", {}),
    428: ("This server requires If-Match on writes (TASKAPI_REQUIRE_IF_MATCH).", {}),
    429: ("A rate limit is spent: retry after Retry-After seconds.",
          {"Retry-After": _RETRY_AFTER,
           "X-RateLimit-Limit": {"description": "Requests allowed in the current window",
                                 "schema": {"type": "integer"}},
           "X-RateLimit-Remaining": {"description": "Requests left in the current window",
                                     "schema": {"type": "integer"}},
           "X-RateLimit-Reset": {"description": "When the window resets (Unix time, seconds)",
                                 "schema": {"type": "integer"}}}),
    503: ("The database is unreachable or not migrated: retry after Retry-After seconds.",
          {"Retry-After": _RETRY_AFTER}),
}

#: Relative: "Try it out" calls the server that serves the page, wherever it runs.
SERVERS = [{"url": "/", "description": "The server that serves this document"}]


def spec_options() -> dict:
    """flask-smorest ``API_SPEC_OPTIONS``: ``info`` (description, license) and
    ``servers``; the version is ``API_VERSION``, the package's (config.py)."""
    return {
        "info": {"description": API_DESCRIPTION,
                 "license": {"name": "MIT", "url": "https://spdx.org/licenses/MIT.html"}},
        "servers": SERVERS,
    }


def csp_nonce() -> str:
    """The nonce of this response's inline script (template global ``csp_nonce()``):
    128 random bits, base64url, made on first use and the same for the rest of
    the request."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def docs_policy(nonce: str | None) -> str:
    """:data:`DOCS_CSP`, with ``'nonce-<nonce>'`` in script-src when one was used."""
    if nonce is None:
        return DOCS_CSP
    return DOCS_CSP.replace("script-src 'self'", f"script-src 'self' 'nonce-{nonce}'", 1)


def swagger_ui_dist() -> str:
    """Filesystem path of the Swagger UI release files in ``flask-swagger-ui``."""
    return str(files("flask_swagger_ui") / "dist")


def init_docs(app: Flask) -> None:
    """Serve the Swagger UI assets and secure the docs page; call before ``api.init_app``.

    ``OPENAPI_SWAGGER_UI_URL`` (config.py) points the page at these assets;
    ``OPENAPI_SWAGGER_UI_CONFIG`` defaults to :data:`SWAGGER_UI_CONFIG`. The page
    and the assets carry :func:`docs_policy` as their Content-Security-Policy.
    """
    app.config.setdefault("OPENAPI_SWAGGER_UI_CONFIG", dict(SWAGGER_UI_CONFIG))
    app.config.setdefault("API_SPEC_OPTIONS", spec_options())
    assets = Blueprint(
        "docs_assets", __name__, static_folder=swagger_ui_dist(),
        static_url_path="", url_prefix=ASSETS_URL.rstrip("/"),
    )
    app.register_blueprint(assets)
    app.add_template_global(csp_nonce)

    docs_prefix = ASSETS_URL.rsplit("/", 2)[0]  # /api/docs

    @app.after_request
    def docs_page_policy(response: Response) -> Response:
        if request.path == docs_prefix or request.path.startswith(ASSETS_URL):
            response.headers.setdefault("Content-Security-Policy",
                                        docs_policy(g.get("csp_nonce")))
        return response
