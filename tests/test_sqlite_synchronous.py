"""The ``DB_SQLITE_SYNCHRONOUS`` setting (taskapi.config, taskapi.database).

SQLite's ``PRAGMA synchronous`` on the connections that serve requests is FULL
(2) by default, NORMAL (1) or EXTRA (3) when configured, in any letter case; any
other value is a :class:`~taskapi.config.ConfigurationError` at ``create_app``.
Always on a SQLite file of its own, whatever ``TASKAPI_TEST_DATABASE_URL`` says.
"""

from __future__ import annotations

import pytest
from flask import jsonify

from taskapi.config import ConfigurationError
from taskapi.extensions import db
from tests.helpers import create_task, dispose, make_account, make_app

#: PRAGMA synchronous values (https://www.sqlite.org/pragma.html#pragma_synchronous).
LEVELS = {"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'synchronous.sqlite3'}"


@pytest.fixture
def synchronous_of(sqlite_url):
    """``PRAGMA synchronous`` as a GET and a POST request's connection sees it,
    for an app made with the given overrides."""
    apps = []

    def read(**overrides) -> dict[str, int]:
        app = make_app(sqlite_url, **overrides)
        apps.append(app)

        def pragma():
            value = db.session.connection().exec_driver_sql("PRAGMA synchronous").scalar()
            return jsonify({"synchronous": value})

        app.add_url_rule("/_test/synchronous", "test_synchronous", pragma,
                         methods=["GET", "POST"])
        client = app.test_client()
        seen = {}
        for method in ("get", "post"):
            response = getattr(client, method)("/_test/synchronous")
            assert response.status_code == 200, response.get_data(as_text=True)
            seen[method] = response.get_json()["synchronous"]
        return seen

    yield read
    for app in apps:
        dispose(app)


def test_default_is_full(synchronous_of):
    assert synchronous_of() == {"get": LEVELS["FULL"], "post": LEVELS["FULL"]}


@pytest.mark.parametrize(("value", "level"), [
    ("FULL", "FULL"), ("NORMAL", "NORMAL"), ("normal", "NORMAL"), ("Normal", "NORMAL"),
    ("full", "FULL"), ("EXTRA", "EXTRA"),
])
def test_configured_level(synchronous_of, value, level):
    assert synchronous_of(DB_SQLITE_SYNCHRONOUS=value) == {
        "get": LEVELS[level], "post": LEVELS[level]}


def test_normalised_in_the_config(sqlite_url):
    app = make_app(sqlite_url, DB_SQLITE_SYNCHRONOUS="normal")
    try:
        assert app.config["DB_SQLITE_SYNCHRONOUS"] == "NORMAL"
    finally:
        dispose(app)


def test_environment_variable(monkeypatch, synchronous_of):
    monkeypatch.setenv("TASKAPI_DB_SQLITE_SYNCHRONOUS", "normal")
    assert synchronous_of() == {"get": LEVELS["NORMAL"], "post": LEVELS["NORMAL"]}


@pytest.mark.parametrize("value", ["OFF", "off", 3, 1, 0, "3", "", "FULL;", "FULL; DROP",
                                   None, True])
def test_invalid_value_is_a_configuration_error(sqlite_url, value):
    with pytest.raises(ConfigurationError, match="DB_SQLITE_SYNCHRONOUS"):
        make_app(sqlite_url, DB_SQLITE_SYNCHRONOUS=value)


def test_api_requests_work_with_normal(sqlite_url):
    """A whole write and read through the API with NORMAL."""
    app = make_app(sqlite_url, DB_SQLITE_SYNCHRONOUS="NORMAL")
    try:
        with app.app_context():
            db.create_all()
        client = app.test_client()
        account = make_account(client, "sync@example.com")
        task = create_task(client, account, title="Durable enough")
        listed = client.get("/api/v1/tasks", headers=account.headers)
        assert [t["id"] for t in listed.get_json()] == [task["id"]]
    finally:
        dispose(app)
