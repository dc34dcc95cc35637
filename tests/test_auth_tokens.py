"""Auth tokens: refresh rotation, reuse detection, logout, account state, token
rows, and rejected tokens. Sessions (logout of a session, logout-all, password
change) and the refresh reuse window in detail: ``test_sessions.py``.

Every rejection is a 401 in the one error shape with a ``WWW-Authenticate:
Bearer`` challenge (RFC 6750 section 3). Shared helpers live in ``test_auth.py``.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import timedelta

import jwt
import pytest
import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.models import IssuedToken, User, utcnow
from tests.helpers import TEST_SECRETS, assert_error, auth_headers, login, register
from tests.test_auth import (
    assert_unauthorized,
    claims_of,
    logout,
    me,
    refresh,
    set_active,
    token_rows,
)

AUTH = "/api/v1/auth"
TOKEN_KEYS = {"access_token", "refresh_token", "token_type", "expires_in"}
OTHER_SECRET = "another-jwt-secret-0123456789abcdef0123456789"


def resign(token: str, key: str = TEST_SECRETS["JWT_SECRET_KEY"], **changes) -> str:
    """``token``'s claims with ``changes``, signed HS256 with ``key``."""
    return jwt.encode({**claims_of(token), **changes}, key, algorithm="HS256")


def b64url(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def row_by_jti(app, jti: str) -> IssuedToken | None:
    with app.app_context():
        return db.session.scalars(sa.select(IssuedToken).where(IssuedToken.jti == jti)).first()


# --- refresh rotation -------------------------------------------------------


def test_refresh_returns_a_new_working_pair(app, client, user):
    response = refresh(client, user.refresh_token)

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == TOKEN_KEYS
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 900)
    assert body["access_token"] != user.access_token
    assert body["refresh_token"] != user.refresh_token
    new_access, new_refresh = claims_of(body["access_token"]), claims_of(body["refresh_token"])
    assert new_access["sub"] == new_refresh["sub"] == str(user.id)
    assert (new_access["type"], new_refresh["type"]) == ("access", "refresh")
    assert me(client, body["access_token"]).get_json()["id"] == user.id
    # The new refresh token is itself usable once.
    assert refresh(client, body["refresh_token"]).status_code == 200
    # Rows: the spent refresh token is revoked, the new ones are recorded.
    spent = row_by_jti(app, claims_of(user.refresh_token)["jti"])
    assert spent.revoked_at is not None
    assert row_by_jti(app, new_access["jti"]) is not None
    assert row_by_jti(app, new_refresh["jti"]).token_type == "refresh"


def age_rotation(app, token: str, seconds: float) -> None:
    """Move the ``revoked_at`` of ``token``'s row ``seconds`` into the past."""
    with app.app_context():
        row = db.session.scalars(
            sa.select(IssuedToken).where(IssuedToken.jti == claims_of(token)["jti"])
        ).one()
        row.revoked_at -= timedelta(seconds=seconds)
        db.session.commit()


def test_rotated_refresh_token_within_the_reuse_window_gets_a_new_pair(app, client, user):
    first = refresh(client, user.refresh_token)
    assert first.status_code == 200

    again = refresh(client, user.refresh_token)

    assert again.status_code == 200, again.get_json()
    assert set(again.get_json()) == TOKEN_KEYS
    assert again.get_json()["refresh_token"] != first.get_json()["refresh_token"]
    for pair in (first.get_json(), again.get_json()):
        assert me(client, pair["access_token"]).status_code == 200
    assert row_by_jti(app, claims_of(user.refresh_token)["jti"]).revoke_reason == "rotated"


@pytest.mark.parametrize("aged", ["window-0", "aged-past-the-window"])
def test_rotated_refresh_token_after_the_reuse_window_is_rejected(app, client, user, aged):
    if aged == "window-0":
        app.config["JWT_REFRESH_REUSE_WINDOW"] = 0
    assert refresh(client, user.refresh_token).status_code == 200
    if aged != "window-0":
        age_rotation(app, user.refresh_token, app.config["JWT_REFRESH_REUSE_WINDOW"] + 1)

    assert_unauthorized(refresh(client, user.refresh_token))


def test_refresh_token_reuse_revokes_its_session_only(app, client, user, other_user):
    app.config["JWT_REFRESH_REUSE_WINDOW"] = 0
    second_session = login(client, user.email).get_json()
    newest = refresh(client, user.refresh_token).get_json()
    assert me(client, newest["access_token"]).status_code == 200

    assert_unauthorized(refresh(client, user.refresh_token))

    assert_unauthorized(me(client, newest["access_token"]))
    assert_unauthorized(refresh(client, newest["refresh_token"]))
    assert_unauthorized(me(client, user.access_token))
    session_id = row_by_jti(app, claims_of(user.refresh_token)["jti"]).session_id
    rows = [row for row in token_rows(app, user.id) if row.session_id == session_id]
    assert len(rows) == 4
    assert all(row.revoked_at is not None for row in rows)
    assert sorted(row.revoke_reason for row in rows) == ["reuse", "reuse", "reuse", "rotated"]
    # The user's other session is not affected.
    others = [row for row in token_rows(app, user.id) if row.session_id != session_id]
    assert len(others) == 2 and all(row.revoked_at is None for row in others)
    assert me(client, second_session["access_token"]).status_code == 200
    assert refresh(client, second_session["refresh_token"]).status_code == 200
    # Another account is not affected.
    assert me(client, other_user.access_token).status_code == 200
    assert all(row.revoked_at is None for row in token_rows(app, other_user.id))
    # Logging in again gives a working session.
    assert me(client, login(client, user.email).get_json()["access_token"]).status_code == 200


def test_access_token_at_refresh_is_401(app, client, user):
    assert_unauthorized(refresh(client, user.access_token))

    assert me(client, user.access_token).status_code == 200
    assert all(row.revoked_at is None for row in token_rows(app, user.id))


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", f"{AUTH}/me"), ("get", "/api/v1/tasks"), ("post", "/api/v1/tasks")],
)
def test_refresh_token_at_access_route_is_401(app, client, user, method, path):
    kwargs = {"json": {"title": "x"}} if method == "post" else {}

    response = getattr(client, method)(path, headers=auth_headers(user.refresh_token), **kwargs)

    assert_unauthorized(response)
    assert refresh(client, user.refresh_token).status_code == 200


def test_refresh_without_token_is_401(client):
    assert_unauthorized(client.post(f"{AUTH}/refresh"))


# --- logout -----------------------------------------------------------------


def test_logout_revokes_access_token(app, client, user):
    response = logout(client, user.access_token)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert_unauthorized(me(client, user.access_token))
    assert_unauthorized(logout(client, user.access_token))
    access_row = next(t for t in token_rows(app, user.id) if t.token_type == "access")
    assert access_row.revoked_at is not None


def test_logout_with_refresh_token_revokes_both(app, client, user):
    response = logout(client, user.access_token, json={"refresh_token": user.refresh_token})

    assert response.status_code == 204
    assert response.get_data() == b""
    assert_unauthorized(me(client, user.access_token))
    assert_unauthorized(refresh(client, user.refresh_token))
    assert all(t.revoked_at is not None for t in token_rows(app, user.id))


@pytest.mark.parametrize("kwargs", [{}, {"json": {}}], ids=["no-body", "empty-object"])
def test_logout_with_empty_body(client, user, kwargs):
    response = logout(client, user.access_token, **kwargs)

    assert response.status_code == 204
    assert_unauthorized(me(client, user.access_token))


@pytest.mark.parametrize(
    "which", ["garbage", "empty", "own-access-token", "other-users-refresh", "foreign-secret"]
)
def test_logout_with_bad_refresh_token_is_422_and_revokes_nothing(
    app, client, user, other_user, which
):
    foreign = jwt.encode(
        {**claims_of(user.refresh_token)}, OTHER_SECRET,
        algorithm="HS256",
    )
    value = {
        "garbage": "not.a.token",
        "empty": "",
        "own-access-token": user.access_token,
        "other-users-refresh": other_user.refresh_token,
        "foreign-secret": foreign,
    }[which]

    response = logout(client, user.access_token, json={"refresh_token": value})

    assert_error(response, 422, field="refresh_token")
    assert me(client, user.access_token).status_code == 200
    assert all(t.revoked_at is None for t in token_rows(app, user.id))
    assert all(t.revoked_at is None for t in token_rows(app, other_user.id))
    assert refresh(client, other_user.refresh_token).status_code == 200


def test_logout_requires_access_token(client, user):
    assert_unauthorized(client.post(f"{AUTH}/logout"))
    assert_unauthorized(logout(client, user.refresh_token))
    assert me(client, user.access_token).status_code == 200


# --- account state ----------------------------------------------------------


def test_deactivated_user_tokens_stop_working_at_once(app, client, user, other_user):
    assert me(client, user.access_token).status_code == 200

    set_active(app, user.id, False)

    assert_unauthorized(me(client, user.access_token))
    assert_unauthorized(refresh(client, user.refresh_token))
    assert_unauthorized(client.get("/api/v1/tasks", headers=user.headers))
    assert me(client, other_user.access_token).status_code == 200


def test_deleted_user_tokens_are_rejected(app, client, user, other_user):
    with app.app_context():
        db.session.execute(sa.delete(User).where(User.id == user.id))
        db.session.commit()

    assert_unauthorized(me(client, user.access_token))
    assert_unauthorized(refresh(client, user.refresh_token))
    assert me(client, other_user.access_token).status_code == 200


# --- token rows ---------------------------------------------------------------


def test_login_records_one_row_per_issued_token(app, client):
    user_id = register(client, "ada@example.com").get_json()["id"]
    tokens = login(client, "ada@example.com").get_json()

    rows = token_rows(app, user_id)

    by_type = {row.token_type: row for row in rows}
    assert len(rows) == 2 and set(by_type) == {"access", "refresh"}
    for kind in ("access", "refresh"):
        row, claims = by_type[kind], claims_of(tokens[f"{kind}_token"])
        assert row.jti == claims["jti"]
        assert row.revoked_at is None
        assert int(row.expires_at.timestamp()) == claims["exp"]


def test_login_prunes_the_users_expired_token_rows(app, client, user):
    now = utcnow()
    expired_jti = str(uuid.uuid4())
    with app.app_context():
        db.session.add(
            IssuedToken(
                jti=expired_jti, token_type="refresh", user_id=user.id,
                issued_at=now - timedelta(days=31), expires_at=now - timedelta(days=1),
                session_id=expired_jti,
            )
        )
        db.session.commit()
    live_jtis = {row.jti for row in token_rows(app, user.id)} - {expired_jti}

    assert login(client, user.email).status_code == 200

    jtis = {row.jti for row in token_rows(app, user.id)}
    assert expired_jti not in jtis
    assert live_jtis < jtis
    assert me(client, user.access_token).status_code == 200



# --- rejected tokens --------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer ", "Bearer", "Basic abc", "Basic YWRhOnBhc3N3b3Jk", "Token abc"],
)
def test_missing_or_malformed_authorization_header_is_401(client, user, header):
    headers = {} if header is None else {"Authorization": header}

    assert_unauthorized(client.get(f"{AUTH}/me", headers=headers))


@pytest.mark.parametrize(
    "token", ["garbage", "not.a.jwt", "a.b.c.d", "eyJhbGciOiJIUzI1NiJ9..", "Bearer"]
)
def test_garbage_token_is_401(client, user, token):
    assert_unauthorized(me(client, token))


def test_token_signed_with_another_secret_is_401(client, user):
    forged = resign(user.access_token, OTHER_SECRET)

    assert_unauthorized(me(client, forged))
    assert_unauthorized(refresh(client, resign(user.refresh_token, OTHER_SECRET)))


def test_alg_none_token_is_401(client, user):
    unsigned = jwt.encode(claims_of(user.access_token), None, algorithm="none")

    assert_unauthorized(me(client, unsigned))
    # Same header trick, keeping the original signature.
    header = b64url({"alg": "none", "typ": "JWT"})
    _, payload, signature = user.access_token.split(".")
    assert_unauthorized(me(client, f"{header}.{payload}.{signature}"))
    assert_unauthorized(me(client, f"{header}.{payload}."))


def test_expired_access_token_is_401(client, user):
    past = int(time.time()) - 3600
    expired = resign(user.access_token, iat=past - 900, nbf=past - 900, exp=past)

    body = assert_unauthorized(me(client, expired))

    assert "expired" in body["message"].lower()
    assert me(client, user.access_token).status_code == 200


def test_expired_refresh_token_is_401(client, user):
    past = int(time.time()) - 60
    expired = resign(user.refresh_token, iat=past - 900, nbf=past - 900, exp=past)

    assert_unauthorized(refresh(client, expired))


def test_tampered_payload_is_401(client, user, other_user):
    header, _, signature = user.access_token.split(".")
    claims = {**claims_of(user.access_token), "sub": str(other_user.id)}

    assert_unauthorized(me(client, f"{header}.{b64url(claims)}.{signature}"))
    assert me(client, user.access_token).status_code == 200


def test_correctly_signed_token_never_issued_is_401(client, user):
    """A token that verifies but has no row (unknown jti) is refused."""
    forged = resign(user.access_token, jti=str(uuid.uuid4()))

    assert_unauthorized(me(client, forged))


def test_correctly_signed_token_with_another_sub_is_401(client, user, other_user):
    """The row's owner must match ``sub``: a jti cannot be replayed for another user."""
    forged = resign(user.access_token, sub=str(other_user.id))

    assert_unauthorized(me(client, forged))


def test_access_token_relabelled_as_refresh_is_401(client, user):
    forged = resign(user.access_token, type="refresh")

    assert_unauthorized(refresh(client, forged))
    assert me(client, user.access_token).status_code == 200


class TestAccessLifetimeSetting:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "JWT_ACCESS_TOKEN_EXPIRES": 60}

    def test_expires_in_follows_the_setting(self, client, user):
        body = login(client, user.email).get_json()

        assert body["expires_in"] == 60
        claims = claims_of(body["access_token"])
        assert claims["exp"] - claims["iat"] == 60
