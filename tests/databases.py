"""The suite's databases: one per pytest-xdist worker, tables built once, rows
emptied between tests.

SQLite (the default): each worker builds a template file once with
``db.create_all()``; a test that needs the tables gets a copy of it, a file of
its own that no other test has touched.

PostgreSQL (``TASKAPI_TEST_DATABASE_URL``): each xdist worker creates a database
of its own next to the given one, ``<name>_<worker id>`` (``taskapi_test_gw0``,
...), at start and drops it at the end, and puts its URL in
``TASKAPI_TEST_DATABASE_URL`` of its own process, so every fixture and helper
that reads the variable uses it. Without xdist the given database is used. Before
each test that needs the tables they are emptied by one ``TRUNCATE ... RESTART
IDENTITY CASCADE`` (ids start at 1 again); when the schema is no longer the
models' (a test dropped or reset it, ran or stamped migrations), it is dropped
and built again.

The table list is ``db.metadata`` at run time: a new model needs nothing here.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from taskapi.config import normalize_database_uri
from taskapi.extensions import db
from tests.helpers import dispose, drop_public_schema, is_postgresql, make_app, reset_database

URL_VARIABLE = "TASKAPI_TEST_DATABASE_URL"
ORIGINAL_URL = "taskapi_original_database_url"  # config attribute: the URL as given


def worker_id(config: pytest.Config) -> str:
    """The xdist worker's id (``gw0``, ...); empty in a run without workers."""
    return getattr(config, "workerinput", {}).get("workerid", "")


def _admin_engine(url: str) -> sa.Engine:
    return sa.create_engine(normalize_database_uri(url), isolation_level="AUTOCOMMIT",
                            poolclass=sa.pool.NullPool)


def configure_worker(config: pytest.Config) -> None:
    """In an xdist worker with a PostgreSQL test database: create the worker's own
    database (dropped first if a killed run left it) and point the variable at it."""
    url, worker = os.environ.get(URL_VARIABLE, ""), worker_id(config)
    if not (url and worker and is_postgresql(url)):
        return
    given = sa.make_url(normalize_database_uri(url))
    name = f"{given.database}_{worker}"
    engine = _admin_engine(url)
    try:
        with engine.connect() as connection:
            # Identifiers cannot be bound; the name is the given one plus [a-z0-9_].
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    setattr(config, ORIGINAL_URL, url)
    # Same scheme and query (e.g. ?options=...) as given, another database name.
    os.environ[URL_VARIABLE] = (sa.make_url(url).set(database=name)
                                .render_as_string(hide_password=False))


def unconfigure_worker(config: pytest.Config) -> None:
    """Drop the worker's database made by :func:`configure_worker` (if any)."""
    url = getattr(config, ORIGINAL_URL, None)
    if url is None:
        return
    name = sa.make_url(os.environ[URL_VARIABLE]).database
    os.environ[URL_VARIABLE] = url
    engine = _admin_engine(url)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        engine.dispose()


class SqliteDatabases:
    """Copies of one template file that has the models' tables."""

    def __init__(self, directory: Path):
        self.template = directory / "template.sqlite3"
        app = make_app(f"sqlite:///{self.template}")
        with app.app_context():
            db.create_all()
        dispose(app)  # the last connection closed: WAL checkpointed, one file left

    def with_tables(self, directory: Path) -> str:
        path = directory / "test.sqlite3"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"

    def empty(self, directory: Path) -> str:
        return f"sqlite:///{directory / 'test.sqlite3'}"

    def close(self) -> None:
        pass


class PostgresqlDatabase:
    """The worker's PostgreSQL database, emptied (or rebuilt) for each test."""

    def __init__(self, url: str):
        self.url = url
        self.engine = sa.create_engine(normalize_database_uri(url), pool_size=1,
                                       pool_pre_ping=True)

    def with_tables(self, _directory: Path) -> str:
        tables = db.metadata.sorted_tables
        with self.engine.begin() as connection:
            present = set(connection.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").scalars())
            if present == {table.name for table in tables}:
                quote = connection.dialect.identifier_preparer.quote
                names = ", ".join(quote(table.name) for table in tables)
                connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            else:
                drop_public_schema(connection)
                db.metadata.create_all(connection)
        return self.url

    def empty(self, _directory: Path) -> str:
        reset_database(self.url)
        return self.url

    def close(self) -> None:
        self.engine.dispose()


def open_databases(tmp_path_factory: pytest.TempPathFactory):
    """The worker's :class:`SqliteDatabases` or :class:`PostgresqlDatabase`."""
    url = os.environ.get(URL_VARIABLE)
    if url:
        return PostgresqlDatabase(url)
    return SqliteDatabases(tmp_path_factory.mktemp("schema"))
