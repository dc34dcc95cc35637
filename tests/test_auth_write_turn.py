"""argon2 never runs while a request holds this process's SQLite write turn (or
the database lock): register, login (and its rehash), password change, on v1
and the original contract. The write turn exists on SQLite only, so these tests
always run on a SQLite file, whatever the test database."""

from __future__ import annotations

import sqlite3

import pytest
from argon2 import PasswordHasher
from flask import g
from sqlalchemy.engine import make_url

from taskapi.auth import routes as auth_routes
from taskapi.extensions import db
from taskapi.models import User
from tests.helpers import PASSWORD, auth_headers, login, register
from tests.test_auth import AUTH, user_rows


@pytest.fixture
def database_url(tmp_path) -> str:
    """A new SQLite file (the app fixture creates the tables)."""
    return f"sqlite:///{tmp_path / 'write-turn.sqlite3'}"


# --- argon2 outside the SQLite write turn -----------------------------------------------


@pytest.fixture
def hashing(app, monkeypatch) -> list[tuple[str, bool, bool]]:
    """Every argon2 hash or verify of the auth routes (v1 and the original
    contract's twins call the same functions), as ``(name, turn, locked)``: whether
    the request held this process's SQLite write turn (``g.sqlite_write_turn``)
    during the call, and whether another connection found the database locked."""
    path = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    calls: list[tuple[str, bool, bool]] = []

    def locked() -> bool:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            other.close()

    def spying(name: str, real):
        def spy(*args):
            calls.append((name, bool(g.get("sqlite_write_turn")), locked()))
            return real(*args)

        return spy

    for name in ("hash_password", "verify_password"):
        monkeypatch.setattr(auth_routes, name, spying(name, getattr(auth_routes, name)))
    return calls


FREE = (False, False)


def test_register_hashes_outside_the_write_turn(client, hashing):
    assert register(client, "ada@example.com").status_code == 201
    response = client.post("/api/auth/register", json={
        "email": "bob@example.com", "password": PASSWORD, "name": "Bob"})
    assert response.status_code == 201

    assert hashing == [("hash_password", *FREE)] * 2


@pytest.mark.parametrize("path", [f"{AUTH}/login", "/api/auth/login"])
@pytest.mark.parametrize(("email", "password", "status"), [
    ("ada@example.com", PASSWORD, 200),
    ("ada@example.com", "wrong password", 401),
    ("nobody@example.com", PASSWORD, 401),
])
def test_login_verifies_outside_the_write_turn(client, hashing, path, email, password, status):
    register(client, "ada@example.com")
    hashing.clear()

    response = client.post(path, json={"email": email, "password": password})

    assert response.status_code == status
    assert hashing == [("verify_password", *FREE)]


def test_a_login_rehash_runs_outside_the_write_turn(app, client, hashing):
    user_id = register(client, "ada@example.com").get_json()["id"]
    old_hash = PasswordHasher(time_cost=1, memory_cost=2048, parallelism=1).hash(PASSWORD)
    with app.app_context():
        db.session.get(User, user_id).password_hash = old_hash
        db.session.commit()
    hashing.clear()

    assert login(client, "ada@example.com").status_code == 200

    assert hashing == [("verify_password", *FREE), ("hash_password", *FREE)]
    [(_, _, _, new_hash, _, _)] = user_rows(app)
    assert new_hash != old_hash and PasswordHasher().verify(new_hash, PASSWORD)


@pytest.mark.parametrize(("current", "status"), [(PASSWORD, 204), ("wrong password", 401)])
def test_a_password_change_hashes_outside_the_write_turn(app, client, hashing, current,
                                                          status):
    register(client, "ada@example.com")
    token = login(client, "ada@example.com").get_json()["access_token"]
    [(_, _, _, old_hash, _, _)] = user_rows(app)
    hashing.clear()

    response = client.post(f"{AUTH}/password", headers=auth_headers(token), json={
        "current_password": current, "new_password": "a brand new passphrase"})

    assert response.status_code == status
    [(_, _, _, new_hash, _, _)] = user_rows(app)
    if status == 204:
        assert hashing == [("verify_password", *FREE), ("hash_password", *FREE)]
        assert new_hash != old_hash
    else:
        assert hashing == [("verify_password", *FREE)]
        assert new_hash == old_hash
