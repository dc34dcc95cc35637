"""The time bound of a request's statements (``DB_STATEMENT_TIMEOUT_MS``).

A statement of a request still running at the bound is stopped (SQLite: the
progress handler of :mod:`taskapi.database`; PostgreSQL: ``statement_timeout``)
and answered with a 503 in the one error shape, ``Retry-After`` and a message
that says the request took too long, logged at ERROR with the request id. The
worker carries on and nothing stays locked. Statements outside a request
(``flask shell``, CLI commands, migrations) run to the end; 0 switches the
bound off.

The slow request is a text search of 2 characters (a LIKE over every task of
the user) on a user with tens of thousands of tasks, inserted by Core.
"""

from __future__ import annotations

import logging
import shutil
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from taskapi.data_version import bump
from taskapi.errors import DEFAULT_MESSAGES
from taskapi.extensions import db
from taskapi.models import Task, User, utcnow
from tests.helpers import (
    Account,
    assert_error,
    dispose,
    in_inbox,
    make_account,
    make_app,
    postgresql_test_url,
    task_count,
)

TASKS = "/api/v1/tasks"
ME = "/api/v1/auth/me"
#: Two characters: matched by LIKE over every task (the text index needs three),
#: and found in none, so the whole scan runs.
SLOW_Q = "zq"
RETRY_AFTER = 7
UNAVAILABLE = DEFAULT_MESSAGES[503]
#: How long a write may wait after a stopped statement (a leaked lock would
#: make it wait the whole busy timeout, set to more than this).
WRITE_BOUND_S = 2.0

pytestmark = pytest.mark.usefixtures("restore_logging")


def insert_tasks(app, user_id: int, count: int, description: str) -> None:
    """``count`` tasks for ``user_id`` by Core inserts; data_version moves."""
    start = utcnow()
    with app.app_context():
        for first in range(0, count, 10_000):
            db.session.execute(sa.insert(Task.__table__), in_inbox(user_id, [
                {"user_id": user_id, "title": f"Task {n}", "description": description,
                 "created_at": start + timedelta(microseconds=n), "updated_at": start}
                for n in range(first, min(count, first + 10_000))]))
        bump(db.session, [user_id])
        db.session.commit()
        db.session.remove()


def slow_search(client, account: Account, request_id: str, path: str = TASKS):
    return client.get(f"{path}?q={SLOW_Q}",
                      headers={**account.headers, "X-Request-ID": request_id})


def assert_timed_out(response, request_id: str, records, retry_after: int = RETRY_AFTER):
    """503 with the timeout message and Retry-After; one ERROR record "statement
    timeout" carrying the request id."""
    body = assert_error(response, 503)
    assert body["message"] == DEFAULT_MESSAGES["timeout"]
    assert "took too long" in body["message"]
    assert body["message"] != UNAVAILABLE
    assert set(body) - {"detail"} == {"code", "status", "message"}
    assert response.headers["Retry-After"] == str(retry_after)
    assert response.headers["X-Request-ID"] == request_id
    text = response.get_data(as_text=True).lower()
    for leak in ("traceback", "select ", "sqlite3", "psycopg", "interrupted", "canceling"):
        assert leak not in text, leak
    errors = [r for r in records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].name == "taskapi.errors"
    assert errors[0].getMessage().startswith("statement timeout")
    assert errors[0].request_id == request_id
    assert not any("database unavailable" in r.getMessage() or r.exc_info for r in records)
    return body


# ---------------------------------------------------------------- SQLite


#: Tasks of the slow user, and their description: a LIKE over all of them runs
#: for several milliseconds, past a bound of 1 ms, and for well over the
#: PROGRESS_OPS instructions between two looks at the deadline.
SQLITE_TASKS = 12_000
DESCRIPTION = "Lorem ipsum dolor sit amet, consectetur adipiscing elit " * 4


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory) -> tuple:
    """A SQLite file with the tables, one account and SQLITE_TASKS tasks, built
    once for the module; tests use copies. Returns (path, account)."""
    path = tmp_path_factory.mktemp("timeout") / "template.sqlite3"
    app = make_app(f"sqlite:///{path}")
    try:
        with app.app_context():
            db.create_all()
        account = make_account(app.test_client(), "slow@example.com")
        insert_tasks(app, account.id, SQLITE_TASKS, DESCRIPTION)
    finally:
        dispose(app)  # the last connection closed: the WAL checkpointed into the file
    return path, account


@pytest.fixture
def sqlite_url(sqlite_template, tmp_path) -> str:
    source, _ = sqlite_template
    copy = tmp_path / "slow.sqlite3"
    shutil.copyfile(source, copy)
    return f"sqlite:///{copy}"


@pytest.fixture
def slow_user(sqlite_template) -> Account:
    return sqlite_template[1]


@pytest.fixture
def sqlite_apps(sqlite_url):
    """Apps on one copy of the template: ``bounded`` (1 ms), ``normal`` (the
    default bound, a busy timeout of 5 s) and ``unbounded`` (0)."""
    apps = {
        "bounded": make_app(sqlite_url, DB_STATEMENT_TIMEOUT_MS=1, DB_RETRY_AFTER=RETRY_AFTER),
        "normal": make_app(sqlite_url, SQLITE_BUSY_TIMEOUT_MS=5000),
        "unbounded": make_app(sqlite_url, DB_STATEMENT_TIMEOUT_MS=0),
    }
    yield apps
    for app in apps.values():
        dispose(app)


def test_sqlite_a_statement_past_the_bound_is_a_503_that_says_so(
        sqlite_apps, slow_user, taskapi_logs):
    client = sqlite_apps["bounded"].test_client()
    taskapi_logs.clear()

    response = slow_search(client, slow_user, "slow-search-1")

    assert_timed_out(response, "slow-search-1", taskapi_logs.records)
    access = [r for r in taskapi_logs.records if r.name == "taskapi.access"]
    assert [(r.status, r.request_id) for r in access] == [(503, "slow-search-1")]


def test_sqlite_the_original_contract_gets_the_same_503(sqlite_apps, slow_user, taskapi_logs):
    client = sqlite_apps["bounded"].test_client()
    taskapi_logs.clear()

    response = slow_search(client, slow_user, "slow-compat-1", f"/api/{slow_user.id}/tasks")

    body = assert_timed_out(response, "slow-compat-1", taskapi_logs.records)
    assert body["detail"] == DEFAULT_MESSAGES["timeout"]


def test_sqlite_the_worker_carries_on_and_nothing_stays_locked(sqlite_apps, slow_user):
    bounded = sqlite_apps["bounded"].test_client()
    normal = sqlite_apps["normal"].test_client()
    assert slow_search(bounded, slow_user, "first").status_code == 503

    # The same app answers what fits in the bound, reads and writes.
    me = bounded.get(ME, headers=slow_user.headers)
    assert me.status_code == 200, me.get_data(as_text=True)
    started = time.monotonic()
    patched = bounded.patch(ME, json={"timezone": "Europe/Paris"}, headers=slow_user.headers)
    assert patched.status_code == 200, patched.get_data(as_text=True)
    assert time.monotonic() - started < WRITE_BOUND_S
    assert slow_search(bounded, slow_user, "again").status_code == 503

    # Another app on the same file writes at once: no lock was left behind.
    started = time.monotonic()
    created = normal.post(TASKS, json={"title": "After the timeout"}, headers=slow_user.headers)
    assert created.status_code == 201, created.get_data(as_text=True)
    assert time.monotonic() - started < WRITE_BOUND_S
    assert task_count(sqlite_apps["normal"]) == SQLITE_TASKS + 1
    # With the default bound the same search runs to the end.
    listed = normal.get(f"{TASKS}?q={SLOW_Q}", headers=slow_user.headers)
    assert (listed.status_code, listed.get_json()) == (200, [])
    found = normal.get(f"{TASKS}?q=after+the", headers=slow_user.headers)
    assert [task["title"] for task in found.get_json()] == ["After the timeout"]


def test_sqlite_a_write_stopped_at_the_bound_releases_the_write_turn(sqlite_apps, slow_user):
    # A write request whose slow statement is stopped after it wrote: its
    # transaction is rolled back, the database lock and the process's write turn
    # handed back, so the next writes (this app's, another's) do not wait.
    app = sqlite_apps["bounded"]
    client = app.test_client()

    def slow_write():
        db.session.execute(sa.update(User).where(User.id == slow_user.id).values(name="Changed"))
        db.session.execute(sa.text(
            "SELECT count(*) FROM tasks WHERE lower(description) LIKE '%zq%' "
            "OR lower(title) LIKE '%zq%'"))
        db.session.commit()
        return {"written": True}

    app.add_url_rule("/test-slow-write", "test_slow_write", slow_write, methods=["POST"])
    response = client.post("/test-slow-write")
    assert_error(response, 503)
    assert response.get_json()["message"] == DEFAULT_MESSAGES["timeout"]
    with app.app_context():
        assert db.session.get(User, slow_user.id).name != "Changed"  # rolled back
        db.session.remove()

    for n in range(3):
        started = time.monotonic()
        patched = client.patch(ME, json={"name": f"Name {n}"}, headers=slow_user.headers)
        assert patched.status_code == 200, patched.get_data(as_text=True)
        assert time.monotonic() - started < WRITE_BOUND_S
    started = time.monotonic()
    created = sqlite_apps["normal"].test_client().post(
        TASKS, json={"title": "Written"}, headers=slow_user.headers)
    assert created.status_code == 201, created.get_data(as_text=True)
    assert time.monotonic() - started < WRITE_BOUND_S


def test_sqlite_statements_outside_a_request_are_not_bounded(sqlite_apps, slow_user):
    app = sqlite_apps["bounded"]
    with app.app_context():
        started = time.monotonic()
        count = db.session.scalar(sa.text(
            "SELECT count(*) FROM tasks WHERE lower(description) LIKE '%zq%' "
            "OR lower(title) LIKE '%zq%'"))
        scanned = db.session.scalar(sa.text(
            "SELECT count(*) FROM tasks WHERE lower(description) LIKE '%ipsum%'"))
        elapsed = time.monotonic() - started
        db.session.remove()
    assert (count, scanned) == (0, SQLITE_TASKS)
    assert elapsed > 0.001  # the bound would have stopped them

    # A CLI command on the bounded app: deleting the tasks in batches.
    result = app.test_cli_runner().invoke(args=["users", "delete", slow_user.email, "--yes"])
    assert result.exit_code == 0, result.output
    assert task_count(app) == 0


def test_sqlite_a_bound_of_0_is_no_bound(sqlite_apps, slow_user, taskapi_logs):
    client = sqlite_apps["unbounded"].test_client()
    taskapi_logs.clear()

    response = slow_search(client, slow_user, "unbounded-1")

    assert (response.status_code, response.get_json()) == (200, [])
    assert not [r for r in taskapi_logs.records if r.levelno >= logging.ERROR]
    assert sqlite_apps["unbounded"].config["DB_STATEMENT_TIMEOUT_MS"] == 0


def test_sqlite_the_default_bound_lets_the_search_finish(sqlite_apps, slow_user):
    response = slow_search(sqlite_apps["normal"].test_client(), slow_user, "normal-1")
    assert (response.status_code, response.get_json()) == (200, [])


# ------------------------------------------------------------- PostgreSQL


#: PostgreSQL is faster at the scan: more tasks, longer descriptions, and a bound
#: of 50 ms that the token check and the user lookup never reach.
PG_TASKS = 20_000
PG_DESCRIPTION = DESCRIPTION * 4
PG_BOUND_MS = 50


@pytest.fixture
def postgresql_slow(database_url) -> tuple:
    """(url, account): the worker's PostgreSQL database with one account and
    PG_TASKS tasks, statistics taken (skipped without TASKAPI_TEST_DATABASE_URL)."""
    url = postgresql_test_url()
    assert database_url == url
    app = make_app(url)
    try:
        account = make_account(app.test_client(), "slow@example.com")
        insert_tasks(app, account.id, PG_TASKS, PG_DESCRIPTION)
        with app.app_context():
            db.session.execute(sa.text("ANALYZE tasks"))
            db.session.commit()
            db.session.remove()
    finally:
        dispose(app)
    return url, account


def test_postgresql_a_statement_past_the_timeout_is_a_503_that_says_so(
        postgresql_slow, taskapi_logs):
    url, account = postgresql_slow
    apps = {"bounded": make_app(url, DB_STATEMENT_TIMEOUT_MS=PG_BOUND_MS,
                                DB_RETRY_AFTER=RETRY_AFTER),
            "normal": make_app(url), "unbounded": make_app(url, DB_STATEMENT_TIMEOUT_MS=0)}
    try:
        client = apps["bounded"].test_client()
        taskapi_logs.clear()

        response = slow_search(client, account, "pg-slow-1")

        assert_timed_out(response, "pg-slow-1", taskapi_logs.records)
        compat = slow_search(client, account, "pg-slow-2", f"/api/{account.id}/tasks")
        assert_error(compat, 503)
        assert compat.get_json()["detail"] == DEFAULT_MESSAGES["timeout"]

        # The same app carries on: reads and writes that fit in the bound.
        assert client.get(ME, headers=account.headers).status_code == 200
        started = time.monotonic()
        patched = client.patch(ME, json={"timezone": "Europe/Paris"}, headers=account.headers)
        assert patched.status_code == 200, patched.get_data(as_text=True)
        assert time.monotonic() - started < WRITE_BOUND_S

        # The default timeout, and none at all: the same search runs to the end.
        taskapi_logs.clear()
        for name in ("normal", "unbounded"):
            listed = slow_search(apps[name].test_client(), account, f"pg-{name}-1")
            assert (listed.status_code, listed.get_json()) == (200, []), name
        assert not [r for r in taskapi_logs.records if r.levelno >= logging.ERROR]
    finally:
        for app in apps.values():
            dispose(app)

