"""``SESSIONS_PER_USER``: a login beyond the live sessions allowed ends the oldest.

A session (``issued_tokens.session_id``) is live while it holds a refresh token
that is neither revoked nor expired; the oldest is the one that went longest
without a login or a refresh. Proven over the test client by status (the ended
session's tokens are 401s, the others work) and by the ``issued_tokens`` rows
(``revoke_reason`` "session_limit", live sessions counted in the database).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from taskapi import create_app
from taskapi.config import ConfigurationError, Defaults
from taskapi.extensions import db
from taskapi.models import IssuedToken, utcnow
from tests.conftest import FAST_HASHING
from tests.helpers import TEST_SECRETS, auth_headers, login, register
from tests.test_auth import logout, me, refresh
from tests.test_sessions import pair, session_of, session_rows

COMPAT_REGISTER = "/api/auth/register"


@pytest.fixture
def app_config(app_config) -> dict:
    return {**app_config, "SESSIONS_PER_USER": 3}


def log_in(client, email: str = "ada@example.com") -> dict:
    """A new session: ``{"access_token", "refresh_token"}``."""
    response = login(client, email)
    assert response.status_code == 200, response.get_json()
    return pair(response)


def live_sessions(app, user_id: int) -> set[str]:
    """The sessions of ``user_id`` holding a live refresh token, from the database."""
    with app.app_context():
        return set(db.session.scalars(
            sa.select(IssuedToken.session_id).where(
                IssuedToken.user_id == user_id, IssuedToken.token_type == "refresh",
                IssuedToken.revoked_at.is_(None), IssuedToken.expires_at > utcnow())))


def assert_ended(client, app, tokens: dict) -> None:
    assert me(client, tokens["access_token"]).status_code == 401
    assert refresh(client, tokens["refresh_token"]).status_code == 401
    rows = session_rows(app, session_of(app, tokens["access_token"]))
    assert {row.revoke_reason for row in rows} == {"session_limit"}


def assert_working(client, tokens: dict) -> None:
    assert me(client, tokens["access_token"]).status_code == 200


def test_the_default_is_100():
    assert Defaults.SESSIONS_PER_USER == 100


def test_a_fourth_login_ends_the_oldest_session(app, client):
    ada_id = register(client, "ada@example.com").get_json()["id"]
    first, second, third = log_in(client), log_in(client), log_in(client)
    assert len(live_sessions(app, ada_id)) == 3

    fourth = log_in(client)

    assert_ended(client, app, first)
    for tokens in (second, third, fourth):
        assert_working(client, tokens)
    assert live_sessions(app, ada_id) == {
        session_of(app, tokens["access_token"]) for tokens in (second, third, fourth)}


def test_many_logins_keep_the_live_sessions_at_the_limit(app, client):
    ada_id = register(client, "ada@example.com").get_json()["id"]
    sessions = [log_in(client) for _ in range(8)]

    assert len(live_sessions(app, ada_id)) == 3
    for tokens in sessions[:5]:
        assert me(client, tokens["access_token"]).status_code == 401
    for tokens in sessions[5:]:
        assert_working(client, tokens)


def test_a_compat_registration_is_a_session_too(app, client):
    registered = client.post(COMPAT_REGISTER, json={"email": "ada@example.com",
                                                    "password": "correct horse battery",
                                                    "name": "Ada"})
    assert registered.status_code == 201, registered.get_json()
    first = {"access_token": registered.get_json()["token"],
             "refresh_token": registered.get_json()["refresh_token"]}
    others = [log_in(client) for _ in range(3)]

    assert_ended(client, app, first)
    for tokens in others:
        assert_working(client, tokens)


def test_the_session_refreshed_last_is_kept(app, client):
    """"Oldest" is the session unused longest: a refresh makes a session young."""
    register(client, "ada@example.com")
    first, second, third = log_in(client), log_in(client), log_in(client)
    refreshed = refresh(client, first["refresh_token"])
    assert refreshed.status_code == 200
    first = pair(refreshed)

    log_in(client)

    assert_working(client, first)
    assert_ended(client, app, second)
    assert_working(client, third)


def test_refreshes_start_no_session_and_end_none(app, client):
    ada_id = register(client, "ada@example.com").get_json()["id"]
    sessions = [log_in(client) for _ in range(3)]
    tokens = sessions[-1]
    for _ in range(4):
        response = refresh(client, tokens["refresh_token"])
        assert response.status_code == 200
        tokens = pair(response)

    assert len(live_sessions(app, ada_id)) == 3
    for earlier in sessions[:2]:
        assert_working(client, earlier)


def test_ended_sessions_do_not_count(app, client):
    register(client, "ada@example.com")
    first, second, third = log_in(client), log_in(client), log_in(client)
    assert logout(client, first["access_token"]).status_code == 204

    log_in(client)

    assert_working(client, second)
    assert_working(client, third)


def test_other_users_sessions_are_untouched(app, client):
    register(client, "ada@example.com")
    register(client, "bob@example.com")
    bobs = [log_in(client, "bob@example.com") for _ in range(3)]

    for _ in range(4):
        log_in(client)

    for tokens in bobs:
        assert_working(client, tokens)


def test_with_one_session_each_login_ends_the_previous(app, client):
    app.config["SESSIONS_PER_USER"] = 1
    register(client, "ada@example.com")
    first = log_in(client)

    second = log_in(client)

    assert_ended(client, app, first)
    assert_working(client, second)


def test_expired_sessions_do_not_count(app, client):
    """A session whose refresh token expired is not live: nothing to end."""
    register(client, "ada@example.com")
    first, second, third = log_in(client), log_in(client), log_in(client)
    expired = session_of(app, first["access_token"])
    with app.app_context():
        db.session.execute(sa.update(IssuedToken).where(IssuedToken.session_id == expired)
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()

    log_in(client)

    assert_working(client, second)
    assert_working(client, third)
    assert session_rows(app, expired) == []  # pruned at the login, as before


@pytest.mark.parametrize("value", [0, -1, "100", 2.5, True])
def test_a_bad_value_is_a_configuration_error(tmp_path, value):
    with pytest.raises(ConfigurationError, match="SESSIONS_PER_USER"):
        create_app({"TESTING": True, **TEST_SECRETS, **FAST_HASHING,
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'bad.sqlite3'}",
                    "SESSIONS_PER_USER": value})


def test_tokens_of_an_ended_session_are_refused_with_the_bearer_challenge(app, client):
    register(client, "ada@example.com")
    first = log_in(client)
    for _ in range(3):
        log_in(client)

    response = client.get("/api/v1/tasks", headers=auth_headers(first["access_token"]))

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
