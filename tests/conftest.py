"""Fixtures: a fresh app and database per test, a client, and account helpers.

Databases (tests/databases.py): ``database_url`` has the models' tables and no
rows: on SQLite a copy of a template file built once per pytest-xdist worker, on
PostgreSQL (``TASKAPI_TEST_DATABASE_URL``, a throwaway database) the worker's own
database, its tables emptied before the test. ``empty_database_url`` has nothing
at all (no tables, no ``alembic_version``), for tests that run migrations or
need an empty database.

pytest-xdist: tests that share a Redis database (``redis_url``) run on one worker
(``xdist_group("redis")``); what the workers' hardening tests tried is summed up
for the final report.
"""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from taskapi import create_app
from taskapi.extensions import db
from tests import databases, report
from tests.helpers import TEST_SECRETS, Account, make_account

# Cheap argon2id parameters for speed; production values are tested in test_config.
FAST_HASHING = {
    "PASSWORD_HASH_TIME_COST": 1,
    "PASSWORD_HASH_MEMORY_COST": 1024,
    "PASSWORD_HASH_PARALLELISM": 1,
}


def pytest_configure(config):
    databases.configure_worker(config)


def pytest_unconfigure(config):
    databases.unconfigure_worker(config)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Unique test ids, and one worker for every test that flushes the shared
    Redis database.

    xdist hands tests to workers by node id (``--dist loadgroup``): of several
    items with one id only one would run. schemathesis names its items
    ``test_operation[POST /path]`` but gives them all the id ``...::test_operation``;
    the name goes into the id. xdist's own ``@group`` suffix is set the same way
    here, as its hook does not change ids on pytest 9.
    """
    counts = Counter(item.nodeid for item in items)
    for item in items:
        if "redis_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("redis"))
        nodeid = item.nodeid
        if counts[nodeid] > 1 and item.parent is not None:
            nodeid = f"{item.parent.nodeid}::{item.name}"
        groups = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                         for mark in item.iter_markers("xdist_group")})
        if groups and config.getoption("dist", "no") == "loadgroup" and "@" not in nodeid:
            nodeid = f"{nodeid}@{'_'.join(groups)}"
        if nodeid != item.nodeid:
            _set_nodeid(item, nodeid)
    repeated = [nodeid for nodeid, n in Counter(item.nodeid for item in items).items() if n > 1]
    if repeated:
        raise pytest.UsageError(f"several tests share these ids: {repeated}")


def _set_nodeid(item, nodeid: str) -> None:
    if hasattr(item, "_id"):  # pytest 9 keeps a structured id
        from _pytest.nodeid import coerce_node_id

        item._id = coerce_node_id(nodeid)
    else:
        item._nodeid = nodeid


@pytest.fixture(scope="session")
def test_databases(tmp_path_factory):
    """This worker's databases (tests/databases.py)."""
    opened = databases.open_databases(tmp_path_factory)
    yield opened
    opened.close()


@pytest.fixture
def database_url(test_databases, tmp_path) -> str:
    """The test's database URL: the models' tables (as ``db.create_all()`` makes
    them), no rows, ids starting at 1."""
    return test_databases.with_tables(tmp_path)


@pytest.fixture
def empty_database_url(test_databases, tmp_path) -> str:
    """The test's database URL, with nothing in it: a new SQLite file, or the
    PostgreSQL test database with its ``public`` schema dropped and re-created."""
    return test_databases.empty(tmp_path)


@pytest.fixture
def app_config(database_url) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        **TEST_SECRETS,
        **FAST_HASHING,
        # Most tests log in far more often than a client may; tests/test_rate_limits.py
        # switches the limits on.
        "RATELIMIT_ENABLED": False,
    }


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    with app.app_context():
        db.create_all()  # a no-op on database_url; modules may give an empty one
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def user(client) -> Account:
    """A registered, logged-in account."""
    return make_account(client, "ada@example.com", name="Ada")


@pytest.fixture
def other_user(client) -> Account:
    """A second account, to prove isolation."""
    return make_account(client, "bob@example.com", name="Bob")


@pytest.fixture
def taskapi_logs(caplog):
    """Capture every ``taskapi.*`` record at DEBUG and above."""
    caplog.set_level(logging.DEBUG, logger="taskapi")
    return caplog


@pytest.fixture
def restore_logging():
    """Alembic's env.py applies alembic.ini's logging config; undo it after the test.

    Modules that run migrations use it with ``pytest.mark.usefixtures``.
    """
    names = ("", "sqlalchemy", "sqlalchemy.engine", "alembic", "flask_migrate")
    saved = {
        name: (lg.level, list(lg.handlers), lg.propagate, lg.disabled)
        for name in names
        for lg in [logging.getLogger(name)]
    }
    yield
    for name, (level, handlers, propagate, disabled) in saved.items():
        lg = logging.getLogger(name)
        lg.setLevel(level)
        lg.handlers[:] = handlers
        lg.propagate = propagate
        lg.disabled = disabled


def pytest_sessionfinish(session):
    """In an xdist worker: hand the tally to the controller (below)."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["taskapi_tally"] = report.export()


@pytest.hookimpl(optionalhook=True)  # an xdist hook, called in the controller
def pytest_testnodedown(node, error):
    report.merge(getattr(node, "workeroutput", {}).get("taskapi_tally", []))


def pytest_terminal_summary(terminalreporter):
    """Print what the hardening tests tried (tests/report.py)."""
    lines = report.summary_lines()
    if lines:
        terminalreporter.section("what the hardening tests tried")
        for line in lines:
            terminalreporter.write_line(line)
