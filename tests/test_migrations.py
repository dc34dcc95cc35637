"""Alembic migrations build exactly the models' schema, on SQLite and (with
``TASKAPI_TEST_DATABASE_URL``) PostgreSQL; SQLite connection settings."""

from __future__ import annotations

from datetime import timedelta

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError

from taskapi import MIGRATIONS_DIR, create_app
from taskapi.extensions import db
from taskapi.models import Task, User, UTCDateTime, is_search_table, utcnow
from tests.helpers import TEST_SECRETS, dispose, make_app

BUSY_TIMEOUT_MS = 1234
MODEL_TABLES = {"users", "tasks", "issued_tokens", "tags", "task_tags", "lists",
                "sync_tombstones", "idempotency_keys", "task_completions",
                "personal_access_tokens"}
#: SQLite: the FTS5 search table and its shadow tables (taskapi.models.TASK_SEARCH_DDL).
SEARCH_TABLES = {"tasks_fts", "tasks_fts_data", "tasks_fts_idx", "tasks_fts_docsize",
                 "tasks_fts_config"}


pytestmark = pytest.mark.usefixtures("restore_logging")


def migrated(url: str):
    """An app on the empty database ``url``, schema built by ``upgrade`` only."""
    app = make_app(url, SQLITE_BUSY_TIMEOUT_MS=BUSY_TIMEOUT_MS)
    with app.app_context():
        assert sa.inspect(db.engine).get_table_names() == []
        flask_migrate.upgrade()
    return app


@pytest.fixture
def migrated_app(empty_database_url):
    """Migrated from empty on the test database (SQLite, or PostgreSQL when set)."""
    app = migrated(empty_database_url)
    yield app
    dispose(app)


@pytest.fixture
def migrated_sqlite_app(tmp_path):
    """Migrated from empty on a SQLite file, whatever the test database."""
    app = migrated(f"sqlite:///{tmp_path / 'migrated.sqlite3'}")
    yield app
    dispose(app)


@pytest.fixture
def sqlite_app(tmp_path):
    """An app on a new SQLite file (tables by ``create_all``)."""
    app = make_app(f"sqlite:///{tmp_path / 'plain.sqlite3'}")
    with app.app_context():
        db.create_all()
    yield app
    dispose(app)


def include_name(name, type_, _parents) -> bool:
    return not (type_ == "table" and is_search_table(name))


def schema_diff(app) -> list:
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True,
                              "include_name": include_name}
        )
        return compare_metadata(context, db.metadata)


def table_names(app) -> set[str]:
    with app.app_context():
        return set(sa.inspect(db.engine).get_table_names())


def pragmas(connection) -> dict:
    """The connection's settings; ends its transaction (outside a request every
    transaction is ``BEGIN IMMEDIATE``, which would block the next connection)."""
    values = {
        name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
        for name in ("foreign_keys", "busy_timeout", "journal_mode")
    }
    connection.rollback()
    return values


def distinct_connections(count: int) -> list:
    """``count`` connections checked out at once, so each is a different DBAPI connection."""
    connections = [db.engine.connect() for _ in range(count)]
    assert len({id(c.connection.driver_connection) for c in connections}) == count
    return connections


def head_revision() -> str:
    with create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", **TEST_SECRETS}).app_context():
        config = flask_migrate.Migrate().get_config(str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(app) -> str | None:
    with app.app_context(), db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_upgrade_builds_exactly_the_models(migrated_app):
    search = SEARCH_TABLES if migrated_app.config["SQLALCHEMY_DATABASE_URI"].startswith(
        "sqlite") else set()
    assert table_names(migrated_app) == MODEL_TABLES | search | {"alembic_version"}
    assert schema_diff(migrated_app) == []
    assert current_revision(migrated_app) == head_revision()


def test_migrated_schema_has_named_constraints_and_indexes(migrated_app):
    with migrated_app.app_context():
        inspector = sa.inspect(db.engine)
        assert {fk["name"] for fk in inspector.get_foreign_keys("tasks")} == {
            "fk_tasks_user_id_users", "fk_tasks_list_id_lists", "fk_tasks_parent_id_tasks"
        }
        assert {uq["name"] for uq in inspector.get_unique_constraints("users")} == {
            "uq_users_email"
        }
        assert "ix_tasks_user_id_id" in {ix["name"] for ix in inspector.get_indexes("tasks")}
        assert {ck["name"] for ck in inspector.get_check_constraints("tasks")} == {
            "ck_tasks_priority_valid"
        }


def test_downgrade_to_base_then_upgrade_again(migrated_app):
    with migrated_app.app_context():
        flask_migrate.downgrade(revision="base")
    assert table_names(migrated_app) <= {"alembic_version"}
    assert current_revision(migrated_app) is None

    with migrated_app.app_context():
        flask_migrate.upgrade()

    search = SEARCH_TABLES if migrated_app.config["SQLALCHEMY_DATABASE_URI"].startswith(
        "sqlite") else set()
    assert table_names(migrated_app) == MODEL_TABLES | search | {"alembic_version"}
    assert schema_diff(migrated_app) == []
    assert current_revision(migrated_app) == head_revision()


def test_app_connections_keep_sqlite_settings_after_migrating(migrated_sqlite_app):
    # The migration switched foreign keys off on a pooled connection; every
    # connection the app gets afterwards must have them on again.
    with migrated_sqlite_app.app_context():
        connections = distinct_connections(3)
        try:
            for connection in connections:
                assert pragmas(connection) == {
                    "foreign_keys": 1, "busy_timeout": BUSY_TIMEOUT_MS, "journal_mode": "wal",
                }
        finally:
            for connection in connections:
                connection.close()


def test_foreign_keys_enforced_and_cascade_after_migrating(migrated_app):
    with migrated_app.app_context():
        db.session.add(
            Task(user_id=999, title="orphan", created_at=utcnow(), updated_at=utcnow())
        )
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()

        user = User(email="fk@example.com", name="FK", password_hash="x")
        db.session.add(user)
        db.session.flush()
        db.session.add(Task(user_id=user.id, title="child"))
        db.session.commit()
        db.session.execute(sa.delete(User).where(User.id == user.id))
        db.session.commit()
        remaining = db.session.scalar(sa.select(sa.func.count()).select_from(Task))
        db.session.remove()
    assert remaining == 0


def test_migrations_on_a_database_with_data_keep_it(migrated_app):
    with migrated_app.app_context():
        db.session.add(User(email="keep@example.com", name="Keep", password_hash="x"))
        db.session.commit()
        db.session.remove()
        flask_migrate.upgrade()  # already at head: a no-op that must not lose rows
        emails = db.session.scalars(sa.select(User.email)).all()
        db.session.remove()
    assert emails == ["keep@example.com"]


# --- SQLite per-connection settings, without migrations --------------------------------


def test_every_new_sqlite_connection_is_configured(sqlite_app):
    app = sqlite_app
    with app.app_context():
        db.engine.dispose()
        connections = distinct_connections(2)
        try:
            for connection in connections:
                settings = pragmas(connection)
                assert settings["foreign_keys"] == 1
                assert settings["busy_timeout"] == app.config["SQLITE_BUSY_TIMEOUT_MS"] > 0
                assert settings["journal_mode"] == "wal"
        finally:
            for connection in connections:
                connection.close()


def test_busy_timeout_follows_the_setting(app_config, tmp_path):
    app = create_app({**app_config, "SQLITE_BUSY_TIMEOUT_MS": 4321,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'busy.sqlite3'}"})
    try:
        with app.app_context(), db.engine.connect() as connection:
            assert pragmas(connection)["busy_timeout"] == 4321
    finally:
        with app.app_context():
            db.engine.dispose()


def test_due_order_expression_index_is_built(migrated_app):
    # Alembic cannot reflect expression indexes, so the autogenerate comparison
    # above does not see this one: check the database's own catalogue.
    query = {
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks'",
        "postgresql": "SELECT indexname FROM pg_indexes WHERE tablename = 'tasks'",
    }
    with migrated_app.app_context():
        names = db.session.scalars(sa.text(query[db.engine.dialect.name])).all()
        db.session.remove()
    assert "ix_tasks_user_id_due_order" in names


def test_token_sessions_migration_gives_each_earlier_token_a_session_of_its_own(migrated_app):
    # Rows issued before sessions existed: the upgrade makes each its own session
    # (session_id = jti), so logging out with one still revokes just that token.
    tokens = sa.table("issued_tokens", sa.column("jti"), sa.column("token_type"),
                      sa.column("user_id"), sa.column("issued_at", UTCDateTime()),
                      sa.column("expires_at", UTCDateTime()))
    now = utcnow()
    with migrated_app.app_context():
        flask_migrate.downgrade(revision="7c1f0e5a9b21")
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("issued_tokens")}
        assert "session_id" not in columns
        with db.engine.begin() as connection:
            # The columns of that revision (the model's have grown since).
            users = sa.table("users", sa.column("id"), sa.column("email"), sa.column("name"),
                             sa.column("password_hash"), sa.column("created_at", UTCDateTime()),
                             sa.column("updated_at", UTCDateTime()))
            user_id = connection.execute(
                sa.insert(users).values(email="old@example.com", name="Old",
                                        password_hash="x", created_at=now, updated_at=now)
                .returning(users.c.id)
            ).scalar_one()
            connection.execute(sa.insert(tokens), [
                {"jti": f"00000000-0000-4000-8000-00000000000{n}", "token_type": kind,
                 "user_id": user_id, "issued_at": now, "expires_at": now + timedelta(days=1)}
                for n, kind in enumerate(("access", "refresh"))
            ])

        flask_migrate.upgrade()

        inspector = sa.inspect(db.engine)
        column = next(c for c in inspector.get_columns("issued_tokens")
                      if c["name"] == "session_id")
        indexes = {ix["name"]: ix for ix in inspector.get_indexes("issued_tokens")}
        rows = db.session.execute(sa.text(
            "SELECT jti, session_id FROM issued_tokens ORDER BY id")).all()
        db.session.remove()
    assert column["nullable"] is False
    assert indexes["ix_issued_tokens_session_id"]["column_names"] == ["session_id"]
    assert not indexes["ix_issued_tokens_session_id"]["unique"]
    assert [session_id for _, session_id in rows] == [jti for jti, _ in rows]
    assert len(rows) == 2
    assert current_revision(migrated_app) == head_revision()
