"""Fixtures: a fresh app and database per test, a client, and account helpers.

Databases: a new SQLite file per test by default. With
``TASKAPI_TEST_DATABASE_URL`` set, that database is used instead and every table
is dropped and re-created around each test.
"""

from __future__ import annotations

import logging
import os

import pytest

from taskapi import create_app
from taskapi.extensions import db
from tests.helpers import TEST_SECRETS, Account, make_account

# Cheap argon2id parameters for speed; production values are tested in test_config.
FAST_HASHING = {
    "PASSWORD_HASH_TIME_COST": 1,
    "PASSWORD_HASH_MEMORY_COST": 1024,
    "PASSWORD_HASH_PARALLELISM": 1,
}


@pytest.fixture
def database_url(tmp_path) -> str:
    return os.environ.get("TASKAPI_TEST_DATABASE_URL") or (
        f"sqlite:///{tmp_path / 'test.sqlite3'}"
    )


@pytest.fixture
def app_config(database_url) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        **TEST_SECRETS,
        **FAST_HASHING,
    }


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        if os.environ.get("TASKAPI_TEST_DATABASE_URL"):
            db.drop_all()
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
