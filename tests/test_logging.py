"""Logging: request ids, one access line per request, task events, JSON output, no secrets."""

from __future__ import annotations

import json
import logging
import re

import jwt as pyjwt
import pytest

from taskapi import create_app
from taskapi.extensions import db
from tests.helpers import PASSWORD, auth_headers, login, make_account, register

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


def records(caplog, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == name]


def access_records(caplog) -> list[logging.LogRecord]:
    return records(caplog, "taskapi.access")


@pytest.fixture
def fresh_app(app_config):
    """Build an app inside the test, so its log handler writes to the captured stderr."""
    apps = []

    def build(**overrides):
        app = create_app({**app_config, **overrides})
        with app.app_context():
            db.create_all()
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


# --- access line ---------------------------------------------------------------------


def test_one_access_line_per_authenticated_request(client, user, taskapi_logs):
    taskapi_logs.clear()

    response = client.get("/api/v1/auth/me", headers=user.headers)

    assert response.status_code == 200
    lines = access_records(taskapi_logs)
    assert len(lines) == 1
    record = lines[0]
    request_id = response.headers["X-Request-ID"]
    assert record.levelno == logging.INFO
    assert record.request_id == request_id
    assert record.method == "GET"
    assert record.path == "/api/v1/auth/me"
    assert record.status == 200
    assert isinstance(record.duration_ms, float) and record.duration_ms >= 0
    assert record.user_id == user.id
    message = record.getMessage()
    assert message.startswith("GET /api/v1/auth/me 200 ")
    assert re.search(r" \d+\.\dms ", message)
    assert message.endswith(f"user={user.id}")


def test_access_line_for_anonymous_and_error_requests(client, taskapi_logs):
    taskapi_logs.clear()

    missing = client.get("/api/v1/nothing-here")
    unauthorized = client.get("/api/v1/tasks")
    created = register(client, "anon@example.com")

    assert (missing.status_code, unauthorized.status_code, created.status_code) == (
        404, 401, 201,
    )
    lines = access_records(taskapi_logs)
    assert [(r.method, r.path, r.status) for r in lines] == [
        ("GET", "/api/v1/nothing-here", 404),
        ("GET", "/api/v1/tasks", 401),
        ("POST", "/api/v1/auth/register", 201),
    ]
    assert all(r.user_id is None for r in lines)
    assert all(r.getMessage().endswith("user=-") for r in lines)
    assert [r.request_id for r in lines] == [
        response.headers["X-Request-ID"] for response in (missing, unauthorized, created)
    ]


def test_login_access_line_names_the_user(client, taskapi_logs):
    account_id = register(client, "who@example.com").get_json()["id"]
    taskapi_logs.clear()

    response = login(client, "who@example.com")

    assert response.status_code == 200
    (record,) = access_records(taskapi_logs)
    assert record.user_id == account_id
    assert record.status == 200


# --- request id ----------------------------------------------------------------------


def test_client_request_id_is_honoured_and_echoed(client, user, taskapi_logs):
    taskapi_logs.clear()

    response = client.get(
        "/api/v1/tasks", headers={**user.headers, "X-Request-ID": "trace-42.a:b_c"}
    )

    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "trace-42.a:b_c"
    assert [r.request_id for r in access_records(taskapi_logs)] == ["trace-42.a:b_c"]


def test_request_id_is_echoed_on_error_responses(client):
    response = client.get("/api/v1/tasks", headers={"X-Request-ID": "err-1"})

    assert response.status_code == 401
    assert response.headers["X-Request-ID"] == "err-1"


@pytest.mark.parametrize(
    "bad", ["has space", "x" * 65, "semi;colon", "new\\nline", "<script>"]
)
def test_unsafe_request_id_is_replaced(client, taskapi_logs, bad):
    taskapi_logs.clear()

    response = client.get("/api/v1/nothing", headers={"X-Request-ID": bad})

    generated = response.headers["X-Request-ID"]
    assert generated != bad
    assert GENERATED_ID.match(generated)
    assert [r.request_id for r in access_records(taskapi_logs)] == [generated]
    assert bad not in taskapi_logs.text


def test_generated_request_ids_differ_per_request(client):
    first = client.get("/api/v1/nothing").headers["X-Request-ID"]
    second = client.get("/api/v1/nothing").headers["X-Request-ID"]

    assert GENERATED_ID.match(first)
    assert GENERATED_ID.match(second)
    assert first != second


# --- task events ---------------------------------------------------------------------


def test_task_create_update_delete_are_logged_with_ids(client, user, taskapi_logs):
    taskapi_logs.clear()

    created = client.post("/api/v1/tasks", json={"title": "log me"}, headers=user.headers)
    task_id = created.get_json()["id"]
    updated = client.patch(
        f"/api/v1/tasks/{task_id}", json={"priority": "high"}, headers=user.headers
    )
    completed = client.patch(f"/api/v1/tasks/{task_id}/complete", headers=user.headers)
    deleted = client.delete(f"/api/v1/tasks/{task_id}", headers=user.headers)

    assert [r.status_code for r in (created, updated, completed, deleted)] == [
        201, 200, 200, 204,
    ]
    events = records(taskapi_logs, "taskapi.tasks")
    messages = [r.getMessage() for r in events]
    assert len(events) == 4, messages
    ids = f"task_id={task_id} user_id={user.id}"
    assert messages[0].startswith("task created") and ids in messages[0]
    assert messages[1].startswith("task updated") and ids in messages[1]
    assert "priority" in messages[1]
    assert messages[2].startswith("task updated") and ids in messages[2]
    assert "completed" in messages[2]
    assert messages[3].startswith("task deleted") and ids in messages[3]
    assert [r.request_id for r in events] == [
        r.headers["X-Request-ID"] for r in (created, updated, completed, deleted)
    ]
    assert "log me" not in taskapi_logs.text  # ids, not content


def test_failed_task_write_logs_no_task_event(client, user, taskapi_logs):
    taskapi_logs.clear()

    response = client.post("/api/v1/tasks", json={"title": ""}, headers=user.headers)

    assert response.status_code == 422
    assert records(taskapi_logs, "taskapi.tasks") == []
    assert [r.status for r in access_records(taskapi_logs)] == [422]


# --- formatted output ----------------------------------------------------------------


def test_text_format_line_carries_request_id(fresh_app, capsys):
    app = fresh_app()
    client = app.test_client()
    capsys.readouterr()

    response = client.get("/api/v1/nothing", headers={"X-Request-ID": "text-id-1"})

    assert response.status_code == 404
    lines = [line for line in capsys.readouterr().err.splitlines() if "taskapi.access" in line]
    assert len(lines) == 1
    assert "INFO taskapi.access [text-id-1] GET /api/v1/nothing 404 " in lines[0]


def test_json_format_is_one_object_per_line(fresh_app, capsys):
    app = fresh_app(LOG_FORMAT="json")
    client = app.test_client()
    capsys.readouterr()

    account = make_account(client, "json@example.com")
    created = client.post(
        "/api/v1/tasks", json={"title": "json"}, headers=account.headers
    )
    task_id = created.get_json()["id"]
    missing = client.get("/api/v1/nothing", headers={"X-Request-ID": "json-404"})

    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(item, dict) for item in parsed)
    for item in parsed:
        assert {"message", "request_id", "logger", "level", "time"} <= set(item), item
    access = [item for item in parsed if item["logger"] == "taskapi.access"]
    assert len(access) == 4  # register, login, create, 404
    last = access[-1]
    assert last["request_id"] == "json-404" == missing.headers["X-Request-ID"]
    assert last["level"] == "INFO"
    assert (last["method"], last["path"], last["status"]) == ("GET", "/api/v1/nothing", 404)
    assert isinstance(last["duration_ms"], float)
    assert access[2]["user_id"] == account.id
    assert access[2]["status"] == 201
    assert access[2]["request_id"] == created.headers["X-Request-ID"]
    task_events = [item for item in parsed if item["logger"] == "taskapi.tasks"]
    assert len(task_events) == 1
    assert f"task_id={task_id}" in task_events[0]["message"]
    assert task_events[0]["request_id"] == created.headers["X-Request-ID"]


# --- secrets stay out of the logs ----------------------------------------------------


def test_no_password_or_token_is_logged(fresh_app, capsys, taskapi_logs):
    app = fresh_app()
    app.config["JWT_REFRESH_REUSE_WINDOW"] = 0  # the second refresh below is reuse
    client = app.test_client()
    taskapi_logs.clear()

    account = make_account(client, "secret@example.com")
    wrong = login(client, account.email, "not the right password")
    unknown = login(client, "nobody@example.com", "another secret pw")
    me = client.get("/api/v1/auth/me", headers=account.headers)
    refreshed = client.post("/api/v1/auth/refresh", headers=auth_headers(account.refresh_token))
    new_tokens = refreshed.get_json()
    # Reusing the spent refresh token triggers reuse detection (a warning log).
    reused = client.post("/api/v1/auth/refresh", headers=auth_headers(account.refresh_token))
    relogin = login(client, account.email).get_json()
    logout = client.post(
        "/api/v1/auth/logout",
        json={"refresh_token": relogin["refresh_token"]},
        headers=auth_headers(relogin["access_token"]),
    )
    revoked = client.get("/api/v1/auth/me", headers=auth_headers(relogin["access_token"]))
    garbage = client.get("/api/v1/auth/me", headers=auth_headers("not.a.jwt"))
    forged_token = pyjwt.encode(
        {"sub": str(account.id), "jti": "forged", "type": "access"},
        "a different key of at least thirty-two bytes", algorithm="HS256",
    )
    forged = client.get("/api/v1/auth/me", headers=auth_headers(forged_token))

    assert [r.status_code for r in (wrong, unknown, me, refreshed, reused, logout, revoked)] == [
        401, 401, 200, 200, 401, 204, 401,
    ]
    assert garbage.status_code == 401
    assert forged.status_code == 401
    secrets = [
        PASSWORD, "not the right password", "another secret pw",
        account.access_token, account.refresh_token,
        new_tokens["access_token"], new_tokens["refresh_token"],
        relogin["access_token"], relogin["refresh_token"], forged_token,
    ]
    # JWTs share a header prefix; their signatures are what must never show up.
    signatures = [s.rsplit(".", 1)[-1] for s in secrets if s.count(".") == 2]
    output = capsys.readouterr().err
    everything = [output, taskapi_logs.text] + [
        f"{r.getMessage()} {r.__dict__}" for r in taskapi_logs.records
    ]
    assert "taskapi.access" in output
    assert records(taskapi_logs, "taskapi.auth")  # auth events were logged...
    for text in everything:
        for secret in secrets + signatures:
            assert secret not in text  # ...but no secret in any of them


def test_access_line_escapes_control_characters_in_the_path(client, taskapi_logs):
    client.get("/api/v1/nothing%0Aforged%20line%00")

    lines = [r.getMessage() for r in taskapi_logs.records if r.name == "taskapi.access"]
    assert lines == ["GET /api/v1/nothing\\x0aforged line\\x00 404 " + lines[0].split(" 404 ")[1]]
    assert "\n" not in lines[0] and "\x00" not in lines[0]
