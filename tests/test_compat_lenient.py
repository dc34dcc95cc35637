"""The original contract as its Next.js frontend uses it, unchanged.

- Bodies of /api/{user_id}/tasks and /api/auth/* are lenient (the old FastAPI
  backend's pydantic default): unknown and read-only fields are ignored, never
  stored, and named in a debug line of ``taskapi.compat``; ``dueDate`` is an
  alias of ``due_date`` (``due_date`` wins) and is shown next to it. Types and
  values are still checked (422, nothing stored). v1 stays strict.
- Every error of these routes carries ``detail`` (the message, or the first
  field error as ``field: message``); the v1 twins carry none.
- Lists are in creation order (``id`` ascending) unless ``sort`` says otherwise.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.models import Task, User
from tests.helpers import (
    PASSWORD,
    assert_error,
    auth_headers,
    dispose,
    login,
    make_app,
    task_count,
    task_row,
)

FRONTEND_BODY = {"title": "Ship it", "description": "Before the holidays", "completed": False,
                 "priority": "high", "dueDate": "2025-12-31"}
NEW_YEARS_EVE = "2025-12-31T00:00:00+00:00"
LONG_AGO = "2000-01-01T00:00:00+00:00"
BAD_DATE = "Not a valid date or datetime (YYYY-MM-DD or ISO 8601)."
#: Read-only or foreign fields a client may echo or forge.
READ_ONLY = {"id": 4242, "created_at": LONG_AGO, "updated_at": LONG_AGO,
             "completed_at": LONG_AGO, "version": 99, "is_admin": True,
             "password_hash": "$argon2id$forged"}
CONTENT = ("id", "user_id", "title", "description", "completed", "completed_at", "priority",
           "due_at", "created_at")


def register(client, email, **extra):
    return client.post("/api/auth/register",
                       json={"email": email, "password": PASSWORD, "name": "N", **extra})


def account(client, email):
    body = register(client, email).get_json()
    user_id = body["user"]["id"]
    return {"id": user_id, "headers": auth_headers(body["token"]),
            "refresh_token": body["refresh_token"], "tasks": f"/api/{user_id}/tasks"}


@pytest.fixture
def carol(client):
    return account(client, "carol@example.com")


@pytest.fixture
def dave(client):
    return account(client, "dave@example.com")


@pytest.fixture
def compat_logs(app, caplog):
    caplog.set_level(logging.DEBUG, logger="taskapi.compat")
    return caplog


def ignored_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "taskapi.compat"]


def post(client, who, body):
    return client.post(who["tasks"], json=body, headers=who["headers"])


def put(client, who, task_id, body):
    return client.put(f"{who['tasks']}/{task_id}", json=body, headers=who["headers"])


def listed(client, who, query=""):
    response = client.get(who["tasks"] + query, headers=who["headers"])
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


# ------------------------------------------------------------------ dueDate


def test_frontend_create_body_is_201_with_due_date_under_both_names(app, client, carol):
    response = post(client, carol, FRONTEND_BODY)

    assert response.status_code == 201, response.get_data(as_text=True)
    task = response.get_json()
    assert task["due_date"] == task["dueDate"] == NEW_YEARS_EVE
    assert (task["title"], task["priority"], task["completed"]) == ("Ship it", "high", False)
    row = task_row(app, task["id"])
    assert row["due_at"] == datetime(2025, 12, 31, tzinfo=UTC)
    assert (row["user_id"], row["description"]) == (carol["id"], "Before the holidays")
    got = client.get(f"{carol['tasks']}/{task['id']}", headers=carol["headers"])
    assert listed(client, carol).get_json() == [task] and got.get_json() == task


def test_due_date_wins_over_the_alias(app, client, carol):
    created = post(client, carol, {"title": "t", "dueDate": "2025-01-01",
                                   "due_date": "2025-02-02"}).get_json()
    assert created["due_date"] == created["dueDate"] == "2025-02-02T00:00:00+00:00"
    updated = put(client, carol, created["id"], {"due_date": "2025-03-03T10:00:00Z",
                                                 "dueDate": "not even a date"})
    assert updated.status_code == 200
    assert updated.get_json()["dueDate"] == "2025-03-03T10:00:00+00:00"
    assert task_row(app, created["id"])["due_at"] == datetime(2025, 3, 3, 10, tzinfo=UTC)


def test_put_with_due_date_alias_sets_and_null_clears(app, client, carol):
    task_id = post(client, carol, {"title": "t"}).get_json()["id"]
    set_ = put(client, carol, task_id, {"dueDate": "2025-12-31T23:59:59+02:00"}).get_json()
    assert set_["dueDate"] == set_["due_date"] == "2025-12-31T21:59:59+00:00"
    kept = put(client, carol, task_id, {"title": "renamed"}).get_json()
    assert kept["dueDate"] == "2025-12-31T21:59:59+00:00"

    cleared = put(client, carol, task_id, {"dueDate": None})

    assert cleared.status_code == 200
    assert cleared.get_json()["dueDate"] is None and cleared.get_json()["due_date"] is None
    assert task_row(app, task_id)["due_at"] is None
    done = client.patch(f"{carol['tasks']}/{task_id}/complete", headers=carol["headers"])
    assert done.get_json()["completed"] is True and "dueDate" in done.get_json()


# ---------------------------------------------------------- types still checked


@pytest.mark.parametrize(("field", "value", "message"), [
    ("dueDate", "2025-13-01", BAD_DATE),
    ("dueDate", 20251231, BAD_DATE),
    ("due_date", "tomorrow", BAD_DATE),
    ("title", 5, "Not a valid string."),
    ("completed", "yes", "Not a valid boolean."),
    ("priority", "urgent", "Must be one of: low, medium, high."),
])
def test_wrong_type_or_value_is_422_naming_the_field_as_sent(
    app, client, carol, field, value, message
):
    created = post(client, carol, {"title": "t", field: value})
    body = assert_error(created, 422, field=field)
    assert body["detail"] == f"{field}: {message}"
    assert task_count(app) == 0

    task_id = post(client, carol, {"title": "kept", "dueDate": "2025-06-01"}).get_json()["id"]
    before = task_row(app, task_id)
    assert assert_error(put(client, carol, task_id, {field: value}), 422)["detail"] == \
        f"{field}: {message}"
    assert task_row(app, task_id) == before


# ------------------------------------------------------- unknown and read-only


def test_read_only_and_unknown_fields_are_ignored_on_create(app, client, carol, dave,
                                                            compat_logs):
    body = {"title": "t", **READ_ONLY, "user_id": dave["id"], "tags": "x", "colour": "red"}
    response = post(client, carol, body)

    assert response.status_code == 201, response.get_data(as_text=True)
    task = response.get_json()
    row = task_row(app, task["id"])
    assert (row["id"], row["user_id"], row["version"], row["completed_at"]) == (
        1, carol["id"], 1, None)
    assert datetime.now(UTC) - row["created_at"] < timedelta(minutes=5)
    assert row["updated_at"] == row["created_at"]
    assert task["user_id"] == carol["id"] and "colour" not in task
    assert listed(client, dave).get_json() == []
    assert ignored_lines(compat_logs) == [
        "ignored body fields: colour, completed_at, created_at, id, is_admin, password_hash, "
        "tags, updated_at, user_id, version"]
    # v1 is strict about the same fields.
    v1 = client.post("/api/v1/tasks", json={"title": "t", "user_id": dave["id"]},
                     headers=carol["headers"])
    assert "detail" not in assert_error(v1, 422, field="user_id")
    assert_error(client.post("/api/v1/tasks", json={"title": "t", "dueDate": "2025-12-31"},
                             headers=carol["headers"]), 422, field="dueDate")
    assert task_count(app) == 1


def test_put_of_read_only_and_unknown_fields_only_is_200_and_changes_nothing(
    app, client, carol, dave, compat_logs
):
    task_id = post(client, carol, FRONTEND_BODY).get_json()["id"]
    before = task_row(app, task_id)

    response = put(client, carol, task_id, {**READ_ONLY, "user_id": dave["id"], "x": 1})

    assert response.status_code == 200
    after = task_row(app, task_id)
    # A write with nothing to set still counts as a write (updated_at, version).
    assert {k: after[k] for k in CONTENT} == {k: before[k] for k in CONTENT}
    assert response.get_json()["dueDate"] == NEW_YEARS_EVE
    assert task_row(app, 4242) is None and listed(client, dave).get_json() == []
    assert ignored_lines(compat_logs)[-1] == (
        "ignored body fields: completed_at, created_at, id, is_admin, password_hash, "
        "updated_at, user_id, version, x")


def test_another_users_id_in_the_body_never_moves_a_task(app, client, carol, dave):
    task_id = post(client, carol, {"title": "mine"}).get_json()["id"]
    base = f"{carol['tasks']}/{task_id}"
    for method, url, body in (("put", base, {"title": "moved?", "user_id": dave["id"]}),
                              ("patch", f"{base}/complete",
                               {"completed": True, "user_id": dave["id"], "id": 7})):
        response = getattr(client, method)(url, json=body, headers=carol["headers"])
        assert response.status_code == 200 and response.get_json()["user_id"] == carol["id"]
    row = task_row(app, task_id)
    assert (row["user_id"], row["title"], row["completed"]) == (carol["id"], "moved?", True)
    assert listed(client, dave).get_json() == []
    assert_error(client.get(base.replace(f"/{carol['id']}/", f"/{dave['id']}/"),
                            headers=dave["headers"]), 404)


def test_complete_ignores_unknown_fields(app, client, carol):
    task_id = post(client, carol, {"title": "t"}).get_json()["id"]
    url = f"{carol['tasks']}/{task_id}/complete"
    done = client.patch(url, json={"completed": True, "completed_at": LONG_AGO},
                        headers=carol["headers"])
    assert done.status_code == 200 and done.get_json()["completed"] is True
    assert task_row(app, task_id)["completed_at"].year > 2000
    # Only unknown fields: the same as no body, a toggle.
    toggled = client.patch(url, json={"done": False}, headers=carol["headers"])
    assert toggled.status_code == 200 and toggled.get_json()["completed"] is False


# --------------------------------------------------------------------- auth


def test_register_with_extra_fields_is_201_and_not_admin(app, client, compat_logs):
    response = register(client, "eve@example.com", confirmPassword=PASSWORD, is_admin=True,
                        id=999)

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["user"]["id"] == 1
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "eve@example.com"))
        assert (user.id, user.is_admin, user.is_active) == (1, False, True)
    assert ignored_lines(compat_logs) == ["ignored body fields: confirmPassword, id, is_admin"]
    v1 = client.post("/api/v1/auth/register", json={"email": "f@example.com", "password": PASSWORD,
                                                    "name": "F", "confirmPassword": PASSWORD})
    assert_error(v1, 422, field="confirmPassword")


def test_login_refresh_and_logout_ignore_extra_fields(app, client, carol, dave, compat_logs):
    logged_in = client.post("/api/auth/login", json={
        "email": "carol@example.com", "password": PASSWORD, "rememberMe": True,
        "is_admin": True})
    assert logged_in.status_code == 200 and logged_in.get_json()["user"]["id"] == carol["id"]

    refreshed = client.post("/api/auth/refresh", json={
        "refresh_token": carol["refresh_token"], "user_id": dave["id"], "client": "web"})
    assert refreshed.status_code == 200, refreshed.get_data(as_text=True)
    pair = refreshed.get_json()
    assert pair["user"]["id"] == carol["id"]
    assert listed(client, {**carol, "headers": auth_headers(pair["token"])}).status_code == 200
    assert_error(client.get(dave["tasks"], headers=auth_headers(pair["token"])), 403)

    out = client.post("/api/auth/logout", json={"everywhere": True},
                      headers=auth_headers(pair["token"]))
    assert out.status_code == 200
    assert_error(client.get(carol["tasks"], headers=auth_headers(pair["token"])), 401)
    with app.app_context():
        assert db.session.scalars(sa.select(User.is_admin)).all() == [False, False]
    assert ignored_lines(compat_logs) == ["ignored body fields: is_admin, rememberMe",
                                          "ignored body fields: client, user_id",
                                          "ignored body fields: everywhere"]
    assert login(client, "dave@example.com").status_code == 200  # dave untouched


def test_no_debug_line_when_nothing_is_ignored(client, carol, compat_logs):
    assert post(client, carol, FRONTEND_BODY).status_code == 201
    assert ignored_lines(compat_logs) == []


def test_short_password_detail(client):
    response = client.post("/api/auth/register", json={"email": "g@example.com",
                                                       "password": "abcdef", "name": "G"})
    assert assert_error(response, 422, field="password")["detail"] == \
        "password: Length must be between 8 and 128."


# ------------------------------------------------------------------- detail


def twins(client, carol, task_id):
    """(status, compat response, v1 response or None) for each error a client can meet."""
    h = carol["headers"]
    other = "/api/999/tasks"
    text = {"data": "title=x", "content_type": "text/plain", "headers": h}
    return [
        (400, client.post(carol["tasks"], data="{bad", content_type="application/json",
                          headers=h),
         client.post("/api/v1/tasks", data="{bad", content_type="application/json", headers=h)),
        (401, client.get(carol["tasks"]), client.get("/api/v1/tasks")),
        (401, client.get(carol["tasks"], headers=auth_headers("not.a.jwt")),
         client.get("/api/v1/tasks", headers=auth_headers("not.a.jwt"))),
        (401, client.post("/api/auth/login", json={"email": "carol@example.com",
                                                   "password": "wrong password"}),
         client.post("/api/v1/auth/login", json={"email": "carol@example.com",
                                                 "password": "wrong password"})),
        (403, client.get(other, headers=h), None),
        (404, client.get(f"{carol['tasks']}/{task_id + 1}", headers=h),
         client.get(f"/api/v1/tasks/{task_id + 1}", headers=h)),
        (404, client.get("/api/auth/nope"), client.get("/api/v1/auth/nope")),
        (404, client.get("/api/5/tasks/abc", headers=h),
         client.get("/api/v1/tasks/abc", headers=h)),
        (405, client.delete("/api/auth/login"), client.delete("/api/v1/auth/login")),
        (405, client.post(f"{carol['tasks']}/{task_id}/complete", headers=h),
         client.post(f"/api/v1/tasks/{task_id}/complete", headers=h)),
        (409, register(client, "carol@example.com"),
         client.post("/api/v1/auth/register", json={"email": "carol@example.com",
                                                    "password": PASSWORD, "name": "C"})),
        (415, client.post(carol["tasks"], **text), client.post("/api/v1/tasks", **text)),
        (422, post(client, carol, {"title": ""}),
         client.post("/api/v1/tasks", json={"title": ""}, headers=h)),
    ]


def assert_detail_only_on_compat(status, compat, v1):
    body = assert_error(compat, status)
    if "errors" in body:
        assert body["detail"].startswith(next(iter(body["errors"]["json"])) + ": "), body
    else:
        assert body["detail"] == body["message"]
    if v1 is not None:
        v1_body = assert_error(v1, status)
        assert "detail" not in v1_body
        assert {k: v for k, v in body.items() if k != "detail"} == v1_body


def test_every_error_carries_detail_and_the_v1_twin_none(app, client, carol):
    task_id = post(client, carol, {"title": "t"}).get_json()["id"]
    before = task_row(app, task_id)
    cases = twins(client, carol, task_id)
    assert sorted({status for status, _, _ in cases}) == [400, 401, 403, 404, 405, 409, 415, 422]
    for status, compat, v1 in cases:
        assert_detail_only_on_compat(status, compat, v1)
    assert task_row(app, task_id) == before and task_count(app) == 1


def test_detail_of_service_routes_errors(client):
    for response in (client.post("/health"), client.delete("/")):
        body = assert_error(response, 405)
        assert body["detail"] == "The method is not allowed for this resource."
        assert response.headers["Allow"]


def test_413_carries_detail(app, client, carol):
    app.config["MAX_CONTENT_LENGTH"] = 200
    big = {"title": "t", "description": "x" * 300}
    compat = post(client, carol, big)
    v1 = client.post("/api/v1/tasks", json=big, headers=carol["headers"])
    assert_detail_only_on_compat(413, compat, v1)
    login_ = client.post("/api/auth/login", json={"email": "a@example.com", "password": "x" * 300})
    assert assert_error(login_, 413)["detail"]
    assert task_count(app) == 0


def test_429_carries_detail(database_url):
    app = make_app(database_url, RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="2 per minute",
                   RATELIMIT_AUTH_PER_IP="100 per minute",
                   RATELIMIT_AUTH_PER_ACCOUNT="100 per minute")
    try:
        client = app.test_client()
        carol = account(client, "carol@example.com")
        responses = {}
        for name, url in (("compat", carol["tasks"]), ("v1", "/api/v1/tasks")):
            statuses = [client.get(url, headers=carol["headers"]) for _ in range(3)]
            assert [r.status_code for r in statuses] == [200, 200, 429]
            responses[name] = statuses[-1]
        assert_detail_only_on_compat(429, responses["compat"], responses["v1"])
        assert responses["compat"].headers["Retry-After"]
    finally:
        dispose(app)


def test_500_carries_detail_and_no_trace(app, client, carol, monkeypatch):
    def boom(*_args, **_kwargs):
        raise RuntimeError("boom secret")

    monkeypatch.setattr("taskapi.compat.routes.create_task", boom)
    monkeypatch.setattr("taskapi.tasks.routes.create_task", boom)
    compat = post(client, carol, FRONTEND_BODY)
    v1 = client.post("/api/v1/tasks", json={"title": "t"}, headers=carol["headers"])

    assert_detail_only_on_compat(500, compat, v1)
    assert "boom" not in compat.get_data(as_text=True)
    assert task_count(app) == 0


# -------------------------------------------------------------------- order


def make_tasks(app, client, who, titles, created_minutes):
    """Create tasks in order, then give them ``created_at`` = now + the minutes given."""
    ids = [post(client, who, {"title": title}).get_json()["id"] for title in titles]
    now = datetime.now(UTC)
    with app.app_context():
        for task_id, minutes in zip(ids, created_minutes, strict=True):
            db.session.get(Task, task_id).created_at = now + timedelta(minutes=minutes)
        db.session.commit()
    return ids


def ids_of(response) -> list[int]:
    return [task["id"] for task in response.get_json()]


def test_default_order_is_creation_order_and_sort_still_works(app, client, carol):
    ids = make_tasks(app, client, carol, ["a", "b", "c"], [0, 1, 2])

    assert ids_of(listed(client, carol)) == ids == sorted(ids)
    assert ids_of(listed(client, carol, "?sort=-created_at")) == ids[::-1]
    assert ids_of(listed(client, carol, "?sort=-title")) == ids[::-1]
    v1 = client.get("/api/v1/tasks", headers=carol["headers"])
    assert ids_of(v1) == ids[::-1]  # v1's default: -created_at


def test_default_order_is_by_id_not_by_timestamp(app, client, carol):
    ids = make_tasks(app, client, carol, ["a", "b", "c"], [5, -5, 0])

    assert ids_of(listed(client, carol)) == ids
    assert ids_of(listed(client, carol, "?sort=created_at")) == [ids[1], ids[2], ids[0]]
    assert ids_of(client.get("/api/v1/tasks", headers=carol["headers"])) == \
        [ids[0], ids[2], ids[1]]


def test_pages_keep_id_order(app, client, carol):
    ids = make_tasks(app, client, carol, list("abcde"), [4, 3, 2, 1, 0])
    pages = []
    for page in (1, 2, 3):
        response = listed(client, carol, f"?page={page}&page_size=2")
        meta = json.loads(response.headers["X-Pagination"])
        assert (meta["total"], meta["total_pages"], meta["page"]) == (5, 3, page)
        pages.append(ids_of(response))
    assert pages == [ids[0:2], ids[2:4], ids[4:]]


def test_a_page_kept_before_a_write_is_not_served_after_it(app, client, carol):
    first = post(client, carol, FRONTEND_BODY).get_json()
    kept = listed(client, carol)
    etag = kept.headers["ETag"]
    assert listed(client, carol).get_data() == kept.get_data()  # served from the cache

    second = post(client, carol, {"title": "second", "dueDate": "2026-01-01"}).get_json()
    after = client.get(carol["tasks"], headers={**carol["headers"], "If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag
    assert ids_of(after) == [first["id"], second["id"]]
    assert after.get_json()[1]["dueDate"] == "2026-01-01T00:00:00+00:00"

    put(client, carol, first["id"], {"dueDate": None})
    assert listed(client, carol).get_json()[0]["dueDate"] is None
    client.patch(f"/api/v1/tasks/{second['id']}", json={"title": "via v1"},
                 headers=carol["headers"])
    assert listed(client, carol).get_json()[1]["title"] == "via v1"
