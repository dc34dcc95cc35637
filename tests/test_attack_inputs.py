"""Hostile inputs on every body field, list query parameter and path id get a 4xx
in the one error shape, never a 5xx, and change nothing (every column of every row
of every table is the same after). Body fields of every write of both contracts x
NUL, a lone surrogate (JSON ``\ud800``), 10,000 characters, empty, whitespace, the
wrong JSON type; whole bodies: invalid UTF-8, 10 MiB, 1,000-deep arrays and objects,
odd Content-Types. Query parameters of both lists x NUL, ``%FF``, ``%ED%A0%80``,
10,000 characters, empty, whitespace, wrong types, ``10**30``, negative and zero
pages. Ids: ``10**30`` and negative. One thing is wrong at a time: the valid bodies
and queries the attacks start from pass as controls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.tasks.schemas import TaskListArgsSchema
from tests.helpers import PASSWORD, Account, assert_error, auth_headers, task_row
from tests.report import record

REFRESH = "<the user's refresh token>"
REFUSED = frozenset({400, 422})
CREDENTIALS = frozenset({401})  # also a refusal where the body carries credentials


@dataclass(frozen=True)
class Route:
    """A write; ``body`` is valid with every field (None: takes none)."""

    method: str
    path: str
    auth: str | None  # "access", "refresh" or None
    body: dict | None
    ok: int
    extra: frozenset = frozenset()  # statuses a refusal may have besides 400 and 422


TASK = {"title": "Written", "description": "New", "completed": True, "priority": "high",
        "due_at": "2030-01-01T09:00:00+00:00", "tags": ["work"]}
COMPAT_TASK = {"title": "Written", "description": "New", "completed": True,
               "priority": "high", "due_date": "2030-01-01"}
NEW, ME = {"password": PASSWORD, "name": "New"}, {"name": "Ada L.", "timezone": "Europe/Paris"}
LOGIN, DONE = {"email": "ada@example.com", "password": PASSWORD}, {"completed": True}
V1, COMPAT, TOKEN = "/api/v1", "/api", {"refresh_token": REFRESH}
ROUTES = {
    "v1-register": Route("POST", f"{V1}/auth/register", None,
                         {"email": "new@example.com", **NEW}, 201),
    "v1-login": Route("POST", f"{V1}/auth/login", None, LOGIN, 200, CREDENTIALS),
    "v1-refresh": Route("POST", f"{V1}/auth/refresh", "refresh", None, 200),
    "v1-logout": Route("POST", f"{V1}/auth/logout", "access", TOKEN, 204),
    "v1-patch-me": Route("PATCH", f"{V1}/auth/me", "access", ME, 200),
    "v1-create": Route("POST", f"{V1}/tasks", "access", TASK, 201),
    "v1-put": Route("PUT", f"{V1}/tasks/{{task}}", "access", TASK, 200),
    "v1-patch": Route("PATCH", f"{V1}/tasks/{{task}}", "access", TASK, 200),
    "v1-complete": Route("PATCH", f"{V1}/tasks/{{task}}/complete", "access", DONE, 200),
    "compat-register": Route("POST", f"{COMPAT}/auth/register", None,
                             {"email": "carol@example.com", **NEW}, 201),
    "compat-login": Route("POST", f"{COMPAT}/auth/login", None, LOGIN, 200, CREDENTIALS),
    "compat-refresh": Route("POST", f"{COMPAT}/auth/refresh", None, TOKEN, 200, CREDENTIALS),
    "compat-logout": Route("POST", f"{COMPAT}/auth/logout", "access", None, 200),
    "compat-create": Route("POST", f"{COMPAT}/{{me}}/tasks", "access", COMPAT_TASK, 201),
    "compat-put": Route("PUT", f"{COMPAT}/{{me}}/tasks/{{task}}", "access", COMPAT_TASK, 200),
    "compat-complete": Route("PATCH", f"{COMPAT}/{{me}}/tasks/{{task}}/complete", "access",
                             DONE, 200),
}


def _in_text(valid, change):
    """``change`` applied to the text of a valid value; a list stays a list."""
    if isinstance(valid, list):
        return [change(valid[0])]
    return change("true" if isinstance(valid, bool) else valid)


FIELD_VALUES = {
    "nul": lambda v: _in_text(v, lambda s: s[:1] + "\x00" + s[1:]),
    "lone-surrogate": lambda v: _in_text(v, lambda s: s[:1] + "\ud800" + s[1:]),
    "10k-chars": lambda v: _in_text(v, lambda s: "x" * 10_000),
    "empty": lambda v: _in_text(v, lambda s: ""),
    "whitespace": lambda v: _in_text(v, lambda s: " \t\n  "),
    # "true" for a boolean, a string for a list, a number for a string.
    "wrong-type": lambda v: "true" if isinstance(v, bool) else
    (v[0] if isinstance(v, list) else 12345),
}
#: Not attacks: a blank description is valid and stored as "".
ACCEPTED = {("description", "empty"), ("description", "whitespace")}
#: These load the same RegisterSchema and LoginSchema as v1, so only the values that
#: get past a schema (into hashing and queries) are tried on them again.
SAME_SCHEMA = {"compat-register", "compat-login"}
FIELD_CASES = [
    pytest.param(name, field, value, id=f"{name}-{field}-{value}")
    for name, route in ROUTES.items() for field in route.body or {} for value in FIELD_VALUES
    if (field, value) not in ACCEPTED
    and (name not in SAME_SCHEMA or value in ("nul", "lone-surrogate"))
]
CONTROL_CASES = [pytest.param(name, None, id=name) for name in ROUTES] + [
    pytest.param(name, value, id=f"{name}-description-{value}")
    for name, route in ROUTES.items() if "description" in (route.body or {})
    for _, value in sorted(ACCEPTED)
]


def _invalid_utf8(body: dict | None) -> bytes:
    """The body as JSON with the bytes FF FE in its first string value (or key)."""
    body, mark = dict(body or {"note": ""}), "@@RAW@@"
    field = next((key for key, value in body.items() if isinstance(value, str)), None)
    if field is None:
        body = {key + mark: value for key, value in body.items()}
    else:
        body[field] += mark
    return json.dumps(body).encode().replace(mark.encode(), b"\xff\xfe")


def _ten_mib(body: dict | None) -> bytes:
    head = json.dumps({**(body or {}), "pad": ""}).encode()[:-2]
    return head + b"x" * (10 * 1024 * 1024) + b'"}'


DEPTH = 1000
#: Whole bodies: kind -> (statuses, the bytes made from the route's valid body).
RAW_BODIES = {
    "invalid-utf8": ({400}, _invalid_utf8),
    "10-mib": ({413}, _ten_mib),
    "nested-arrays": (REFUSED, lambda body: ("[" * DEPTH + "]" * DEPTH).encode()),
    "nested-objects": (REFUSED, lambda body: ('{"a":' * DEPTH + "1" + "}" * DEPTH).encode()),
}


@pytest.fixture
def account(client) -> Account:
    """Ada, registered and logged in by one request of the original contract."""
    body = client.post(f"{COMPAT}/auth/register", json={
        "email": "ada@example.com", "password": PASSWORD, "name": "Ada"}).get_json()
    return Account(body["user"]["id"], "ada@example.com", PASSWORD, body["token"],
                   body["refresh_token"])


def new_task(client, account: Account) -> int:
    """A new open task of Ada's."""
    response = client.post(f"{V1}/tasks", headers=account.headers, json={
        "title": "Existing", "description": "Keep me", "priority": "low", "tags": ["home"]})
    assert response.status_code == 201
    return response.get_json()["id"]


def snapshot(app) -> dict[str, list[tuple]]:
    """Every column of every row of every table, in primary-key order."""
    with app.app_context():
        return {table.name: [tuple(row) for row in db.session.execute(
            sa.select(table).order_by(*table.primary_key.columns))]
            for table in db.metadata.sorted_tables}


def start(client, account: Account, name: str) -> tuple[Route, int | None, dict | None]:
    """The route, Ada's task when its path names one, and its valid body."""
    route = ROUTES[name]
    task = new_task(client, account) if "{task}" in route.path else None
    if route.body is None:
        return route, task, None
    return route, task, {k: account.refresh_token if v == REFRESH else v
                         for k, v in route.body.items()}


def send(client, route: Route, raw, account: Account, task: int | None, **kwargs):
    """``raw`` (str or bytes; None: no body) to the route, as JSON unless ``kwargs``
    say otherwise."""
    headers = {"access": account.headers, "refresh": auth_headers(account.refresh_token),
               None: {}}[route.auth]
    if raw is not None:
        kwargs = {"data": raw, "content_type": "application/json", **kwargs}
    path = route.path.format(me=account.id, task=task)
    return client.open(path, method=route.method, headers=headers, **kwargs)


def assert_refused(response, allowed, location: str = "json", field: str | None = None):
    """One of the ``allowed`` statuses, in the error shape; a 422 names ``field``."""
    assert response.status_code in allowed, response.get_data(as_text=True)[:300]
    error = assert_error(response, response.status_code)
    if field is not None and response.status_code == 422:
        assert field in error["errors"][location], error


@pytest.mark.parametrize(("name", "blank"), CONTROL_CASES)
def test_valid_body_is_accepted(app, client, account, name, blank):
    """The bodies the attacks start from; a blank description is stored as ""."""
    record("attacks", "input corpus cases", 1)
    route, task, body = start(client, account, name)
    if blank:
        body["description"] = FIELD_VALUES[blank]("New")
    response = send(client, route, None if body is None else json.dumps(body), account, task)
    assert response.status_code == route.ok, response.get_data(as_text=True)
    if blank:
        assert task_row(app, response.get_json()["id"])["description"] == ""


@pytest.mark.parametrize(("name", "field", "value"), FIELD_CASES)
def test_bad_field_value_is_refused_and_changes_nothing(app, client, account, name, field,
                                                        value):
    record("attacks", "input corpus cases", 1)
    route, task, body = start(client, account, name)
    body[field] = FIELD_VALUES[value](body[field])
    before = snapshot(app)

    response = send(client, route, json.dumps(body), account, task)

    assert_refused(response, REFUSED | route.extra, field=field)
    assert snapshot(app) == before


@pytest.mark.parametrize("kind", list(RAW_BODIES))
@pytest.mark.parametrize("name", list(ROUTES))
def test_bad_whole_body_is_refused_and_changes_nothing(app, client, account, name, kind):
    record("attacks", "input corpus cases", 1)
    route, task, body = start(client, account, name)
    statuses, make = RAW_BODIES[kind]
    raw = make(body)
    before = snapshot(app)

    response = send(client, route, raw, account, task)

    assert_refused(response, statuses | route.extra)
    assert snapshot(app) == before


@pytest.mark.parametrize(("content_type", "statuses"), [
    pytest.param(None, {415}, id="missing"),
    pytest.param("text/plain", {415}, id="text-plain"),
    pytest.param("application/json; charset=latin-1", {400, 415}, id="json-charset-latin-1"),
])
def test_content_type_edge_cases_store_nothing(app, client, account, content_type, statuses):
    record("attacks", "input corpus cases", 1)
    raw = json.dumps({**TASK, "title": "Café"}, ensure_ascii=False).encode("latin-1")
    before = snapshot(app)

    response = send(client, ROUTES["v1-create"], None, account, None, data=raw,
                    content_type=content_type)

    assert response.request.headers.get("Content-Type") == content_type
    assert_refused(response, statuses)
    assert snapshot(app) == before


LISTS = {"v1-list": f"{V1}/tasks", "compat-list": f"{COMPAT}/{{me}}/tasks"}
CURSOR = "<a cursor this server issued>"
#: Every list parameter with a valid value, URL-safe as written.
QUERY = {"completed": "true", "priority": "high", "tag": "work", "q": "milk",
         "due_before": "2030-01-01T00:00:00Z", "due_after": "2020-01-01T00:00:00Z",
         "due_on": "2030-01-01", "overdue": "false", "has_due": "true",
         "updated_since": "2020-01-01T00:00:00Z", "sort": "due_at", "cursor": CURSOR,
         "page": "2", "page_size": "10", "list_id": "1", "parent_id": "1", "top_level": "false",
         "recurring": "false"}
#: Parameters of the v1 list only; ``list_id`` and ``parent_id`` name the account's
#: Inbox and one of its tasks in the valid query.
V1_ONLY = {"list_id", "parent_id", "top_level"}
QUERY_VALUES = {
    "nul": lambda s: s[:1] + "%00" + s[1:],
    "invalid-utf8": lambda s: s[:1] + "%FF" + s[1:],
    "lone-surrogate": lambda s: s[:1] + "%ED%A0%80" + s[1:],
    "10k-chars": lambda s: "x" * 10_000,
    "empty": lambda s: "",
    "whitespace": lambda s: "%20%09%20",
}
PAGING = {"word": "abc", "bool-string": "true", "huge": str(10**30), "negative": "-1",
          "zero": "0"}
TYPED = {"page": PAGING, "page_size": PAGING, "list_id": PAGING, "parent_id": PAGING}
TYPED.update({p: {"number": "12345"} for p in QUERY if p not in (*TYPED, "q", "tag")})
#: The original contract's list loads the same schema: there, what decoding does
#: and its own paging bounds.
COMPAT_KEPT = {"nul", "invalid-utf8", "lone-surrogate", "huge", "negative", "zero"}
QUERY_CASES = [
    pytest.param(name, param, raw, id=f"{name}-{param}-{value}")
    for name in LISTS for param, valid in QUERY.items()
    for value, raw in [*((v, make(valid)) for v, make in QUERY_VALUES.items()),
                       *TYPED.get(param, {}).items()]
    if name == "v1-list" or (value in COMPAT_KEPT and param not in V1_ONLY)
]


def issued_cursor(client, account: Account) -> str:
    for title in ("one", "two"):
        client.post(f"{V1}/tasks", json={"title": title}, headers=account.headers)
    return client.get(f"{V1}/tasks?page_size=1", headers=account.headers).headers[
        "X-Next-Cursor"]


def test_query_corpus_covers_every_list_parameter():
    assert set(QUERY) == set(TaskListArgsSchema().fields) | {"page", "page_size"}


@pytest.mark.parametrize("name", list(LISTS))
@pytest.mark.parametrize("params", [[p for p in QUERY if p != "cursor"], ["cursor"]],
                         ids=["all-but-cursor", "cursor"])
def test_valid_query_is_accepted(client, account, name, params):
    record("attacks", "input corpus cases", 1)
    cursor = issued_cursor(client, account)
    values = dict(QUERY)
    if name == "v1-list" and "list_id" in params:
        task = client.get(f"{V1}/tasks?page_size=1", headers=account.headers).get_json()[0]
        parent = client.post(f"{V1}/tasks", json={"title": "milk", "parent_id": task["id"]},
                             headers=account.headers).get_json()
        values.update(list_id=str(task["list_id"]), parent_id=str(task["id"]))
        assert parent["parent_id"] == task["id"]
    params = [p for p in params if name == "v1-list" or p not in V1_ONLY]
    query = "&".join(f"{p}={values[p].replace(CURSOR, cursor)}" for p in params)
    if name == "compat-list" and params == ["cursor"]:
        query += "&sort=-created_at"  # the cursor's sort: v1's default, not the compat one
    response = client.get(f"{LISTS[name].format(me=account.id)}?{query}",
                          headers=account.headers)
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize(("name", "param", "raw"), QUERY_CASES)
def test_bad_query_value_is_refused(client, account, name, param, raw):
    record("attacks", "input corpus cases", 1)
    if CURSOR in raw:
        raw = raw.replace(CURSOR, issued_cursor(client, account))
    path = LISTS[name].format(me=account.id)

    response = client.get(f"{path}?{param}={raw}", headers=account.headers)

    assert_refused(response, REFUSED, "query", param)
    assert "X-Pagination" not in response.headers


ID_ROUTES = [
    *((m, f"{V1}/tasks/{{task}}") for m in ("GET", "PUT", "PATCH", "DELETE")),
    *((m, f"{COMPAT}/{{me}}/tasks/{{task}}") for m in ("GET", "PUT", "DELETE")),
    *(("PATCH", f"{base}/tasks/{{task}}/complete") for base in (V1, f"{COMPAT}/{{me}}")),
    ("GET", f"{COMPAT}/{{me}}/tasks"), ("POST", f"{COMPAT}/{{me}}/tasks"),
]
ID_CASES = [  # the task id where the path has one, else the user id
    pytest.param(method, path, "task" if "{task}" in path else "me", bad,
                 id=f"{method}-{path}-{bad}")
    for method, path in ID_ROUTES for bad in (str(10**30), "-1")
]


@pytest.mark.parametrize(("method", "path", "slot", "bad"), ID_CASES)
def test_huge_or_negative_id_is_404_and_changes_nothing(app, client, account, method, path,
                                                        slot, bad):
    record("attacks", "input corpus cases", 1)
    ids = {"me": account.id, "task": new_task(client, account), slot: bad}
    before = snapshot(app)

    response = client.open(path.format(**ids), method=method, json={"title": "Changed"},
                           headers=account.headers)

    assert_error(response, 404)
    assert snapshot(app) == before
