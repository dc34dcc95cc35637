"""Auth API: register, login, /me, logging, and argon2 outside the SQLite write
turn; helpers shared with test_auth_tokens.

Refresh rotation, logout, account state, token rows and the rejected-token cases
are in ``test_auth_tokens.py``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import jwt
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from taskapi.extensions import db
from taskapi.models import IssuedToken, User
from tests.helpers import (
    PASSWORD,
    assert_error,
    auth_headers,
    login,
    register,
)

AUTH = "/api/v1/auth"
USER_KEYS = {"id", "email", "name", "created_at"}
TOKEN_KEYS = {"access_token", "refresh_token", "token_type", "expires_in"}


def assert_unauthorized(response) -> dict:
    """The one error shape, status 401, and a Bearer challenge (RFC 6750 section 3)."""
    body = assert_error(response, 401)
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), dict(
        response.headers
    )
    return body


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def user_rows(app) -> list[tuple]:
    with app.app_context():
        return [
            (u.id, u.email, u.name, u.password_hash, u.is_active, u.is_admin)
            for u in db.session.scalars(sa.select(User).order_by(User.id))
        ]


def token_rows(app, user_id: int) -> list[IssuedToken]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(IssuedToken)
                .where(IssuedToken.user_id == user_id)
                .order_by(IssuedToken.id)
            )
        )


def set_active(app, user_id: int, active: bool) -> None:
    with app.app_context():
        db.session.get(User, user_id).is_active = active
        db.session.commit()


def me(client, token: str):
    return client.get(f"{AUTH}/me", headers=auth_headers(token))


def refresh(client, token: str):
    return client.post(f"{AUTH}/refresh", headers=auth_headers(token))


def logout(client, token: str, **kwargs):
    return client.post(f"{AUTH}/logout", headers=auth_headers(token), **kwargs)


# --- register ---------------------------------------------------------------


def test_register_returns_public_fields_only(client):
    response = register(client, "ada@example.com", name="Ada Lovelace")

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == USER_KEYS
    assert isinstance(body["id"], int)
    assert body["email"] == "ada@example.com"
    assert body["name"] == "Ada Lovelace"
    assert datetime.fromisoformat(body["created_at"]).utcoffset() == timedelta(0)
    text = response.get_data(as_text=True)
    assert PASSWORD not in text
    assert "argon2" not in text


def test_register_stores_normalised_email_and_argon2id_hash(app, client):
    response = register(client, "  Ada.Lovelace@Example.COM \t", name="  Ada  ")

    assert response.status_code == 201
    assert response.get_json()["email"] == "ada.lovelace@example.com"
    [(user_id, email, name, password_hash, active, admin)] = user_rows(app)
    assert user_id == response.get_json()["id"]
    assert email == "ada.lovelace@example.com"
    assert name == "Ada"
    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash
    assert PasswordHasher().verify(password_hash, PASSWORD)
    assert active is True
    assert admin is False
    # The normalised address is the login name, whatever its spelling.
    assert login(client, "ADA.LOVELACE@example.com ").status_code == 200


@pytest.mark.parametrize(
    "duplicate", ["ada@example.com", "ADA@Example.com", "  ada@example.com  ", " Ada@EXAMPLE.COM"]
)
def test_register_duplicate_email_is_409(app, client, duplicate):
    assert register(client, "ada@example.com", name="First").status_code == 201

    response = register(client, duplicate, name="Second")

    assert_error(response, 409)
    assert [row[2] for row in user_rows(app)] == ["First"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "ada@"}, "email"),
        ({"email": "@example.com"}, "email"),
        ({"email": "ada example@example.com"}, "email"),
        ({"email": ""}, "email"),
        ({"email": 42}, "email"),
        ({"password": "x" * 7}, "password"),
        ({"password": "x" * 129}, "password"),
        ({"password": ""}, "password"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "n" * 256}, "name"),
    ],
)
def test_register_invalid_field_is_422_and_stores_nothing(app, client, payload, field):
    data = {"email": "ada@example.com", "password": PASSWORD, "name": "Ada", **payload}

    response = client.post(f"{AUTH}/register", json=data)

    assert_error(response, 422, field=field)
    assert user_rows(app) == []


@pytest.mark.parametrize("missing", ["email", "password", "name"])
def test_register_missing_field_is_422(app, client, missing):
    data = {"email": "ada@example.com", "password": PASSWORD, "name": "Ada"}
    del data[missing]

    response = client.post(f"{AUTH}/register", json=data)

    assert_error(response, 422, field=missing)
    assert user_rows(app) == []


@pytest.mark.parametrize(
    "extra",
    [
        {"id": 99},
        {"is_admin": True},
        {"is_active": False},
        {"password_hash": "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"},
        {"created_at": "2020-01-01T00:00:00Z"},
        {"role": "admin"},
    ],
)
def test_register_unknown_or_read_only_field_is_422(app, client, extra):
    data = {"email": "ada@example.com", "password": PASSWORD, "name": "Ada", **extra}

    response = client.post(f"{AUTH}/register", json=data)

    assert_error(response, 422, field=next(iter(extra)))
    assert user_rows(app) == []


@pytest.mark.parametrize("length", [8, 128])
def test_register_password_length_bounds_are_inclusive(app, client, length):
    password = "p" * length

    assert register(client, "ada@example.com", password=password).status_code == 201
    assert login(client, "ada@example.com", password).status_code == 200


# --- login ------------------------------------------------------------------


def test_login_returns_bearer_token_pair(app, client):
    user_id = register(client, "ada@example.com").get_json()["id"]

    response = login(client, "ada@example.com")

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == TOKEN_KEYS
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    access, refresh_ = claims_of(body["access_token"]), claims_of(body["refresh_token"])
    assert access["sub"] == refresh_["sub"] == str(user_id)
    assert (access["type"], refresh_["type"]) == ("access", "refresh")
    assert access["exp"] - access["iat"] == 900
    assert refresh_["exp"] - refresh_["iat"] == 30 * 24 * 3600
    assert access["jti"] != refresh_["jti"]
    assert me(client, body["access_token"]).get_json()["id"] == user_id


def test_login_with_differently_cased_email(client):
    register(client, "ada@example.com")

    assert login(client, "  ADA@Example.com ").status_code == 200


def test_login_failures_are_401_with_identical_bodies(app, client):
    register(client, "ada@example.com")
    inactive_id = register(client, "ina@example.com").get_json()["id"]
    set_active(app, inactive_id, False)

    unknown = login(client, "nobody@example.com")
    wrong = login(client, "ada@example.com", "wrong password")
    inactive = login(client, "ina@example.com")

    bodies = [assert_unauthorized(r) for r in (unknown, wrong, inactive)]
    assert bodies[0] == bodies[1] == bodies[2]
    assert "access_token" not in unknown.get_data(as_text=True)


def test_login_inactive_user_issues_no_tokens(app, client):
    user_id = register(client, "ada@example.com").get_json()["id"]
    set_active(app, user_id, False)

    assert_unauthorized(login(client, "ada@example.com"))
    assert token_rows(app, user_id) == []


def test_login_unknown_email_still_verifies_a_password(client, monkeypatch):
    register(client, "ada@example.com")
    verified = []
    real_verify = PasswordHasher.verify

    def spy(self, password_hash, password):
        verified.append(password_hash)
        return real_verify(self, password_hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)

    assert_unauthorized(login(client, "ada@example.com", "wrong password"))
    assert len(verified) == 1
    assert_unauthorized(login(client, "nobody@example.com", "wrong password"))
    assert len(verified) == 2

    real_hash, dummy_hash = verified
    assert dummy_hash != real_hash
    # Same algorithm and cost parameters: "$argon2id$v=19$m=...,t=...,p=...$".
    assert dummy_hash.startswith("$argon2id$")
    assert dummy_hash.split("$")[:4] == real_hash.split("$")[:4]


def test_login_validation_error_is_422(client):
    response = client.post(f"{AUTH}/login", json={"email": "ada@example.com"})

    assert_error(response, 422, field="password")


# --- me ---------------------------------------------------------------------


def test_me_returns_current_user(client, user, other_user):
    response = client.get(f"{AUTH}/me", headers=user.headers)

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == USER_KEYS | {"timezone"}
    assert (body["id"], body["email"], body["name"]) == (user.id, "ada@example.com", "Ada")
    assert body["timezone"] == "UTC"
    assert datetime.fromisoformat(body["created_at"]).utcoffset() == timedelta(0)
    assert me(client, other_user.access_token).get_json()["id"] == other_user.id


def test_me_without_token_is_401(client):
    assert_unauthorized(client.get(f"{AUTH}/me"))


# --- logging ----------------------------------------------------------------


def auth_warnings(caplog) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "taskapi.auth" and r.levelno == logging.WARNING
    ]


def test_failed_login_logs_a_warning(client, taskapi_logs):
    register(client, "ada@example.com")
    taskapi_logs.clear()

    login(client, "ada@example.com", "wrong password")

    assert len(auth_warnings(taskapi_logs)) == 1
    taskapi_logs.clear()
    login(client, "nobody@example.com", "wrong password")
    assert len(auth_warnings(taskapi_logs)) == 1


def test_invalid_token_logs_a_warning(client, taskapi_logs):
    me(client, "garbage.token.here")

    assert auth_warnings(taskapi_logs)


def test_revoked_token_use_logs_a_warning(client, user, taskapi_logs):
    logout(client, user.access_token)
    taskapi_logs.clear()

    assert_unauthorized(me(client, user.access_token))

    assert auth_warnings(taskapi_logs)


def test_refresh_reuse_logs_a_warning(client, user, taskapi_logs):
    client.application.config["JWT_REFRESH_REUSE_WINDOW"] = 0  # any second use is reuse
    assert refresh(client, user.refresh_token).status_code == 200
    taskapi_logs.clear()

    assert_unauthorized(refresh(client, user.refresh_token))

    assert any("reuse" in r.getMessage().lower() for r in auth_warnings(taskapi_logs))


def test_refresh_within_the_reuse_window_logs_no_warning(client, user, taskapi_logs):
    assert refresh(client, user.refresh_token).status_code == 200
    taskapi_logs.clear()

    assert refresh(client, user.refresh_token).status_code == 200

    assert not auth_warnings(taskapi_logs)
    assert any("reuse window" in r.getMessage() for r in taskapi_logs.records
               if r.name == "taskapi.auth")


def test_no_log_record_contains_a_password_or_token(client, taskapi_logs):
    wrong_password = "not the right one 123"
    secrets = {PASSWORD, wrong_password}
    register(client, "ada@example.com")
    login(client, "ada@example.com", wrong_password)
    login(client, "nobody@example.com", PASSWORD)
    first = login(client, "ada@example.com").get_json()
    me(client, first["access_token"])
    second = refresh(client, first["refresh_token"]).get_json()
    again = refresh(client, first["refresh_token"]).get_json()  # within the reuse window
    client.application.config["JWT_REFRESH_REUSE_WINDOW"] = 0
    refresh(client, first["refresh_token"])  # reuse: revokes the session
    me(client, second["access_token"])  # revoked
    third = login(client, "ada@example.com").get_json()
    logout(client, third["access_token"], json={"refresh_token": "not-a-token"})
    logout(client, third["access_token"], json={"refresh_token": third["refresh_token"]})
    me(client, third["access_token"])
    header, payload, signature = first["access_token"].split(".")
    me(client, f"{header}.{payload}x.{signature}")
    me(client, "garbage-token-value")
    for pair in (first, second, again, third):
        for token in (pair["access_token"], pair["refresh_token"]):
            secrets.add(token)
            secrets.update(token.split(".")[1:])  # payload and signature parts
    secrets.add("garbage-token-value")

    records = taskapi_logs.records
    assert any(r.name == "taskapi.auth" and r.levelno == logging.WARNING for r in records)
    for record in records:
        texts = (record.getMessage(), repr(record.args), repr(vars(record)))
        for secret in secrets:
            assert not any(secret in text for text in texts), (secret, record.getMessage())
    assert not any(secret in taskapi_logs.text for secret in secrets)
