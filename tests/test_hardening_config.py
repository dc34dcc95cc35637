"""Start-up refuses what would run wrongly, and the SQLite files are private.

- ``TASKAPI_ENV`` other than development or production (``prod``, a number) is
  a :class:`ConfigurationError` naming the allowed values, not development mode.
- A secret from the environment is the string as typed, even when it looks like
  a JSON number (``from_prefixed_env`` would make it an int and every login a
  500); a secret that is not a string from any other source is refused.
- A new SQLite database, and its ``-wal`` and ``-shm`` files, are mode 0600
  under umask 022 (taskapi/database.py).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import jwt as pyjwt
import pytest

from taskapi import create_app
from taskapi.config import ENVIRONMENTS, ConfigurationError
from tests.conftest import FAST_HASHING
from tests.helpers import TEST_SECRETS, dispose, make_account
from tests.test_config import assert_one_clean_error_line, import_wsgi

NUMERIC_SECRET = "12345678901234567890123456789012345678901234567890"  # 50 digits


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("TASKAPI_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("TASKAPI_INSTANCE_PATH", str(tmp_path / "instance"))


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'hardening.sqlite3'}"


# --- ENV ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["prod", "dev", "staging", "testing", "", "1", "true"])
def test_unknown_env_from_the_environment_is_refused(monkeypatch, sqlite_url, value):
    monkeypatch.setenv("TASKAPI_ENV", value)
    with pytest.raises(ConfigurationError) as info:
        create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url, **TEST_SECRETS})
    message = str(info.value)
    assert "TASKAPI_ENV" in message
    assert all(name in message for name in ENVIRONMENTS), message
    assert repr(value) in message or value in ("1", "true")  # JSON-parsed: 1, True


@pytest.mark.parametrize("value", [None, 1, ["production"]])
def test_env_of_the_wrong_type_is_refused(sqlite_url, value):
    with pytest.raises(ConfigurationError, match="development, production"):
        create_app({"ENV": value, "SQLALCHEMY_DATABASE_URI": sqlite_url, **TEST_SECRETS})


@pytest.mark.parametrize(("value", "production"), [
    ("development", False), ("production", True), ("Production", True), (" PRODUCTION ", True),
])
def test_allowed_env_values(monkeypatch, sqlite_url, value, production):
    monkeypatch.setenv("TASKAPI_ENV", value)
    app = create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url, **TEST_SECRETS})
    assert app.config["ENV"] == ("production" if production else "development")
    # Production behaviour follows: no development CORS origins.
    assert (app.config["CORS_ORIGINS"] == []) is production
    dispose(app)


@pytest.mark.slow
def test_wsgi_import_with_a_misspelt_env_fails_cleanly(tmp_path):
    line = assert_one_clean_error_line(import_wsgi(
        tmp_path, TASKAPI_ENV="prod",
        **{f"TASKAPI_{name}": value for name, value in TEST_SECRETS.items()}))
    assert "TASKAPI_ENV" in line and "'prod'" in line and "production" in line


# --- secrets ------------------------------------------------------------------------


def test_numeric_secrets_from_the_environment_stay_strings(monkeypatch, sqlite_url):
    monkeypatch.setenv("TASKAPI_ENV", "production")
    monkeypatch.setenv("TASKAPI_SECRET_KEY", "0" + NUMERIC_SECRET)  # a leading zero kept
    monkeypatch.setenv("TASKAPI_JWT_SECRET_KEY", NUMERIC_SECRET)
    app = create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url, **FAST_HASHING,
                      "RATELIMIT_ENABLED": False})
    try:
        assert app.config["SECRET_KEY"] == "0" + NUMERIC_SECRET
        assert app.config["JWT_SECRET_KEY"] == NUMERIC_SECRET
        with app.app_context():
            from taskapi.extensions import db

            db.create_all()
        account = make_account(app.test_client(), "digits@example.com")
        claims = pyjwt.decode(account.access_token, NUMERIC_SECRET, algorithms=["HS256"])
        assert claims["sub"] == str(account.id)
    finally:
        dispose(app)


@pytest.mark.parametrize("name", ["SECRET_KEY", "JWT_SECRET_KEY"])
@pytest.mark.parametrize("value", [int(NUMERIC_SECRET), 1.5, True, ["s" * 40]])
@pytest.mark.parametrize("env", ["development", "production"])
def test_non_string_secret_is_refused(sqlite_url, name, value, env):
    secrets = {**TEST_SECRETS, name: value}
    with pytest.raises(ConfigurationError) as info:
        create_app({"ENV": env, "SQLALCHEMY_DATABASE_URI": sqlite_url, **secrets})
    message = str(info.value)
    assert message.startswith(f"{name} must be a string")
    assert NUMERIC_SECRET not in message  # a secret is never echoed


def test_non_string_secret_in_instance_config_is_refused(tmp_path, sqlite_url):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(f"JWT_SECRET_KEY = {NUMERIC_SECRET}\n")
    with pytest.raises(ConfigurationError, match="JWT_SECRET_KEY must be a string"):
        create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url})


def test_bytes_secrets_are_measured_in_bytes(sqlite_url):
    with pytest.raises(ConfigurationError, match="TASKAPI_SECRET_KEY"):
        create_app({"ENV": "production", "SQLALCHEMY_DATABASE_URI": sqlite_url,
                    "SECRET_KEY": b"x" * 31, "JWT_SECRET_KEY": "j" * 32})
    app = create_app({"ENV": "production", "SQLALCHEMY_DATABASE_URI": sqlite_url,
                      "SECRET_KEY": os.urandom(32), "JWT_SECRET_KEY": "j" * 32})
    dispose(app)


# --- SQLite file modes --------------------------------------------------------------


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask_022")
def test_new_sqlite_database_and_its_wal_files_are_private(tmp_path):
    database = tmp_path / "taskapi.sqlite3"  # in an existing folder (a missing one is an error)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", **TEST_SECRETS,
                      **FAST_HASHING, "RATELIMIT_ENABLED": False})
    try:
        assert database.exists() and mode(database) == 0o600
        with app.app_context():
            from taskapi.extensions import db

            db.create_all()
        make_account(app.test_client(), "private@example.com")  # writes, keeps a connection
        wal, shm = (database.with_name(database.name + suffix) for suffix in ("-wal", "-shm"))
        assert wal.exists() and shm.exists()
        assert {path.name: mode(path) for path in (database, wal, shm)} == {
            database.name: 0o600, wal.name: 0o600, shm.name: 0o600}
        # A control file made under the same umask is 0644: the 0600 comes from taskapi.
        control = tmp_path / "control"
        control.touch()
        assert mode(control) == 0o644
    finally:
        dispose(app)
