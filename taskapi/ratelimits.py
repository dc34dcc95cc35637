"""Rate limits (Flask-Limiter): who is counted, and the limits of the auth routes.

- Every route: ``RATELIMIT_DEFAULT`` per user. The user is the ``sub`` of a
  bearer access token whose signature and expiry verify (no database query; a
  forged token cannot spend another user's budget); without one, the client IP.
  Refresh tokens count per IP: they live 30 days and outlive a logout, so a
  leaked, revoked one must not spend its owner's budget. A revoked access token
  still counts for its owner until it expires (15 minutes by default): checking
  revocation here would cost a query on every request, 429s included.
- Login, register and password change (v1 and the original contract's twins
  share the buckets): ``RATELIMIT_AUTH_PER_IP`` per client IP and
  ``RATELIMIT_AUTH_PER_ACCOUNT`` per email in the body (per user id for a
  password change) (OWASP Authentication Cheat Sheet, "Protect against
  automated attacks").
- Over a limit: 429 with the one error shape, ``Retry-After`` and
  ``X-RateLimit-Limit/Remaining/Reset`` (set by Flask-Limiter).
- Storage: ``RATELIMIT_STORAGE_URI``. ``memory://`` counts per process; with
  ``redis://`` every process and machine shares the counts. If Redis fails,
  requests are still served (``RATELIMIT_SWALLOW_ERRORS``), counted in memory
  per process until it is back (``RATELIMIT_IN_MEMORY_FALLBACK_ENABLED``), and
  the outage is logged as a warning on ``flask-limiter``.
- The client IP is ``request.remote_addr``; behind proxies set
  ``PROXY_FIX_X_FOR`` so it is the client's, not the proxy's.

The limiter is one object per process (``taskapi.extensions.limiter``). The
limits and ``RATELIMIT_ENABLED`` are read from the current app on each request,
so several apps in one process (tests) each keep their own; the storage is the
one of the app created last (gunicorn workers create one app each).
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request
from flask_jwt_extended import decode_token

AUTH_SCOPE_IP = "auth-ip"
AUTH_SCOPE_ACCOUNT = "auth-account"
#: Routes no limit applies to: load-balancer probes.
EXEMPT_ENDPOINTS = frozenset({"compat.Health", "health.Ready"})


def client_ip() -> str:
    """The client's IP address (after ProxyFix, when configured)."""
    return request.remote_addr or "unknown"


def client_key() -> str:
    """``user:<id>`` for a request with a valid bearer access token, else
    ``ip:<address>`` (no token, an invalid one, or a refresh token)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme == "Bearer" and token:
        try:
            claims = decode_token(token.strip(), allow_expired=False)
        except Exception:  # any invalid token: the route answers 401 itself
            claims = {}
        subject = claims.get("sub")
        if claims.get("type") == "access" and isinstance(subject, str):
            return f"user:{subject}"
    return f"ip:{client_ip()}"


def account_key() -> str:
    """``account:<email>`` from the JSON body of a login or register request
    (case-insensitive, trimmed); ``account-id:<id>`` for a request whose token
    was checked (a password change); else the client IP."""
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    if isinstance(email, str) and email.strip():
        return f"account:{email.strip().lower()[:320]}"
    if g.get("user_id") is not None:
        return f"account-id:{g.user_id}"
    return f"ip:{client_ip()}"


def default_limit() -> str:
    """``RATELIMIT_DEFAULT`` of the current app."""
    return current_app.config["RATELIMIT_DEFAULT"]


def _disabled() -> bool:
    return not current_app.config["RATELIMIT_ENABLED"]


def _auth_per_ip() -> str:
    return current_app.config["RATELIMIT_AUTH_PER_IP"]


def _auth_per_account() -> str:
    return current_app.config["RATELIMIT_AUTH_PER_ACCOUNT"]


def exempt_from_default() -> bool:
    """Preflight requests and probes are not counted; nothing is when disabled."""
    return _disabled() or request.method == "OPTIONS" or request.endpoint in EXEMPT_ENDPOINTS


def auth_limits(view):
    """Decorator for login, register and password change views: both shared limits."""
    from taskapi.extensions import limiter

    view = limiter.shared_limit(_auth_per_account, AUTH_SCOPE_ACCOUNT, key_func=account_key,
                                exempt_when=_disabled)(view)
    return limiter.shared_limit(_auth_per_ip, AUTH_SCOPE_IP, key_func=client_ip,
                                exempt_when=_disabled)(view)


def _own_retry_after(response: Response) -> Response:
    """Flask-Limiter puts its ``Retry-After`` on every limited response; keep it
    on 429s only, and keep the one an error set itself (a 503's)."""
    retry_after = g.get("retry_after")
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    elif response.status_code != 429:
        response.headers.pop("Retry-After", None)
    return response


def init_rate_limits(app: Flask) -> None:
    """Bind the limiter to ``app`` with the settings above."""
    from taskapi.extensions import limiter

    # Registered before the limiter's own hook, so it runs after it.
    app.after_request(_own_retry_after)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    if str(app.config["RATELIMIT_STORAGE_URI"]).startswith(("redis://", "rediss://")):
        # A dead Redis must cost a request at most a second, not a hang.
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS",
                              {"socket_connect_timeout": 1, "socket_timeout": 1})
    # Flask-Limiter reads RATELIMIT_ENABLED once into the shared limiter; the
    # exemptions above read this app's value on every request instead.
    enabled = app.config["RATELIMIT_ENABLED"]
    app.config["RATELIMIT_ENABLED"] = True
    limiter.init_app(app)
    app.config["RATELIMIT_ENABLED"] = enabled
    if _disabled not in limiter._request_filters:
        # Checked before any limit is resolved: a disabled app pays almost nothing.
        limiter.request_filter(_disabled)
