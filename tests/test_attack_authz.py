"""Object-level authorisation: one user can never read or change another's tasks or tags.

Proven here, for every route that takes a task id, a tag name or a user id:

- a second user gets 404 on v1 (no hint the object exists), 403 on the original
  contract when the path names the victim, and 404 there when the path names
  the caller but the task is the victim's; always the one error shape;
- every column of every ``tasks``, ``tags`` and ``task_tags`` row, and the
  victim's own responses (bodies and ETags), are identical before and after;
- the same request by the owner succeeds and has its effect (positive control);
- ids that do not exist or cannot be ids (0, negative, past 32 or 64 bits,
  ``abc``, ``1.5``) and odd tag names get a 4xx in the error shape, never a 5xx.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.models import Tag, Task, task_tags
from tests.helpers import Account, assert_error, create_task
from tests.report import record

ROW = "object-level authorisation cases"

#: id -> (method, path template, JSON body, status of the owner's request).
ROUTES = {
    "v1-get-task": ("get", "/api/v1/tasks/{tid}", None, 200),
    "v1-put-task": ("put", "/api/v1/tasks/{tid}", {"title": "pwned"}, 200),
    "v1-patch-task": ("patch", "/api/v1/tasks/{tid}", {"title": "pwned"}, 200),
    "v1-delete-task": ("delete", "/api/v1/tasks/{tid}", None, 204),
    "v1-complete-task": ("patch", "/api/v1/tasks/{tid}/complete", {"completed": True}, 200),
    "v1-delete-tag": ("delete", "/api/v1/tags/{tag}", None, 204),
    "compat-list": ("get", "/api/{uid}/tasks", None, 200),
    "compat-create": ("post", "/api/{uid}/tasks", {"title": "planted"}, 201),
    "compat-get-task": ("get", "/api/{uid}/tasks/{tid}", None, 200),
    "compat-put-task": ("put", "/api/{uid}/tasks/{tid}", {"title": "pwned"}, 200),
    "compat-delete-task": ("delete", "/api/{uid}/tasks/{tid}", None, 204),
    "compat-complete-task": (
        "patch", "/api/{uid}/tasks/{tid}/complete", {"completed": True}, 200),
}
V1_ID_ROUTES = [r for r, (_, path, _, _) in ROUTES.items() if path.startswith("/api/v1/tasks/")]
COMPAT_ID_ROUTES = [r for r, (_, path, _, _) in ROUTES.items() if "{uid}/tasks/{tid}" in path]
COMPAT_ROUTES = [r for r in ROUTES if r.startswith("compat-")]

#: (route, whose user id is in the path, expected status for the attacker).
DENIED = [
    *[(route, None, 404) for route in ROUTES if route.startswith("v1-")],
    *[(route, "victim", 403) for route in COMPAT_ROUTES],
    *[(route, "attacker", 404) for route in COMPAT_ID_ROUTES],
]
DENIED_IDS = [f"{route}/{path_user or 'token-user'}-path" for route, path_user, _ in DENIED]


def call(client, account: Account, route: str, **values):
    method, template, body, _ = ROUTES[route]
    path = template.format(**values)
    return getattr(client, method)(path, headers=account.headers, json=body)


def snapshot(app) -> dict:
    """Every column of every row of the tasks, tags and task-tag link tables."""
    with app.app_context():
        return {
            table.name: [tuple(row) for row in db.session.execute(
                sa.select(table).order_by(*table.primary_key.columns))]
            for table in (Task.__table__, Tag.__table__, task_tags)
        }


def victim_view(client, victim: Account, task_ids: list[int]) -> list:
    """What the victim sees through the API: statuses, bodies and ETags."""
    paths = ["/api/v1/tasks", "/api/v1/tags", f"/api/{victim.id}/tasks",
             *[f"/api/v1/tasks/{tid}" for tid in task_ids]]
    responses = [client.get(path, headers=victim.headers) for path in paths]
    return [(r.status_code, r.get_json(), r.headers.get("ETag")) for r in responses]


@pytest.fixture
def world(client, user, other_user) -> dict:
    """The victim (``user``) with two tagged tasks; the attacker with one of its own."""
    due = "2030-01-01T09:00:00+00:00"
    first = create_task(client, user, title="victim one", description="private",
                        priority="high", due_at=due, tags=["secret", "Shared"])
    second = create_task(client, user, title="victim two", completed=True, tags=["secret"])
    own = create_task(client, other_user, title="attacker own", tags=["shared"])
    return {"victim_tasks": [first["id"], second["id"]], "attacker_task": own["id"]}


@pytest.mark.parametrize(("route", "path_user", "status"), DENIED, ids=DENIED_IDS)
def test_other_users_objects_are_out_of_reach(
    app, client, user, other_user, world, route, path_user, status
):
    record("attacks", ROW)
    uid = {"victim": user.id, "attacker": other_user.id, None: user.id}[path_user]
    tasks = world["victim_tasks"]
    before, seen = snapshot(app), victim_view(client, user, tasks)

    response = call(client, other_user, route, uid=uid, tid=tasks[0], tag="secret")

    assert_error(response, status)
    assert b"victim" not in response.get_data()
    assert b"private" not in response.get_data()
    assert snapshot(app) == before
    assert victim_view(client, user, tasks) == seen


@pytest.mark.parametrize(("route", "path_user", "status"), DENIED, ids=DENIED_IDS)
def test_control_the_owner_reaches_the_same_objects(
    app, client, user, other_user, world, route, path_user, status
):
    """The request of the test above, made by the owner, succeeds and has its effect."""
    record("attacks", ROW)
    owner, tid, title = user, world["victim_tasks"][0], b"victim one"
    if path_user == "attacker":
        owner, tid, title = other_user, world["attacker_task"], b"attacker own"
    before = snapshot(app)

    response = call(client, owner, route, uid=owner.id, tid=tid, tag="secret")

    method, _, _, success = ROUTES[route]
    assert response.status_code == success, response.get_data(as_text=True)
    assert (snapshot(app) != before) == (method != "get")
    if method == "get":
        assert title in response.get_data()


def assert_refused(response, allowed: int | tuple[int, ...]) -> None:
    """The one error shape, with ``allowed`` status (or one of them)."""
    allowed = allowed if isinstance(allowed, tuple) else (allowed,)
    assert response.status_code in allowed, response.get_data(as_text=True)
    assert_error(response, response.status_code)


#: A NUL cannot be stored in PostgreSQL text: refusing it (422) is as good as 404.
NUL_OK = (404, 422)
NOT_YOUR_TAG = {"exact": ("secret", 404), "upper-case": ("SECRET", 404),
                "padded": ("%20secret%20", 404), "nul-suffix": ("secret%00", NUL_OK)}


@pytest.mark.parametrize("name", NOT_YOUR_TAG)
def test_deleting_a_tag_only_the_victim_uses_is_404(app, client, user, other_user, world, name):
    record("attacks", ROW)
    path_name, status = NOT_YOUR_TAG[name]
    tasks = world["victim_tasks"]
    before, seen = snapshot(app), victim_view(client, user, tasks)

    response = client.delete(f"/api/v1/tags/{path_name}", headers=other_user.headers)

    assert_refused(response, status)
    assert snapshot(app) == before
    assert victim_view(client, user, tasks) == seen


ODD_TAG_NAMES = {"missing": ("nope", 404), "too-long": ("k" * 201, 404),
                 "nul": ("keep%00", NUL_OK), "encoded-slash": ("keep%2Fx", 404),
                 "dot-dot": ("..", 404)}


@pytest.mark.parametrize("name", ODD_TAG_NAMES)
def test_odd_tag_names_are_a_clean_4xx(app, client, user, name):
    """The owner's own token: only the name can fail; the owner's tag stays."""
    record("attacks", ROW)
    path_name, status = ODD_TAG_NAMES[name]
    create_task(client, user, title="mine", tags=["keep"])
    before = snapshot(app)

    response = client.delete(f"/api/v1/tags/{path_name}", headers=user.headers)

    assert_refused(response, status)
    assert snapshot(app) == before
    assert client.delete("/api/v1/tags/keep", headers=user.headers).status_code == 204
    assert snapshot(app) != before


def tag_rows(app, user_id: int) -> list[tuple]:
    with app.app_context():
        return [tuple(row) for row in db.session.execute(
            sa.select(Tag.__table__).where(Tag.user_id == user_id).order_by(Tag.id))]


def test_deleting_a_tag_name_both_use_removes_only_the_callers(
    app, client, user, other_user, world
):
    record("attacks", ROW)
    tasks = world["victim_tasks"]
    seen, victims_tags = victim_view(client, user, tasks), tag_rows(app, user.id)
    with app.app_context():
        victim_rows = db.session.execute(
            sa.select(Task.__table__).where(Task.user_id == user.id).order_by(Task.id)).all()

    response = client.delete("/api/v1/tags/SHARED", headers=other_user.headers)

    assert response.status_code == 204, response.get_data(as_text=True)
    assert tag_rows(app, other_user.id) == []
    assert tag_rows(app, user.id) == victims_tags
    with app.app_context():
        assert db.session.execute(
            sa.select(Task.__table__).where(Task.user_id == user.id).order_by(Task.id)
        ).all() == victim_rows
    assert victim_view(client, user, tasks) == seen


BAD_IDS = {
    "missing": "999999", "negative": "-1", "zero": "0", "2**31": str(2**31),
    "2**63": str(2**63), "2**70": str(2**70), "abc": "abc", "1.5": "1.5",
}
#: (route, which path segment is bad) for every id segment of every route.
SEGMENTS = [
    *[(route, "tid") for route in V1_ID_ROUTES],
    *[(route, "tid") for route in COMPAT_ID_ROUTES],
    *[(route, "uid") for route in COMPAT_ROUTES],
]


@pytest.mark.parametrize(("route", "segment"), SEGMENTS,
                         ids=[f"{route}/{segment}" for route, segment in SEGMENTS])
def test_bad_ids_are_a_clean_4xx(app, client, user, subtests, route, segment):
    """Owner's own token, own ids elsewhere in the path: only the bad id can fail.

    One subtest per value of ``BAD_IDS`` (one app for all of them keeps this fast).
    """
    tid = create_task(client, user, title="mine", tags=["keep"])["id"]
    before = snapshot(app)
    for bad, value in BAD_IDS.items():
        with subtests.test(msg=bad):
            record("attacks", ROW)
            values = {"uid": user.id, "tid": tid, "tag": "keep", segment: value}
            # A well-formed user id that is not the caller's is another user's path.
            status = 403 if (segment, bad) == ("uid", "missing") else 404

            response = call(client, user, route, **values)

            assert_error(response, status)
            assert snapshot(app) == before
    control = call(client, user, route, uid=user.id, tid=tid, tag="keep")
    assert control.status_code == ROUTES[route][3], control.get_data(as_text=True)


def test_attacker_token_on_victims_list_leaks_nothing_in_headers(client, user, other_user, world):
    """403 on the compat list carries none of the paging headers the victim gets."""
    record("attacks", ROW)
    paging = {"X-Pagination", "X-Next-Cursor", "Link"}
    path = f"/api/{user.id}/tasks?page_size=1"

    response = client.get(path, headers=other_user.headers)

    assert_error(response, 403)
    assert not paging & set(response.headers.keys())
    assert paging <= set(client.get(path, headers=user.headers).headers.keys())
