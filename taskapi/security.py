"""HTTP-level protections: proxy headers, CORS, and security response headers.

- ``PROXY_FIX_X_FOR`` / ``PROXY_FIX_X_PROTO``: how many proxies in front set
  ``X-Forwarded-For`` / ``X-Forwarded-Proto`` (werkzeug ProxyFix). 0 (default)
  trusts none: a client could otherwise choose its own IP for the rate limits.
- CORS (Flask-CORS) for the origins in ``CORS_ORIGINS`` on ``/api/*``: preflight
  answered, bearer ``Authorization`` and the conditional-request headers
  allowed, the headers a client needs exposed. No cookies are used, so
  credentials are not allowed.
- Every response: ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy:
  no-referrer`` (OWASP HTTP Headers Cheat Sheet); ``Cache-Control: no-store`` on
  the auth routes, whose bodies hold tokens (RFC 6749 section 5.1);
  ``Strict-Transport-Security`` when ``HSTS`` is true (RFC 6797).
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask.sessions import SessionInterface
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

ALLOWED_HEADERS = ["Authorization", "Content-Type", "If-Match", "If-None-Match",
                   "X-Request-ID"]
EXPOSED_HEADERS = ["ETag", "Link", "Location", "X-Pagination", "X-Next-Cursor",
                   "Retry-After", "X-Request-ID", "X-RateLimit-Limit",
                   "X-RateLimit-Remaining", "X-RateLimit-Reset"]
AUTH_PATH_PREFIXES = ("/api/v1/auth/", "/api/auth/")
CORS_MAX_AGE = 600  # seconds a browser may cache a preflight answer


class NoSessions(SessionInterface):
    """taskapi keeps no cookie session (bearer tokens only): every request gets
    Flask's null session, no cookie is read, signed or set."""

    def open_session(self, app, request):
        return None  # Flask falls back to make_null_session

    def save_session(self, app, session, response) -> None:
        return None


def init_security(app: Flask) -> None:
    """Install ProxyFix, CORS, the security headers and no cookie session on ``app``."""
    app.session_interface = NoSessions()
    x_for, x_proto = app.config["PROXY_FIX_X_FOR"], app.config["PROXY_FIX_X_PROTO"]
    if x_for or x_proto:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=x_for, x_proto=x_proto)
    CORS(
        app,
        resources={r"/api/*": {"origins": app.config["CORS_ORIGINS"]}},
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        supports_credentials=False,
        max_age=CORS_MAX_AGE,
    )
    hsts = f"max-age={app.config['HSTS_MAX_AGE']}" if app.config["HSTS"] else None

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.path.startswith("/api/"):
            # CORS answers depend on Origin; Flask-CORS says so only for several origins.
            response.vary.add("Origin")
        if request.path.startswith(AUTH_PATH_PREFIXES):
            response.headers["Cache-Control"] = "no-store"
        if hsts:
            response.headers.setdefault("Strict-Transport-Security", hsts)
        return response
