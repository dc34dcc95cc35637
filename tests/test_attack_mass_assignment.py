"""Mass assignment: no write stores a field the client may not set.

For every write of both contracts (v1 and the original ``/api/...`` routes,
including login, logout and refresh), each read-only or foreign field (``id``,
``user_id``, timestamps, ``version``, ``is_admin``, ``is_active``, ``email``,
``password_hash``, ``password``) is added to an otherwise valid body.

- v1 (strict): a 422 naming that field, and the database is unchanged: every
  column of every row of every table (users, tasks, tags, issued tokens) is the
  same before and after, and nobody is an admin.
- The original contract (lenient, like its FastAPI backend): the field is
  ignored. The write succeeds, and no cell of any table holds the value sent,
  the other account's rows are untouched, nobody is an admin or deactivated,
  and the password is still the old one.

The same body without the extra field succeeds (positive control). A task's
own JSON sent back as a PUT body is refused for its read-only fields on v1, and
on the original contract changes the title only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.models import Task, User
from tests.helpers import PASSWORD, assert_error, auth_headers, create_task, login, task_row
from tests.report import record

REFRESH = "<the user's refresh token>"
OTHER_USER = "<the other user's id>"
LONG_AGO = "2000-01-01T00:00:00+00:00"

#: Fields no client may set, with the value an attacker would send.
FOREIGN = {
    "id": 424242,
    "user_id": OTHER_USER,
    "created_at": LONG_AGO,
    "updated_at": LONG_AGO,
    "completed_at": LONG_AGO,
    "version": 999,
    "is_admin": True,
    "is_active": False,
    "email": "mallory@example.com",
    "password_hash": "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
    # A password change must go through its own checks, never a profile or task write.
    "password": "a new password 123",
}


@dataclass(frozen=True)
class Route:
    """A write: ``path`` may hold ``{me}`` and ``{task}``; ``auth`` is the bearer
    token sent ("access", "refresh" or None); ``body`` is a valid body (None: the
    route takes none); ``ok`` is its success status; ``own`` are body fields that
    belong to the route."""

    method: str
    path: str
    auth: str | None
    body: dict | None
    ok: int
    own: frozenset = frozenset()


TASK_BODY = {"title": "Written", "description": "New", "completed": True, "priority": "high",
             "due_at": "2030-01-01T09:00:00+00:00", "tags": ["work"]}
COMPAT_TASK_BODY = {"title": "Written", "description": "New", "completed": True,
                    "priority": "high", "due_date": "2030-01-01"}
LOGIN = {"email": "ada@example.com", "password": PASSWORD}
CREDENTIALS = frozenset({"email", "password"})

ROUTES = {
    "v1-register": Route("POST", "/api/v1/auth/register", None,
                         {"email": "new@example.com", "password": PASSWORD, "name": "New"},
                         201, CREDENTIALS),
    "v1-login": Route("POST", "/api/v1/auth/login", None, LOGIN, 200, CREDENTIALS),
    "v1-refresh": Route("POST", "/api/v1/auth/refresh", "refresh", None, 200),
    "v1-logout": Route("POST", "/api/v1/auth/logout", "access", {"refresh_token": REFRESH}, 204),
    "v1-patch-me": Route("PATCH", "/api/v1/auth/me", "access",
                         {"name": "Ada L.", "timezone": "Europe/Paris"}, 200),
    "v1-create": Route("POST", "/api/v1/tasks", "access", TASK_BODY, 201),
    "v1-put": Route("PUT", "/api/v1/tasks/{task}", "access", TASK_BODY, 200),
    "v1-patch": Route("PATCH", "/api/v1/tasks/{task}", "access", {"title": "Renamed"}, 200),
    "v1-complete": Route("PATCH", "/api/v1/tasks/{task}/complete", "access",
                         {"completed": True}, 200),
    "compat-register": Route("POST", "/api/auth/register", None,
                             {"email": "carol@example.com", "password": PASSWORD,
                              "name": "Carol"}, 201, CREDENTIALS),
    "compat-login": Route("POST", "/api/auth/login", None, LOGIN, 200, CREDENTIALS),
    "compat-refresh": Route("POST", "/api/auth/refresh", None, {"refresh_token": REFRESH}, 200),
    "compat-logout": Route("POST", "/api/auth/logout", "access", None, 200),
    "compat-create": Route("POST", "/api/{me}/tasks", "access", COMPAT_TASK_BODY, 201),
    "compat-put": Route("PUT", "/api/{me}/tasks/{task}", "access", {"title": "Renamed"}, 200),
    "compat-complete": Route("PATCH", "/api/{me}/tasks/{task}/complete", "access",
                             {"completed": True}, 200),
}

CASES = [
    pytest.param(name, field, id=f"{name}-{field}")
    for name, route in ROUTES.items()
    for field in FOREIGN
    if field not in route.own
]
V1_CASES = [case for case in CASES if case.values[0].startswith("v1-")]
COMPAT_CASES = [case for case in CASES if case.values[0].startswith("compat-")]


@pytest.fixture
def task_id(client, user) -> int:
    """Ada's task, open, which every task write targets."""
    return create_task(client, user, title="Existing", description="Keep me",
                       priority="low", tags=["home"])["id"]


def snapshot(app) -> dict[str, list[tuple]]:
    """Every column of every row of every table, in primary-key order."""
    with app.app_context():
        return {
            table.name: [
                tuple(row) for row in db.session.execute(
                    sa.select(table).order_by(*table.primary_key.columns))
            ]
            for table in db.metadata.sorted_tables
        }


def admins(app) -> list[str]:
    with app.app_context():
        return db.session.scalars(sa.select(User.email).where(User.is_admin)).all()


def resolve(body: dict | None, user, other_user) -> dict | None:
    """``body`` with the placeholders replaced by the accounts' real values."""
    if body is None:
        return None
    values = {REFRESH: user.refresh_token, OTHER_USER: other_user and other_user.id}
    return {key: values.get(value, value) if isinstance(value, str) else value
            for key, value in body.items()}


def send(client, route: Route, body: dict | None, user, task_id: int):
    headers = {"access": user.headers, "refresh": auth_headers(user.refresh_token),
               None: {}}[route.auth]
    kwargs = {"headers": headers}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    path = route.path.format(me=user.id, task=task_id)
    return client.open(path, method=route.method, **kwargs)


@pytest.mark.parametrize(("name", "field"), V1_CASES)
def test_foreign_field_is_422_and_nothing_changes(
    request, app, client, user, task_id, name, field
):
    record("attacks", "mass-assignment cases", 1)
    route = ROUTES[name]
    # A real second account only where its id is the value sent.
    other_user = request.getfixturevalue("other_user") if field == "user_id" else None
    body = resolve({**(route.body or {}), field: FOREIGN[field]}, user, other_user)
    before = snapshot(app)

    response = send(client, route, body, user, task_id)

    error = assert_error(response, 422, field=field)
    assert list(error["errors"]) == ["json"]
    assert snapshot(app) == before
    assert admins(app) == []


def cells(snapshot_: dict[str, list[tuple]]) -> list:
    """Every value of a :func:`snapshot`."""
    return [value for rows in snapshot_.values() for row in rows for value in row]


def is_long_ago(value) -> bool:
    """Whether a stored datetime is ``LONG_AGO`` (SQLite may hand back naive UTC)."""
    if not isinstance(value, datetime):
        return False
    return (value if value.tzinfo else value.replace(tzinfo=UTC)) == datetime(2000, 1, 1,
                                                                              tzinfo=UTC)


def other_users_rows(app, other_user) -> dict[str, list[tuple]]:
    """Every row of ``other_user``: its user row and the rows holding its id."""
    with app.app_context():
        rows = {}
        for table in db.metadata.sorted_tables:
            column = table.c.get("user_id")
            if table.name == "users":
                column = table.c.id
            if column is None:
                continue
            rows[table.name] = [tuple(row) for row in db.session.execute(
                sa.select(table).where(column == other_user.id)
                .order_by(*table.primary_key.columns))]
        return rows


@pytest.mark.parametrize(("name", "field"), COMPAT_CASES)
def test_foreign_field_is_ignored_by_the_original_contract(
    request, app, client, user, task_id, name, field
):
    record("attacks", "mass-assignment cases", 1)
    route = ROUTES[name]
    other_user = request.getfixturevalue("other_user") if field == "user_id" else None
    body = resolve({**(route.body or {}), field: FOREIGN[field]}, user, other_user)
    others_before = other_users_rows(app, other_user) if other_user else None

    response = send(client, route, body, user, task_id)

    assert response.status_code == route.ok, response.get_data(as_text=True)
    after = snapshot(app)
    stored = cells(after)
    value = body[field]
    if field in ("created_at", "updated_at", "completed_at"):
        assert not any(is_long_ago(cell) for cell in stored)
    elif field == "user_id":
        assert other_users_rows(app, other_user) == others_before
        with app.app_context():
            owners = db.session.scalars(sa.select(Task.user_id)).all()
        assert set(owners) == {user.id}
    elif field not in ("is_admin", "is_active", "password"):
        assert value not in stored, f"{field}={value!r} was stored"
    assert admins(app) == []
    with app.app_context():
        assert db.session.scalars(sa.select(User.is_active)).all() == [True] * len(
            after["users"])
    shown = response.get_json() or {}
    task = shown.get("user", shown)
    if field in ("id", "user_id", "version", "email"):
        assert task.get(field) != value
    if field == "password":
        assert login(client, user.email, PASSWORD).status_code == 200
        assert login(client, user.email, value).status_code == 401


@pytest.mark.parametrize("name", list(ROUTES))
def test_same_body_without_the_field_succeeds(app, client, user, task_id, name):
    record("attacks", "mass-assignment cases", 1)
    route = ROUTES[name]
    before = snapshot(app)

    response = send(client, route, resolve(route.body, user, None), user, task_id)

    assert response.status_code == route.ok, response.get_data(as_text=True)
    assert snapshot(app) != before  # the write happened
    assert admins(app) == []
    with app.app_context():
        owners = db.session.scalars(sa.select(Task.user_id)).all()
    assert set(owners) == {user.id}


def test_task_json_sent_back_is_422_for_its_read_only_fields(app, client, user, task_id):
    """A v1 client echoing a task (with its own ``id``) stores nothing."""
    record("attacks", "mass-assignment cases", 1)
    url = f"/api/v1/tasks/{task_id}"
    shown = client.get(url, headers=user.headers)
    assert shown.status_code == 200
    body = {**shown.get_json(), "title": "Echoed"}
    read_only = {"id", "created_at", "updated_at", "completed_at", "list_id", "parent_id",
                 "position", "subtask_count", "open_subtask_count", "next_due_at"}
    assert read_only <= set(body)
    before = task_row(app, task_id)

    response = client.put(url, json=body, headers=user.headers)

    error = assert_error(response, 422)
    assert set(error["errors"]["json"]) == read_only
    assert task_row(app, task_id) == before


def test_task_json_sent_back_changes_only_what_was_edited_on_the_original_contract(
    app, client, user, other_user, task_id
):
    """The original frontend echoes a task (``id``, ``user_id``, ``dueDate``...):
    its read-only fields are ignored, even when edited, and only the title changes."""
    record("attacks", "mass-assignment cases", 1)
    url = f"/api/{user.id}/tasks/{task_id}"
    shown = client.get(url, headers=user.headers)
    assert shown.status_code == 200
    body = {**shown.get_json(), "title": "Echoed", "id": 424242, "user_id": other_user.id,
            "created_at": LONG_AGO, "updated_at": LONG_AGO}
    assert {"id", "user_id", "created_at", "updated_at", "due_date", "dueDate"} <= set(body)
    before = task_row(app, task_id)

    response = client.put(url, json=body, headers=user.headers)

    assert response.status_code == 200, response.get_data(as_text=True)
    after = task_row(app, task_id)
    assert after["title"] == "Echoed"
    unchanged = {"id", "user_id", "description", "completed", "completed_at", "priority",
                 "due_at", "created_at"}
    assert {key: after[key] for key in unchanged} == {key: before[key] for key in unchanged}
    assert after["updated_at"] > before["updated_at"]
    assert task_row(app, 424242) is None
