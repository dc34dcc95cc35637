"""Small helpers for tests: register, log in, auth headers, the error shape."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from fractional_indexing import generate_n_keys_between

from taskapi.config import normalize_database_uri
from taskapi.errors import COMPAT_PATH
from taskapi.extensions import db
from taskapi.models import Task, inbox_id, last_sibling_position

TEST_SECRETS = {
    "SECRET_KEY": "test-secret-key-0123456789abcdef0123456789",
    "JWT_SECRET_KEY": "test-jwt-secret-0123456789abcdef0123456789",
}
PASSWORD = "correct horse battery"


@dataclass
class Account:
    id: int
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict:
        return auth_headers(self.access_token)


def auth_headers(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def register(client, email: str, password: str = PASSWORD, name: str = "Test User"):
    return client.post(
        "/api/v1/auth/register", json={"email": email, "password": password, "name": name}
    )


def login(client, email: str, password: str = PASSWORD):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def make_account(client, email: str, password: str = PASSWORD, name: str = "Test User"):
    """Register and log in; returns an :class:`Account` with fresh tokens."""
    response = register(client, email, password, name)
    assert response.status_code == 201, response.get_json()
    tokens = login(client, email, password).get_json()
    return Account(
        id=response.get_json()["id"],
        email=email,
        password=password,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )


def assert_error(response, status: int, *, field: str | None = None) -> dict:
    """Assert the one JSON error shape; with ``field``, that it is named in errors."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    body = response.get_json()
    assert body["code"] == status
    assert isinstance(body["status"], str) and body["status"]
    assert isinstance(body["message"], str) and body["message"]
    path = getattr(getattr(response, "request", None), "path", None)
    if path is not None and COMPAT_PATH.fullmatch(path):
        # The original contract's routes: FastAPI's "detail" too, the message or
        # the first field error ("field: message").
        assert set(body) <= {"code", "status", "message", "errors", "detail"}
        assert isinstance(body["detail"], str) and body["detail"], body
        if "errors" in body:
            assert any(body["detail"].endswith(": " + message) or body["detail"] == message
                       for message in _messages(body["errors"])), body
        else:
            assert body["detail"] == body["message"], body
    elif path is not None:
        assert set(body) <= {"code", "status", "message", "errors"}
    else:
        assert set(body) <= {"code", "status", "message", "errors", "detail"}
    if field is not None:
        locations = body["errors"]
        assert any(field in fields for fields in locations.values()), body
    return body


def _messages(errors) -> list[str]:
    """Every message string of a nested error dict."""
    if isinstance(errors, str):
        return [errors]
    values = errors.values() if isinstance(errors, dict) else errors
    return [message for value in values for message in _messages(value)]


def requirement_missing(message: str, required_by: str = "TASKAPI_TEST_REQUIRE_SERVICES") -> None:
    """Skip the test, or fail it when the environment variable ``required_by`` is
    ``1`` (``.ci/run`` sets ``TASKAPI_TEST_REQUIRE_SERVICES`` for its PostgreSQL and
    Redis stage and ``TASKAPI_TEST_REQUIRE_BROWSER`` throughout)."""
    if os.environ.get(required_by) == "1":
        pytest.fail(f"{required_by}=1 but {message}")
    pytest.skip(message)


def service_url(variable: str, what: str) -> str:
    """The URL in environment ``variable`` for a test that needs a real service.

    Unset: the test is skipped, unless ``TASKAPI_TEST_REQUIRE_SERVICES=1`` (set by
    ``.ci/run`` for its PostgreSQL and Redis stage), where that is a failure.
    """
    url = os.environ.get(variable, "")
    if not url:
        requirement_missing(f"{what}: set {variable} (see README, Development)")
    return url


def postgresql_test_url() -> str:
    """``TASKAPI_TEST_DATABASE_URL`` for a test that needs PostgreSQL itself
    (skipped or failed like :func:`service_url` when unset or another database)."""
    url = service_url("TASKAPI_TEST_DATABASE_URL", "this test needs a real PostgreSQL")
    if not is_postgresql(url):
        requirement_missing("this test needs PostgreSQL; TASKAPI_TEST_DATABASE_URL is another "
                         "database")
    return url


def make_app(url: str, **overrides):
    """A test app on ``url`` (fast hashing, no rate limits), ``overrides`` last."""
    from taskapi import create_app
    from tests.conftest import FAST_HASHING

    return create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        **TEST_SECRETS,
        **FAST_HASHING,
        "RATELIMIT_ENABLED": False,
        **overrides,
    })


def dispose(app) -> None:
    """Close the app's session and connections."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def is_postgresql(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql"))


def reset_database(url: str) -> None:
    """Empty the PostgreSQL database at ``url``: drop and re-create its ``public``
    schema (tables, types, ``alembic_version``: everything)."""
    engine = sa.create_engine(normalize_database_uri(url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            drop_public_schema(connection)
    finally:
        engine.dispose()


def drop_public_schema(connection: sa.Connection) -> None:
    """Drop and re-create the ``public`` schema on a PostgreSQL ``connection``."""
    connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
    connection.exec_driver_sql("CREATE SCHEMA public")


def task_row(app, task_id: int) -> dict | None:
    """Every column of the task row, or None when there is no such row."""
    with app.app_context():
        task = db.session.get(Task, task_id)
        if task is None:
            return None
        return {column.key: getattr(task, column.key) for column in sa.inspect(Task).columns}


def in_inbox(user_id: int, rows: list[dict]) -> list[dict]:
    """``rows`` (task dicts for a Core INSERT, inside an app context) placed as the
    API would place them: in the user's Inbox, top level, after its tasks, in
    the order given."""
    connection = db.session.connection()
    list_id = inbox_id(connection, user_id)
    keys = generate_n_keys_between(last_sibling_position(connection, user_id, list_id, None), None,
                                   len(rows))
    for row, key in zip(rows, keys, strict=True):
        row.update(list_id=list_id, position=key)
    return rows


def task_count(app) -> int:
    """How many task rows exist, all users together."""
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Task))


def create_task(client, account, **fields) -> dict:
    """POST a v1 task for ``account`` (title defaults to "Task") and return its JSON."""
    fields.setdefault("title", "Task")
    response = client.post("/api/v1/tasks", json=fields, headers=account.headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def concurrently(app, calls) -> list:
    """Run each ``call(client)`` in a thread of its own, all released at once."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        client = app.test_client()
        barrier.wait(timeout=30)
        return call(client)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))
