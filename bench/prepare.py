"""A benchmark database, ready for load: erased, migrated, seeded, tokens issued.

:func:`prepare` erases the database it is given (PostgreSQL: ``DROP SCHEMA public
CASCADE`` then ``CREATE SCHEMA public``; SQLite: the file is deleted), runs
``flask --app wsgi db upgrade`` in the server's environment, seeds it with
:mod:`bench.dataset` inside an app built from that same environment (same
secrets, same argon2 parameters), issues access tokens, and writes the files the
wrk scripts read (bench/lua/):

- ``users.txt``: one line per user of the load, ``<access token> <task id> ...``
  (ids of a few of that user's own tasks);
- ``logins.txt``: one email per line, for the login scenario (password:
  :data:`bench.dataset.PASSWORD`).
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench import dataset
from bench.server import environment, migrate
from taskapi import create_app
from taskapi.config import normalize_database_uri
from taskapi.extensions import db

IDS_PER_USER = 5  # own task ids per user in users.txt (GET one, PATCH)
SORT = "-created_at"  # the default order; the deep cursor is one of its pages
PLACED_SORT = "position"  # a list's default order: deep_position_cursor's


@dataclass
class Prepared:
    """What the scenarios need of a seeded database (paths are files in the run
    folder; tokens are access tokens; ``seconds`` is how long preparing took)."""

    sizes: dataset.Sizes
    users_file: Path
    logins_file: Path
    users: int  # lines in users_file
    big_token: str | None
    deep_cursor: str | None
    bad_token: str
    seconds: float
    neighbour_token: str | None = None
    deep_position_cursor: str | None = None  # the middle page of the big user's Inbox
    #: The big user's sync tokens: before a 1,000-change delta, and after it.
    sync_tokens: tuple[str, str] | None = None


def server_settings(url: str, workdir: Path) -> dict[str, str]:
    """The ``TASKAPI_*`` variables of a benchmark server on ``url``: production mode
    with fresh random secrets, rate limits off (this is not a rate-limit test),
    the INFO access log on, access tokens valid for a day so that the ones issued
    before the load outlive any run (the lifetime costs nothing per request)."""
    return {
        "TASKAPI_ENV": "production",
        "TASKAPI_SQLALCHEMY_DATABASE_URI": url,
        "TASKAPI_SECRET_KEY": secrets.token_urlsafe(48),
        "TASKAPI_JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "TASKAPI_INSTANCE_PATH": str(workdir / "instance"),
        "TASKAPI_RATELIMIT_ENABLED": "false",
        "TASKAPI_LOG_LEVEL": "INFO",
        "TASKAPI_JWT_ACCESS_TOKEN_EXPIRES": "86400",
    }


def erase(url: str) -> None:
    """Empty the database at ``url`` (see the module docstring): PostgreSQL loses
    its whole ``public`` schema, an SQLite file is deleted with its -wal/-shm."""
    parsed = make_url(normalize_database_uri(url))
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                Path(parsed.database + suffix).unlink(missing_ok=True)
        return
    engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()


def prepare(env: dict[str, str], sizes: dataset.Sizes, load_users: int, workdir: Path,
            name: str) -> Prepared:
    """Erase, migrate and seed the database of ``env`` (a server environment), issue
    tokens to ``load_users`` regular users spread over the id range, and write the
    data files as ``workdir / f"{name}-users.txt"`` etc."""
    began = time.monotonic()
    erase(env["TASKAPI_SQLALCHEMY_DATABASE_URI"])
    migrate(env, workdir / f"{name}-migrate.log")
    with environment(env):
        app = create_app({"LOG_LEVEL": "WARNING"})
    count = min(load_users, sizes.users)
    user_ids = [1 + i * sizes.users // count for i in range(count)] if count else []
    with app.app_context():
        dataset.seed(sizes)
        tokens = dataset.issue_access_tokens(user_ids)
        big_token = deep_cursor = deep_position_cursor = sync_tokens = None
        if sizes.big_user_id:
            sync_tokens = dataset.sync_delta(sizes.big_user_id)
            big_token = dataset.issue_access_tokens([sizes.big_user_id])[sizes.big_user_id]
            deep_cursor = dataset.cursor_at(sizes.big_user_id, SORT,
                                            max(sizes.big_user_tasks // 2, 1))
            deep_position_cursor = dataset.cursor_at(
                sizes.big_user_id, PLACED_SORT, max(sizes.big_user_tasks // 2, 1),
                list_id=dataset.inbox_id(sizes.big_user_id))
        neighbour_token = None
        if sizes.neighbour_id:
            neighbour_token = dataset.issue_access_tokens(
                [sizes.neighbour_id])[sizes.neighbour_id]
        db.engine.dispose()
    users_file, logins_file = workdir / f"{name}-users.txt", workdir / f"{name}-logins.txt"
    users_file.write_text("".join(
        f"{tokens[u]} L{dataset.inbox_id(u)} "
        f"{' '.join(map(str, sizes.task_ids(u, IDS_PER_USER)))}\n"
        for u in user_ids))
    logins_file.write_text("".join(f"{dataset.email(u)}\n" for u in user_ids))
    # Write the freshly loaded pages out now rather than during the first scenario.
    os.sync()
    return Prepared(sizes, users_file, logins_file, len(user_ids), big_token, deep_cursor,
                    forged_token(), time.monotonic() - began, neighbour_token,
                    deep_position_cursor, sync_tokens)


def forged_token() -> str:
    """A well-formed HS256 JWT signed with a random key: a bad bearer token that
    the server must refuse with 401 (before any database work)."""
    now = int(time.time())
    return jwt.encode({"sub": "1", "type": "access", "jti": secrets.token_hex(16),
                       "iat": now, "nbf": now, "exp": now + 86400},
                      secrets.token_urlsafe(48), algorithm="HS256")
