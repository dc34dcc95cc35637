"""Per-user quotas: ``MAX_TASKS_PER_USER`` (a create beyond it is a 409, on v1 and
the original contract) and ``MAX_TAGS_PER_USER`` (a write that would create more
tags is a 422 naming ``tags``). Each test checks the status, the error body and
the rows; the quotas hold under concurrent creates, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from taskapi.config import ConfigurationError, Defaults
from taskapi.extensions import db
from taskapi.models import Tag, Task, User
from tests.helpers import (
    assert_error,
    concurrently,
    create_task,
    dispose,
    make_app,
    task_count,
    task_row,
)

TASKS = "/api/v1/tasks"
TASK_QUOTA, TAG_QUOTA = 3, 5


@pytest.fixture
def app_config(app_config):
    return {**app_config, "MAX_TASKS_PER_USER": TASK_QUOTA, "MAX_TAGS_PER_USER": TAG_QUOTA}


def compat_tasks(account) -> str:
    return f"/api/{account.id}/tasks"


def user_tasks(app, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(Task).where(Task.user_id == user_id))


def tag_names(app, user_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(
            sa.select(Tag.name).where(Tag.user_id == user_id).order_by(Tag.name_key)))


def data_version(app, user_id: int) -> int:
    with app.app_context():
        return db.session.get(User, user_id).data_version


# ------------------------------------------------------------------ defaults


def test_defaults():
    assert Defaults.MAX_TASKS_PER_USER == 100_000
    assert Defaults.MAX_TAGS_PER_USER == 1_000


@pytest.mark.parametrize("name", ["MAX_TASKS_PER_USER", "MAX_TAGS_PER_USER"])
@pytest.mark.parametrize("value", [0, -1, "many", True, 2.5])
def test_quota_settings_must_be_positive_integers(database_url, name, value):
    with pytest.raises(ConfigurationError, match=name):
        make_app(database_url, **{name: value})


def test_quota_settings_from_the_environment(database_url, monkeypatch):
    monkeypatch.setenv("TASKAPI_MAX_TASKS_PER_USER", "7")
    monkeypatch.setenv("TASKAPI_MAX_TAGS_PER_USER", "9")
    app = make_app(database_url)
    try:
        assert app.config["MAX_TASKS_PER_USER"] == 7
        assert app.config["MAX_TAGS_PER_USER"] == 9
    finally:
        dispose(app)


# --------------------------------------------------------------- task quota


def test_create_beyond_the_task_quota_is_409_on_v1(app, client, user, other_user):
    for n in range(TASK_QUOTA):
        create_task(client, user, title=f"t{n}")
    version = data_version(app, user.id)

    response = client.post(TASKS, json={"title": "one too many", "tags": ["x"]},
                           headers=user.headers)

    body = assert_error(response, 409)
    assert "3 tasks" in body["message"]
    assert user_tasks(app, user.id) == TASK_QUOTA
    assert tag_names(app, user.id) == []
    assert data_version(app, user.id) == version  # nothing was written
    # Per user: another account is not affected.
    create_task(client, other_user, title="theirs")
    # Updates still work at the limit; a delete makes room again.
    first = client.get(TASKS, headers=user.headers).get_json()[-1]
    assert client.patch(f"{TASKS}/{first['id']}", json={"title": "renamed"},
                        headers=user.headers).status_code == 200
    assert client.delete(f"{TASKS}/{first['id']}", headers=user.headers).status_code == 204
    create_task(client, user, title="fits again")
    assert user_tasks(app, user.id) == TASK_QUOTA


def test_create_beyond_the_task_quota_is_409_on_the_original_contract(app, client, user):
    create_task(client, user, title="v1 one")
    create_task(client, user, title="v1 two")
    answer = client.post(compat_tasks(user), json={"title": "compat"}, headers=user.headers)
    assert answer.status_code == 201

    response = client.post(compat_tasks(user), json={"title": "too many"}, headers=user.headers)

    body = assert_error(response, 409)  # with the contract's "detail"
    assert body["detail"] == body["message"]
    assert_error(client.post(TASKS, json={"title": "v1 too"}, headers=user.headers), 409)
    assert user_tasks(app, user.id) == TASK_QUOTA
    assert task_count(app) == TASK_QUOTA


def test_the_quota_counts_are_bounded_by_limit(app, client, user):
    """The checks never count all of a user's rows: ``LIMIT quota``."""
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()))

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        create_task(client, user, title="t", tags=["new"])
    finally:
        with app.app_context():
            sa.event.remove(db.engine, "before_cursor_execute", record)
    counts = [s for s in statements if s.lower().startswith("select count(*)")]
    assert any("FROM tasks" in s for s in counts), statements
    assert any("FROM tags" in s for s in counts), statements
    assert all("LIMIT" in s for s in counts), counts


# ---------------------------------------------------------------- tag quota


def test_new_tags_beyond_the_quota_are_422(app, client, user, other_user):
    create_task(client, user, title="five", tags=["a", "b", "c", "d", "e"])
    version = data_version(app, user.id)

    response = client.post(TASKS, json={"title": "sixth tag", "tags": ["a", "f"]},
                           headers=user.headers)

    body = assert_error(response, 422, field="tags")
    assert "5 tags" in body["errors"]["json"]["tags"][0]
    assert user_tasks(app, user.id) == 1
    assert tag_names(app, user.id) == ["a", "b", "c", "d", "e"]
    assert data_version(app, user.id) == version
    # Existing tags, in any case, can still be used; other users have their own quota.
    reused = create_task(client, user, title="reuse", tags=["A", "e"])
    assert reused["tags"] == ["a", "e"]
    create_task(client, other_user, title="theirs", tags=["f", "g", "h"])


def test_one_write_with_more_new_tags_than_the_quota_is_422(app, client, user):
    create_task(client, user, title="two", tags=["a", "b"])

    response = client.post(TASKS, json={"title": "four more", "tags": ["c", "d", "e", "f"]},
                           headers=user.headers)

    body = assert_error(response, 422, field="tags")
    assert "4 new tags" in body["errors"]["json"]["tags"][0]
    assert tag_names(app, user.id) == ["a", "b"]
    assert user_tasks(app, user.id) == 1
    create_task(client, user, title="three more", tags=["c", "d", "e"])
    assert len(tag_names(app, user.id)) == TAG_QUOTA


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_with_new_tags_beyond_the_quota_is_422_and_changes_nothing(
        app, client, user, method):
    create_task(client, user, title="full", tags=["a", "b", "c", "d"])
    task = create_task(client, user, title="Keep", tags=["e"])
    before = task_row(app, task["id"])

    response = getattr(client, method)(f"{TASKS}/{task['id']}",
                                       json={"title": "Changed", "tags": ["e", "f"]},
                                       headers=user.headers)

    assert_error(response, 422, field="tags")
    assert task_row(app, task["id"]) == before
    assert tag_names(app, user.id) == ["a", "b", "c", "d", "e"]
    # Swapping its only tag for a new one is a net zero: the old one goes.
    response = getattr(client, method)(f"{TASKS}/{task['id']}",
                                       json={"title": "Swapped", "tags": ["f"]},
                                       headers=user.headers)
    assert response.status_code == 422  # the new tag is counted before "e" is freed
    assert client.patch(f"{TASKS}/{task['id']}", json={"tags": []},
                        headers=user.headers).status_code == 200
    assert client.patch(f"{TASKS}/{task['id']}", json={"tags": ["f"]},
                        headers=user.headers).status_code == 200
    assert tag_names(app, user.id) == ["a", "b", "c", "d", "f"]


# ------------------------------------------------------------- concurrency


def test_concurrent_creates_never_exceed_the_task_quota(app, client, user):
    def post(n):
        return lambda c: c.post(TASKS, json={"title": f"racer {n}"}, headers=user.headers)

    responses = concurrently(app, [post(n) for n in range(12)])

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * TASK_QUOTA + [409] * (12 - TASK_QUOTA), \
        [response.get_json() for response in responses]
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409)
    assert user_tasks(app, user.id) == TASK_QUOTA


def test_concurrent_creates_never_exceed_the_tag_quota(app, client, user):
    app.config["MAX_TASKS_PER_USER"] = 100

    def post(n):
        return lambda c: c.post(TASKS, json={"title": f"racer {n}", "tags": [f"t{n}"]},
                                headers=user.headers)

    responses = concurrently(app, [post(n) for n in range(12)])

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * TAG_QUOTA + [422] * (12 - TAG_QUOTA), \
        [response.get_json() for response in responses]
    created = [r.get_json()["tags"][0] for r in responses if r.status_code == 201]
    assert sorted(tag_names(app, user.id)) == sorted(created)
    assert user_tasks(app, user.id) == TAG_QUOTA
