"""The lists migration (c8d2f4a6b1e3) on a database that has users, tasks and
tags: every user gets exactly one Inbox, every task lands in its user's Inbox
in creation order, nothing is lost, text search keeps working, the schema is
the models' and the downgrade works. On SQLite and (``TASKAPI_TEST_DATABASE_URL``)
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import flask_migrate
import pytest
import sqlalchemy as sa

from taskapi.auth.passwords import hash_password
from taskapi.extensions import db
from taskapi.models import UTCDateTime
from tests.helpers import PASSWORD, assert_error, auth_headers, dispose, make_app
from tests.test_migrations import current_revision, head_revision, schema_diff

BEFORE = "a7c3e9f1b2d4"  # the revision before the lists migration (c8d2f4a6b1e3)
TASKS = "/api/v1/tasks"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("restore_logging")

# The old schema (revision a7c3e9f1b2d4), written without the models: they have
# the new columns.
USERS = sa.table("users", sa.column("id", sa.Integer), sa.column("email", sa.String),
                 sa.column("name", sa.String), sa.column("password_hash", sa.String),
                 sa.column("created_at", UTCDateTime()), sa.column("updated_at", UTCDateTime()))
OLD_TASKS = sa.table(
    "tasks", sa.column("id", sa.Integer), sa.column("user_id", sa.Integer),
    sa.column("title", sa.String), sa.column("description", sa.String),
    sa.column("completed", sa.Boolean), sa.column("completed_at", UTCDateTime()),
    sa.column("priority", sa.String), sa.column("due_at", UTCDateTime()),
    sa.column("created_at", UTCDateTime()), sa.column("updated_at", UTCDateTime()),
    sa.column("version", sa.Integer))
TAGS = sa.table("tags", sa.column("id", sa.Integer), sa.column("user_id", sa.Integer),
                sa.column("name", sa.String), sa.column("name_key", sa.String))
TASK_TAGS = sa.table("task_tags", sa.column("task_id", sa.Integer),
                     sa.column("tag_id", sa.Integer))
OLD_COLUMNS = [column.name for column in OLD_TASKS.columns]

#: (user, title, minutes after T0): ids follow the list order, creation times
#: do not (a task imported with an older date, two created in the same instant).
OLD_TASK_SPECS = [
    (1, "ada first", 10), (2, "bob first", 5), (1, "ada imported", 1),
    (1, "ada same instant a", 20), (1, "ada same instant b", 20), (2, "bob second", 30),
    (1, "ada last", 40), (2, "bob backdated", 0), (1, "ada searchable oldtitle", 15),
]


def in_old_schema(url: str):
    """An app on the empty database ``url``, migrated up to ``BEFORE``."""
    app = make_app(url)
    with app.app_context():
        assert sa.inspect(db.engine).get_table_names() == []
        flask_migrate.upgrade(revision=BEFORE)
        assert current_revision_of() == BEFORE
        assert "lists" not in sa.inspect(db.engine).get_table_names()
    return app


def current_revision_of() -> str | None:
    with db.engine.connect() as connection:
        return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def seed_old_data() -> None:
    """Three users (Carol without tasks), their tasks and tags, in the old schema."""
    password = hash_password(PASSWORD)
    with db.engine.begin() as connection:
        connection.execute(sa.insert(USERS), [
            {"email": f"{name}@example.com", "name": name.title(),
             "password_hash": password, "created_at": T0, "updated_at": T0}
            for name in ("ada", "bob", "carol")])
        connection.execute(sa.insert(OLD_TASKS), [
            {"user_id": user_id, "title": title,
             "description": f"about {title}" if n % 2 else None,
             "completed": n % 3 == 0, "completed_at": T0 if n % 3 == 0 else None,
             "priority": ("low", "medium", "high", None)[n % 4],
             "due_at": T0 + timedelta(days=n) if n % 2 else None,
             "created_at": T0 + timedelta(minutes=minutes),
             "updated_at": T0 + timedelta(minutes=minutes), "version": 1 + n % 2}
            for n, (user_id, title, minutes) in enumerate(OLD_TASK_SPECS, start=1)])
        connection.execute(sa.insert(TAGS), [
            {"user_id": 1, "name": "Work", "name_key": "work"},
            {"user_id": 2, "name": "home", "name_key": "home"}])
        connection.execute(sa.insert(TASK_TAGS), [
            {"task_id": 1, "tag_id": 1}, {"task_id": 3, "tag_id": 1},
            {"task_id": 2, "tag_id": 2}])
        # The ids the rows above name (an empty database numbers from 1).
        assert connection.execute(sa.select(OLD_TASKS.c.id, OLD_TASKS.c.title)
                                  .order_by(OLD_TASKS.c.id)).all() == [
            (n, title) for n, (_user, title, _minutes) in enumerate(OLD_TASK_SPECS, start=1)]


def counts() -> dict[str, int]:
    with db.engine.connect() as connection:
        return {table: connection.scalar(sa.select(sa.func.count()).select_from(sa.table(table)))
                for table in ("users", "tasks", "tags", "task_tags", "issued_tokens")}


def old_task_rows() -> dict[int, dict]:
    with db.engine.connect() as connection:
        return {row.id: dict(row._mapping) for row in connection.execute(
            sa.select(*OLD_TASKS.columns).order_by(OLD_TASKS.c.id))}


@pytest.fixture
def seeded(empty_database_url):
    """An app at revision ``BEFORE`` with :func:`seed_old_data`, then upgraded to
    head: ``(app, counts before, task rows before)``."""
    app = in_old_schema(empty_database_url)
    with app.app_context():
        seed_old_data()
        before, rows = counts(), old_task_rows()
        flask_migrate.upgrade()
        db.session.remove()
    yield app, before, rows
    dispose(app)


def lists_rows() -> list[sa.Row]:
    with db.engine.connect() as connection:
        return connection.exec_driver_sql(
            "SELECT id, user_id, name, name_key, is_inbox, archived, color, position, "
            "version FROM lists ORDER BY user_id, id").all()


def placed_tasks() -> list[sa.Row]:
    with db.engine.connect() as connection:
        return connection.exec_driver_sql(
            "SELECT id, user_id, list_id, parent_id, position, subtask_count, "
            "open_subtask_count, created_at FROM tasks ORDER BY id").all()


def login(client, email: str) -> dict:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.get_data(as_text=True)
    return auth_headers(response.get_json()["access_token"])


def search(client, headers, text: str) -> list[str]:
    response = client.get(TASKS, query_string={"q": text, "sort": "id"}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [task["title"] for task in response.get_json()]


# ------------------------------------------------------------------------ tests


def test_every_user_gets_exactly_one_inbox(seeded):
    app, _before, _rows = seeded
    with app.app_context():
        assert current_revision(app) == head_revision()
        rows = lists_rows()

    assert [row.user_id for row in rows] == [1, 2, 3]
    for row in rows:
        assert (row.name, row.name_key, row.is_inbox, row.archived, row.color) == (
            "Inbox", "inbox", True, False, None)
        assert row.position and row.version == 1


def test_every_task_lands_in_its_users_inbox_in_creation_order(seeded):
    app, _before, _rows = seeded
    with app.app_context():
        inbox = {row.user_id: row.id for row in lists_rows()}
        tasks = placed_tasks()

    assert len(tasks) == len(OLD_TASK_SPECS)
    for task in tasks:
        assert task.list_id == inbox[task.user_id]
        assert task.parent_id is None
        assert (task.subtask_count, task.open_subtask_count) == (0, 0)
    for user_id in (1, 2):
        mine = [task for task in tasks if task.user_id == user_id]
        positions = [task.position for task in mine]
        assert len(set(positions)) == len(positions)
        by_position = [task.id for task in sorted(mine, key=lambda task: task.position)]
        by_creation = [n for n, (owner, _title, minutes) in sorted(
            enumerate(OLD_TASK_SPECS, start=1), key=lambda item: (item[1][2], item[0]))
            if owner == user_id]
        assert by_position == by_creation


def test_list_counts_are_filled_in_and_kept_from_then_on(seeded):
    app, _before, _rows = seeded
    with app.app_context(), db.engine.connect() as connection:
        counted = connection.exec_driver_sql(
            "SELECT lists.id, lists.task_count, lists.open_count, "
            "(SELECT count(*) FROM tasks WHERE list_id = lists.id), "
            "(SELECT count(*) FROM tasks WHERE list_id = lists.id AND NOT completed) "
            "FROM lists ORDER BY lists.id").all()
    assert [row[1:3] for row in counted] == [row[3:] for row in counted]
    assert sum(row[1] for row in counted) == len(OLD_TASK_SPECS)
    client = app.test_client()
    headers = login(client, "ada@example.com")
    inbox = client.get("/api/v1/lists", headers=headers).get_json()[0]
    made = create_task_as(client, headers, "counted by the trigger")
    assert client.patch(f"{TASKS}/{made['id']}/complete", headers=headers).status_code == 200
    after = client.get("/api/v1/lists", headers=headers).get_json()[0]
    assert (after["task_count"], after["open_count"]) == (
        inbox["task_count"] + 1, inbox["open_count"])


def test_nothing_is_lost(seeded):
    app, before, rows = seeded
    with app.app_context():
        assert counts() == before
        assert old_task_rows() == rows
        assert before["tasks"] == len(OLD_TASK_SPECS) and before["task_tags"] == 3


def test_the_api_shows_the_migrated_tasks_in_the_inbox_order(seeded):
    app, _before, _rows = seeded
    client = app.test_client()
    headers = login(client, "ada@example.com")

    lists = client.get("/api/v1/lists", headers=headers).get_json()
    assert [(item["name"], item["is_inbox"], item["task_count"]) for item in lists] == [
        ("Inbox", True, 6)]
    response = client.get(TASKS, query_string={"list_id": lists[0]["id"]}, headers=headers)
    assert [task["title"] for task in response.get_json()] == [
        "ada imported", "ada first", "ada searchable oldtitle", "ada same instant a",
        "ada same instant b", "ada last"]
    task = response.get_json()[0]
    assert task["tags"] == ["Work"] and task["parent_id"] is None
    # A new task goes last in the Inbox; a new list after it.
    made = create_task_as(client, headers, "ada after the migration")
    assert made["list_id"] == lists[0]["id"] and made["position"] > task["position"]
    created = client.post("/api/v1/lists", json={"name": "Work"}, headers=headers)
    assert created.status_code == 201 and created.get_json()["position"] > lists[0]["position"]
    assert_error(client.post("/api/v1/lists", json={"name": "INBOX"}, headers=headers), 422,
                 field="name")


def create_task_as(client, headers, title: str, **fields) -> dict:
    response = client.post(TASKS, json={"title": title, **fields}, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_text_search_keeps_working_after_the_migration(seeded):
    app, _before, _rows = seeded
    client = app.test_client()
    headers = login(client, "ada@example.com")

    assert search(client, headers, "imported") == ["ada imported"]
    created = create_task_as(client, headers, "brand new zebra")
    assert search(client, headers, "zebra") == ["brand new zebra"]
    response = client.patch(f"{TASKS}/9", json={"title": "ada renamed giraffe",
                                                        "description": None},
                            headers=headers)
    assert response.status_code == 200
    assert search(client, headers, "giraffe") == ["ada renamed giraffe"]
    assert search(client, headers, "oldtitle") == []
    response = client.patch(f"{TASKS}/{created['id']}",
                            json={"description": "stripes and a mane"}, headers=headers)
    assert search(client, headers, "mane") == ["brand new zebra"]
    assert client.delete(f"{TASKS}/1", headers=headers).status_code == 204
    assert search(client, headers, "ada first") == []
    assert search(client, headers, "same instant") == ["ada same instant a",
                                                       "ada same instant b"]
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            with db.engine.connect() as connection:
                triggers = set(connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars())
                indexed = connection.exec_driver_sql(
                    "SELECT count(*) FROM tasks_fts WHERE tasks_fts MATCH '\"giraffe\"'"
                ).scalar()
            assert triggers == {"tasks_fts_insert", "tasks_fts_delete", "tasks_fts_update",
                                "tasks_list_count_insert", "tasks_list_count_delete",
                                "tasks_list_count_update",
                                # The change feed's (issue 18), built by a later migration.
                                *(f"{table}_sync_{what}" for table in ("tasks", "lists", "tags")
                                  for what in ("insert", "update", "delete")),
                                "task_tags_sync_insert", "task_tags_sync_delete"}
            assert indexed == 1


def test_no_pending_autogenerate_diff(seeded):
    app, _before, _rows = seeded

    assert schema_diff(app) == []


def test_registration_after_the_migration_creates_an_inbox(seeded):
    app, _before, _rows = seeded
    client = app.test_client()
    response = client.post("/api/v1/auth/register", json={
        "email": "dan@example.com", "password": PASSWORD, "name": "Dan"})
    assert response.status_code == 201
    headers = login(client, "dan@example.com")

    lists = client.get("/api/v1/lists", headers=headers).get_json()
    assert [(item["name"], item["is_inbox"]) for item in lists] == [("Inbox", True)]
    with app.app_context():
        assert [row.user_id for row in lists_rows()].count(response.get_json()["id"]) == 1


def test_downgrade_to_the_previous_revision_and_up_again(seeded):
    app, before, rows = seeded
    client = app.test_client()
    headers = login(client, "ada@example.com")
    work = client.post("/api/v1/lists", json={"name": "Work"}, headers=headers).get_json()
    parent = create_task_as(client, headers, "in work")
    moved = client.post(f"{TASKS}/{parent['id']}/move", json={"list_id": work["id"]},
                        headers=headers)
    assert moved.status_code == 200
    create_task_as(client, headers, "a subtask", parent_id=parent["id"])

    with app.app_context():
        db.session.remove()
        flask_migrate.downgrade(revision=BEFORE)
        assert current_revision(app) == BEFORE
        inspector = sa.inspect(db.engine)
        assert "lists" not in inspector.get_table_names()
        columns = {column["name"] for column in inspector.get_columns("tasks")}
        assert columns == set(OLD_COLUMNS)
        after = counts()
        assert after.pop("issued_tokens") > before["issued_tokens"]  # the login
        assert after == {**{k: v for k, v in before.items() if k != "issued_tokens"},
                         "tasks": before["tasks"] + 2}
        assert {i: row for i, row in old_task_rows().items() if i in rows} == rows
        if db.engine.dialect.name == "sqlite":  # the text index still follows writes
            with db.engine.begin() as connection:
                connection.execute(sa.insert(OLD_TASKS).values(
                    user_id=1, title="after the downgrade okapi", created_at=T0,
                    updated_at=T0))
                found = connection.exec_driver_sql(
                    "SELECT count(*) FROM tasks_fts WHERE tasks_fts MATCH '\"okapi\"'"
                ).scalar()
            assert found == 1

        flask_migrate.upgrade()
        assert current_revision(app) == head_revision()
        rows_after = lists_rows()
        assert [row.user_id for row in rows_after] == [1, 2, 3]
        assert all(row.is_inbox for row in rows_after)
        inbox = {row.user_id: row.id for row in rows_after}
        assert all(task.list_id == inbox[task.user_id] and task.parent_id is None
                   for task in placed_tasks())
        db.session.remove()
    assert schema_diff(app) == []

