"""Fixtures: a fresh app and database per test, a client, and account helpers.

Databases: a new SQLite file per test by default. With
``TASKAPI_TEST_DATABASE_URL`` set (a throwaway PostgreSQL database), that
database is used instead: its ``public`` schema is dropped and re-created before
each test, so no test sees another's rows, tables or ``alembic_version``.
"""

from __future__ import annotations

import logging
import os

import pytest

from taskapi import create_app
from taskapi.extensions import db
from tests.helpers import TEST_SECRETS, Account, make_account, reset_database

# Cheap argon2id parameters for speed; production values are tested in test_config.
FAST_HASHING = {
    "PASSWORD_HASH_TIME_COST": 1,
    "PASSWORD_HASH_MEMORY_COST": 1024,
    "PASSWORD_HASH_PARALLELISM": 1,
}


@pytest.fixture
def database_url(tmp_path) -> str:
    """The test's database URL, empty: a new SQLite file, or the reset test database."""
    url = os.environ.get("TASKAPI_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    reset_database(url)
    return url


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
        db.create_all()
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


def pytest_terminal_summary(terminalreporter):
    """Print what the hardening tests tried (tests/report.py)."""
    from tests.report import summary_lines

    lines = summary_lines()
    if lines:
        terminalreporter.section("what the hardening tests tried")
        for line in lines:
            terminalreporter.write_line(line)
