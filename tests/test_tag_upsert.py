"""Tag creation is an upsert (taskapi.tags.service.resolve_tags): concurrent
task creates naming the same new tag all succeed and share one tag row.

On PostgreSQL, before the upsert, 25 of 80 concurrent creates sharing a new tag
got a 409 (unique constraint ``uq_tags_user_id_name_key``): each had looked the
tag up, found nothing, and inserted it. Here 40 concurrent creates run through
the in-process app, each request in a thread of its own with its own database
connection; and the race itself is forced: the tag row appears between the
lookup and the insert.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.models import Tag, Task, task_tags
from tests.helpers import concurrently, create_task, is_postgresql

TASKS = "/api/v1/tasks"
RACERS = 40


@pytest.fixture
def app_config(app_config):
    # PostgreSQL: a connection for every racer, so that all of them really run
    # at once instead of queueing for the pool.
    return {**app_config, "DB_POOL_SIZE": RACERS, "DB_MAX_OVERFLOW": 0,
            "DB_POOL_TIMEOUT": 30}


def tags_of(app, user_id: int) -> list[tuple[int, str]]:
    with app.app_context():
        return [tuple(row) for row in db.session.execute(
            sa.select(Tag.id, Tag.name).where(Tag.user_id == user_id).order_by(Tag.id))]


def links(app, tag_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(task_tags).where(task_tags.c.tag_id == tag_id))


def test_concurrent_creates_sharing_a_new_tag_all_succeed(app, user, other_user):
    def post(account, n, tag):
        return lambda client: client.post(TASKS, json={"title": f"racer {n}", "tags": [tag]},
                                          headers=account.headers)

    # Mostly one user (the reported case); the other user's same-named tag is theirs.
    calls = [post(user, n, "fresh" if n % 2 else "Fresh") for n in range(RACERS - 4)]
    calls += [post(other_user, n, "FRESH") for n in range(4)]

    responses = concurrently(app, calls)

    assert [r.status_code for r in responses] == [201] * RACERS, \
        [r.get_json() for r in responses if r.status_code != 201]
    mine = tags_of(app, user.id)
    assert len(mine) == 1
    tag_id, name = mine[0]
    assert name in ("fresh", "Fresh")
    assert {r.get_json()["tags"][0] for r in responses[:RACERS - 4]} == {name}
    assert links(app, tag_id) == RACERS - 4
    theirs = tags_of(app, other_user.id)
    assert [tag[1] for tag in theirs] == ["FRESH"]
    assert links(app, theirs[0][0]) == 4
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == RACERS


def test_a_tag_created_between_lookup_and_insert_is_used(app, client, user):
    """The race, forced: when the INSERT of the new tag is about to run, another
    writer has just created it (committed from another connection on
    PostgreSQL; on SQLite, whose writers are serialised, on the same one)."""
    create_task(client, user, title="first", tags=["old"])
    fired = []

    def other_writer(conn, cursor, statement, parameters, context, executemany):
        if fired or not statement.lstrip().upper().startswith("INSERT INTO TAGS"):
            return
        fired.append(statement)
        row = {"user_id": user.id, "name": "RACED", "name_key": "raced"}
        if is_postgresql(str(conn.engine.url)):
            with conn.engine.connect() as other:
                other.execute(sa.insert(Tag.__table__).values(**row))
                other.commit()
        else:
            conn.connection.driver_connection.execute(
                "INSERT INTO tags (user_id, name, name_key) VALUES (?, ?, ?)",
                (row["user_id"], row["name"], row["name_key"]))

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", other_writer)
    try:
        response = client.post(TASKS, json={"title": "second", "tags": ["raced", "old"]},
                               headers=user.headers)
    finally:
        with app.app_context():
            sa.event.remove(db.engine, "before_cursor_execute", other_writer)

    assert fired
    assert response.status_code == 201, response.get_json()
    # The other writer's row (and its case) is the tag; no second row.
    assert response.get_json()["tags"] == ["old", "RACED"]
    assert [name for _, name in tags_of(app, user.id)] == ["old", "RACED"]
    raced = dict((name, tag_id) for tag_id, name in tags_of(app, user.id))["RACED"]
    assert links(app, raced) == 1


def test_tasks_taking_a_tag_while_its_last_task_goes(app, client, user):
    """The last task of a tag is deleted (so the tag is removed as unused) while
    others name it: each create gets the tag, whether the old row survived or a
    new one was made, and no link is lost."""
    last = create_task(client, user, title="last", tags=["x"])
    calls = [lambda c: c.delete(f"{TASKS}/{last['id']}", headers=user.headers)]
    calls += [lambda c, n=n: c.post(TASKS, json={"title": f"taker {n}", "tags": ["x"]},
                                    headers=user.headers) for n in range(RACERS - 1)]

    responses = concurrently(app, calls)

    assert responses[0].status_code == 204
    assert [r.status_code for r in responses[1:]] == [201] * (RACERS - 1), \
        [r.get_json() for r in responses[1:] if r.status_code != 201]
    assert all(r.get_json()["tags"] == ["x"] for r in responses[1:])
    tags = tags_of(app, user.id)
    assert len(tags) == 1
    assert links(app, tags[0][0]) == RACERS - 1
