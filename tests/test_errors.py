"""The one JSON error shape on everything: malformed bodies, size limit, routing
errors, authentication, unexpected exceptions; and the X-Request-ID header."""

from __future__ import annotations

import json
import logging
import re

import pytest
import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.models import Task
from tests.helpers import assert_error, make_account, task_count, task_row

TASKS = "/api/v1/tasks"
ONE_MIB = 1024 * 1024
#: What the app accepts from a client, so also what a generated id must look like.
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")




@pytest.fixture
def task_id(client, user) -> int:
    response = client.post(TASKS, json={"title": "Existing"}, headers=user.headers)
    assert response.status_code == 201
    return response.get_json()["id"]


BODY_ROUTES = [
    pytest.param("post", "", id="POST"),
    pytest.param("put", "/{id}", id="PUT"),
    pytest.param("patch", "/{id}", id="PATCH"),
    pytest.param("patch", "/{id}/complete", id="PATCH-complete"),
]


# -------------------------------------------------------------- malformed JSON


@pytest.mark.parametrize("raw", ["{bad", '{"title": "x"', "{'title': 'x'}", "title=x", "\xff"])
@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_malformed_json_is_400_and_changes_nothing(
    client, app, user, task_id, method, path, raw
):
    before = task_row(app, task_id)

    response = getattr(client, method)(
        TASKS + path.replace("{id}", str(task_id)),
        data=raw.encode("latin-1") if raw == "\xff" else raw,
        content_type="application/json",
        headers=user.headers,
    )

    body = assert_error(response, 400)
    assert "errors" not in body
    assert task_row(app, task_id) == before
    assert task_count(app) == 1


# ------------------------------------------------------------------ size limit


def big_json(size: int) -> str:
    """A valid task JSON document of exactly ``size`` bytes."""
    skeleton = json.dumps({"title": "big", "description": ""})
    return json.dumps({"title": "big", "description": "a" * (size - len(skeleton))})


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_body_over_1_mib_is_413_and_changes_nothing(
    client, app, user, task_id, method, path
):
    before = task_row(app, task_id)
    payload = big_json(int(1.1 * ONE_MIB))
    assert len(payload) > ONE_MIB

    response = getattr(client, method)(
        TASKS + path.replace("{id}", str(task_id)),
        data=payload,
        content_type="application/json",
        headers=user.headers,
    )

    body = assert_error(response, 413)
    assert "errors" not in body
    assert task_row(app, task_id) == before
    assert task_count(app) == 1


def test_body_just_under_limit_is_parsed(client, app, user):
    payload = big_json(ONE_MIB - 1024)

    response = client.post(TASKS, data=payload, content_type="application/json",
                           headers=user.headers)

    # Read and validated (description too long), not refused for its size.
    assert_error(response, 422, field="description")
    assert task_count(app) == 0


# ------------------------------------------------------------- routing errors


@pytest.mark.parametrize(
    "path",
    ["/api/v1/nope", "/api/v1/tasks/1/nope", "/api/v2/tasks", "/nope", "/api/v1/tasks/"],
)
@pytest.mark.parametrize("authenticated", [False, True])
def test_unknown_route_is_404_json(client, user, path, authenticated):
    headers = user.headers if authenticated else {}

    response = client.get(path, headers=headers)

    body = assert_error(response, 404)
    assert "errors" not in body


@pytest.mark.parametrize(
    ("method", "path", "allowed", "refused"),
    [
        ("delete", TASKS, {"GET", "POST"}, "DELETE"),
        ("put", TASKS, {"GET", "POST"}, "PUT"),
        ("patch", TASKS, {"GET", "POST"}, "PATCH"),
        ("post", f"{TASKS}/1", {"GET", "PUT", "PATCH", "DELETE"}, "POST"),
        ("get", f"{TASKS}/1/complete", {"PATCH"}, "GET"),
        ("post", f"{TASKS}/1/complete", {"PATCH"}, "POST"),
    ],
)
def test_wrong_method_is_405_with_allow(client, app, user, method, path, allowed, refused):
    response = getattr(client, method)(path, headers=user.headers)

    assert_error(response, 405)
    allow = {name.strip() for name in response.headers["Allow"].split(",")}
    assert allowed <= allow
    assert refused not in allow
    assert task_count(app) == 0


# ---------------------------------------------------------------------- 401


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Token abc"}],
)
def test_unauthenticated_is_401_in_error_shape(client, headers):
    response = client.get(TASKS, headers=headers)

    body = assert_error(response, 401)
    assert "errors" not in body
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# ------------------------------------------------------- unexpected exception


def test_unexpected_exception_is_generic_500_and_logged(app, client, taskapi_logs):
    def boom():
        raise RuntimeError("boom secret")

    app.add_url_rule("/boom", "boom", view_func=boom)

    response = client.get("/boom", headers={"X-Request-ID": "req-boom-1"})

    body = assert_error(response, 500)
    assert "errors" not in body
    text = response.get_data(as_text=True)
    for leak in ("Traceback", "boom secret", "RuntimeError", "File \""):
        assert leak not in text
    assert response.headers["X-Request-ID"] == "req-boom-1"

    records = [r for r in taskapi_logs.records if r.name == "taskapi.errors"]
    assert len(records) == 1
    record = records[0]
    assert record.levelno >= logging.ERROR
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError
    assert str(record.exc_info[1]) == "boom secret"
    assert record.request_id == "req-boom-1"
    formatted = logging.Formatter().format(record)
    assert "Traceback" in formatted
    assert "boom secret" in formatted


def test_unexpected_exception_without_client_request_id_logs_generated_one(
    app, client, taskapi_logs
):
    def boom():
        raise RuntimeError("boom secret")

    app.add_url_rule("/boom", "boom", view_func=boom)

    response = client.get("/boom")

    assert_error(response, 500)
    request_id = response.headers["X-Request-ID"]
    assert VALID_REQUEST_ID.match(request_id)
    records = [r for r in taskapi_logs.records if r.name == "taskapi.errors"]
    assert [r.request_id for r in records] == [request_id]


def test_unexpected_exception_rolls_back_the_transaction(app, client, taskapi_logs):
    owner = {}

    def half_done():
        db.session.add(Task(user_id=owner["id"], title="half-done"))
        db.session.flush()
        raise RuntimeError("boom secret")

    app.add_url_rule("/half-done", "half_done", view_func=half_done, methods=["POST"])
    account = make_account(client, "ada@example.com")
    owner["id"] = account.id

    response = client.post("/half-done")

    assert_error(response, 500)
    assert "boom secret" not in response.get_data(as_text=True)
    assert task_count(app) == 0
    # The app keeps working after the failure.
    created = client.post(TASKS, json={"title": "after"}, headers=account.headers)
    assert created.status_code == 201
    assert task_count(app) == 1


# ------------------------------------------------------------------ request id


@pytest.mark.parametrize("request_id", ["abc-123", "A.b_c:d-9", "x" * 64])
@pytest.mark.parametrize("path", [TASKS, "/api/v1/nope"])
def test_valid_request_id_is_echoed(client, user, request_id, path):
    response = client.get(path, headers={**user.headers, "X-Request-ID": request_id})

    assert response.status_code in (200, 404)
    assert response.headers["X-Request-ID"] == request_id


@pytest.mark.parametrize(
    "request_id",
    ["x" * 65, "has spaces", "semi;colon", "new\tline", "<script>", "ünïcode", ""],
)
def test_invalid_request_id_is_replaced(client, user, request_id):
    response = client.get(TASKS, headers={**user.headers, "X-Request-ID": request_id})

    assert response.status_code == 200
    generated = response.headers["X-Request-ID"]
    assert generated != request_id
    assert VALID_REQUEST_ID.match(generated)


def test_request_id_generated_when_absent_and_unique(client, user):
    first = client.get(TASKS, headers=user.headers).headers["X-Request-ID"]
    second = client.get(TASKS, headers=user.headers).headers["X-Request-ID"]

    assert VALID_REQUEST_ID.match(first)
    assert VALID_REQUEST_ID.match(second)
    assert first != second


def test_request_id_on_error_responses(client):
    response = client.get(TASKS, headers={"X-Request-ID": "err-401"})

    assert_error(response, 401)
    assert response.headers["X-Request-ID"] == "err-401"


@pytest.mark.parametrize(
    ("method", "path_suffix"), [("post", ""), ("put", "/{id}"), ("patch", "/{id}"),
                                ("patch", "/{id}/complete")],
)
def test_non_json_body_is_415_and_changes_nothing(client, app, user, method, path_suffix):
    created = client.post("/api/v1/tasks", json={"title": "keep"}, headers=user.headers)
    task_id = created.get_json()["id"]
    url = "/api/v1/tasks" + path_suffix.format(id=task_id)
    with app.app_context():
        before = db.session.scalars(sa.select(Task).order_by(Task.id)).all()
        before = [(t.id, t.title, t.completed, t.updated_at) for t in before]

    response = getattr(client, method)(
        url, data="completed=false&title=x", content_type="application/x-www-form-urlencoded",
        headers=user.headers,
    )

    assert_error(response, 415)
    with app.app_context():
        after = db.session.scalars(sa.select(Task).order_by(Task.id)).all()
        assert [(t.id, t.title, t.completed, t.updated_at) for t in after] == before


@pytest.mark.parametrize("suffix", ["", "/complete"])
def test_json_null_body_is_422(client, app, user, suffix):
    task = client.post("/api/v1/tasks", json={"title": "keep"}, headers=user.headers).get_json()
    response = client.patch(
        f"/api/v1/tasks/{task['id']}{suffix}", data="null", content_type="application/json",
        headers=user.headers,
    )
    assert_error(response, 422)
    with app.app_context():
        row = db.session.get(Task, task["id"])
        assert (row.completed, row.title) == (False, "keep")
