"""Database outages on PostgreSQL: 503 with ``Retry-After`` (never 500), recovery
without a restart, the statement timeout, pool exhaustion, and the engine options
built from the ``DB_*`` settings.

Tests taking the ``postgresql_url`` fixture (directly, or through ``app`` and
``client``, whose ``database_url`` is overridden below) need a real server: set
``TASKAPI_TEST_DATABASE_URL`` to a throwaway PostgreSQL database. Without it they
are skipped, or fail when ``TASKAPI_TEST_REQUIRE_SERVICES=1`` (``.ci/run``).
Outages are made without stopping the shared server: a second app on a closed
port, or a throwaway database (created here, dropped after) that stops
accepting connections and has its sessions terminated. The configuration tests
at the end need no server and always run.
"""

from __future__ import annotations

import logging
import time
import uuid

import flask_migrate
import pytest
import sqlalchemy as sa

from taskapi import create_app
from taskapi.config import ConfigurationError, normalize_database_uri
from taskapi.errors import DEFAULT_MESSAGES
from taskapi.extensions import db
from tests.helpers import (
    PASSWORD,
    assert_error,
    auth_headers,
    create_task,
    dispose,
    login,
    make_account,
    make_app,
    postgresql_test_url,
    reset_database,
)

CLOSED_PORT_URL = "postgresql+psycopg://postgres@127.0.0.1:1/x"
CONNECT_TIMEOUT = 2
RETRY_AFTER = 7
UNAVAILABLE = "The database is unavailable; retry after the time in Retry-After."
#: Text that must never reach a client: stack traces, SQL, driver and URL details.
LEAKS = ("traceback", "select ", "insert ", "psycopg", "sqlalchemy", "operationalerror",
         "127.0.0.1", "connection refused", "port 1", "not currently accepting")


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture
def postgresql_url() -> str:
    """``TASKAPI_TEST_DATABASE_URL``, which must be PostgreSQL here."""
    return postgresql_test_url()


@pytest.fixture
def database_url(postgresql_url) -> str:
    """conftest's ``app``/``client``/``user`` here always run on PostgreSQL."""
    reset_database(postgresql_url)
    return postgresql_url


pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture
def admin(postgresql_url):
    """An autocommit engine on the server's ``postgres`` database."""
    url = sa.make_url(normalize_database_uri(postgresql_url)).set(database="postgres")
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


class Throwaway:
    """A database of its own on the shared server, which a test may cut off."""

    def __init__(self, admin_engine: sa.Engine, base_url: str):
        self.admin = admin_engine
        self.name = f"taskapi_outage_{uuid.uuid4().hex[:12]}"
        self.url = (sa.make_url(normalize_database_uri(base_url)).set(database=self.name)
                    .render_as_string(hide_password=False))

    def _admin(self, sql: str, **params):
        with self.admin.connect() as connection:
            return connection.execute(sa.text(sql), params).all()

    def backends(self) -> int:
        return self._admin(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = :name",
            name=self.name)[0][0]

    def terminate_backends(self) -> None:
        """Kill every session on the database and wait until they are gone."""
        self._admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()", name=self.name)
        deadline = time.monotonic() + 10
        while self.backends():
            if time.monotonic() > deadline:
                pytest.fail(f"sessions on {self.name} survived pg_terminate_backend")
            time.sleep(0.05)

    def allow_connections(self, allowed: bool) -> None:
        # Identifiers cannot be bound; the name is ours ([a-z0-9_]).
        with self.admin.connect() as connection:
            connection.exec_driver_sql(
                f'ALTER DATABASE "{self.name}" WITH ALLOW_CONNECTIONS {str(allowed).lower()}')

    def cut_off(self) -> None:
        """The database stops answering; the server keeps running."""
        self.allow_connections(False)
        self.terminate_backends()


@pytest.fixture
def throwaway(admin, postgresql_url):
    database = Throwaway(admin, postgresql_url)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{database.name}"')
    yield database
    database.allow_connections(True)
    database.terminate_backends()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database.name}"')


@pytest.fixture
def broken_app(app_config):
    """A second app on a closed port, same secrets (tokens of ``app`` verify here)."""
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": CLOSED_PORT_URL,
                      "DB_CONNECT_TIMEOUT": CONNECT_TIMEOUT, "DB_RETRY_AFTER": RETRY_AFTER})
    yield app
    dispose(app)


def assert_unavailable(response, retry_after: int = RETRY_AFTER,
                       message: str = UNAVAILABLE) -> dict:
    """503, the one error shape, ``Retry-After``, and nothing internal in the body."""
    body = assert_error(response, 503)
    expected = {"code": 503, "status": "Service Unavailable", "message": message}
    if "detail" in body:  # the original contract's routes (checked by assert_error)
        expected["detail"] = message
    assert body == expected
    assert response.headers["Retry-After"] == str(retry_after)
    text = response.get_data(as_text=True).lower()
    for leak in LEAKS:
        assert leak not in text, leak
    return body


# --- a second app whose database is unreachable ----------------------------------


#: Every route that needs the database: method, path, and what the request carries.
OUTAGE_ROUTES = {
    "v1 login": ("post", "/api/v1/auth/login", "credentials"),
    "v1 register": ("post", "/api/v1/auth/register", "newcomer"),
    "v1 list tasks": ("get", "/api/v1/tasks", "access"),
    "v1 create task": ("post", "/api/v1/tasks", "access+task"),
    "v1 get task": ("get", "/api/v1/tasks/{task_id}", "access"),
    "v1 patch task": ("patch", "/api/v1/tasks/{task_id}", "access+task"),
    "v1 delete task": ("delete", "/api/v1/tasks/{task_id}", "access"),
    "v1 stats": ("get", "/api/v1/tasks/stats", "access"),
    "v1 tags": ("get", "/api/v1/tags", "access"),
    "v1 me": ("get", "/api/v1/auth/me", "access"),
    "v1 refresh": ("post", "/api/v1/auth/refresh", "refresh"),
    "v1 logout": ("post", "/api/v1/auth/logout", "access"),
    "compat login": ("post", "/api/auth/login", "credentials"),
    "compat register": ("post", "/api/auth/register", "newcomer"),
    "compat list tasks": ("get", "/api/{user_id}/tasks", "access"),
    "compat create task": ("post", "/api/{user_id}/tasks", "access+task"),
}


def send(client, route: str, account, task_id: int):
    """Send the request of ``OUTAGE_ROUTES[route]`` as ``account``."""
    method, path, carries = OUTAGE_ROUTES[route]
    kwargs: dict = {}
    if carries == "credentials":
        kwargs["json"] = {"email": account.email, "password": PASSWORD}
    elif carries == "newcomer":
        kwargs["json"] = {"email": "newcomer@example.com", "password": PASSWORD,
                          "name": "Newcomer"}
    elif carries == "refresh":
        kwargs["headers"] = auth_headers(account.refresh_token)
    else:
        kwargs["headers"] = account.headers
        if carries == "access+task":
            kwargs["json"] = {"title": "during the outage"}
    url = path.format(task_id=task_id, user_id=account.id)
    return getattr(client, method)(url, **kwargs)


@pytest.mark.parametrize("route", list(OUTAGE_ROUTES))
def test_unreachable_database_is_503_while_the_healthy_app_serves(
    app, client, user, broken_app, taskapi_logs, route
):
    task = create_task(client, user, title="kept")
    broken = broken_app.test_client()
    assert broken_app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"][
        "connect_timeout"] == CONNECT_TIMEOUT

    # Returns (within the connect timeout: the port refuses at once) with a 503.
    response = send(broken, route, user, task["id"])

    assert_unavailable(response)
    records = [r for r in taskapi_logs.records if r.name == "taskapi.errors"]
    assert [r.getMessage() for r in records] == ["database unavailable: OperationalError"]
    assert records[0].levelno == logging.ERROR
    assert records[0].exc_info is None

    # The first app, on a working database, is unaffected meanwhile.
    listed = client.get("/api/v1/tasks", headers=user.headers)
    assert listed.status_code == 200
    assert [t["id"] for t in listed.get_json()] == [task["id"]]
    assert login(client, user.email).status_code == 200
    assert client.get(f"/api/v1/tasks/{task['id']}", headers=user.headers).status_code == 200


def test_every_unreachable_request_returns_and_the_healthy_app_answers_between(
    app, client, user, broken_app
):
    task = create_task(client, user)
    broken = broken_app.test_client()

    for route in OUTAGE_ROUTES:
        assert_unavailable(send(broken, route, user, task["id"]))
        assert client.get("/api/v1/tasks", headers=user.headers).status_code == 200

    ready = broken.get("/ready")
    assert_unavailable(ready, message="The database is unreachable.")
    health = broken.get("/health")
    assert (health.status_code, health.get_json()) == (200, {"status": "healthy"})


# --- recovery without a restart -------------------------------------------------------


@pytest.fixture
def throwaway_app(throwaway):
    """An app on the throwaway database, schema by ``flask db upgrade``."""
    app = make_app(throwaway.url, DB_CONNECT_TIMEOUT=CONNECT_TIMEOUT,
                   DB_RETRY_AFTER=RETRY_AFTER)
    with app.app_context():
        flask_migrate.upgrade()
    yield app
    dispose(app)


def test_outage_then_recovery_on_the_same_app(throwaway, throwaway_app):
    app = throwaway_app
    client = app.test_client()
    account = make_account(client, "ada@example.com")
    task = create_task(client, account, title="before the outage")
    assert client.get("/api/v1/tasks", headers=account.headers).status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 200
    head = ready.get_json()["revision"]
    assert throwaway.backends() >= 1  # the pool holds a live session

    throwaway.cut_off()

    for _ in range(2):  # the outage lasts: every attempt is a 503, none a 500
        assert_unavailable(login(client, account.email))
        assert_unavailable(client.get("/api/v1/tasks", headers=account.headers))
        assert_unavailable(client.post("/api/v1/tasks", json={"title": "during"},
                                       headers=account.headers))
        assert_unavailable(client.get("/ready"), message="The database is unreachable.")
        health = client.get("/health")
        assert (health.status_code, health.get_json()) == (200, {"status": "healthy"})

    throwaway.allow_connections(True)

    statuses = []
    for _ in range(3):
        response = client.get("/api/v1/tasks", headers=account.headers)
        statuses.append(response.status_code)
        if response.status_code == 200:
            break
        time.sleep(0.2)
    assert statuses[-1] == 200, statuses
    assert [t["title"] for t in response.get_json()] == ["before the outage"]
    assert [t["id"] for t in response.get_json()] == [task["id"]]
    assert login(client, account.email).status_code == 200
    assert client.get("/ready").get_json() == {"status": "ready", "revision": head}
    created = client.post("/api/v1/tasks", json={"title": "after"}, headers=account.headers)
    assert created.status_code == 201, created.get_data(as_text=True)


@pytest.mark.parametrize(("pre_ping", "first_status"), [(True, 200), (False, 503)])
def test_dropped_sessions_cost_no_failed_request_with_pre_ping(
    throwaway, pre_ping, first_status
):
    """Sessions killed behind the pool's back (a server restart, a failover): with
    ``DB_POOL_PRE_PING`` the next request already succeeds; without it the request
    that meets the dead connection is a 503 and the next one succeeds."""
    app = make_app(throwaway.url, DB_POOL_PRE_PING=pre_ping, DB_RETRY_AFTER=RETRY_AFTER)
    try:
        with app.app_context():
            db.create_all()
        client = app.test_client()
        account = make_account(client, "ada@example.com")
        assert throwaway.backends() >= 1

        throwaway.terminate_backends()  # connections stay allowed: the server is "back"

        first = client.get("/api/v1/tasks", headers=account.headers)
        assert first.status_code == first_status, first.get_data(as_text=True)
        if first_status == 503:
            assert_unavailable(first)
        second = client.get("/api/v1/tasks", headers=account.headers)
        assert (second.status_code, second.get_json()) == (200, [])
    finally:
        dispose(app)


# --- statement timeout and pool timeout -------------------------------------------------


@pytest.mark.parametrize(("setting", "shown"), [(200, "200ms"), (0, "0"), (None, "10s")])
def test_statement_timeout_follows_the_setting(postgresql_url, setting, shown):
    overrides = {} if setting is None else {"DB_STATEMENT_TIMEOUT_MS": setting}
    app = make_app(postgresql_url, **overrides)
    try:
        with app.app_context():
            assert db.session.execute(sa.text("SHOW statement_timeout")).scalar() == shown
            db.session.remove()
    finally:
        dispose(app)


def _add_sleep_route(app, seconds: float) -> None:
    def sleep():
        db.session.execute(sa.text("SELECT pg_sleep(:s)"), {"s": seconds})
        return {"slept": seconds}

    app.add_url_rule("/test-sleep", "test_sleep", sleep)


def test_a_query_over_the_statement_timeout_is_503_and_the_app_carries_on(postgresql_url):
    app = make_app(postgresql_url, DB_STATEMENT_TIMEOUT_MS=200, DB_RETRY_AFTER=RETRY_AFTER)
    _add_sleep_route(app, 1)
    try:
        client = app.test_client()
        # A statement stopped at its bound says so: the database itself is fine.
        assert_unavailable(client.get("/test-sleep"), message=DEFAULT_MESSAGES["timeout"])
        with app.app_context():  # the connection survives the cancelled statement
            assert db.session.execute(sa.text("SELECT 1")).scalar() == 1
            db.session.remove()
    finally:
        dispose(app)


def test_without_a_statement_timeout_a_slow_query_completes(postgresql_url):
    app = make_app(postgresql_url, DB_STATEMENT_TIMEOUT_MS=0)
    _add_sleep_route(app, 0.3)
    try:
        response = app.test_client().get("/test-sleep")
        assert (response.status_code, response.get_json()) == (200, {"slept": 0.3})
    finally:
        dispose(app)


def test_exhausted_pool_is_503_after_the_pool_timeout(app_config):
    app = create_app({**app_config, "DB_POOL_SIZE": 1, "DB_MAX_OVERFLOW": 0,
                      "DB_POOL_TIMEOUT": 1, "DB_RETRY_AFTER": RETRY_AFTER})
    try:
        with app.app_context():
            db.create_all()
        client = app.test_client()
        account = make_account(client, "ada@example.com")

        with app.app_context():
            held = db.engine.connect()  # the pool's only connection
            try:
                assert_unavailable(client.get("/api/v1/tasks", headers=account.headers))
                assert_unavailable(login(client, account.email))
            finally:
                held.close()

        listed = client.get("/api/v1/tasks", headers=account.headers)
        assert (listed.status_code, listed.get_json()) == (200, [])
    finally:
        dispose(app)


def test_options_in_the_database_url_are_kept(postgresql_url):
    """A libpq ``options`` parameter in ``DATABASE_URL`` (search_path, lock_timeout,
    Neon's ``endpoint=``...) must still reach the server next to the app's own
    ``statement_timeout``."""
    url = sa.make_url(normalize_database_uri(postgresql_url)).update_query_dict(
        {"options": "-c lock_timeout=1234"})
    app = make_app(url.render_as_string(hide_password=False), DB_STATEMENT_TIMEOUT_MS=200)
    try:
        with app.app_context():
            shown = {name: db.session.execute(sa.text(f"SHOW {name}")).scalar()
                     for name in ("statement_timeout", "lock_timeout")}
            db.session.remove()
    finally:
        dispose(app)
    assert shown == {"statement_timeout": "200ms", "lock_timeout": "1234ms"}


# --- engine options from the DB_* settings (no server needed) --------------------------


DB_SETTINGS = {
    "DB_POOL_SIZE": 3,
    "DB_MAX_OVERFLOW": 2,
    "DB_POOL_TIMEOUT": 4,
    "DB_POOL_RECYCLE": 60,
    "DB_POOL_PRE_PING": False,
    "DB_CONNECT_TIMEOUT": 2,
    "DB_STATEMENT_TIMEOUT_MS": 250,
}


def test_postgresql_engine_options_come_from_the_settings():
    app = make_app(CLOSED_PORT_URL, **DB_SETTINGS)
    try:
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
        assert options == {
            "pool_pre_ping": False,
            "pool_size": 3,
            "max_overflow": 2,
            "pool_timeout": 4,
            "pool_recycle": 60,
            "connect_args": {"connect_timeout": 2, "options": "-c statement_timeout=250"},
        }
        with app.app_context():
            pool = db.engine.pool
            assert pool.size() == 3
            assert pool.timeout() == 4
    finally:
        dispose(app)


def test_postgresql_engine_option_defaults():
    app = make_app(CLOSED_PORT_URL)
    try:
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
        assert {key: options[key] for key in
                ("pool_pre_ping", "pool_size", "max_overflow", "pool_timeout", "pool_recycle")
                } == {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5,
                      "pool_timeout": 10, "pool_recycle": 1800}
        assert options["connect_args"] == {"connect_timeout": 5,
                                           "options": "-c statement_timeout=10000"}
        with app.app_context():
            assert db.engine.pool.size() == 5
    finally:
        dispose(app)


def test_pool_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("TASKAPI_DB_POOL_SIZE", "7")
    monkeypatch.setenv("TASKAPI_DB_MAX_OVERFLOW", "0")
    monkeypatch.setenv("TASKAPI_DB_POOL_PRE_PING", "false")
    app = make_app(CLOSED_PORT_URL)
    try:
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
        assert (options["pool_size"], options["max_overflow"], options["pool_pre_ping"]) == (
            7, 0, False)
        with app.app_context():
            assert db.engine.pool.size() == 7
    finally:
        dispose(app)


def test_options_in_the_database_url_reach_the_driver():
    """The same as test_options_in_the_database_url_are_kept, without a server: the
    keyword arguments psycopg is called with must carry both settings."""
    app = make_app(CLOSED_PORT_URL + "?options=-c%20lock_timeout%3D1234",
                   DB_STATEMENT_TIMEOUT_MS=200)
    seen: dict = {}
    try:
        with app.app_context():
            @sa.event.listens_for(db.engine, "do_connect")
            def capture(dialect, connection_record, cargs, cparams):
                seen.update(cparams)

            with pytest.raises(sa.exc.OperationalError), db.engine.connect():
                pass
    finally:
        dispose(app)
    assert "statement_timeout=200" in seen["options"]
    assert "lock_timeout=1234" in seen["options"]


@pytest.mark.parametrize("pre_ping", [True, False])
def test_sqlite_engine_gets_no_pool_options_and_no_pre_ping(tmp_path, pre_ping):
    app = make_app(f"sqlite:///{tmp_path / 'options.sqlite3'}",
                   **{**DB_SETTINGS, "DB_POOL_PRE_PING": pre_ping})
    try:
        assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": False}
    finally:
        dispose(app)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DB_POOL_SIZE", 0),
        ("DB_POOL_SIZE", True),
        ("DB_MAX_OVERFLOW", -1),
        ("DB_POOL_TIMEOUT", "10"),
        ("DB_POOL_RECYCLE", 0),
        ("DB_POOL_PRE_PING", "yes"),
        ("DB_POOL_PRE_PING", 1),
        ("DB_CONNECT_TIMEOUT", 0),
        ("DB_STATEMENT_TIMEOUT_MS", -1),
        ("DB_RETRY_AFTER", 0),
    ],
)
def test_invalid_database_setting_is_a_configuration_error(name, value):
    with pytest.raises(ConfigurationError, match=name):
        make_app(CLOSED_PORT_URL, **{name: value})


@pytest.mark.parametrize(
    ("name", "value"),
    [("DB_POOL_SIZE", "0"), ("DB_MAX_OVERFLOW", "-1"), ("DB_POOL_PRE_PING", "yes")],
)
def test_invalid_database_setting_from_the_environment(monkeypatch, tmp_path, name, value):
    monkeypatch.setenv(f"TASKAPI_{name}", value)
    with pytest.raises(ConfigurationError, match=name):
        make_app(f"sqlite:///{tmp_path / 'never.sqlite3'}")
