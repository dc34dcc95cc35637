"""Engine set-up: SQLite pragmas and write transactions that take the lock first.

On SQLite several gunicorn workers share one file. A transaction that starts as a
reader and later writes cannot wait for the lock (SQLite returns SQLITE_BUSY at
once, "database is locked"); a transaction started with ``BEGIN IMMEDIATE`` waits
up to ``busy_timeout`` for it instead (https://www.sqlite.org/lang_transaction.html).
So every transaction opened while serving an unsafe method (POST, PUT, PATCH,
DELETE) begins with ``BEGIN IMMEDIATE``; GET/HEAD/OPTIONS transactions stay
deferred readers, which WAL lets run alongside the writer. Outside a request
(``flask shell``, CLI commands) transactions are deferred too, so an idle shell
session never holds the write lock that the API's workers need. Recipe:
SQLAlchemy docs, "Serializable isolation / Savepoints / Transactional DDL" for
pysqlite.
"""

from __future__ import annotations

import itertools
import math
import os
import sqlite3
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from taskapi.data_version import init_data_version
from taskapi.extensions import db

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def init_database(app: Flask) -> None:
    """Bind Flask-SQLAlchemy to ``app`` and add the SQLite listeners when needed.

    Creating the engine does not connect: nothing touches the database here.
    """
    options = engine_options(app.config)
    given = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = {**options.get("connect_args", {}), **given.pop("connect_args", {})}
    options.update(given)
    if connect_args:
        options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    init_data_version(db.session)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            _create_private_file(engine.url.database)
            _configure_sqlite(engine, app.config["SQLITE_BUSY_TIMEOUT_MS"],
                              app.config["DB_SQLITE_SYNCHRONOUS"],
                              app.config["DB_STATEMENT_TIMEOUT_MS"])
            app.extensions["taskapi.sqlite_write_turn"] = threading.Lock()
            app.teardown_request(_end_write_turn)


def _create_private_file(database: str | None) -> None:
    """Create a missing SQLite database file with mode 0600 (owner only).

    SQLite gives the ``-wal`` and ``-shm`` files the permissions of the database
    file (https://www.sqlite.org/tempfiles.html), so all three stay private, like
    ``instance/secrets.json``. An existing file keeps the mode its owner gave it.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # a mistyped folder stays an error (SQLite: unable to open), not made here
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def engine_options(config) -> dict[str, Any]:
    """SQLAlchemy ``create_engine`` options from the ``DB_*`` settings.

    PostgreSQL: a pool of ``DB_POOL_SIZE`` (+ ``DB_MAX_OVERFLOW``) connections per
    process, each tested on checkout (``pool_pre_ping``, so a restarted server
    costs no failed request) and replaced after ``DB_POOL_RECYCLE`` seconds;
    ``connect_timeout`` and a server-side ``statement_timeout`` bound how long a
    request can wait on the database (SQLAlchemy docs, "Connection Pooling";
    PostgreSQL docs, "Client Connection Defaults"). SQLite: none (no pre-ping).
    """
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    # A SQLite file cannot drop a connection: pinging it is a wasted query per
    # checkout (about 5% of a worker's time under load, py-spy).
    options: dict[str, Any] = {
        "pool_pre_ping": config["DB_POOL_PRE_PING"] and url.get_backend_name() != "sqlite",
    }
    if url.get_backend_name() == "postgresql":
        # connect_args win over the URL's query: keep any ?options=... it has.
        server_options = f"-c statement_timeout={config['DB_STATEMENT_TIMEOUT_MS']}"
        if url.query.get("options"):
            server_options = f"{url.query['options']} {server_options}"
        options.update(
            pool_size=config["DB_POOL_SIZE"],
            max_overflow=config["DB_MAX_OVERFLOW"],
            pool_timeout=config["DB_POOL_TIMEOUT"],
            pool_recycle=config["DB_POOL_RECYCLE"],
            connect_args={
                "connect_timeout": config["DB_CONNECT_TIMEOUT"],
                "options": server_options,
            },
        )
    return options


#: SQLite virtual-machine instructions between two looks at the statement's
#: deadline: about a millisecond of work. Each look takes the GIL, so a long
#: statement looking much more often would slow the other threads of its worker.
PROGRESS_OPS = 100_000
_DEADLINE = "taskapi.statement_deadline"


def _configure_sqlite(engine: Engine, busy_timeout_ms: int, synchronous: str,
                      statement_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, record) -> None:
        # Hand transaction control to the "begin" listener below.
        dbapi_connection.isolation_level = None
        if statement_timeout_ms:
            # A statement still running at its deadline is interrupted: SQLite
            # calls the handler every PROGRESS_OPS instructions and a non-zero
            # answer aborts it with SQLITE_INTERRUPT
            # (https://www.sqlite.org/c3ref/progress_handler.html).
            deadline = record.info[_DEADLINE] = [math.inf]
            dbapi_connection.set_progress_handler(
                lambda: time.monotonic() > deadline[0], PROGRESS_OPS)
        # Unicode-aware lower() for case-insensitive search (SQLite's own folds
        # ASCII only; https://www.sqlite.org/lang_corefunc.html#lower).
        dbapi_connection.create_function("unicode_lower", 1, unicode_lower,
                                         deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: every commit is on disk before it returns. NORMAL in WAL mode: no
        # corruption, but the last commits can be lost on power loss (not on a
        # process crash); https://www.sqlite.org/pragma.html#pragma_synchronous.
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    if statement_timeout_ms:
        @event.listens_for(engine, "before_cursor_execute")
        def set_deadline(connection: Connection, *_args) -> None:
            # Only statements of requests are bounded: admin commands and
            # migrations may run as long as they need.
            deadline = connection.connection.info.get(_DEADLINE)
            if deadline is not None:
                deadline[0] = (time.monotonic() + statement_timeout_ms / 1000
                               if has_request_context() else math.inf)

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        if not _is_write_context():
            # Straight to sqlite3: a reader's BEGIN needs none of SQLAlchemy's
            # statement machinery (events, execution context, result).
            connection.connection.driver_connection.execute("BEGIN")
            return
        _take_write_turn()
        if not _begin_immediate(connection.connection.driver_connection, busy_timeout_ms):
            # Out of time (or another error): once more through SQLAlchemy, whose
            # OperationalError the error handlers answer with 503 and Retry-After.
            connection.exec_driver_sql("BEGIN IMMEDIATE")


#: Pauses between attempts at the write lock, in seconds: short, so that a waiting
#: writer notices the lock is free within a few ms.
_RETRY_PAUSES = (0.0005, 0.001, 0.002, 0.004)


def _begin_immediate(dbapi_connection, busy_timeout_ms: int) -> bool:
    """``BEGIN IMMEDIATE``, retried for up to ``busy_timeout_ms``; False when it timed
    out or failed otherwise.

    SQLite's own busy handler sleeps up to 100 ms between attempts, so under load a
    waiting writer keeps missing the moments the lock is free while other
    processes' writers, arriving at those moments, take it: some requests waited
    out the whole timeout. Here the attempts are a few ms apart.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    try:
        for attempt in itertools.count():
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return True
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    return False  # the caller's attempt raises it, wrapped
            if time.monotonic() >= deadline:
                return False
            time.sleep(_RETRY_PAUSES[min(attempt, len(_RETRY_PAUSES) - 1)])
    finally:
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()


def _is_write_context() -> bool:
    return (has_request_context() and request.method not in SAFE_METHODS
            and not g.get("sqlite_read_first"))


def unicode_lower(text: str | None) -> str | None:
    """``str.lower`` as the SQL function ``unicode_lower(text)`` on SQLite: the
    same folding as PostgreSQL's ``lower()`` under a UTF-8 locale, for search."""
    return None if text is None else text.lower()


def is_statement_timeout(error: BaseException) -> bool:
    """Whether ``error`` (a SQLAlchemy ``OperationalError`` or the driver's own) is
    a statement stopped at its time bound: SQLite's ``SQLITE_INTERRUPT`` raised by
    the progress handler above, or PostgreSQL's ``query_canceled`` (SQLSTATE
    57014) raised by ``statement_timeout``."""
    orig = getattr(error, "orig", None) or error
    if isinstance(orig, sqlite3.OperationalError):
        return getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_INTERRUPT
    return getattr(orig, "sqlstate", None) == "57014"


@contextmanager
def read_before_write():
    """Run the block's statements as a reader, even in a write request on SQLite,
    and end that transaction afterwards: the request's write transaction then
    begins (``BEGIN IMMEDIATE``, taking this process's write turn and the
    database lock) at its first statement after the block, not before it. For
    the token check and the user lookup of a login, so that neither the lock nor
    the turn is held while a token is checked, a body parsed or a password
    hashed. Elsewhere (reads, PostgreSQL) the block runs in the request's
    transaction as usual. Nothing in the block may write."""
    if (not has_request_context() or request.method in SAFE_METHODS
            or "taskapi.sqlite_write_turn" not in current_app.extensions
            or g.get("sqlite_write_turn")):
        yield
        return
    g.sqlite_read_first = True
    try:
        yield
    finally:
        g.sqlite_read_first = False
        db.session.rollback()  # a reader's transaction: nothing to lose


#: Seconds a batched write pauses between its transactions, so that writers
#: waiting for the lock (this process's threads, other processes) get it.
BATCH_PAUSE = 0.005


def end_batch() -> None:
    """Commit the current batch of a large write and let other writers in.

    Large set-based writes (a tag of 100,000 tasks, an account) run as several
    short transactions instead of one long one, so that no other user's write
    waits for more than one batch. On SQLite the commit also hands back this
    process's write turn; the next batch's first statement takes it again.
    """
    db.session.commit()
    time.sleep(BATCH_PAUSE)


def _take_write_turn() -> None:
    """At the start of a write transaction on SQLite: wait for this process's write
    turn, held until the transaction ends (commit or rollback).

    The threads of one worker queue here, on a lock that wakes the next waiter at
    once, instead of inside SQLite, whose busy handler polls with sleeps of up to
    100 ms: under load a polling writer could lose every round and time out
    (SQLITE_BUSY) while others got through. Only the workers then compete for the
    database lock, one writer each. The turn is taken at ``BEGIN``, not when the
    request arrives: a request parsing its body or hashing a password holds
    nothing. Waiting longer than the busy timeout is the same 503 as SQLite's own
    "database is locked".
    """
    if g.get("sqlite_write_turn"):
        return
    timeout = current_app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000
    if not current_app.extensions["taskapi.sqlite_write_turn"].acquire(timeout=timeout):
        raise OperationalError("waiting for this process's write turn", None,
                               TimeoutError("database is locked"))
    g.sqlite_write_turn = True


def _end_write_turn(_error: BaseException | None = None) -> None:
    if has_request_context() and g.pop("sqlite_write_turn", False):
        current_app.extensions["taskapi.sqlite_write_turn"].release()


@event.listens_for(Session, "after_commit")
def _after_commit(_session: Session) -> None:
    _end_write_turn()


@event.listens_for(Session, "after_rollback")
def _after_rollback(_session: Session) -> None:
    _end_write_turn()
