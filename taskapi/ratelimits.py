"""Rate limits (Flask-Limiter): who is counted, the limits of the auth routes, and
the small body limit of those routes.

- Every route: ``RATELIMIT_DEFAULT`` per user. The user is the ``sub`` of a
  bearer access token whose signature and expiry verify (no database query; a
  forged token cannot spend another user's budget); without one, the client IP.
  The token is read from ``Authorization`` by
  :func:`taskapi.jwtmanager.bearer_token`, the reading the token check hands
  Flask-JWT-Extended too: a header that authenticates is counted for its user.
  Refresh tokens count per IP: they live 30 days and outlive a logout, so a
  leaked, revoked one must not spend its owner's budget. A revoked access token
  still counts for its owner until it expires (15 minutes by default): checking
  revocation here would cost a query on every request, 429s included.
- Login (v1 and the original contract's twin share every bucket), after OWASP's
  Authentication Cheat Sheet ("Protect against automated attacks": limits must
  not let anyone lock a victim out):
  ``RATELIMIT_AUTH_PER_IP`` per client IP counts every attempt;
  ``RATELIMIT_LOGIN_PER_ACCOUNT_IP`` counts failed logins (401) per email and
  client IP, the strict one: whoever guesses from one address is stopped
  there, while the owner logs in from theirs; ``RATELIMIT_AUTH_PER_ACCOUNT``
  counts failed logins per email from every address, a much higher ceiling
  against guessing spread over many addresses. Successful logins count in
  neither failure bucket (Flask-Limiter's ``deduct_when``).
- Register (v1 and original): ``RATELIMIT_REGISTER_PER_IP`` per client IP,
  every attempt, a bucket of its own.
- Password change: ``RATELIMIT_AUTH_PER_IP`` (the login bucket of the address)
  and ``RATELIMIT_PASSWORD_PER_USER``, wrong current passwords per user id.
- Order: every limit that needs no body is checked before any body is read
  (the default limit, the per-IP auth limits; the checks of
  :mod:`taskapi.bodies` come after them). An auth route then reads at most
  :data:`AUTH_MAX_BODY` bytes (or ``MAX_CONTENT_LENGTH``, if smaller): a larger
  ``Content-Length`` is a 413 before a byte is read. Only then is the email of
  the body read for the failure buckets.
- Over a limit: 429 with the one error shape, ``Retry-After`` and
  ``X-RateLimit-Limit/Remaining/Reset`` (set by Flask-Limiter; on an auth route
  they describe its failure buckets once the body was read).
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

import json
from collections.abc import Callable

from flask import Flask, Response, current_app, g, request
from flask_jwt_extended import decode_token
from flask_smorest import abort

from taskapi.jwtmanager import bearer_token

AUTH_SCOPE_IP = "auth-ip"
REGISTER_SCOPE_IP = "register-ip"
LOGIN_SCOPE_ACCOUNT_IP = "login-account-ip"
LOGIN_SCOPE_ACCOUNT = "login-account"
PASSWORD_SCOPE_USER = "password-user"
#: Routes no limit applies to: load-balancer probes.
EXEMPT_ENDPOINTS = frozenset({"compat.Health", "health.Ready"})
#: Largest body of login, register and password change, in bytes: their fields
#: hold at most 255 + 255 + 128 characters, 16 KiB leaves room for JSON escapes
#: and the fields the original contract ignores.
AUTH_MAX_BODY = 16 * 1024

_KIND = "taskapi_auth_limits"  # view attribute: which auth limits apply
_EMAIL = "_taskapi_login_email"  # g: the body's email, read once
_REFUSED = "_taskapi_password_refused"  # g: the password check of this request failed


def client_ip() -> str:
    """The client's IP address (after ProxyFix, when configured)."""
    return request.remote_addr or "unknown"


def client_key() -> str:
    """``user:<id>`` for a request with a valid bearer access token, else
    ``ip:<address>`` (no token, an invalid one, or a refresh token)."""
    token = bearer_token(request.headers.get("Authorization"))
    if token is not None:
        try:
            claims = decode_token(token, allow_expired=False)
        except Exception:  # any invalid token: the route answers 401 itself
            claims = {}
        subject = claims.get("sub")
        if claims.get("type") == "access" and isinstance(subject, str):
            return f"user:{subject}"
    return f"ip:{client_ip()}"


def login_email() -> str | None:
    """The email of the request's JSON body, trimmed and lower-cased as
    ``LoginSchema`` stores it, or None (no body, not JSON, no email string).

    Reads the body already bounded by :func:`limit_auth_body`; never raises
    (it runs inside the limiter, which would take an error for a storage outage).
    """
    if _EMAIL not in g:
        email = None
        try:
            body = json.loads(request.get_data(cache=True))
        except Exception:  # not JSON (400 later), too deep, too long: no email
            body = None
        if isinstance(body, dict) and isinstance(body.get("email"), str):
            email = body["email"].strip().lower()[:320] or None
        setattr(g, _EMAIL, email)
    return g.get(_EMAIL)


def login_account_ip_key() -> str:
    """``account-ip:<address>|<email>``: failed logins per email and client IP."""
    return f"account-ip:{client_ip()}|{login_email()}"


def login_account_key() -> str:
    """``account:<email>``: failed logins per email, from every address."""
    return f"account:{login_email()}"


def password_refused() -> None:
    """Record that the request's password check failed (wrong password, unknown
    or inactive account): its 401 spends the route's failure buckets. Other 401s
    (a refused token, a malformed header) spend none: they say nothing about the
    account's password, and would let anyone spend its owner's budget."""
    setattr(g, _REFUSED, True)


def refused(response: Response) -> bool:
    """``deduct_when`` of the failure buckets: a 401 after :func:`password_refused`."""
    return response.status_code == 401 and g.get(_REFUSED, False)


def default_limit() -> str:
    """``RATELIMIT_DEFAULT`` of the current app."""
    return current_app.config["RATELIMIT_DEFAULT"]


def _disabled() -> bool:
    return not current_app.config["RATELIMIT_ENABLED"]


def _setting(name: str) -> Callable[[], str]:
    def limit() -> str:
        return current_app.config[name]

    return limit


def _auth_kind() -> str | None:
    """``login``, ``register`` or ``password`` for a view with auth limits, else None."""
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, _KIND, None)


def exempt_from_default() -> bool:
    """Preflight requests, probes and the auth routes (they have limits of their
    own) are not counted against ``RATELIMIT_DEFAULT``; nothing is when disabled."""
    return (_disabled() or request.method == "OPTIONS" or request.endpoint in EXEMPT_ENDPOINTS
            or _auth_kind() is not None)


def _limits(kind: str):
    def mark(view):
        setattr(view, _KIND, kind)
        return view

    return mark


#: Decorators of the auth views (``MethodView.decorators``); the limits
#: themselves are checked before the body is read (:func:`check_auth_limits`).
login_limits = _limits("login")
register_limits = _limits("register")
password_limits = _limits("password")


def limit_auth_body() -> None:
    """413 for an auth route's body over :data:`AUTH_MAX_BODY` bytes (or
    ``MAX_CONTENT_LENGTH`` if smaller), before any of it is read.

    ``request.max_content_length`` (Flask 3.1) holds the limit for the rest of
    the request: a body sent without ``Content-Length`` (chunked) is cut at it
    by werkzeug, as a 413 too, when read here.
    """
    app_limit = current_app.config.get("MAX_CONTENT_LENGTH")
    limit = min(AUTH_MAX_BODY, app_limit) if app_limit else AUTH_MAX_BODY
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        abort(413, message=f"The request body is larger than {limit} bytes, the most "
                           "this route accepts.")
    request.get_data(cache=True)


# The limits of the auth routes hang on these functions (Flask-Limiter limits
# plain functions called in a request), called in order by check_auth_limits.
def _auth_attempt() -> None:
    """A login or password change: ``RATELIMIT_AUTH_PER_IP`` per client IP."""


def _registration() -> None:
    """A registration: ``RATELIMIT_REGISTER_PER_IP`` per client IP."""


def _login_failures() -> None:
    """A login with an email: the failure buckets are checked (spent on a 401)."""


def _password_failures() -> None:
    """A password change with a verified token: its user's failure bucket."""


#: kind -> (per-IP check, failure check or None, whether the failure check applies)
_CHECKS: dict[str, tuple[Callable[[], None], Callable[[], None] | None,
                         Callable[[], bool]]] = {}


def _has_email() -> bool:
    return login_email() is not None


def _has_user() -> bool:
    return client_key().startswith("user:")


def _bind_checks(limiter) -> None:
    """Put the auth limits on the functions above, once per process."""
    if _CHECKS:
        return
    attempt = limiter.shared_limit(_setting("RATELIMIT_AUTH_PER_IP"), AUTH_SCOPE_IP,
                                   key_func=client_ip)(_auth_attempt)
    registration = limiter.shared_limit(_setting("RATELIMIT_REGISTER_PER_IP"),
                                        REGISTER_SCOPE_IP, key_func=client_ip)(_registration)
    login = limiter.shared_limit(
        _setting("RATELIMIT_LOGIN_PER_ACCOUNT_IP"), LOGIN_SCOPE_ACCOUNT_IP,
        key_func=login_account_ip_key, deduct_when=refused,
    )(_login_failures)
    login = limiter.shared_limit(
        _setting("RATELIMIT_AUTH_PER_ACCOUNT"), LOGIN_SCOPE_ACCOUNT,
        key_func=login_account_key, deduct_when=refused,
    )(login)
    password = limiter.shared_limit(
        _setting("RATELIMIT_PASSWORD_PER_USER"), PASSWORD_SCOPE_USER, key_func=client_key,
        deduct_when=refused,
    )(_password_failures)
    _CHECKS.update(login=(attempt, login, _has_email),
                   register=(registration, None, lambda: False),
                   password=(attempt, password, _has_user))


def check_auth_limits() -> None:
    """Before the body checks, on a POST to an auth route: its per-IP limit (429),
    then :func:`limit_auth_body` (413), then its failure buckets (429), which
    need the body's email (login; none: a 422 follows) or the token's user
    (password change; none: a 401 follows)."""
    kind = _auth_kind() if request.method == "POST" else None
    if kind is None:
        return
    per_ip, failures, applies = _CHECKS[kind]
    enabled = not _disabled()
    if enabled:
        per_ip()
    limit_auth_body()
    if enabled and failures is not None and applies():
        failures()


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
    # init_app gives the shared limiter this app's (new) storage but keeps its
    # "storage dead" flag: after an app whose Redis was down (tests), the next
    # app would count in the in-memory fallback until a backend check, seconds
    # later. A new storage starts alive; an outage of it marks it dead again.
    limiter._storage_dead = False  # noqa: SLF001 (Flask-Limiter has no API for it)
    app.config["RATELIMIT_ENABLED"] = enabled
    if _disabled not in limiter._request_filters:
        # Checked before any limit is resolved: a disabled app pays almost nothing.
        limiter.request_filter(_disabled)
    _bind_checks(limiter)
    # Before taskapi.bodies' checks, which read and parse the whole body
    # (create_app registers them after the extensions).
    app.before_request(check_auth_limits)
