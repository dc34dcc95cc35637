"""The Phase II contract, walked exactly as a client of the old backend would."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.models import IssuedToken, Task
from tests.helpers import PASSWORD, assert_error, auth_headers, task_count, task_row

USER_KEYS = {"id", "email", "name", "created_at"}
TASK_KEYS = {
    "id", "user_id", "title", "description", "completed", "priority",
    "due_date", "dueDate", "created_at", "updated_at",
}


def compat_register(client, email="carol@example.com", name="Carol"):
    return client.post(
        "/api/auth/register", json={"email": email, "password": PASSWORD, "name": name}
    )


@pytest.fixture
def carol(client):
    body = compat_register(client).get_json()
    return {"id": body["user"]["id"], "headers": auth_headers(body["token"]),
            "refresh_token": body["refresh_token"]}


@pytest.fixture
def dave(client):
    body = compat_register(client, "dave@example.com", "Dave").get_json()
    return {"id": body["user"]["id"], "headers": auth_headers(body["token"])}



def test_service_routes(client):
    root = client.get("/")
    assert root.status_code == 200
    assert root.get_json()["message"].startswith("taskapi ")
    health = client.get("/health")
    assert (health.status_code, health.get_json()) == (200, {"status": "healthy"})
    docs = client.get("/docs", follow_redirects=True)
    assert docs.status_code == 200
    assert docs.request.path == "/api/docs"
    assert b"swagger" in docs.data.lower()


def test_whole_contract_walk(client, app):
    registered = compat_register(client)
    assert registered.status_code == 201
    body = registered.get_json()
    assert set(body) == {"user", "token", "refresh_token"}
    assert set(body["user"]) == USER_KEYS
    assert body["user"]["email"] == "carol@example.com"
    user_id = body["user"]["id"]

    login = client.post(
        "/api/auth/login", json={"email": "carol@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200
    session = login.get_json()
    assert set(session) == {"user", "token", "refresh_token"}
    assert session["user"] == body["user"]
    headers = auth_headers(session["token"])
    base = f"/api/{user_id}/tasks"

    created = []
    for title, priority in (("one", "low"), ("two", None), ("three", "high")):
        response = client.post(base, json={"title": title, "priority": priority}, headers=headers)
        assert response.status_code == 201
        task = response.get_json()
        assert set(task) == TASK_KEYS
        assert (task["title"], task["priority"], task["user_id"]) == (title, priority, user_id)
        assert task["completed"] is False and task["description"] is None
        assert task["due_date"] is None
        created.append(task)

    listed = client.get(base, headers=headers)
    assert listed.status_code == 200
    assert [t["title"] for t in listed.get_json()] == ["one", "two", "three"]  # creation order
    assert all(set(t) == TASK_KEYS for t in listed.get_json())
    assert json.loads(listed.headers["X-Pagination"])["total"] == 3

    task_id = created[0]["id"]
    got = client.get(f"{base}/{task_id}", headers=headers)
    assert got.status_code == 200 and got.get_json() == created[0]

    put = client.put(
        f"{base}/{task_id}", json={"description": "now with words"}, headers=headers
    )
    assert put.status_code == 200
    updated = put.get_json()
    assert set(updated) == TASK_KEYS
    assert updated["title"] == "one"  # PUT here is partial: title kept
    assert updated["description"] == "now with words"
    assert updated["priority"] == "low"

    done = client.patch(f"{base}/{task_id}/complete", json={"completed": True}, headers=headers)
    assert done.status_code == 200 and done.get_json()["completed"] is True
    toggled = client.patch(f"{base}/{task_id}/complete", headers=headers)
    assert toggled.status_code == 200 and toggled.get_json()["completed"] is False
    assert set(toggled.get_json()) == TASK_KEYS

    deleted = client.delete(f"{base}/{task_id}", headers=headers)
    assert deleted.status_code == 204 and deleted.data == b""
    assert client.get(f"{base}/{task_id}", headers=headers).status_code == 404
    assert task_count(app) == 2

    logout = client.post("/api/auth/logout", headers=headers)
    assert logout.status_code == 200
    assert logout.get_json() == {"message": "Successfully logged out"}
    assert_error(client.get(base, headers=headers), 401)


def test_register_and_login_errors_follow_v1(client, carol):
    assert_error(compat_register(client), 409)
    bad = client.post("/api/auth/register", json={"email": "x@example.com", "password": "short",
                                                  "name": "X"})
    assert_error(bad, 422, field="password")
    wrong = client.post("/api/auth/login", json={"email": "carol@example.com",
                                                 "password": "wrong password"})
    unknown = client.post("/api/auth/login", json={"email": "nobody@example.com",
                                                   "password": "wrong password"})
    assert_error(wrong, 401)
    assert wrong.get_json() == unknown.get_json()


def _refresh(client, how, token):
    if how == "body":
        return client.post("/api/auth/refresh", json={"refresh_token": token})
    return client.post("/api/auth/refresh", headers=auth_headers(token))


def _live_tokens(app) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count(IssuedToken.id)).where(IssuedToken.revoked_at.is_(None))
        )


@pytest.mark.parametrize("how", ["body", "header"])
def test_refresh_rotates_and_detects_reuse(client, app, carol, how):
    app.config["JWT_REFRESH_REUSE_WINDOW"] = 0  # any second use is reuse
    first = _refresh(client, how, carol["refresh_token"])
    assert first.status_code == 200
    body = first.get_json()
    assert set(body) == {"user", "token", "refresh_token"} and body["user"]["id"] == carol["id"]
    assert client.get(f"/api/{carol['id']}/tasks",
                      headers=auth_headers(body["token"])).status_code == 200

    reused = _refresh(client, how, carol["refresh_token"])
    assert_error(reused, 401)
    # Reuse revoked the whole session, including the pair just issued.
    assert_error(_refresh(client, how, body["refresh_token"]), 401)
    assert_error(client.get(f"/api/{carol['id']}/tasks", headers=auth_headers(body["token"])), 401)
    assert _live_tokens(app) == 0


@pytest.mark.parametrize("how", ["body", "header"])
def test_refresh_again_within_the_reuse_window_gets_a_new_pair(client, app, carol, how):
    first = _refresh(client, how, carol["refresh_token"]).get_json()
    again = _refresh(client, how, carol["refresh_token"])
    assert again.status_code == 200
    second = again.get_json()
    assert second["refresh_token"] not in (first["refresh_token"], carol["refresh_token"])
    for pair in (first, second):
        assert client.get(f"/api/{carol['id']}/tasks",
                          headers=auth_headers(pair["token"])).status_code == 200
    assert _live_tokens(app) == 2 + 2 + 1  # both new pairs, and the registration's access token


def test_refresh_without_token_is_401(client):
    assert_error(client.post("/api/auth/refresh", json={}), 401)


def test_access_token_cannot_refresh(client, carol):
    token = carol["headers"]["Authorization"].split()[1]
    assert_error(client.post("/api/auth/refresh", json={"refresh_token": token}), 401)


def _routes(user_id: int, task_id: int):
    base = f"/api/{user_id}/tasks"
    return [
        ("get", base, None),
        ("post", base, {"title": "intruder"}),
        ("get", f"{base}/{task_id}", None),
        ("put", f"{base}/{task_id}", {"title": "intruder"}),
        ("delete", f"{base}/{task_id}", None),
        ("patch", f"{base}/{task_id}/complete", {"completed": True}),
    ]


def test_path_user_rule_is_403_on_every_route(client, app, carol, dave):
    task = client.post(
        f"/api/{carol['id']}/tasks", json={"title": "carol's"}, headers=carol["headers"]
    ).get_json()
    with app.app_context():
        before = db.session.get(Task, task["id"]).__dict__.copy()
    before.pop("_sa_instance_state")
    for method, url, body in _routes(carol["id"], task["id"]):
        response = getattr(client, method)(url, json=body, headers=dave["headers"])
        assert_error(response, 403)
        # No token, or a bad one, is a 401 first.
        assert_error(getattr(client, method)(url, json=body), 401)
        bad = getattr(client, method)(url, json=body, headers=auth_headers("not.a.jwt"))
        assert_error(bad, 401)
    with app.app_context():
        after = db.session.get(Task, task["id"]).__dict__.copy()
    after.pop("_sa_instance_state")
    assert after == before
    assert task_count(app) == 1


def test_other_users_task_through_own_path_is_404(client, carol, dave):
    task = client.post(
        f"/api/{carol['id']}/tasks", json={"title": "carol's"}, headers=carol["headers"]
    ).get_json()
    response = client.get(f"/api/{dave['id']}/tasks/{task['id']}", headers=dave["headers"])
    assert_error(response, 404)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2025-12-31", "2025-12-31T00:00:00+00:00"),
        ("2025-12-31T23:59:59", "2025-12-31T23:59:59+00:00"),
        ("2025-12-31T23:59:59Z", "2025-12-31T23:59:59+00:00"),
        ("2025-12-31T23:59:59+02:00", "2025-12-31T21:59:59+00:00"),
        (None, None),
    ],
)
def test_due_date_inputs(client, carol, given, stored):
    response = client.post(
        f"/api/{carol['id']}/tasks", json={"title": "t", "due_date": given},
        headers=carol["headers"],
    )
    assert response.status_code == 201
    assert response.get_json()["due_date"] == stored


@pytest.mark.parametrize("given", ["tomorrow", "2025-13-01", "", 20251231, "2025-12-31T25:00:00"])
def test_bad_due_date_is_422_and_nothing_stored(client, app, carol, given):
    response = client.post(
        f"/api/{carol['id']}/tasks", json={"title": "t", "due_date": given},
        headers=carol["headers"],
    )
    assert_error(response, 422, field="due_date")
    assert task_count(app) == 0


@pytest.mark.parametrize(("field", "value"), [
    ("id", 4242), ("user_id", 4242), ("created_at", "2000-01-01T00:00:00+00:00"),
    ("updated_at", "2000-01-01T00:00:00+00:00"), ("due_at", "2030-01-01T00:00:00+00:00"),
])
def test_foreign_and_read_only_fields_are_ignored(client, app, carol, field, value):
    response = client.post(
        f"/api/{carol['id']}/tasks", json={"title": "t", field: value}, headers=carol["headers"]
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    task = response.get_json()
    row = task_row(app, task["id"])
    assert (row["id"], row["user_id"], row["title"], row["due_at"]) == (1, carol["id"], "t", None)
    assert row["created_at"].year > 2000 and row["updated_at"].year > 2000
    assert task["due_date"] is None
    assert task_count(app) == 1


def test_malformed_json_is_400(client, carol):
    response = client.post(
        f"/api/{carol['id']}/tasks", data="{bad", content_type="application/json",
        headers=carol["headers"],
    )
    assert_error(response, 400)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "COMPAT_LIST_CAP": 5}


def test_list_cap_and_paging(client, carol):
    base = f"/api/{carol['id']}/tasks"
    for n in range(7):
        client.post(base, json={"title": f"t{n}", "completed": n % 2 == 0},
                    headers=carol["headers"])
    capped = client.get(base, headers=carol["headers"])
    assert [t["title"] for t in capped.get_json()] == ["t0", "t1", "t2", "t3", "t4"]
    meta = json.loads(capped.headers["X-Pagination"])
    assert meta["total"] == 7 and meta["next_page"] == 2  # the cap cut the list

    page = client.get(f"{base}?page=2&page_size=3", headers=carol["headers"])
    assert [t["title"] for t in page.get_json()] == ["t3", "t4", "t5"]
    done = client.get(f"{base}?completed=true&page_size=10", headers=carol["headers"])
    assert [t["title"] for t in done.get_json()] == ["t0", "t2", "t4", "t6"]
    assert_error(client.get(f"{base}?page_size=1001", headers=carol["headers"]), 422,
                 field="page_size")


def test_compat_and_v1_share_tasks(client, carol):
    via_compat = client.post(
        f"/api/{carol['id']}/tasks", json={"title": "from compat", "due_date": "2025-06-01"},
        headers=carol["headers"],
    ).get_json()
    via_v1 = client.get(f"/api/v1/tasks/{via_compat['id']}", headers=carol["headers"])
    assert via_v1.status_code == 200
    assert via_v1.get_json()["title"] == "from compat"
    assert via_v1.get_json()["due_at"] == via_compat["due_date"]

    made_v1 = client.post(
        "/api/v1/tasks", json={"title": "from v1", "due_at": "2025-06-02T08:00:00Z"},
        headers=carol["headers"],
    ).get_json()
    seen = client.get(f"/api/{carol['id']}/tasks/{made_v1['id']}", headers=carol["headers"])
    assert seen.status_code == 200
    assert seen.get_json()["due_date"] == made_v1["due_at"] == "2025-06-02T08:00:00+00:00"
    assert seen.get_json()["user_id"] == carol["id"]


def test_compat_routes_documented_under_their_tag(client):
    spec = client.get("/api/openapi.json").get_json()
    assert "Phase II contract" in {tag["name"] for tag in spec["tags"]}
    for path in ("/api/auth/login", "/api/{user_id}/tasks", "/api/{user_id}/tasks/{task_id}"):
        for operation in spec["paths"][path].values():
            if isinstance(operation, dict) and "responses" in operation:
                assert operation["tags"] == ["Phase II contract"]


def test_better_auth_secret_signs_tokens(monkeypatch, app_config):
    from flask_jwt_extended import decode_token

    from taskapi import create_app

    config = {k: v for k, v in app_config.items() if k != "JWT_SECRET_KEY"}
    monkeypatch.delenv("TASKAPI_JWT_SECRET_KEY", raising=False)
    monkeypatch.setenv("BETTER_AUTH_SECRET", "legacy-secret-" + "x" * 32)
    app = create_app(config)
    assert app.config["JWT_SECRET_KEY"] == "legacy-secret-" + "x" * 32
    with app.app_context():
        db.create_all()
    token = compat_register(app.test_client()).get_json()["token"]
    with app.app_context():
        assert decode_token(token)["type"] == "access"
        db.drop_all()
        db.engine.dispose()
