"""Token sessions: the tokens of one login, logout of a session, logout-all,
password change, and the refresh reuse window.

A session (``issued_tokens.session_id``) is the pair of one login or compat
registration and every pair refreshed from it. Proven over the test client (on
SQLite, or PostgreSQL with ``TASKAPI_TEST_DATABASE_URL``), by status, body and
the ``issued_tokens`` rows:

- each login (v1 or compat) and each compat registration starts a session of its
  own; a refresh keeps it;
- logout (v1 and compat, with or without a body) ends the request's session,
  and the session of a ``refresh_token`` in the body; other sessions survive;
- logout-all ends every session of the account, the caller's too;
- a password change needs the current password, follows the registration rules,
  is rate limited like login, and ends every other session
  (``revoke_reason`` "password_changed");
- within ``JWT_REFRESH_REUSE_WINDOW`` seconds of its rotation a refresh token
  gets another working pair of its session; after the window (or with 0) a
  second use revokes that session ("reuse"), not the account's others; once the
  session has ended the rotated token is a 401 and issues nothing;
- the setting is checked at start-up.

Over real gunicorn (3 workers, SQLite and PostgreSQL): 10 simultaneous refreshes
with one token within the window all get a working pair of the session; 10
simultaneous reuses after the window are all 401 and end the session. (The race
with the window at 0, one winner at most: ``test_races.py``.)
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from taskapi import create_app
from taskapi.config import ConfigurationError, Defaults
from taskapi.extensions import db
from taskapi.models import IssuedToken, User, UTCDateTime
from tests.conftest import FAST_HASHING
from tests.helpers import (
    PASSWORD,
    TEST_SECRETS,
    assert_error,
    auth_headers,
    dispose,
    login,
    make_app,
    register,
)
from tests.report import record
from tests.servers import Server, log_shown_on_failure, serve
from tests.test_auth import assert_unauthorized, claims_of, logout, me, refresh, token_rows
from tests.test_races import account, log_in, race, refresh_request
from tests.test_races import session_of as server_session_of
from tests.test_rate_limits import assert_rate_limited, from_ip
from tests.test_rate_limits import make_account as make_account_from

AUTH = "/api/v1/auth"
COMPAT_AUTH = "/api/auth"
NEW_PASSWORD = "a brand new passphrase"
WINDOW = Defaults.JWT_REFRESH_REUSE_WINDOW
LOGGED_OUT = {"message": "Successfully logged out"}


# --- helpers ------------------------------------------------------------------------


def logout_all(client, token: str, **kwargs):
    return client.post(f"{AUTH}/logout-all", headers=auth_headers(token), **kwargs)


def change_password(client, token: str, current: str, new: str, **kwargs):
    return client.post(f"{AUTH}/password", headers=auth_headers(token),
                       json={"current_password": current, "new_password": new}, **kwargs)


def compat_logout(client, token: str, **kwargs):
    return client.post(f"{COMPAT_AUTH}/logout", headers=auth_headers(token), **kwargs)


def compat_login(client, email: str):
    return client.post(f"{COMPAT_AUTH}/login", json={"email": email, "password": PASSWORD})


def refresh_by(client, route: str, token: str):
    """Refresh on the v1 route (bearer header) or the compat one (JSON body)."""
    if route == "v1":
        return refresh(client, token)
    return client.post(f"{COMPAT_AUTH}/refresh", json={"refresh_token": token})


def pair(response) -> dict:
    """``{"access_token", "refresh_token"}`` of a v1 or compat 200/201 answer."""
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    body = response.get_json()
    return {"access_token": body.get("access_token", body.get("token")),
            "refresh_token": body["refresh_token"]}


def jti(token: str) -> str:
    return claims_of(token)["jti"]


def row(app, token: str) -> IssuedToken:
    with app.app_context():
        return db.session.scalars(sa.select(IssuedToken).where(IssuedToken.jti == jti(token))).one()


def session_of(app, token: str) -> str:
    return row(app, token).session_id


def session_rows(app, session_id: str) -> list[IssuedToken]:
    with app.app_context():
        return list(db.session.scalars(
            sa.select(IssuedToken).where(IssuedToken.session_id == session_id)
            .order_by(IssuedToken.id)))


def states(app, user_id: int) -> dict[str, tuple]:
    """``{jti: (session_id, revoked_at, revoke_reason)}`` of every token of a user."""
    return {r.jti: (r.session_id, r.revoked_at, r.revoke_reason)
            for r in token_rows(app, user_id)}


def reasons(rows: list[IssuedToken]) -> dict[str, str | None]:
    return {r.jti: r.revoke_reason for r in rows}


def password_hash(app, user_id: int) -> str:
    with app.app_context():
        return db.session.get(User, user_id).password_hash


def age_rotation(app, token: str, seconds: float) -> None:
    """Move ``revoked_at`` of ``token``'s row ``seconds`` into the past."""
    with app.app_context():
        token_row = db.session.scalars(
            sa.select(IssuedToken).where(IssuedToken.jti == jti(token))).one()
        assert token_row.revoke_reason == "rotated"
        token_row.revoked_at -= timedelta(seconds=seconds)
        db.session.commit()


def assert_live(app, tokens: dict) -> None:
    """The pair's rows are not revoked and both tokens work (the refresh token is
    spent by the check)."""
    for token in tokens.values():
        assert row(app, token).revoked_at is None
    assert me(app.test_client(), tokens["access_token"]).status_code == 200
    assert refresh(app.test_client(), tokens["refresh_token"]).status_code == 200


# --- sessions -----------------------------------------------------------------------


def test_each_login_and_compat_registration_starts_a_session_of_its_own(app, client):
    registered = register(client, "ada@example.com")
    assert registered.status_code == 201
    ada = registered.get_json()["id"]
    assert token_rows(app, ada) == []  # v1 registration issues no token
    eve = client.post(f"{COMPAT_AUTH}/register",
                      json={"email": "eve@example.com", "password": PASSWORD, "name": "Eve"})

    pairs = [pair(login(client, "ada@example.com")), pair(login(client, "ada@example.com")),
             pair(compat_login(client, "ada@example.com")), pair(eve),
             pair(login(client, "eve@example.com"))]

    sessions = []
    for tokens in pairs:
        access, refresh_row = row(app, tokens["access_token"]), row(app, tokens["refresh_token"])
        assert (access.token_type, refresh_row.token_type) == ("access", "refresh")
        assert access.session_id == refresh_row.session_id
        assert str(uuid.UUID(access.session_id)) == access.session_id
        assert access.session_id not in (access.jti, refresh_row.jti)
        assert len(session_rows(app, access.session_id)) == 2
        sessions.append(access.session_id)
    assert len(set(sessions)) == 5
    assert {r.session_id for r in token_rows(app, ada)} == set(sessions[:3])


@pytest.mark.parametrize("route", ["v1", "compat"])
def test_refresh_keeps_the_session(app, client, user, route):
    session_id = session_of(app, user.refresh_token)
    token = user.refresh_token
    spent = []

    for _ in range(3):
        spent.append(token)
        token = pair(refresh_by(client, route, token))["refresh_token"]

    rows = token_rows(app, user.id)
    assert len(rows) == 2 + 2 * 3
    assert {r.session_id for r in rows} == {session_id}
    assert {r.jti for r in rows if r.revoked_at is not None} == {jti(t) for t in spent}
    assert {r.revoke_reason for r in rows if r.revoked_at is not None} == {"rotated"}


# --- logout -------------------------------------------------------------------------


@pytest.mark.parametrize("with_token", ["first-access-token", "newest-access-token"])
def test_logout_without_a_body_ends_the_whole_session(app, client, user, with_token):
    first = pair(refresh(client, user.refresh_token))
    newest = pair(refresh(client, first["refresh_token"]))
    other = pair(login(client, user.email))
    session_id = session_of(app, user.access_token)
    token = user.access_token if with_token == "first-access-token" else newest["access_token"]

    response = logout(client, token)

    assert response.status_code == 204
    assert response.get_data() == b""
    for access in (user.access_token, first["access_token"], newest["access_token"]):
        assert_unauthorized(me(client, access))
    assert_unauthorized(refresh(client, newest["refresh_token"]))
    rows = session_rows(app, session_id)
    assert len(rows) == 6 and all(r.revoked_at is not None for r in rows)
    assert reasons(rows) == {
        jti(user.access_token): "logout", jti(user.refresh_token): "rotated",
        jti(first["access_token"]): "logout", jti(first["refresh_token"]): "rotated",
        jti(newest["access_token"]): "logout", jti(newest["refresh_token"]): "logout",
    }
    # The user's other session (another device) is still logged in.
    assert_live(app, other)


def test_logout_with_the_refresh_token_of_another_own_session_ends_both(app, client, user):
    second, third = pair(login(client, user.email)), pair(login(client, user.email))

    response = logout(client, user.access_token, json={"refresh_token": second["refresh_token"]})

    assert response.status_code == 204
    for tokens in ({"access_token": user.access_token, "refresh_token": user.refresh_token},
                   second):
        rows = session_rows(app, session_of(app, tokens["access_token"]))
        assert [r.revoke_reason for r in rows] == ["logout", "logout"]
        assert_unauthorized(me(client, tokens["access_token"]))
        assert_unauthorized(refresh(client, tokens["refresh_token"]))
    assert_live(app, third)


@pytest.mark.parametrize("path", [f"{AUTH}/logout", f"{COMPAT_AUTH}/logout"])
def test_logout_with_a_refresh_token_of_another_account_is_422_and_revokes_nothing(
        app, client, user, other_user, path):
    before = {**states(app, user.id), **states(app, other_user.id)}

    response = client.post(path, headers=user.headers,
                           json={"refresh_token": other_user.refresh_token})

    assert_error(response, 422, field="refresh_token")
    assert {**states(app, user.id), **states(app, other_user.id)} == before
    assert all(revoked_at is None for _, revoked_at, _ in before.values())
    assert me(client, user.access_token).status_code == 200
    assert refresh(client, other_user.refresh_token).status_code == 200


@pytest.mark.parametrize("kwargs", [
    {}, {"json": {}}, {"json": {"device": "phone", "all": True}},
], ids=["no-body", "empty-object", "unknown-fields"])
def test_compat_logout_ends_the_session_with_or_without_a_body(app, client, user, kwargs):
    refreshed = pair(refresh_by(client, "compat", user.refresh_token))
    other = pair(compat_login(client, user.email))
    session_id = session_of(app, user.access_token)

    response = compat_logout(client, refreshed["access_token"], **kwargs)

    assert (response.status_code, response.get_json()) == (200, LOGGED_OUT)
    rows = session_rows(app, session_id)
    assert len(rows) == 4 and all(r.revoked_at is not None for r in rows)
    assert sorted(reasons(rows).values()) == ["logout", "logout", "logout", "rotated"]
    assert_unauthorized(me(client, user.access_token))
    assert_unauthorized(refresh_by(client, "compat", refreshed["refresh_token"]))
    assert_live(app, other)


def test_compat_logout_with_a_refresh_token_ends_that_session_too(app, client, user):
    second, third = pair(compat_login(client, user.email)), pair(login(client, user.email))

    response = compat_logout(client, user.access_token,
                             json={"refresh_token": second["refresh_token"], "device": "x"})

    assert (response.status_code, response.get_json()) == (200, LOGGED_OUT)
    for token in (user.access_token, second["access_token"]):
        rows = session_rows(app, session_of(app, token))
        assert [r.revoke_reason for r in rows] == ["logout", "logout"]
    assert_unauthorized(refresh_by(client, "compat", second["refresh_token"]))
    assert_live(app, third)


# --- logout-all ---------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{}, {"json": {}}], ids=["no-body", "empty-object"])
def test_logout_all_ends_every_session_of_the_account(app, client, user, other_user, kwargs):
    refreshed = pair(refresh(client, user.refresh_token))
    second, third = pair(login(client, user.email)), pair(compat_login(client, user.email))
    others_before = states(app, other_user.id)

    response = logout_all(client, second["access_token"], **kwargs)

    assert response.status_code == 204
    assert response.get_data() == b""
    rows = token_rows(app, user.id)
    assert len(rows) == 8 and all(r.revoked_at is not None for r in rows)
    assert reasons(rows) == {r.jti: "rotated" if r.jti == jti(user.refresh_token)
                             else "logout_all" for r in rows}
    for tokens in (refreshed, second, third):
        assert_unauthorized(me(client, tokens["access_token"]))
        assert_unauthorized(refresh(client, tokens["refresh_token"]))
    assert_unauthorized(me(client, user.access_token))
    # Other accounts are untouched; logging in again works.
    assert states(app, other_user.id) == others_before
    assert me(client, other_user.access_token).status_code == 200
    assert me(client, pair(login(client, user.email))["access_token"]).status_code == 200


@pytest.mark.parametrize("credential", ["none", "refresh-token", "garbage", "revoked-access",
                                        "body-with-a-field"])
def test_logout_all_needs_a_live_access_token_and_no_body(app, client, user, credential):
    ended = pair(login(client, user.email))
    assert logout(client, ended["access_token"]).status_code == 204
    before = states(app, user.id)

    if credential == "none":
        response = client.post(f"{AUTH}/logout-all")
    else:
        token = {"refresh-token": user.refresh_token, "garbage": "not.a.token",
                 "revoked-access": ended["access_token"]}.get(credential, user.access_token)
        body = {"json": {"everywhere": True}} if credential == "body-with-a-field" else {}
        response = logout_all(client, token, **body)

    if credential == "body-with-a-field":
        assert_error(response, 422, field="everywhere")
    else:
        assert_unauthorized(response)
    assert states(app, user.id) == before
    assert me(client, user.access_token).status_code == 200


# --- password change ----------------------------------------------------------------


def test_password_change_with_a_wrong_current_password_is_401_and_changes_nothing(
        app, client, user):
    other = pair(login(client, user.email))
    hash_before, before = password_hash(app, user.id), states(app, user.id)

    response = change_password(client, user.access_token, "not the password", NEW_PASSWORD)

    body = assert_error(response, 401)
    assert "current password" in body["message"]
    assert password_hash(app, user.id) == hash_before
    assert states(app, user.id) == before
    assert all(revoked_at is None for _, revoked_at, _ in before.values())
    assert_error(login(client, user.email, NEW_PASSWORD), 401)
    assert login(client, user.email, PASSWORD).status_code == 200
    assert_live(app, other)


def test_password_change_keeps_this_session_and_ends_the_others(app, client, user, other_user):
    refreshed = pair(refresh(client, user.refresh_token))
    second, third = pair(login(client, user.email)), pair(compat_login(client, user.email))
    current_session = session_of(app, user.access_token)
    hash_before, others_before = password_hash(app, user.id), states(app, other_user.id)

    response = change_password(client, refreshed["access_token"], PASSWORD, NEW_PASSWORD)

    assert response.status_code == 204
    assert response.get_data() == b""
    new_hash = password_hash(app, user.id)
    assert new_hash != hash_before and new_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(new_hash, NEW_PASSWORD)
    assert NEW_PASSWORD not in new_hash
    # This session: nothing revoked but the refresh token spent before.
    assert reasons(session_rows(app, current_session)) == {
        jti(user.access_token): None, jti(user.refresh_token): "rotated",
        jti(refreshed["access_token"]): None, jti(refreshed["refresh_token"]): None,
    }
    assert me(client, user.access_token).status_code == 200
    assert_live(app, refreshed)
    # Every other session of the account ended.
    for tokens in (second, third):
        rows = session_rows(app, session_of(app, tokens["access_token"]))
        assert [r.revoke_reason for r in rows] == ["password_changed", "password_changed"]
        assert_unauthorized(me(client, tokens["access_token"]))
        assert_unauthorized(refresh(client, tokens["refresh_token"]))
    assert states(app, other_user.id) == others_before
    assert_error(login(client, user.email, PASSWORD), 401)
    assert login(client, user.email, NEW_PASSWORD).status_code == 200


@pytest.mark.parametrize("new", [PASSWORD, "short", "x" * 129, "new\x00password"],
                         ids=["same", "too-short", "too-long", "control-character"])
def test_password_change_to_a_refused_new_password_is_422(app, client, user, new):
    other = pair(login(client, user.email))
    hash_before, before = password_hash(app, user.id), states(app, user.id)

    response = change_password(client, user.access_token, PASSWORD, new)

    body = assert_error(response, 422, field="new_password")
    assert "current_password" not in body["errors"]["json"]
    if new == PASSWORD:
        assert body["errors"]["json"]["new_password"] == ["Must differ from the current password."]
    assert password_hash(app, user.id) == hash_before
    assert states(app, user.id) == before
    assert_live(app, other)


@pytest.mark.parametrize(("body", "field"), [
    ({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "email": "x@example.com"},
     "email"),
    ({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "logout_others": False},
     "logout_others"),
    ({"new_password": NEW_PASSWORD}, "current_password"),
    ({"current_password": PASSWORD}, "new_password"),
    ({"current_password": "", "new_password": NEW_PASSWORD}, "current_password"),
], ids=["unknown-email", "unknown-field", "no-current", "no-new", "empty-current"])
def test_password_change_body_is_strict(app, client, user, body, field):
    hash_before, before = password_hash(app, user.id), states(app, user.id)

    response = client.post(f"{AUTH}/password", headers=user.headers, json=body)

    assert_error(response, 422, field=field)
    assert password_hash(app, user.id) == hash_before
    assert states(app, user.id) == before


@pytest.mark.parametrize("credential", ["none", "refresh-token", "revoked-access"])
def test_password_change_needs_a_live_access_token(app, client, user, credential):
    if credential == "revoked-access":
        ended = pair(login(client, user.email))
        assert logout(client, ended["access_token"]).status_code == 204
        response = change_password(client, ended["access_token"], PASSWORD, NEW_PASSWORD)
    elif credential == "refresh-token":
        response = change_password(client, user.refresh_token, PASSWORD, NEW_PASSWORD)
    else:
        response = client.post(f"{AUTH}/password",
                               json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    hash_before = password_hash(app, user.id)

    assert_unauthorized(response)
    assert password_hash(app, user.id) == hash_before
    assert me(client, user.access_token).status_code == 200
    assert login(client, user.email, PASSWORD).status_code == 200


def test_password_changed_meanwhile_is_409_and_revokes_nothing(app, client, user, monkeypatch):
    """Another change lands while this one hashes (no transaction is open then):
    the compare-and-set on the old hash refuses to overwrite it."""
    from taskapi.auth import routes

    other = pair(login(client, user.email))
    before = states(app, user.id)
    concurrent_hash = PasswordHasher(time_cost=1, memory_cost=1024,
                                     parallelism=1).hash("changed elsewhere")
    real_hash = routes.hash_password

    def hash_while_another_change_lands(password: str) -> str:
        with db.engine.begin() as connection:
            connection.execute(sa.update(User).where(User.id == user.id)
                               .values(password_hash=concurrent_hash))
        return real_hash(password)

    monkeypatch.setattr(routes, "hash_password", hash_while_another_change_lands)

    response = change_password(client, user.access_token, PASSWORD, NEW_PASSWORD)

    assert_error(response, 409)
    assert password_hash(app, user.id) == concurrent_hash
    assert states(app, user.id) == before
    assert_live(app, other)


class TestPasswordChangeRateLimit:
    """Limits on, large, but for the one a test is about (as in test_rate_limits)."""

    @pytest.fixture
    def limits(self) -> dict:
        return {}

    @pytest.fixture
    def app_config(self, app_config, limits) -> dict:
        large = "1000 per minute"
        return {**app_config, "RATELIMIT_ENABLED": True, "RATELIMIT_DEFAULT": large,
                "RATELIMIT_AUTH_PER_IP": large, "RATELIMIT_LOGIN_PER_ACCOUNT_IP": large,
                "RATELIMIT_AUTH_PER_ACCOUNT": large, "RATELIMIT_REGISTER_PER_IP": large,
                "RATELIMIT_PASSWORD_PER_USER": large, **limits}

    @pytest.mark.parametrize("limits", [{"RATELIMIT_PASSWORD_PER_USER": "3 per minute"}])
    def test_fourth_attempt_for_one_account_is_429(self, app, client, limits):
        ada = make_account_from(client, "ada@example.com")
        bob = make_account_from(client, "bob@example.com")
        hash_before = password_hash(app, ada.id)
        for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):  # counted whatever the address
            assert_error(change_password(client, ada.access_token, "wrong password", NEW_PASSWORD,
                                         **from_ip(ip)), 401)
        before = states(app, ada.id)

        response = change_password(client, ada.access_token, PASSWORD, NEW_PASSWORD,
                                   **from_ip("192.0.2.4"))

        body = assert_rate_limited(response, 3)
        assert set(body) == {"code", "status", "message"}
        assert password_hash(app, ada.id) == hash_before
        assert states(app, ada.id) == before
        # Another account, from the same address, is not limited; nor is ada's login.
        assert change_password(client, bob.access_token, PASSWORD, NEW_PASSWORD,
                               **from_ip("192.0.2.4")).status_code == 204
        assert login(client, ada.email, PASSWORD).status_code == 200

    @pytest.mark.parametrize("limits", [{"RATELIMIT_AUTH_PER_IP": "4 per minute"}])
    def test_attempts_from_one_address_share_the_login_bucket(self, app, client, limits):
        ada = make_account_from(client, "ada@example.com")
        bob = make_account_from(client, "bob@example.com")
        address = from_ip("192.0.2.9")
        assert_error(client.post(f"{AUTH}/login", json={"email": ada.email, "password": "nope"},
                                 **address), 401)
        assert_error(change_password(client, ada.access_token, "wrong password", NEW_PASSWORD,
                                     **address), 401)
        assert_error(change_password(client, bob.access_token, "wrong password", NEW_PASSWORD,
                                     **address), 401)
        assert_error(client.post(f"{COMPAT_AUTH}/login",
                                 json={"email": bob.email, "password": "nope"}, **address), 401)
        hash_before = password_hash(app, bob.id)

        response = change_password(client, bob.access_token, PASSWORD, NEW_PASSWORD, **address)

        assert_rate_limited(response, 4)
        assert password_hash(app, bob.id) == hash_before
        # Another address has a bucket of its own (the accounts were made from SETUP_IP).
        assert change_password(client, bob.access_token, PASSWORD, NEW_PASSWORD,
                               **from_ip("192.0.2.10")).status_code == 204


# --- the reuse window ---------------------------------------------------------------


@pytest.mark.parametrize("route", ["v1", "compat"])
def test_within_the_window_every_refresh_with_one_token_gets_a_working_pair(
        app, client, user, route):
    other = pair(login(client, user.email))
    session_id = session_of(app, user.refresh_token)

    pairs = [pair(refresh_by(client, route, user.refresh_token)) for _ in range(3)]

    assert len({p["refresh_token"] for p in pairs}) == len({p["access_token"] for p in pairs}) == 3
    assert row(app, user.refresh_token).revoke_reason == "rotated"
    for tokens in pairs:
        for token in tokens.values():
            assert (row(app, token).session_id, row(app, token).revoked_at) == (session_id, None)
        assert me(client, tokens["access_token"]).get_json()["id"] == user.id
        again = pair(refresh_by(client, route, tokens["refresh_token"]))
        assert session_of(app, again["refresh_token"]) == session_id
    rows = session_rows(app, session_id)
    assert len(rows) == 2 + 2 * 3 + 2 * 3
    spent = {user.refresh_token, *(p["refresh_token"] for p in pairs)}
    assert reasons(rows) == {r.jti: "rotated" if r.jti in {jti(t) for t in spent} else None
                             for r in rows}
    assert_live(app, other)


def test_a_rotation_younger_than_the_window_is_still_within_it(app, client, user):
    assert refresh(client, user.refresh_token).status_code == 200
    age_rotation(app, user.refresh_token, WINDOW - 5)

    response = refresh(client, user.refresh_token)

    assert_live(app, pair(response))


@pytest.mark.parametrize("after", ["window-0", "aged-past-the-window"])
@pytest.mark.parametrize("route", ["v1", "compat"])
def test_after_the_window_a_second_refresh_ends_the_session(app, client, user, route, after):
    other = pair(login(client, user.email))
    if after == "window-0":
        app.config["JWT_REFRESH_REUSE_WINDOW"] = 0
    refreshed = pair(refresh_by(client, route, user.refresh_token))
    if after == "aged-past-the-window":
        age_rotation(app, user.refresh_token, WINDOW + 1)
    session_id, count = session_of(app, user.refresh_token), len(token_rows(app, user.id))

    response = refresh_by(client, route, user.refresh_token)

    assert_unauthorized(response)
    assert len(token_rows(app, user.id)) == count  # nothing issued
    assert reasons(session_rows(app, session_id)) == {
        jti(user.access_token): "reuse", jti(user.refresh_token): "rotated",
        jti(refreshed["access_token"]): "reuse", jti(refreshed["refresh_token"]): "reuse",
    }
    assert_unauthorized(me(client, refreshed["access_token"]))
    assert_unauthorized(refresh(client, refreshed["refresh_token"]))
    assert_unauthorized(me(client, user.access_token))
    # The same user's other session is not part of the family.
    assert_live(app, other)


@pytest.mark.parametrize("ended_by", ["logout", "compat-logout", "logout-all",
                                      "password-change-elsewhere"])
def test_a_rotated_token_of_an_ended_session_is_401_within_the_window(
        app, client, user, ended_by):
    refreshed = pair(refresh(client, user.refresh_token))
    if ended_by == "logout":
        assert logout(client, refreshed["access_token"]).status_code == 204
    elif ended_by == "compat-logout":
        assert compat_logout(client, refreshed["access_token"]).status_code == 200
    elif ended_by == "logout-all":
        assert logout_all(client, refreshed["access_token"]).status_code == 204
    else:
        elsewhere = pair(login(client, user.email))
        assert change_password(client, elsewhere["access_token"], PASSWORD,
                               NEW_PASSWORD).status_code == 204
    before = states(app, user.id)
    assert before[jti(user.refresh_token)][2] == "rotated"

    for route in ("v1", "compat"):
        assert_unauthorized(refresh_by(client, route, user.refresh_token))

    assert states(app, user.id) == before  # no new rows, no reason rewritten
    assert_unauthorized(refresh(client, refreshed["refresh_token"]))


# --- configuration ------------------------------------------------------------------


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """A temporary instance folder for apps created by the test itself."""
    monkeypatch.setenv("TASKAPI_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("TASKAPI_JWT_REFRESH_REUSE_WINDOW", raising=False)


def test_reuse_window_defaults_to_30_seconds(instance, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'w.sqlite3'}",
                      **TEST_SECRETS})

    assert Defaults.JWT_REFRESH_REUSE_WINDOW == 30
    assert app.config["JWT_REFRESH_REUSE_WINDOW"] == 30


@pytest.mark.parametrize("value", [-1, True, False, "30", 1.5, None])
def test_bad_reuse_window_is_a_configuration_error(instance, tmp_path, value):
    with pytest.raises(ConfigurationError, match="JWT_REFRESH_REUSE_WINDOW"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'w.sqlite3'}",
                    **TEST_SECRETS, **FAST_HASHING, "JWT_REFRESH_REUSE_WINDOW": value})


@pytest.mark.parametrize("value", ["-5", "soon", "true", "2.5"])
def test_bad_reuse_window_from_the_environment_is_a_configuration_error(
        instance, tmp_path, monkeypatch, value):
    monkeypatch.setenv("TASKAPI_JWT_REFRESH_REUSE_WINDOW", value)
    with pytest.raises(ConfigurationError, match="JWT_REFRESH_REUSE_WINDOW"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'w.sqlite3'}",
                    **TEST_SECRETS})


def test_reuse_window_0_from_the_environment_turns_the_grace_off(
        instance, database_url, monkeypatch):
    monkeypatch.setenv("TASKAPI_JWT_REFRESH_REUSE_WINDOW", "0")
    app = make_app(database_url)
    try:
        assert app.config["JWT_REFRESH_REUSE_WINDOW"] == 0
        client = app.test_client()
        assert register(client, "ada@example.com").status_code == 201
        tokens = pair(login(client, "ada@example.com"))
        assert refresh(client, tokens["refresh_token"]).status_code == 200

        assert_unauthorized(refresh(client, tokens["refresh_token"]))

        assert row(app, tokens["access_token"]).revoke_reason == "reuse"
    finally:
        dispose(app)


# --- simultaneous refreshes over gunicorn ------------------------------------------


RACERS, RACE_ROUNDS = 10, 2
SERVER_SETTINGS = {"TASKAPI_RATELIMIT_ENABLED": "false"}  # the default 30 s window


@pytest.fixture(scope="class", params=["sqlite", "postgresql"])
def running(request, tmp_path_factory):
    """One server per database for the class below (3 workers, the default window);
    class scope: it stops before the worker runs any other test of this module."""
    directory = tmp_path_factory.mktemp(f"sessions-{request.param}")
    yield from serve(request, directory, workers=3, settings=SERVER_SETTINGS)


@pytest.fixture
def server(running, request):
    with log_shown_on_failure(request, running):
        yield running


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.xdist_group("sessions-server")
class TestSimultaneousRefreshes:
    """10 refreshes with one refresh token, sent together (``threading.Barrier``)."""

    @pytest.mark.parametrize("route", ["v1", "compat"])
    def test_within_the_window_all_get_a_working_pair_of_the_session(self, server, route):
        user_id, bystander = account(server, f"grace-{route}@example.com")
        for round_ in range(RACE_ROUNDS):
            token = log_in(server, f"grace-{route}@example.com")["refresh_token"]
            session_id = server_session_of(server, jti(token))

            answers = race(server, [refresh_request(route, token)] * RACERS)

            assert [a.status for a in answers] == [200] * RACERS, (round_, answers)
            access_key = "token" if route == "compat" else "access_token"
            pairs = [(a.json[access_key], a.json["refresh_token"]) for a in answers]
            assert len(set(pairs)) == RACERS
            rows = server_session_rows(server, session_id)
            assert len(rows) == 2 + 2 * RACERS, rows
            revoked = {row[0]: row[3] for row in rows if row[2] is not None}
            assert revoked == {jti(token): "rotated"}, rows
            assert {server_session_of(server, jti(t)) for p in pairs for t in p} == {session_id}
            for access, refresh_token in pairs:
                me_answer = server.request("GET", f"{AUTH}/me", token=access)
                assert (me_answer.status, me_answer.json["id"]) == (200, user_id)
                again = server.request("POST", f"{AUTH}/refresh", token=refresh_token)
                assert again.status == 200, again
            record("concurrency", "refresh races within the reuse window (all 200)", 1)
        assert server.request("GET", f"{AUTH}/me", token=bystander["access_token"]).status == 200

    def test_after_the_window_all_are_401_and_the_session_ends(self, server):
        email = "late-reuse@example.com"
        user_id, bystander = account(server, email)
        for round_ in range(RACE_ROUNDS):
            token = log_in(server, email)["refresh_token"]
            refreshed = server.request("POST", f"{AUTH}/refresh", token=token)
            assert refreshed.status == 200, refreshed
            session_id = server_session_of(server, jti(token))
            age_server_rotation(server, token, WINDOW + 5)
            count = len(server_session_rows(server, session_id))

            answers = race(server, [refresh_request("v1", token)] * RACERS)

            assert [a.status for a in answers] == [401] * RACERS, (round_, answers)
            assert all(a.headers["WWW-Authenticate"].startswith("Bearer") for a in answers)
            rows = server_session_rows(server, session_id)
            assert len(rows) == count == 4, rows
            assert {row[0]: row[3] for row in rows} == {
                row[0]: "rotated" if row[0] == jti(token) else "reuse" for row in rows}
            for key in ("access_token", "refresh_token"):
                path = f"{AUTH}/me" if key == "access_token" else f"{AUTH}/refresh"
                method = "GET" if key == "access_token" else "POST"
                assert server.request(method, path, token=refreshed.json[key]).status == 401
            record("concurrency", "refresh reuse races after the window (all 401)", 1)
        me_answer = server.request("GET", f"{AUTH}/me", token=bystander["access_token"])
        assert (me_answer.status, me_answer.json["id"]) == (200, user_id)


def server_session_rows(server: Server, session_id: str) -> list[tuple]:
    """``(jti, token_type, revoked_at, revoke_reason)`` of a session, on the server."""
    return server.database.query(
        "SELECT jti, token_type, revoked_at, revoke_reason FROM issued_tokens "
        "WHERE session_id = :session_id ORDER BY id", session_id=session_id)



def age_server_rotation(server: Server, token: str, seconds: float) -> None:
    """Move ``revoked_at`` of ``token``'s row on the server's database ``seconds``
    into the past (through the column type, as the app writes it)."""
    tokens = sa.table("issued_tokens", sa.column("jti"), sa.column("revoked_at", UTCDateTime()))
    with server.database.engine.begin() as connection:
        revoked_at = connection.execute(
            sa.select(tokens.c.revoked_at).where(tokens.c.jti == jti(token))).scalar_one()
        assert revoked_at is not None
        connection.execute(sa.update(tokens).where(tokens.c.jti == jti(token))
                           .values(revoked_at=revoked_at - timedelta(seconds=seconds)))
