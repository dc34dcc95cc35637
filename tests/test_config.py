"""Configuration: loading order, database URL handling, type checks and secrets.

Every test points ``TASKAPI_INSTANCE_PATH`` at a temporary folder: nothing here
reads or writes the repository's own ``instance/`` folder.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import jwt as pyjwt
import pytest
from flask import Flask

from taskapi import create_app
from taskapi.config import (
    MIN_SECRET_BYTES,
    SECRETS_FILE,
    ConfigurationError,
    Defaults,
    load_config,
    normalize_database_uri,
)
from taskapi.extensions import db
from tests.conftest import FAST_HASHING
from tests.helpers import TEST_SECRETS, login, register

REPO_ROOT = Path(__file__).resolve().parent.parent
STRONG = "s" * MIN_SECRET_BYTES
SECRET_ENV = {f"TASKAPI_{name}": value for name, value in TEST_SECRETS.items()}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No TASKAPI_* or DATABASE_URL variable from the outside leaks into a test."""
    for name in list(os.environ):
        if name.startswith("TASKAPI_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def instance(clean_environment, tmp_path, monkeypatch) -> Path:
    """A temporary instance folder used by every ``create_app`` call of the test."""
    folder = tmp_path / "instance"
    monkeypatch.setenv("TASKAPI_INSTANCE_PATH", str(folder))
    return folder


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'config.sqlite3'}"


def write_instance_config(instance: Path, text: str) -> None:
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "config.py").write_text(text)


def bare_app(instance: Path) -> Flask:
    """A plain Flask app for :func:`load_config` alone (no engine is created)."""
    return Flask("config_probe", instance_path=str(instance))


# --- loading order -----------------------------------------------------------------


def test_defaults_apply_when_nothing_is_set(instance, sqlite_url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url, **TEST_SECRETS})
    assert app.config["MAX_CONTENT_LENGTH"] == Defaults.MAX_CONTENT_LENGTH
    assert app.config["JWT_ACCESS_TOKEN_EXPIRES"] == Defaults.JWT_ACCESS_TOKEN_EXPIRES
    assert app.config["LOG_FORMAT"] == "text"
    assert app.config["ENV"] == "development"
    assert app.instance_path == str(instance)


def test_loading_order_defaults_file_env_mapping(instance, sqlite_url, monkeypatch):
    write_instance_config(
        instance,
        "MAX_CONTENT_LENGTH = 7000\n"
        "JWT_ACCESS_TOKEN_EXPIRES = 70\n"
        "SQLITE_BUSY_TIMEOUT_MS = 700\n",
    )
    monkeypatch.setenv("TASKAPI_JWT_ACCESS_TOKEN_EXPIRES", "80")
    monkeypatch.setenv("TASKAPI_SQLITE_BUSY_TIMEOUT_MS", "800")

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": sqlite_url, "SQLITE_BUSY_TIMEOUT_MS": 900, **TEST_SECRETS}
    )

    assert app.config["JWT_REFRESH_TOKEN_EXPIRES"] == Defaults.JWT_REFRESH_TOKEN_EXPIRES
    assert app.config["MAX_CONTENT_LENGTH"] == 7000  # file beats defaults
    assert app.config["JWT_ACCESS_TOKEN_EXPIRES"] == 80  # env beats file
    assert app.config["SQLITE_BUSY_TIMEOUT_MS"] == 900  # mapping beats env


def test_instance_config_is_the_one_in_the_instance_folder(instance, sqlite_url):
    write_instance_config(instance, "LOG_LEVEL = 'WARNING'\n")
    app = create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url, **TEST_SECRETS})
    assert app.config["LOG_LEVEL"] == "WARNING"


def test_env_values_are_parsed_as_json(sqlite_url, monkeypatch):
    monkeypatch.setenv("TASKAPI_MAX_CONTENT_LENGTH", "5000")
    monkeypatch.setenv("TASKAPI_LOG_LEVEL", "DEBUG")
    app = create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url, **TEST_SECRETS})
    assert app.config["MAX_CONTENT_LENGTH"] == 5000
    assert isinstance(app.config["MAX_CONTENT_LENGTH"], int)
    assert app.config["LOG_LEVEL"] == "DEBUG"


def test_env_access_token_lifetime_reaches_login(sqlite_url, monkeypatch):
    monkeypatch.setenv("TASKAPI_JWT_ACCESS_TOKEN_EXPIRES", "60")
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": sqlite_url, **TEST_SECRETS, **FAST_HASHING}
    )
    with app.app_context():
        db.create_all()
    client = app.test_client()
    assert register(client, "cfg@example.com").status_code == 201

    response = login(client, "cfg@example.com")

    assert response.status_code == 200
    body = response.get_json()
    assert body["expires_in"] == 60
    claims = pyjwt.decode(
        body["access_token"], TEST_SECRETS["JWT_SECRET_KEY"], algorithms=["HS256"]
    )
    assert claims["exp"] - claims["iat"] == 60
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TASKAPI_JWT_ACCESS_TOKEN_EXPIRES", "soon"),
        ("TASKAPI_JWT_ACCESS_TOKEN_EXPIRES", "0"),
        ("TASKAPI_PASSWORD_HASH_TIME_COST", "true"),
        ("TASKAPI_SQLITE_BUSY_TIMEOUT_MS", "-1"),
    ],
)
def test_invalid_integer_setting_is_a_configuration_error(sqlite_url, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=name.removeprefix("TASKAPI_")):
        create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url, **TEST_SECRETS})


def test_unknown_log_format_is_a_configuration_error(sqlite_url, monkeypatch):
    monkeypatch.setenv("TASKAPI_LOG_FORMAT", "xml")
    with pytest.raises(ConfigurationError, match="LOG_FORMAT"):
        create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url, **TEST_SECRETS})


# --- database URL ------------------------------------------------------------------


def test_default_database_is_in_the_instance_folder(instance):
    app = create_app(dict(TEST_SECRETS))
    expected = f"sqlite:///{instance / 'taskapi.sqlite3'}"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == expected


def test_database_url_is_an_alias(sqlite_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    app = create_app(dict(TEST_SECRETS))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == sqlite_url
    with app.app_context():
        assert str(db.engine.url) == sqlite_url


def test_prefixed_database_uri_wins_over_database_url(tmp_path, sqlite_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'alias.sqlite3'}")
    monkeypatch.setenv("TASKAPI_SQLALCHEMY_DATABASE_URI", sqlite_url)
    app = create_app(dict(TEST_SECRETS))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == sqlite_url


def test_instance_config_database_uri_loses_to_database_url(instance, sqlite_url, monkeypatch):
    write_instance_config(instance, "SQLALCHEMY_DATABASE_URI = 'sqlite:///from-file.sqlite3'\n")
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    app = create_app(dict(TEST_SECRETS))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == sqlite_url


@pytest.mark.parametrize(
    "url",
    [
        "postgres://u:p@db.example:5432/tasks",
        "postgresql://u:p@db.example:5432/tasks",
    ],
)
def test_database_url_postgres_schemes_get_the_psycopg_driver(instance, monkeypatch, url):
    # load_config alone: create_app would build an engine, which needs psycopg.
    monkeypatch.setenv("DATABASE_URL", url)
    app = bare_app(instance)
    load_config(app, dict(TEST_SECRETS))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == (
        "postgresql+psycopg://u:p@db.example:5432/tasks"
    )


def test_prefixed_postgres_uri_is_normalised_too(instance, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///ignored.sqlite3")
    monkeypatch.setenv("TASKAPI_SQLALCHEMY_DATABASE_URI", "postgres://h/db")
    app = bare_app(instance)
    load_config(app, dict(TEST_SECRETS))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://h/db"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://h/db", "postgresql+psycopg://h/db"),
        ("postgresql://h/db", "postgresql+psycopg://h/db"),
        ("postgresql+psycopg://h/db", "postgresql+psycopg://h/db"),
        ("postgresql+psycopg2://h/db", "postgresql+psycopg2://h/db"),
        ("sqlite:///x.sqlite3", "sqlite:///x.sqlite3"),
    ],
)
def test_normalize_database_uri(given, expected):
    assert normalize_database_uri(given) == expected


# --- production secrets ------------------------------------------------------------


def production(sqlite_url: str, **secrets) -> dict:
    return {"ENV": "production", "SQLALCHEMY_DATABASE_URI": sqlite_url, **secrets}


def test_production_without_secrets_names_both(instance, sqlite_url):
    with pytest.raises(ConfigurationError) as info:
        create_app(production(sqlite_url))
    message = str(info.value)
    assert "TASKAPI_SECRET_KEY" in message
    assert "TASKAPI_JWT_SECRET_KEY" in message
    assert not (instance / SECRETS_FILE).exists()


def test_production_with_short_jwt_secret_names_only_it(sqlite_url):
    short = "j" * (MIN_SECRET_BYTES - 1)
    with pytest.raises(ConfigurationError) as info:
        create_app(production(sqlite_url, SECRET_KEY=STRONG, JWT_SECRET_KEY=short))
    message = str(info.value)
    assert "TASKAPI_JWT_SECRET_KEY" in message
    assert "TASKAPI_SECRET_KEY" not in message
    assert str(MIN_SECRET_BYTES) in message


def test_production_with_missing_secret_key_names_only_it(sqlite_url):
    with pytest.raises(ConfigurationError) as info:
        create_app(production(sqlite_url, JWT_SECRET_KEY=STRONG))
    message = str(info.value)
    assert "TASKAPI_SECRET_KEY" in message
    assert "TASKAPI_JWT_SECRET_KEY" not in message


def test_production_from_env_is_checked(sqlite_url, monkeypatch):
    monkeypatch.setenv("TASKAPI_ENV", "production")
    monkeypatch.setenv("TASKAPI_SECRET_KEY", STRONG)
    monkeypatch.setenv("TASKAPI_JWT_SECRET_KEY", "short")
    with pytest.raises(ConfigurationError, match="TASKAPI_JWT_SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url})


def test_production_with_strong_secrets_starts(instance, sqlite_url, monkeypatch):
    monkeypatch.setenv("TASKAPI_ENV", "production")
    monkeypatch.setenv("TASKAPI_SECRET_KEY", STRONG)
    # 16 two-byte characters: 32 bytes, the minimum is counted in bytes.
    monkeypatch.setenv("TASKAPI_JWT_SECRET_KEY", "é" * (MIN_SECRET_BYTES // 2))
    app = create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url})
    assert app.config["SECRET_KEY"] == STRONG
    assert app.config["JWT_SECRET_KEY"] == "é" * (MIN_SECRET_BYTES // 2)
    assert not (instance / SECRETS_FILE).exists()


def import_wsgi(tmp_path, **variables) -> subprocess.CompletedProcess:
    """``python -c "import wsgi"`` from the repository root with only ``variables`` set."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("TASKAPI_") and name != "DATABASE_URL"
    }
    env["TASKAPI_INSTANCE_PATH"] = str(tmp_path / "wsgi-instance")
    env["TASKAPI_SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'wsgi.sqlite3'}"
    env.update(variables)
    return subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )


def assert_one_clean_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("taskapi: configuration error:")
    assert result.stdout == ""
    return lines[0]


@pytest.mark.slow
def test_wsgi_import_in_production_without_secrets_fails_cleanly(tmp_path):
    result = import_wsgi(tmp_path, TASKAPI_ENV="production")

    line = assert_one_clean_error_line(result)
    assert "TASKAPI_SECRET_KEY" in line
    assert "TASKAPI_JWT_SECRET_KEY" in line
    assert not (tmp_path / "wsgi-instance" / SECRETS_FILE).exists()


@pytest.mark.slow
def test_wsgi_import_with_strong_production_secrets_succeeds(tmp_path):
    result = import_wsgi(
        tmp_path, TASKAPI_ENV="production",
        TASKAPI_SECRET_KEY=STRONG, TASKAPI_JWT_SECRET_KEY=STRONG + "j",
    )

    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr.lower()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"TASKAPI_JWT_ACCESS_TOKEN_EXPIRES": "soon"}, "JWT_ACCESS_TOKEN_EXPIRES"),
        ({"TASKAPI_LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"TASKAPI_LOG_LEVEL": "verbose"}, "LOG_LEVEL"),
    ],
)
def test_wsgi_import_with_invalid_setting_fails_cleanly(tmp_path, variables, named):
    result = import_wsgi(tmp_path, **variables, **SECRET_ENV)

    assert named in assert_one_clean_error_line(result)


@pytest.mark.slow
def test_wsgi_import_with_unparsable_database_url_fails_cleanly(tmp_path):
    result = import_wsgi(
        tmp_path, TASKAPI_SQLALCHEMY_DATABASE_URI="not a database url", **SECRET_ENV
    )

    assert "SQLALCHEMY_DATABASE_URI" in assert_one_clean_error_line(result)


def test_unparsable_database_url_is_a_configuration_error(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "not a database url")
    with pytest.raises(ConfigurationError, match="SQLALCHEMY_DATABASE_URI"):
        create_app(dict(TEST_SECRETS))


def test_unknown_log_level_is_a_configuration_error(sqlite_url, monkeypatch):
    monkeypatch.setenv("TASKAPI_LOG_LEVEL", "verbose")
    with pytest.raises(ConfigurationError, match="LOG_LEVEL"):
        create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url, **TEST_SECRETS})


# --- development secrets -----------------------------------------------------------


def test_development_generates_secrets_file_once(instance, sqlite_url):
    first = create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url})
    path = instance / SECRETS_FILE
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_text()
    stored = json.loads(content)
    assert stored["SECRET_KEY"] == first.config["SECRET_KEY"]
    assert stored["JWT_SECRET_KEY"] == first.config["JWT_SECRET_KEY"]
    assert len(first.config["JWT_SECRET_KEY"].encode()) >= MIN_SECRET_BYTES
    assert len(first.config["SECRET_KEY"].encode()) >= MIN_SECRET_BYTES
    assert first.config["SECRET_KEY"] != first.config["JWT_SECRET_KEY"]

    second = create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url})

    assert second.config["JWT_SECRET_KEY"] == first.config["JWT_SECRET_KEY"]
    assert second.config["SECRET_KEY"] == first.config["SECRET_KEY"]
    assert path.read_text() == content
    assert [p.name for p in instance.iterdir() if p.name.startswith(".")] == []


def test_development_token_from_one_app_works_on_the_next(sqlite_url):
    first = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": sqlite_url, **FAST_HASHING})
    with first.app_context():
        db.create_all()
    client = first.test_client()
    assert register(client, "dev@example.com").status_code == 201
    token = login(client, "dev@example.com").get_json()["access_token"]

    second = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": sqlite_url})
    response = second.test_client().get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200
    assert response.get_json()["email"] == "dev@example.com"
    for app in (first, second):
        with app.app_context():
            db.engine.dispose()


@pytest.mark.slow
def test_development_secrets_agree_when_workers_start_together(instance, tmp_path):
    """Several processes creating the app at once on an empty instance folder (like
    gunicorn workers) all end up with the one secret that was written."""
    code = (
        "from taskapi import create_app; "
        "app = create_app({'SQLALCHEMY_DATABASE_URI': 'sqlite://'}); "
        "print(app.config['SECRET_KEY'], app.config['JWT_SECRET_KEY'])"
    )
    env = {**os.environ, "TASKAPI_INSTANCE_PATH": str(instance)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(6)
    ]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        outputs.append(out.split())

    stored = json.loads((instance / SECRETS_FILE).read_text())
    assert outputs == [[stored["SECRET_KEY"], stored["JWT_SECRET_KEY"]]] * len(processes)
    assert stat.S_IMODE((instance / SECRETS_FILE).stat().st_mode) == 0o600
    assert sorted(p.name for p in instance.iterdir()) == [SECRETS_FILE]


def test_development_keeps_configured_secret_and_fills_the_missing_one(instance, sqlite_url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url, "SECRET_KEY": STRONG})
    stored = json.loads((instance / SECRETS_FILE).read_text())
    assert app.config["SECRET_KEY"] == STRONG
    assert app.config["JWT_SECRET_KEY"] == stored["JWT_SECRET_KEY"]


def test_development_with_both_secrets_writes_no_file(instance, sqlite_url):
    create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url, **TEST_SECRETS})
    assert not (instance / SECRETS_FILE).exists()


def test_corrupt_secrets_file_is_a_configuration_error(instance, sqlite_url):
    instance.mkdir(parents=True)
    (instance / SECRETS_FILE).write_text(json.dumps({"SECRET_KEY": "x"}))
    with pytest.raises(ConfigurationError, match=SECRETS_FILE):
        create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url})
