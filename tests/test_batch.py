"""POST /api/v1/batch (issue 18): operations in order in one transaction,
all-or-nothing, each answered with its status, headers and body; per-operation
and per-batch Idempotency-Key; what a batch may not contain.

Each test checks the answer and the database (tasks, versions, keys, the feed).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.models import Task, User
from taskapi.sync.models import IdempotencyKey
from tests.helpers import assert_error, create_task, task_count

BATCH = "/api/v1/batch"
TASKS = "/api/v1/tasks"


def run(client, account, operations, headers=None, expected=200):
    response = client.post(BATCH, json={"operations": operations},
                           headers={**account.headers, **(headers or {})})
    assert response.status_code == expected, response.get_json()
    return response


def titles(app) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(sa.select(Task.title)))


def data_version(app, user_id: int) -> int:
    with app.app_context():
        return db.session.get(User, user_id).data_version


def test_operations_run_in_order_and_answer_each(app, client, user):
    edit, doomed = create_task(client, user, title="edit"), create_task(client, user, title="x")
    answer = run(client, user, [
        {"method": "POST", "path": TASKS, "body": {"title": "new", "tags": ["b"]}},
        {"method": "PATCH", "path": f"{TASKS}/{edit['id']}", "body": {"completed": True}},
        {"method": "DELETE", "path": f"{TASKS}/{doomed['id']}"},
        {"method": "GET", "path": f"{TASKS}?sort=id&page_size=5"},
    ]).get_json()["results"]
    assert [r["status"] for r in answer] == [201, 200, 204, 200]
    assert answer[0]["body"]["title"] == "new" and answer[0]["body"]["tags"] == ["b"]
    assert answer[0]["headers"]["Location"] == f"{TASKS}/{answer[0]['body']['id']}"
    assert answer[1]["headers"]["ETag"] and answer[1]["body"]["completed"] is True
    assert answer[2]["body"] is None
    assert [t["title"] for t in answer[3]["body"]] == ["edit", "new"]  # sees earlier ones
    assert titles(app) == ["edit", "new"]
    with app.app_context():
        assert db.session.get(Task, edit["id"]).completed is True


@pytest.mark.parametrize("failing, status", [
    ({"method": "PATCH", "path": f"{TASKS}/999999", "body": {"title": "t"}}, 404),
    ({"method": "POST", "path": TASKS, "body": {"title": ""}}, 422),
    ({"method": "GET", "path": "/api/v1/nowhere"}, 404)])
def test_a_failing_operation_in_the_middle_applies_nothing(app, client, user, failing, status):
    kept = create_task(client, user, title="kept")
    before = data_version(app, user.id)
    response = run(client, user, [
        {"method": "POST", "path": TASKS, "body": {"title": "first"}},
        {"method": "PATCH", "path": f"{TASKS}/{kept['id']}", "body": {"title": "changed"}},
        failing,
        {"method": "POST", "path": TASKS, "body": {"title": "never"}},
    ], expected=status)
    body = assert_error(response, status)
    assert body["message"].startswith("Operation 2 failed")
    assert body["errors"]["operations"]["2"]["code"] == status
    assert titles(app) == ["kept"]
    with app.app_context():
        assert db.session.get(Task, kept["id"]).version == 1
    assert data_version(app, user.id) == before
    changes = client.get("/api/v1/sync", headers=user.headers).get_json()["changes"]
    assert {c["data"]["title"] for c in changes if c["type"] == "task"} == {"kept"}


def test_a_stale_if_match_fails_the_batch_with_412(app, client, user):
    task = create_task(client, user, title="t")
    response = run(client, user, [
        {"method": "PATCH", "path": f"{TASKS}/{task['id']}", "body": {"title": "a"}},
        {"method": "PATCH", "path": f"{TASKS}/{task['id']}", "body": {"title": "b"},
         "headers": {"If-Match": '"stale"'}}], expected=412)
    assert_error(response, 412)
    assert titles(app) == ["t"]


def test_operations_with_their_own_keys_are_replayed_in_a_retried_batch(app, client, user):
    operations = [{"method": "POST", "path": TASKS, "body": {"title": "once"},
                   "headers": {"Idempotency-Key": "op-1"}},
                  {"method": "POST", "path": TASKS, "body": {"title": "each time"}}]
    first = run(client, user, operations).get_json()["results"]
    second = run(client, user, operations).get_json()["results"]
    assert second[0]["headers"]["Idempotent-Replayed"] == "true"
    assert second[0]["body"] == first[0]["body"]
    assert "Idempotent-Replayed" not in second[1]["headers"]
    assert titles(app) == ["each time", "each time", "once"]


def test_a_failed_batch_keeps_no_operation_key(app, client, user):
    operations = [{"method": "POST", "path": TASKS, "body": {"title": "once"},
                   "headers": {"Idempotency-Key": "op-1"}},
                  {"method": "DELETE", "path": f"{TASKS}/999999"}]
    run(client, user, operations, expected=404)
    with app.app_context():
        assert db.session.get(IdempotencyKey, (user.id, "op-1")) is None
    run(client, user, operations[:1])
    assert titles(app) == ["once"]


def test_a_batch_with_a_key_is_replayed_whole(app, client, user):
    operations = [{"method": "POST", "path": TASKS, "body": {"title": f"t{n}"}}
                  for n in range(3)]
    first = run(client, user, operations, headers={"Idempotency-Key": "batch-1"})
    again = run(client, user, operations, headers={"Idempotency-Key": "batch-1"})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert titles(app) == ["t0", "t1", "t2"]


def test_another_users_task_fails_the_batch(app, client, user, other_user):
    theirs = create_task(client, other_user, title="theirs")
    run(client, user, [{"method": "POST", "path": TASKS, "body": {"title": "mine"}},
                       {"method": "DELETE", "path": f"{TASKS}/{theirs['id']}"}], expected=404)
    assert titles(app) == ["theirs"]


@pytest.mark.parametrize("operations, field", [
    ([], "operations"),
    ([{"method": "GET", "path": TASKS}] * 101, "operations"),
    ([{"method": "TRACE", "path": TASKS}], "operations"),
    ([{"method": "GET", "path": "/api/1/tasks"}], "operations"),
    ([{"method": "GET", "path": "https://example.com/api/v1/tasks"}], "operations"),
    ([{"method": "POST", "path": "/api/v1/auth/logout", "body": {}}], "operations"),
    ([{"method": "POST", "path": BATCH, "body": {"operations": []}}], "operations"),
    ([{"method": "GET", "path": TASKS, "headers": {"Authorization": "Bearer x"}}],
     "operations"),
    ([{"method": "GET", "path": TASKS, "extra": 1}], "operations"),
])
def test_what_a_batch_may_not_hold_is_a_422(app, client, user, operations, field):
    response = client.post(BATCH, json={"operations": operations}, headers=user.headers)
    assert_error(response, 422, field=field)
    assert task_count(app) == 0


def test_a_hundred_operations_fit_one_batch(app, client, user):
    app.config["RATELIMIT_DEFAULT"] = "1000 per minute"
    results = run(client, user, [{"method": "POST", "path": TASKS, "body": {"title": f"t{n}"}}
                                 for n in range(100)]).get_json()["results"]
    assert [r["status"] for r in results] == [201] * 100
    assert task_count(app) == 100


def test_a_batch_needs_a_token(client):
    assert_error(client.post(BATCH, json={"operations": [{"method": "GET", "path": TASKS}]}),
                 401)


def test_a_rolled_back_batch_leaves_no_cached_page(app, client, user):
    # The batch's GET sees its own uncommitted task at the next data_version;
    # after the rollback, a real write reaches that version: its list must be real.
    assert app.config["LIST_CACHE"] is True
    run(client, user, [{"method": "POST", "path": TASKS, "body": {"title": "ghost"}},
                       {"method": "GET", "path": TASKS},
                       {"method": "DELETE", "path": f"{TASKS}/999999"}], expected=404)
    create_task(client, user, title="real")
    listed = client.get(TASKS, headers=user.headers).get_json()
    assert [task["title"] for task in listed] == ["real"]
