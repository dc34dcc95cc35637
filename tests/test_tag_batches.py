"""``DELETE /api/v1/tags/{name}`` in batches (taskapi.tags.service.delete_tag_or_404).

With a batch size of 10 (``BATCH_SIZE`` patched), a tag on 25 tasks goes in 3
transactions; between them another request of the same user gets its write in
(on SQLite the database lock, on PostgreSQL the user's row lock are free), and
a task given the tag meanwhile loses it too. Each task that carried the tag has
a new version and ``updated_at``; the user's ``data_version`` moved with every
batch. A request that dies after a batch leaves that batch done and the tag in
place; deleting it again finishes.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

import taskapi.tags.service as tag_service
from taskapi.extensions import db
from taskapi.models import Tag, Task, User, task_tags
from tests.helpers import assert_error, create_task, task_row

TASKS, TAGS = "/api/v1/tasks", "/api/v1/tags"
BATCH = 10


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    monkeypatch.setattr(tag_service, "BATCH_SIZE", BATCH)


def carriers(app, user_id: int, key: str) -> list[int]:
    """Ids of the user's tasks that carry the tag ``key``, ascending."""
    with app.app_context():
        return list(db.session.scalars(
            sa.select(task_tags.c.task_id).join(Tag, Tag.id == task_tags.c.tag_id)
            .where(Tag.user_id == user_id, Tag.name_key == key).order_by(task_tags.c.task_id)))


def tag_exists(app, user_id: int, key: str) -> bool:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Tag).where(
            Tag.user_id == user_id, Tag.name_key == key)) == 1


def data_version(app, user_id: int) -> int:
    with app.app_context():
        return db.session.get(User, user_id).data_version


def versions(app, task_ids) -> dict[int, int]:
    with app.app_context():
        return dict(db.session.execute(
            sa.select(Task.id, Task.version).where(Task.id.in_(list(task_ids)))).all())


def count_commits(app) -> list[int]:
    """A list that grows by one with every COMMIT on the app's engine."""
    commits: list[int] = []
    with app.app_context():
        sa.event.listen(db.engine, "commit", lambda _conn: commits.append(1))
    return commits


def make_tasks(client, user, count: int, tags) -> list[dict]:
    return [create_task(client, user, title=f"t{n}", tags=tags) for n in range(count)]


def test_a_big_tag_goes_in_batches_and_other_writes_get_in_between(
        app, client, user, other_user, monkeypatch):
    tagged = make_tasks(client, user, 25, ["Big", "other"])
    untagged = create_task(client, user, title="untouched", tags=["other"])
    theirs = create_task(client, other_user, title="theirs", tags=["big"])
    before = {task["id"]: task_row(app, task["id"]) for task in [*tagged, untagged, theirs]}
    version = data_version(app, user.id)
    seen, meanwhile = [], []

    def another_client():
        # Outside the deleting request (a thread of its own): what is committed
        # so far, and, after the first batch, a write of the same user.
        seen.append(len(carriers(app, user.id, "big")))
        if not meanwhile:
            meanwhile.append(app.test_client().post(
                TASKS, json={"title": "meanwhile", "tags": ["BIG"]}, headers=user.headers))

    def end_batch_with_a_writer():
        real_end_batch()
        worker = threading.Thread(target=another_client)
        worker.start()
        worker.join(timeout=20)  # the deletion waits here; the write must not wait for it
        assert not worker.is_alive()

    real_end_batch = tag_service.end_batch
    monkeypatch.setattr(tag_service, "end_batch", end_batch_with_a_writer)
    commits = count_commits(app)

    response = client.delete(f"{TAGS}/big", headers=user.headers)

    assert response.status_code == 204, response.get_json()
    assert meanwhile[0].status_code == 201, meanwhile[0].get_json()
    added = meanwhile[0].get_json()
    assert added["tags"] == ["Big"]  # the tag still existed: the deletion was halfway
    # 25 + 1 tasks: batches of 10, 10 and 6 (the last one deletes the tag).
    assert seen == [15, 6]
    assert len(commits) == 3 + 1  # the three batches and the request that got in
    assert carriers(app, user.id, "big") == []
    assert not tag_exists(app, user.id, "big")
    assert tag_exists(app, user.id, "other")
    for task in tagged:
        row = task_row(app, task["id"])
        assert row["version"] == 2
        assert row["updated_at"] > before[task["id"]]["updated_at"]
        assert client.get(f"{TASKS}/{task['id']}", headers=user.headers).get_json()["tags"] \
            == ["other"]
    assert task_row(app, added["id"])["version"] == 2  # created at 1, then lost the tag
    assert client.get(f"{TASKS}/{added['id']}", headers=user.headers).get_json()["tags"] == []
    assert task_row(app, untagged["id"]) == before[untagged["id"]]
    assert task_row(app, theirs["id"]) == before[theirs["id"]]
    assert carriers(app, other_user.id, "big") == [theirs["id"]]
    # One data_version step per batch, one for the create that got in.
    assert data_version(app, user.id) == version + 3 + 1
    assert client.get(TAGS, headers=user.headers).get_json() == [
        {"name": "other", "task_count": 26}]


@pytest.mark.parametrize(("count", "batches"), [(1, 1), (9, 1), (10, 2), (20, 3), (21, 3)])
def test_batch_boundaries(app, client, user, count, batches):
    tasks = make_tasks(client, user, count, ["edge"])
    commits = count_commits(app)

    assert client.delete(f"{TAGS}/edge", headers=user.headers).status_code == 204

    assert len(commits) == batches
    assert carriers(app, user.id, "edge") == []
    assert not tag_exists(app, user.id, "edge")
    assert set(versions(app, [task["id"] for task in tasks]).values()) == {2}


def test_a_deletion_that_dies_halfway_is_finished_by_a_retry(app, client, user, monkeypatch):
    tasks = make_tasks(client, user, 25, ["half"])
    real_end_batch = tag_service.end_batch

    def end_batch_then_die():
        real_end_batch()
        raise RuntimeError("the worker died")

    monkeypatch.setattr(tag_service, "end_batch", end_batch_then_die)
    failed = client.delete(f"{TAGS}/half", headers=user.headers)

    assert_error(failed, 500)
    # The first batch (10 tasks) is done and stays done; the tag is still there.
    ids = [task["id"] for task in tasks]
    left = carriers(app, user.id, "half")
    done = sorted(set(ids) - set(left))
    assert len(left) == 25 - BATCH
    assert versions(app, done) == dict.fromkeys(done, 2)
    assert versions(app, left) == dict.fromkeys(left, 1)
    assert client.get(TAGS, headers=user.headers).get_json() == [
        {"name": "half", "task_count": 25 - BATCH}]

    monkeypatch.setattr(tag_service, "end_batch", real_end_batch)
    assert client.delete(f"{TAGS}/half", headers=user.headers).status_code == 204

    assert carriers(app, user.id, "half") == []
    assert not tag_exists(app, user.id, "half")
    assert versions(app, ids) == dict.fromkeys(ids, 2)  # each task moved exactly once
    assert client.get(TAGS, headers=user.headers).get_json() == []
