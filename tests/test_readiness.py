"""GET /health (liveness, no I/O) and GET /ready (readiness: the database answers
and its schema is at the newest migration).

Runs on the suite's database: a SQLite file, or the PostgreSQL database of
``TASKAPI_TEST_DATABASE_URL``. "Unreachable" is tested both ways whatever that
database is: PostgreSQL on a closed port (127.0.0.1:1) and a SQLite file under a
directory that does not exist; neither needs a server.
"""

from __future__ import annotations

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from taskapi import MIGRATIONS_DIR
from taskapi.extensions import db
from tests.helpers import assert_error, dispose, make_app

CLOSED_PORT_URL = "postgresql+psycopg://postgres@127.0.0.1:1/none"
#: Text that must never reach a client: stack traces, SQL, driver and URL details.
LEAKS = ("traceback", "select ", "alembic_version", "psycopg", "sqlite3", "sqlalchemy",
         "operationalerror", "127.0.0.1", "unable to open", "connection refused")


def migration_script() -> ScriptDirectory:
    """The project's migrations, read straight from the files (not through the app)."""
    return ScriptDirectory(str(MIGRATIONS_DIR))


HEAD = migration_script().get_current_head()
BEFORE_HEAD = migration_script().get_revision(HEAD).down_revision


pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture(params=["postgresql", "sqlite"])
def unreachable_url(request, tmp_path) -> str:
    """A database URL nothing answers at."""
    if request.param == "postgresql":
        return CLOSED_PORT_URL
    return f"sqlite:///{tmp_path / 'no-such-directory' / 'taskapi.sqlite3'}"


@pytest.fixture
def unreachable_app(unreachable_url):
    app = make_app(unreachable_url, DB_CONNECT_TIMEOUT=2, DB_RETRY_AFTER=17)
    yield app
    dispose(app)


@pytest.fixture
def migrated_app(empty_database_url):
    """An app on the suite's (empty) database, schema built by ``flask db upgrade``."""
    app = make_app(empty_database_url)
    with app.app_context():
        flask_migrate.upgrade()
    yield app
    dispose(app)


def connections_opened(app) -> list:
    """A list that grows by one each time ``app``'s engine hands out a connection."""
    opened: list = []
    with app.app_context():
        sa.event.listen(db.engine, "engine_connect", lambda connection: opened.append(1))
    return opened


def stored_revisions(app) -> list[str]:
    with app.app_context():
        revisions = db.session.scalars(sa.text("SELECT version_num FROM alembic_version")).all()
        db.session.remove()
    return revisions


def assert_unready(response, app) -> str:
    """A 503 in the error shape with ``Retry-After``; returns its message."""
    body = assert_error(response, 503)
    assert body["status"] == "Service Unavailable"
    assert "errors" not in body
    assert response.headers["Retry-After"] == str(app.config["DB_RETRY_AFTER"])
    text = response.get_data(as_text=True).lower()
    for leak in LEAKS:
        assert leak not in text, leak
    return body["message"]


def assert_ready(response, revision: str = HEAD) -> None:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    assert response.get_json() == {"status": "ready", "revision": revision}
    assert "Retry-After" not in response.headers


# --- GET /health --------------------------------------------------------------------


def test_health_is_200_when_the_database_is_unreachable(unreachable_app):
    opened = connections_opened(unreachable_app)
    client = unreachable_app.test_client()

    for _ in range(3):
        response = client.get("/health")
        assert response.status_code == 200
        assert response.content_type == "application/json"
        assert response.get_json() == {"status": "healthy"}
        assert "Retry-After" not in response.headers
    assert opened == []


def test_health_opens_no_database_connection(app, client):
    opened = connections_opened(app)

    response = client.get("/health")

    assert (response.status_code, response.get_json()) == (200, {"status": "healthy"})
    assert opened == []
    # The listener works: readiness does connect.
    client.get("/ready")
    assert opened != []


# --- GET /ready ---------------------------------------------------------------------


def test_ready_without_migrations_is_503_telling_to_run_them(app, client):
    # conftest's app: tables by db.create_all(), no alembic_version.
    with app.app_context():
        assert "alembic_version" not in sa.inspect(db.engine).get_table_names()

    response = client.get("/ready")

    message = assert_unready(response, app)
    assert message == (
        f"The database schema is at revision none, not at {HEAD}: "
        "run the migrations (flask db upgrade)."
    )
    assert response.headers["Retry-After"] == "5"  # the DB_RETRY_AFTER default


def test_ready_on_an_empty_database_is_503(empty_database_url):
    app = make_app(empty_database_url, DB_RETRY_AFTER=9)
    try:
        response = app.test_client().get("/ready")
        message = assert_unready(response, app)
        assert response.headers["Retry-After"] == "9"
        assert "revision none" in message
        assert "run the migrations" in message
    finally:
        dispose(app)


def test_ready_after_upgrade_is_200_with_the_head_revision(migrated_app):
    assert stored_revisions(migrated_app) == [HEAD]
    client = migrated_app.test_client()

    assert_ready(client.get("/ready"))
    assert_ready(client.get("/ready"))  # and again: nothing cached wrongly


def test_ready_is_503_when_the_schema_is_behind_head_and_200_once_upgraded(migrated_app):
    client = migrated_app.test_client()
    assert_ready(client.get("/ready"))

    with migrated_app.app_context():
        flask_migrate.downgrade(revision="-1")
    assert stored_revisions(migrated_app) == [BEFORE_HEAD]

    response = client.get("/ready")
    message = assert_unready(response, migrated_app)
    assert message == (
        f"The database schema is at revision {BEFORE_HEAD}, not at {HEAD}: "
        "run the migrations (flask db upgrade)."
    )

    # The same app, without a restart, is ready once the migrations have run.
    with migrated_app.app_context():
        flask_migrate.upgrade()
    assert_ready(client.get("/ready"))


def test_ready_is_503_when_the_database_is_unreachable(unreachable_app):
    client = unreachable_app.test_client()

    for _ in range(2):
        response = client.get("/ready")
        message = assert_unready(response, unreachable_app)
        assert message == "The database is unreachable."
        assert response.headers["Retry-After"] == "17"


def test_ready_never_500_with_two_rows_in_alembic_version(migrated_app):
    """A version table naming two revisions (a branched history, or a half-merged
    deployment) is a schema that is not at head: 503 like any other, not 500."""
    with migrated_app.app_context():
        db.session.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES (:rev)"),
                           {"rev": BEFORE_HEAD})
        db.session.commit()
        db.session.remove()
    assert sorted(stored_revisions(migrated_app)) == sorted([HEAD, BEFORE_HEAD])

    response = migrated_app.test_client().get("/ready")

    message = assert_unready(response, migrated_app)
    assert "run the migrations" in message


# --- OpenAPI ------------------------------------------------------------------------


def test_ready_is_documented_with_200_and_503(client):
    spec = client.get("/api/openapi.json").get_json()

    operation = spec["paths"]["/ready"]["get"]
    assert {"200", "503"} <= set(operation["responses"])
    assert operation["security"] == []  # a probe needs no token, and says so explicitly

    ok_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    ready = spec["components"]["schemas"][ok_schema["$ref"].rsplit("/", 1)[-1]]
    assert set(ready["properties"]) == {"status", "revision"}
    assert set(ready["required"]) == {"status", "revision"}

    unavailable = operation["responses"]["503"]
    if "$ref" in unavailable:
        unavailable = spec["components"]["responses"][unavailable["$ref"].rsplit("/", 1)[-1]]
    error_ref = unavailable["content"]["application/json"]["schema"]["$ref"]
    error = spec["components"]["schemas"][error_ref.rsplit("/", 1)[-1]]
    assert {"code", "status", "message"} <= set(error["required"])

    health = spec["paths"]["/health"]["get"]
    assert "200" in health["responses"]
