"""Configuration: defaults and the loading order.

Order, later wins (see README "Settings"):

1. :class:`Defaults` below;
2. ``instance/config.py`` when present;
3. environment variables prefixed ``TASKAPI_`` (``app.config.from_prefixed_env``),
   values parsed as JSON when they parse (``900`` is an int, ``true`` a bool),
   except the two secrets, which are taken as typed (``TASKAPI_JWT_SECRET_KEY=0123...``
   is that string, not a number); ``DATABASE_URL`` is accepted as an alias for the
   database URI;
4. the mapping given to ``create_app`` (tests).

``ENV`` is ``development`` or ``production`` (:data:`ENVIRONMENTS`); anything
else is a :class:`ConfigurationError`, so that a typo (``prod``) cannot run a
server with the development defaults.

Secrets: in development a missing ``SECRET_KEY`` / ``JWT_SECRET_KEY`` is generated
once and kept in ``instance/secrets.json`` (mode 0600). With ``ENV = "production"``
a missing or short secret is a :class:`ConfigurationError`; in any environment so
is a secret that is not a string (or bytes), e.g. a number in ``instance/config.py``.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from taskapi import __version__

#: Minimum secret length in bytes for HS256 keys (RFC 7518 section 3.2: a key of
#: the same size as the hash output, 256 bits, or larger).
MIN_SECRET_BYTES = 32
SECRETS_FILE = "secrets.json"
SECRET_NAMES = ("SECRET_KEY", "JWT_SECRET_KEY")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: The values of ``ENV`` (``TASKAPI_ENV``), compared without regard to case.
ENVIRONMENTS = ("development", "production")


class ConfigurationError(RuntimeError):
    """The configuration cannot be used; the message says which setting and why."""


#: Browser origins allowed by default outside production: the original web
#: frontend's development server, by name and by IP (the same page either way).
DEV_CORS_ORIGINS = ("http://localhost:3000", "http://127.0.0.1:3000")


class Defaults:
    """Default settings. Every name here has one row in the README settings table."""

    ENV = "development"
    SECRET_KEY: str | None = None
    JWT_SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None  # None: instance/taskapi.sqlite3
    SQLITE_BUSY_TIMEOUT_MS = 5000
    DB_SQLITE_SYNCHRONOUS = "FULL"  # or "NORMAL": faster commits, last ones lost on power loss
    MAX_CONTENT_LENGTH = 1024 * 1024  # bytes; larger bodies get 413

    JWT_ACCESS_TOKEN_EXPIRES = 15 * 60  # seconds
    JWT_REFRESH_TOKEN_EXPIRES = 30 * 24 * 3600  # seconds
    # Seconds a rotated refresh token may still be presented (concurrent refreshes
    # of one client); 0: any second use is reuse (taskapi.auth.tokens).
    JWT_REFRESH_REUSE_WINDOW = 30

    # argon2id cost, OWASP Password Storage Cheat Sheet (m=19 MiB, t=2, p=1 is the
    # floor; the library's defaults below are above it).
    PASSWORD_HASH_TIME_COST = 3
    PASSWORD_HASH_MEMORY_COST = 65536  # KiB
    PASSWORD_HASH_PARALLELISM = 4

    # List ETags and the list page cache (taskapi.tasks.page_cache; Flask-Caching).
    LIST_CACHE = True  # keep rendered list pages while the user's data is unchanged
    LIST_CACHE_MAX_BYTES = 64 * 1024  # larger pages are not kept (ETags still apply)
    CACHE_TYPE = "SimpleCache"  # per process; "RedisCache" + CACHE_REDIS_URL to share
    CACHE_DEFAULT_TIMEOUT = 60  # seconds a kept page lives
    CACHE_THRESHOLD = 2000  # pages kept per process (SimpleCache)

    # Sync (taskapi.sync): deletions kept for the change feed, and stored
    # Idempotency-Key answers.
    SYNC_TOMBSTONE_DAYS = 90  # older tombstones are pruned; older sync tokens get 410
    IDEMPOTENCY_TTL = 24 * 3600  # seconds an Idempotency-Key's answer is kept

    # Plugins to load (taskapi.plugins): comma-separated entry point names of the
    # group taskapi.plugins, "*" for every installed one; None: the built-in ones
    # (pat: personal access tokens).
    PLUGINS: str | None = None

    COMPAT_LIST_CAP = 1000  # most tasks GET /api/{user_id}/tasks returns unpaged
    REQUIRE_IF_MATCH = False  # True: task writes without If-Match get 428

    # Quotas (taskapi.tasks.service, taskapi.tags.service): per user, checked on writes.
    MAX_TASKS_PER_USER = 100_000  # a create beyond it is a 409
    MAX_TAGS_PER_USER = 1_000  # a write that would create more tags is a 422 naming tags
    MAX_LISTS_PER_USER = 1_000  # a list create beyond it is a 409

    # Database engine (SQLAlchemy pool; PostgreSQL). Per process: gunicorn
    # workers x (DB_POOL_SIZE + DB_MAX_OVERFLOW) must stay below max_connections.
    DB_POOL_SIZE = 5
    DB_MAX_OVERFLOW = 5
    DB_POOL_TIMEOUT = 10  # seconds a request waits for a pooled connection
    DB_POOL_RECYCLE = 1800  # seconds before a connection is replaced
    DB_POOL_PRE_PING = True  # test each connection on checkout: survives server restarts
    DB_CONNECT_TIMEOUT = 5  # seconds (PostgreSQL)
    DB_STATEMENT_TIMEOUT_MS = 10000  # PostgreSQL statement_timeout; 0 = none
    DB_RETRY_AFTER = 5  # seconds, Retry-After of a 503 while the database is down

    # Rate limits (Flask-Limiter; limit strings as in its docs, "N per minute; M per hour").
    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"  # per process; redis://host:6379/0 to share
    RATELIMIT_DEFAULT = "300 per minute"  # every route, per user (per IP when anonymous)
    RATELIMIT_AUTH_PER_IP = "20 per minute; 200 per hour"  # login + password change, per IP
    RATELIMIT_LOGIN_PER_ACCOUNT_IP = "5 per minute; 20 per hour"  # failed logins, per email + IP
    RATELIMIT_AUTH_PER_ACCOUNT = "100 per hour"  # failed logins, per email, from every IP
    RATELIMIT_REGISTER_PER_IP = "10 per minute; 100 per hour"  # registrations, per client IP
    RATELIMIT_PASSWORD_PER_USER = "5 per minute; 20 per hour"  # wrong current passwords, per user
    SESSIONS_PER_USER = 100  # live sessions per user; a login beyond revokes the oldest
    PROXY_FIX_X_FOR = 0  # proxies in front that set X-Forwarded-For (0: trust none)
    PROXY_FIX_X_PROTO = 0  # proxies in front that set X-Forwarded-Proto

    # Browser clients and response headers.
    CORS_ORIGINS: list[str] | str | None = None  # None: DEV_CORS_ORIGINS in development only
    HSTS = False  # Strict-Transport-Security on every response (serve over HTTPS only)
    HSTS_MAX_AGE = 31536000  # seconds
    # Flask's Host check (Flask 3.1): host names the Host header must match, ".example.com"
    # for its subdomains; others get 400. None: any (taskapi puts no host in its answers).
    TRUSTED_HOSTS: list[str] | str | None = None

    LOG_LEVEL = "INFO"
    LOG_FORMAT = "text"  # "text" or "json"

    API_TITLE = "taskapi"
    API_VERSION = __version__  # the package version (setup.cfg), shown in the document
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"  # served by taskapi (taskapi/docs.py)


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Fill ``app.config`` in the documented order and check it.

    Raises :class:`ConfigurationError` for an ``ENV`` other than those in
    :data:`ENVIRONMENTS`, a production app without strong secrets, a secret that
    is not a string, or settings of the wrong type.
    """
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    if os.environ.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    app.config.from_prefixed_env("TASKAPI")
    for name in SECRET_NAMES:
        # A secret is a string however it looks: from_prefixed_env would turn
        # "12345..." into an int (a 500 at every login) and drop leading zeros.
        if f"TASKAPI_{name}" in os.environ:
            app.config[name] = os.environ[f"TASKAPI_{name}"]
    if not app.config.get("JWT_SECRET_KEY") and os.environ.get("BETTER_AUTH_SECRET"):
        # The previous backend's variable, so existing deployments keep working.
        app.config["JWT_SECRET_KEY"] = os.environ["BETTER_AUTH_SECRET"]
    if overrides:
        app.config.update(overrides)

    app.config["SQLALCHEMY_DATABASE_URI"] = normalize_database_uri(
        app.config.get("SQLALCHEMY_DATABASE_URI")
        or "sqlite:///" + str(Path(app.instance_path) / "taskapi.sqlite3")
    )
    _check_environment(app)
    _check_types(app)
    _load_secrets(app)


def normalize_database_uri(uri: str) -> str:
    """Return ``uri`` with the driver SQLAlchemy needs.

    ``postgres://`` and ``postgresql://`` (Heroku-style ``DATABASE_URL``) become
    ``postgresql+psycopg://`` (psycopg 3, extra ``taskapi[postgres]``).
    """
    for prefix in ("postgres://", "postgresql://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix) :]
    return uri


def _origins(app: Flask) -> list[str]:
    """``CORS_ORIGINS`` as a list: a JSON list, or a comma-separated string."""
    value = app.config.get("CORS_ORIGINS")
    if value is None:
        return [] if is_production(app) else list(DEV_CORS_ORIGINS)
    if isinstance(value, str):
        value = [origin.strip() for origin in value.split(",") if origin.strip()]
    if not isinstance(value, list) or not all(isinstance(o, str) for o in value):
        raise ConfigurationError("CORS_ORIGINS must be a list of origins or a "
                                 "comma-separated string")
    return value


def _hosts(app: Flask) -> list[str] | None:
    """``TRUSTED_HOSTS`` as Flask wants it: None, or a non-empty list of host names
    (a JSON list, or a comma-separated string)."""
    value = app.config.get("TRUSTED_HOSTS")
    if value is None:
        return None
    if isinstance(value, str):
        value = [host.strip() for host in value.split(",") if host.strip()]
    if not isinstance(value, list) or not value or not all(
            isinstance(host, str) and host for host in value):
        raise ConfigurationError("TRUSTED_HOSTS must be a non-empty list of host names "
                                 "(a JSON list or a comma-separated string), or unset")
    return value


def _check_environment(app: Flask) -> None:
    value = app.config.get("ENV")
    name = value.strip().lower() if isinstance(value, str) else None
    if name not in ENVIRONMENTS:
        raise ConfigurationError(f"ENV (TASKAPI_ENV) must be one of {', '.join(ENVIRONMENTS)}, "
                                 f"got {value!r}")
    app.config["ENV"] = name


def is_production(app: Flask) -> bool:
    """True when ``ENV`` (``TASKAPI_ENV``) is ``production``."""
    return str(app.config.get("ENV", "")).lower() == "production"


def _check_types(app: Flask) -> None:
    for name in (
        "DB_POOL_SIZE",
        "DB_POOL_TIMEOUT",
        "DB_POOL_RECYCLE",
        "DB_CONNECT_TIMEOUT",
        "DB_RETRY_AFTER",
        "HSTS_MAX_AGE",
        "JWT_ACCESS_TOKEN_EXPIRES",
        "JWT_REFRESH_TOKEN_EXPIRES",
        "MAX_CONTENT_LENGTH",
        "SQLITE_BUSY_TIMEOUT_MS",
        "COMPAT_LIST_CAP",
        "LIST_CACHE_MAX_BYTES",
        "CACHE_DEFAULT_TIMEOUT",
        "CACHE_THRESHOLD",
        "PASSWORD_HASH_TIME_COST",
        "PASSWORD_HASH_MEMORY_COST",
        "PASSWORD_HASH_PARALLELISM",
        "SESSIONS_PER_USER",
        "MAX_TASKS_PER_USER",
        "MAX_TAGS_PER_USER",
        "MAX_LISTS_PER_USER",
    ):
        value = app.config.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    for name in ("DB_MAX_OVERFLOW", "DB_STATEMENT_TIMEOUT_MS", "PROXY_FIX_X_FOR",
                 "PROXY_FIX_X_PROTO", "JWT_REFRESH_REUSE_WINDOW"):
        value = app.config.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigurationError(f"{name} must be an integer >= 0, got {value!r}")
    for name in ("REQUIRE_IF_MATCH", "DB_POOL_PRE_PING", "RATELIMIT_ENABLED", "HSTS",
                 "LIST_CACHE"):
        if not isinstance(app.config[name], bool):
            raise ConfigurationError(f"{name} must be true or false")
    app.config["CORS_ORIGINS"] = _origins(app)
    app.config["TRUSTED_HOSTS"] = _hosts(app)
    synchronous = str(app.config["DB_SQLITE_SYNCHRONOUS"]).upper()
    if synchronous not in ("FULL", "NORMAL", "EXTRA"):
        raise ConfigurationError("DB_SQLITE_SYNCHRONOUS must be FULL, NORMAL or EXTRA")
    app.config["DB_SQLITE_SYNCHRONOUS"] = synchronous
    if app.config["LOG_FORMAT"] not in ("text", "json"):
        raise ConfigurationError("LOG_FORMAT must be 'text' or 'json'")
    if str(app.config["LOG_LEVEL"]).upper() not in LOG_LEVELS:
        raise ConfigurationError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    try:
        make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    except ArgumentError:
        # The URL is not echoed: it may hold a password.
        raise ConfigurationError(
            "SQLALCHEMY_DATABASE_URI (or DATABASE_URL) is not a valid database URL"
        ) from None


def _secret_bytes(value: str | bytes | None) -> int:
    if value is None:
        return 0
    return len(value.encode() if isinstance(value, str) else value)


def _load_secrets(app: Flask) -> None:
    """Check ``SECRET_KEY`` and ``JWT_SECRET_KEY``; in development, generate the
    missing ones (:func:`_instance_secrets`).

    Raises :class:`ConfigurationError` for a secret that is neither a string nor
    bytes (Flask and PyJWT take nothing else: such a server would answer every
    login with a 500), and in production for a missing one or one shorter than
    :data:`MIN_SECRET_BYTES` bytes (RFC 7518 section 3.2). Secrets are never echoed.
    """
    for name in SECRET_NAMES:
        value = app.config.get(name)
        if value is not None and not isinstance(value, (str, bytes)):
            raise ConfigurationError(
                f"{name} must be a string, got a {type(value).__name__} (instance/config.py "
                f"or the create_app mapping; TASKAPI_{name} is always taken as a string)"
            )
    missing = [name for name in SECRET_NAMES if not app.config.get(name)]
    if is_production(app):
        weak = [
            name
            for name in SECRET_NAMES
            if _secret_bytes(app.config.get(name)) < MIN_SECRET_BYTES
        ]
        if weak:
            raise ConfigurationError(
                f"TASKAPI_ENV=production needs {' and '.join('TASKAPI_' + n for n in weak)} "
                f"set to a random value of at least {MIN_SECRET_BYTES} bytes, "
                'e.g. python3 -c "import secrets; print(secrets.token_urlsafe(48))"'
            )
        return
    if missing:
        generated = _instance_secrets(Path(app.instance_path))
        for name in missing:
            app.config[name] = generated[name]


def _instance_secrets(instance: Path) -> dict[str, str]:
    """Read, or create once, the development secrets file (mode 0600).

    Several gunicorn workers may start at the same moment: the file is written to
    a temporary name and hard-linked into place, so readers never see half a file
    and exactly one writer wins.
    """
    path = instance / SECRETS_FILE
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        values = {name: secrets.token_urlsafe(48) for name in SECRET_NAMES}
        tmp = instance / f".{SECRETS_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(values, handle)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    values = json.loads(path.read_text())
    if not all(isinstance(values.get(name), str) and values[name] for name in SECRET_NAMES):
        raise ConfigurationError(f"{path} is not a valid secrets file; delete it to regenerate")
    return values
