"""Built-in plugin pat: personal access tokens, their scopes and their limits."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.models import utcnow
from taskapi.plugins.pat.models import PersonalAccessToken
from taskapi.ratelimits import client_key
from tests.helpers import assert_error, auth_headers

TOKENS = "/api/v1/auth/tokens"
TASKS = "/api/v1/tasks"


def create_token(client, account, expected=201, **fields):
    body = {"name": "script", "scopes": ["tasks:read"], **fields}
    response = client.post(TOKENS, json=body, headers=account.headers)
    assert response.status_code == expected, response.get_json()
    return response.get_json()


def bearer(token: str) -> dict:
    return auth_headers(token)


def test_a_token_is_shown_once_and_stored_as_its_sha256(app, client, user):
    made = create_token(client, user, name="backup", scopes=["tasks:read", "lists:read"],
                        expires_in_days=30)
    token = made["token"]
    assert token.startswith("tapi_") and len(token) == 5 + 43
    assert made["prefix"] == token[:12]
    assert made["scopes"] == ["tasks:read", "lists:read"]
    assert made["last_used_at"] is None
    with app.app_context():
        row = db.session.scalars(sa.select(PersonalAccessToken)).one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (row.prefix, row.name, row.scopes, row.token_hash)
        assert timedelta(days=29) < row.expires_at - utcnow() <= timedelta(days=30)
    listed = client.get(TOKENS, headers=user.headers).get_json()
    assert listed == [{key: value for key, value in made.items() if key != "token"}]
    assert token not in client.get(TOKENS, headers=user.headers).get_data(as_text=True)


def test_tokens_are_random_and_distinct(client, user):
    tokens = {create_token(client, user)["token"] for _ in range(5)}
    assert len(tokens) == 5


def test_a_token_works_within_its_scopes_only(client, user):
    task = client.post(TASKS, json={"title": "mine"}, headers=user.headers).get_json()
    token = create_token(client, user, scopes=["tasks:read"])["token"]
    listed = client.get(TASKS, headers=bearer(token))
    assert listed.status_code == 200 and [t["id"] for t in listed.get_json()] == [task["id"]]
    assert client.get(f"{TASKS}/{task['id']}", headers=bearer(token)).status_code == 200
    assert client.get(f"/api/{user.id}/tasks", headers=bearer(token)).status_code == 200
    refused = client.post(TASKS, json={"title": "x"}, headers=bearer(token))
    assert "tasks:write" in assert_error(refused, 403)["message"]
    assert "lists:read" in assert_error(client.get("/api/v1/lists", headers=bearer(token)),
                                        403)["message"]
    assert "account:read" in assert_error(client.get("/api/v1/auth/me", headers=bearer(token)),
                                          403)["message"]
    assert len(client.get(TASKS, headers=user.headers).get_json()) == 1


def test_write_scope_writes_as_the_user(app, client, user, other_user):
    token = create_token(client, user, scopes=["tasks:read", "tasks:write"])["token"]
    created = client.post(TASKS, json={"title": "by script"}, headers=bearer(token))
    assert created.status_code == 201
    with app.app_context():
        from taskapi.models import Task

        assert db.session.get(Task, created.get_json()["id"]).user_id == user.id
    assert client.get(TASKS, headers=other_user.headers).get_json() == []
    done = client.patch(f"{TASKS}/{created.get_json()['id']}/complete", headers=bearer(token))
    assert done.status_code == 200 and done.get_json()["completed"] is True


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/logout-all"),
    ("POST", "/api/v1/auth/password"), ("PATCH", "/api/v1/auth/me"),
    ("POST", "/api/v1/auth/refresh"), ("POST", "/api/auth/logout"),
    ("GET", TOKENS), ("POST", TOKENS), ("DELETE", f"{TOKENS}/1"),
])
def test_routes_outside_every_scope_are_403(client, user, method, path):
    token = create_token(client, user, scopes=sorted(
        ["tasks:read", "tasks:write", "lists:read", "lists:write", "tags:read", "tags:write",
         "sync:read", "account:read", "calendar:read"]))["token"]
    response = client.open(path, method=method, json={}, headers=bearer(token))
    assert_error(response, 403)
    assert len(client.get(TOKENS, headers=user.headers).get_json()) == 1


def test_account_read_and_sync_read(client, user):
    token = create_token(client, user, scopes=["account:read", "sync:read"])["token"]
    me = client.get("/api/v1/auth/me", headers=bearer(token))
    assert me.status_code == 200 and me.get_json()["id"] == user.id
    assert client.get("/api/v1/sync", headers=bearer(token)).status_code == 200


def test_a_batch_checks_each_operation_against_the_scopes(client, user):
    token = create_token(client, user, scopes=["tasks:read"])["token"]
    read = client.post("/api/v1/batch", json={"operations": [
        {"method": "GET", "path": TASKS}]}, headers=bearer(token))
    assert read.status_code == 200
    write = client.post("/api/v1/batch", json={"operations": [
        {"method": "POST", "path": TASKS, "body": {"title": "x"}}]}, headers=bearer(token))
    assert write.status_code == 403
    assert client.get(TASKS, headers=user.headers).get_json() == []


def test_revoked_and_expired_tokens_are_401(app, client, user):
    made = create_token(client, user)
    assert client.get(TASKS, headers=bearer(made["token"])).status_code == 200
    assert client.delete(f"{TOKENS}/{made['id']}", headers=user.headers).status_code == 204
    revoked = client.get(TASKS, headers=bearer(made["token"]))
    assert_error(revoked, 401)
    assert revoked.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(client.delete(f"{TOKENS}/{made['id']}", headers=user.headers), 404)
    expiring = create_token(client, user)
    with app.app_context():
        db.session.execute(sa.update(PersonalAccessToken)
                           .where(PersonalAccessToken.id == expiring["id"])
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    expired = client.get(TASKS, headers=bearer(expiring["token"]))
    assert "expired" in assert_error(expired, 401)["message"]
    assert_error(client.get(TASKS, headers=bearer("tapi_" + "x" * 43)), 401)


def test_a_token_of_a_deactivated_account_is_401(app, client, user):
    token = create_token(client, user)["token"]
    with app.app_context():
        from taskapi.models import User

        db.session.execute(sa.update(User).where(User.id == user.id).values(is_active=False))
        db.session.commit()
    assert_error(client.get(TASKS, headers=bearer(token)), 401)


def test_another_users_token_cannot_be_revoked(client, user, other_user):
    made = create_token(client, user)
    assert_error(client.delete(f"{TOKENS}/{made['id']}", headers=other_user.headers), 404)
    assert client.get(TASKS, headers=bearer(made["token"])).status_code == 200


def test_last_used_is_noted(client, user):
    made = create_token(client, user)
    client.get(TASKS, headers=bearer(made["token"]))
    [listed] = client.get(TOKENS, headers=user.headers).get_json()
    assert listed["last_used_at"] is not None


@pytest.mark.parametrize(("body", "field"), [
    ({"scopes": ["tasks:read"]}, "name"),
    ({"name": "", "scopes": ["tasks:read"]}, "name"),
    ({"name": "x" * 101, "scopes": ["tasks:read"]}, "name"),
    ({"name": "x"}, "scopes"),
    ({"name": "x", "scopes": []}, "scopes"),
    ({"name": "x", "scopes": ["tasks:admin"]}, "scopes"),
    ({"name": "x", "scopes": ["tasks:read", "tasks:read"]}, "scopes"),
    ({"name": "x", "scopes": ["tasks:read"], "expires_in_days": 0}, "expires_in_days"),
    ({"name": "x", "scopes": ["tasks:read"], "expires_in_days": 366}, "expires_in_days"),
    ({"name": "x", "scopes": ["tasks:read"], "expires_in_days": "7"}, "expires_in_days"),
    ({"name": "x", "scopes": ["tasks:read"], "token": "tapi_mine"}, "token"),
])
def test_invalid_bodies_are_422_naming_the_field(client, user, body, field):
    response = client.post(TOKENS, json=body, headers=user.headers)
    assert field in assert_error(response, 422)["errors"]["json"]
    assert client.get(TOKENS, headers=user.headers).get_json() == []


def test_the_number_of_tokens_is_capped(app, client, user):
    app.config["PAT_MAX_PER_USER"] = 2
    create_token(client, user)
    create_token(client, user)
    assert_error(client.post(TOKENS, json={"name": "x", "scopes": ["tasks:read"]},
                             headers=user.headers), 409)


def test_rate_limits_count_the_user(app, client, user):
    token = create_token(client, user)["token"]
    with app.test_request_context(TASKS, headers=bearer(token)):
        app.preprocess_request()
        assert client_key() == f"user:{user.id}"


def test_the_openapi_document_declares_the_scopes(client):
    spec = client.get("/api/openapi.json").get_json()
    assert "personalAccessToken" in spec["components"]["securitySchemes"]
    listing = spec["paths"]["/api/v1/tasks"]
    assert listing["get"]["x-required-scopes"] == ["tasks:read"]
    assert listing["post"]["x-required-scopes"] == ["tasks:write"]
    assert {"personalAccessToken": []} in listing["get"]["security"]
    assert spec["paths"]["/api/v1/sync"]["get"]["x-required-scopes"] == ["sync:read"]
    logout = spec["paths"]["/api/v1/auth/logout"]["post"]
    assert "x-required-scopes" not in logout
    assert {"personalAccessToken": []} not in logout["security"]
    assert "x-required-scopes" not in spec["paths"][TOKENS]["post"]
