"""Cursor (keyset) pages of GET /api/v1/tasks and the compat list /api/{id}/tasks.

Large task sets are inserted straight into the database (fast); the walks then
go through the API page by page, following ``X-Next-Cursor`` (or the ``Link:
rel="next"`` URL), and are checked against an independent Python sort of the
inserted rows and against the offset listing.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from taskapi import create_app
from taskapi.extensions import db
from taskapi.models import Tag, Task
from tests.helpers import assert_error, create_task, make_account

TASKS = "/api/v1/tasks"
DEFAULT_SORT = "-created_at"
BASE = datetime(2024, 1, 1, tzinfo=UTC)
LINK = re.compile(r'<(?P<url>[^>]+)>; rel="next"')
URL_SAFE = re.compile(r"[A-Za-z0-9_.-]+")
ANOTHER_SECRET = "another-secret-key-fedcba9876543210fedcba98765"

#: Names of the walked sorts; ``None`` is the default (no ``sort`` parameter).
SORTS = [None, "due_at", "-due_at", "priority,-created_at", "-priority", "title",
         "-title,id", "updated_at", "id", "-id"]


# ------------------------------------------------------------- task data


#: Mixed case, duplicates, and "_" / "[" which sort between "Z" and "a" unless lower-cased.
TITLES = ["alpha", "Alpha", "ALPHA", "beta", "Beta", "gamma", "Zebra", "zebra", "_under",
          "[bracket", "task 10", "Task 9", "mIxEd CaSe", "mixed case"]
TAG_NAMES = ["x", "y", "Work"]


def varied_specs(count: int, seed: int) -> list[dict]:
    """``count`` task column dicts with many ties in every sort key."""
    rng = random.Random(seed)  # noqa: S311 (deterministic test data)
    specs = []
    for _ in range(count):
        created = BASE + timedelta(
            minutes=rng.randrange(100), microseconds=rng.choice([0, 0, 1, 500_000, 999_999])
        )
        completed = rng.random() < 0.4
        specs.append({
            "title": rng.choice(TITLES),
            "priority": rng.choice([None, "low", "medium", "high"]),
            "due_at": None if rng.random() < 0.3 else BASE + timedelta(
                days=rng.randrange(30), hours=rng.choice([0, 12])),
            "created_at": created,
            "updated_at": created + timedelta(minutes=rng.choice([0, 0, 5, 60])),
            "completed": completed,
            "completed_at": created if completed else None,
            "tags": [name for name in TAG_NAMES if rng.random() < 0.4],
        })
    return specs


def insert_tasks(app, user_id: int, specs: list[dict]) -> list[dict]:
    """Insert Task rows for ``user_id`` directly; returns the specs with their ``id``."""
    with app.app_context():
        tags = {
            name: Tag(user_id=user_id, name=name, name_key=name.lower()) for name in TAG_NAMES
        }
        tasks = []
        for spec in specs:
            columns = {key: value for key, value in spec.items() if key != "tags"}
            task = Task(user_id=user_id, **columns)
            task.tags = [tags[name] for name in spec["tags"]]
            tasks.append(task)
        db.session.add_all(tasks)
        db.session.flush()
        rows = [{**spec, "id": task.id} for spec, task in zip(specs, tasks, strict=True)]
        db.session.commit()
    return rows


# ------------------------------------------------------ the expected order


@functools.total_ordering
class Desc:
    """Wraps a value so that it sorts in reverse."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return self.value == other.value

    def __lt__(self, other):
        return other.value < self.value


RANK = {"high": 3, "medium": 2, "low": 1, None: 0}


def sort_key(task: dict, sort: str | None) -> tuple:
    """The documented order, independently of the app: tasks without ``due_at``
    last in both directions, priority high > medium > low > none, title
    case-insensitive, and ``id`` (in the direction of the last key) breaking ties."""
    keys = [(part[1:], True) if part.startswith("-") else (part, False)
            for part in (sort or DEFAULT_SORT).split(",")]
    if all(key != "id" for key, _ in keys):
        keys.append(("id", keys[-1][1]))
    parts: list = []
    for key, descending in keys:
        if key == "due_at":
            parts.append(task["due_at"] is None)
            value = task["due_at"] or BASE
        elif key == "priority":
            value = RANK[task["priority"]]
        elif key == "title":
            value = task["title"].lower()
        else:
            value = task[key]
        parts.append(Desc(value) if descending else value)
    return tuple(parts)


def python_order(rows: list[dict], sort: str | None) -> list[int]:
    return [row["id"] for row in sorted(rows, key=lambda row: sort_key(row, sort))]


def parsed(task: dict) -> dict:
    """A task from a response, its datetimes parsed (for :func:`sort_key`)."""
    return {**task, **{
        name: datetime.fromisoformat(task[name]) if task.get(name) else None
        for name in ("created_at", "updated_at", "due_at")
    }}


# ------------------------------------------------------- requests and pages


def sort_params(sort: str | None) -> list[tuple[str, str]]:
    return [] if sort is None else [("sort", sort)]


def get_list(client, account, params=(), path=TASKS):
    """GET the list with ``params`` (a list of pairs)."""
    query = urlencode(list(params))
    return client.get(f"{path}?{query}" if query else path, headers=account.headers)


def next_link(response) -> str | None:
    """The URL of ``Link: <url>; rel="next"``, or None without the header."""
    link = response.headers.get("Link")
    if link is None:
        return None
    match = LINK.fullmatch(link)
    assert match, link
    return match["url"]


def assert_no_next(response) -> None:
    assert "X-Next-Cursor" not in response.headers
    assert "Link" not in response.headers


def check_page(response, path: str, params, *, keyset: bool) -> list[dict]:
    """Assert a 200 list page and its headers; returns the body.

    ``params`` are the request's query pairs. An offset page carries
    ``X-Pagination``, a cursor page does not. ``X-Next-Cursor`` and ``Link``
    come together, and the link is the same request (``page`` dropped) with
    ``cursor`` set to the new cursor.
    """
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    body = response.get_json()
    assert isinstance(body, list)
    assert ("X-Pagination" in response.headers) is not keyset
    cursor = response.headers.get("X-Next-Cursor")
    if cursor is None:
        assert "Link" not in response.headers
        return body
    assert body, "a next cursor after an empty page"
    assert URL_SAFE.fullmatch(cursor) and len(cursor) <= 2048, cursor
    url = urlsplit(next_link(response))
    assert (url.scheme, url.netloc, url.path, url.fragment) == ("", "", path, "")
    expected = [(name, value) for name, value in params if name not in ("page", "cursor")]
    assert sorted(parse_qsl(url.query, keep_blank_values=True)) == sorted(
        [*expected, ("cursor", cursor)]
    )
    return body


def walk(
    client, account, params=(), *, path=TASKS, follow_link: bool = False,
    between: Callable[[list[list[dict]]], None] | None = None, max_pages: int = 200,
) -> list[list[dict]]:
    """Every page of the list: the first with ``params`` (an offset page unless
    they hold a cursor), then each following by ``X-Next-Cursor`` (or by
    requesting the ``Link`` URL verbatim) until a page has no next cursor.
    ``between(pages_so_far)`` runs before each further request. Pages followed
    by another hold exactly ``page_size`` tasks.
    """
    params = list(params)
    page_size = int(dict(params).get("page_size", 20 if path == TASKS else 1000))
    response = get_list(client, account, params, path)
    pages = [check_page(response, path, params, keyset="cursor" in dict(params))]
    while (cursor := response.headers.get("X-Next-Cursor")) is not None:
        assert len(pages[-1]) == page_size
        assert len(pages) < max_pages, "the walk does not end"
        if between is not None:
            between(pages)
        if follow_link:
            url = urlsplit(next_link(response))
            params = parse_qsl(url.query, keep_blank_values=True)
            response = client.get(f"{url.path}?{url.query}", headers=account.headers)
        else:
            params = [pair for pair in params if pair[0] not in ("page", "cursor")]
            params.append(("cursor", cursor))
            response = get_list(client, account, params, path)
        pages.append(check_page(response, path, params, keyset=True))
    return pages


def ids_of(pages: list[list[dict]]) -> list[int]:
    return [task["id"] for page in pages for task in page]


def offset_ids(client, account, params, total: int, page_size: int) -> list[int]:
    """Ids of the whole list read with page=1, 2, ... (offset pages)."""
    ids = []
    for page in range(1, -(-total // page_size) + 1):
        query = [*params, ("page_size", str(page_size)), ("page", str(page))]
        response = get_list(client, account, query)
        body = check_page(response, TASKS, query, keyset=False)
        assert json.loads(response.headers["X-Pagination"])["total"] == total
        ids.extend(task["id"] for task in body)
    return ids


def first_cursor(client, account, params=(), path=TASKS) -> str:
    response = get_list(client, account, params, path)
    check_page(response, path, params, keyset=False)
    return response.headers["X-Next-Cursor"]


# ------------------------------------------------ walking 1,000 tasks


@pytest.fixture
def thousand(app, user) -> list[dict]:
    rows = insert_tasks(app, user.id, varied_specs(1000, seed=1))
    # The data must exercise the tie-breaks and the null handling.
    for name in ("created_at", "updated_at", "due_at", "priority"):
        assert len({row[name] for row in rows}) < 1000
    assert any(row["due_at"] is None for row in rows)
    assert any(row["priority"] is None for row in rows)
    assert len({row["title"].lower() for row in rows}) < len({row["title"] for row in rows})
    return rows


@pytest.mark.parametrize("sort", SORTS, ids=lambda sort: sort or "default")
def test_cursor_walk_visits_each_task_once_in_sort_order(client, user, thousand, sort):
    pages = walk(client, user, [("page_size", "100"), *sort_params(sort)])
    ids = ids_of(pages)

    assert [len(page) for page in pages] == [100] * 10
    assert len(set(ids)) == len(ids) == 1000
    assert ids == python_order(thousand, sort)
    assert ids == offset_ids(client, user, sort_params(sort), total=1000, page_size=100)


def test_cursor_walk_with_uneven_pages(client, user, thousand):
    pages = walk(client, user, [("page_size", "99"), ("sort", "due_at")])

    assert [len(page) for page in pages] == [99] * 10 + [10]
    assert ids_of(pages) == python_order(thousand, "due_at")


def test_cursor_walk_default_page_size(client, user, app):
    rows = insert_tasks(app, user.id, varied_specs(45, seed=11))

    pages = walk(client, user)

    assert [len(page) for page in pages] == [20, 20, 5]
    assert ids_of(pages) == python_order(rows, None)


def test_cursor_walk_returns_task_bodies(client, user, app):
    rows = insert_tasks(app, user.id, varied_specs(5, seed=2))
    pages = walk(client, user, [("page_size", "2"), ("sort", "id")])
    tasks = [task for page in pages for task in page]

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [task["id"] for task in tasks] == [row["id"] for row in rows]
    for task, row in zip(tasks, rows, strict=True):
        assert parsed(task)["due_at"] == row["due_at"]
        assert parsed(task)["created_at"] == row["created_at"]
        assert task["title"] == row["title"]
        assert task["priority"] == row["priority"]
        assert task["tags"] == sorted(row["tags"], key=str.lower)


# ----------------------------------------------------- the next headers


def test_last_page_has_no_next_headers(client, user):
    for n in range(4):
        create_task(client, user, title=f"t{n}")

    pages = walk(client, user, [("page_size", "2")])

    assert [len(page) for page in pages] == [2, 2]  # no trailing empty page
    response = get_list(client, user, [("page_size", "4")])
    assert len(check_page(response, TASKS, [("page_size", "4")], keyset=False)) == 4
    assert_no_next(response)
    assert json.loads(response.headers["X-Pagination"])["total"] == 4


def test_empty_list_has_no_next_headers(client, user):
    response = get_list(client, user, [("page_size", "2")])

    assert check_page(response, TASKS, [("page_size", "2")], keyset=False) == []
    assert_no_next(response)


def test_offset_page_cursor_continues_after_that_page(client, user, app):
    rows = insert_tasks(app, user.id, varied_specs(25, seed=3))
    expected = python_order(rows, "-priority")
    params = [("sort", "-priority"), ("page_size", "5"), ("page", "3")]

    response = get_list(client, user, params)
    body = check_page(response, TASKS, params, keyset=False)
    assert [task["id"] for task in body] == expected[10:15]
    assert json.loads(response.headers["X-Pagination"]) == {
        "total": 25, "total_pages": 5, "first_page": 1, "last_page": 5, "page": 3,
        "previous_page": 2, "next_page": 4,
    }
    assert "page=" not in next_link(response)

    rest = walk(client, user, [("sort", "-priority"), ("page_size", "5"),
                               ("cursor", response.headers["X-Next-Cursor"])])
    assert ids_of(rest) == expected[15:]


def test_last_offset_page_has_pagination_but_no_next(client, user, app):
    rows = insert_tasks(app, user.id, varied_specs(7, seed=4))
    params = [("page_size", "3"), ("page", "3")]

    response = get_list(client, user, params)

    body = check_page(response, TASKS, params, keyset=False)
    assert [task["id"] for task in body] == python_order(rows, None)[6:]
    assert_no_next(response)
    assert json.loads(response.headers["X-Pagination"])["total"] == 7


@pytest.mark.parametrize(
    "params",
    [
        [("page_size", "50")],
        [("page_size", "64"), ("sort", "due_at"), ("completed", "false")],
        # "+" and ":" must be percent-encoded in the link or the value changes.
        [("due_after", "2024-01-10T00:00:00+00:00"), ("sort", "-due_at,id"),
         ("page_size", "30")],
        [("tag", "x"), ("tag", "WORK"), ("priority", "high"), ("priority", "low"),
         ("page_size", "10")],
        [("q", "mixed case"), ("page_size", "10"), ("sort", "-created_at")],
    ],
    ids=["page_size", "sort-and-filter", "encoded-datetime", "repeated-params", "q-space"],
)
def test_following_link_verbatim_equals_passing_cursor(client, user, thousand, params):
    by_link = walk(client, user, params, follow_link=True)
    by_cursor = walk(client, user, params)

    assert len(by_link) > 1
    assert [ids_of([page]) for page in by_link] == [ids_of([page]) for page in by_cursor]
    assert len(set(ids_of(by_link))) == len(ids_of(by_link))


# -------------------------------------------------------------- filters


FILTERS = [
    ([("completed", "false"), ("tag", "x")],
     lambda row: not row["completed"] and "x" in row["tags"]),
    ([("tag", "X"), ("tag", "y"), ("sort", "due_at")],
     lambda row: {"x", "y"} <= set(row["tags"])),
    ([("priority", "high"), ("priority", "low"), ("has_due", "true"), ("sort", "-priority")],
     lambda row: row["priority"] in ("high", "low") and row["due_at"] is not None),
    ([("q", "ALPHA"), ("sort", "-due_at")], lambda row: "alpha" in row["title"].lower()),
    ([("due_before", "2024-01-15T00:00:00Z"), ("completed", "true"),
      ("sort", "priority,-created_at")],
     lambda row: row["completed"] and row["due_at"] is not None
     and row["due_at"] < BASE + timedelta(days=14)),
]


@pytest.mark.parametrize(("params", "matches"), FILTERS,
                         ids=["open-x", "tags-x-y", "priority-due", "q", "due-before-done"])
def test_filters_combine_with_cursor(client, user, app, params, matches):
    rows = insert_tasks(app, user.id, varied_specs(300, seed=5))
    sort = dict(params).get("sort")
    expected = python_order([row for row in rows if matches(row)], sort)
    assert 20 < len(expected) < 300

    pages = walk(client, user, [*params, ("page_size", "9")])

    assert len(pages) == -(-len(expected) // 9)
    assert ids_of(pages) == expected


def test_cursor_walk_never_shows_other_users_tasks(client, user, other_user, app):
    mine = insert_tasks(app, user.id, varied_specs(30, seed=6))
    insert_tasks(app, other_user.id, varied_specs(30, seed=6))

    pages = walk(client, user, [("page_size", "4"), ("sort", "due_at")])

    assert ids_of(pages) == python_order(mine, "due_at")


# ----------------------------------------------- walking while tasks change


@pytest.mark.parametrize(
    "sort", [None, "due_at", "-due_at", "priority,-created_at", "-priority", "updated_at",
             "id", "-id"],
    ids=lambda sort: sort or "default",
)
def test_walk_while_tasks_are_created_and_deleted(client, user, app, sort):
    original = insert_tasks(app, user.id, varied_specs(120, seed=7))
    rng = random.Random(8)  # noqa: S311 (deterministic test data)
    deleted_seen, deleted_unseen, created = set(), set(), set()

    def delete(task_id: int) -> None:
        response = client.delete(f"{TASKS}/{task_id}", headers=user.headers)
        assert response.status_code == 204, response.get_data(as_text=True)

    def change(pages: list[list[dict]]) -> None:
        seen = set(ids_of(pages))
        # The task the cursor points after, one seen earlier, one not seen yet.
        victims = {pages[-1][-1]["id"], rng.choice(sorted(seen - deleted_seen))}
        for task_id in victims:
            delete(task_id)
        deleted_seen.update(victims)
        unseen = sorted({row["id"] for row in original} - seen - deleted_unseen)
        if unseen:
            task_id = rng.choice(unseen)
            delete(task_id)
            deleted_unseen.add(task_id)
        if len(pages) < 15:
            for _ in range(3):
                task = create_task(
                    client, user, title=rng.choice(TITLES),
                    priority=rng.choice([None, "low", "medium", "high"]),
                    due_at=rng.choice([None, f"2024-01-{rng.randrange(1, 31):02d}T12:00:00Z"]),
                )
                created.add(task["id"])

    pages = walk(client, user, [("page_size", "7"), *sort_params(sort)], between=change)
    ids = ids_of(pages)
    tasks = [parsed(task) for page in pages for task in page]

    assert len(ids) == len(set(ids)), "a task was returned twice"
    assert set(ids) <= {row["id"] for row in original} | created
    assert not set(ids) & deleted_unseen, "a task deleted before its page was returned"
    survivors = {row["id"] for row in original} - deleted_unseen
    assert survivors <= set(ids)
    keys = [sort_key(task, sort) for task in tasks]
    assert all(a < b for a, b in zip(keys, keys[1:], strict=False)), "order broken"


# ------------------------------------------------------- invalid cursors


def flip(token: str, index: int) -> str:
    """``token`` with the character at ``index`` replaced by another URL-safe one."""
    char = token[index]
    return token[:index] + ("A" if char != "A" else "B") + token[index + 1:]


def tamper_payload(token: str) -> str:
    payload = token.rindex(".")
    return flip(token, payload // 2)


def tamper_signature(token: str) -> str:
    # The first signature character: every bit of it is significant.
    return flip(token, token.rindex(".") + 1)


@pytest.fixture
def cursor(client, user) -> str:
    """A valid cursor of ``user`` for the default sort, page_size 2 (5 tasks)."""
    for n in range(5):
        create_task(client, user, title=f"t{n}")
    return first_cursor(client, user, [("page_size", "2")])


def assert_cursor_error(response, message: str | None = None) -> None:
    """A 422 naming ``cursor``; with ``message``, the app's own cursor check
    (else a schema check such as the length) with that message for it."""
    body = assert_error(response, 422, field="cursor")
    assert set(body["errors"]) == {"query"}
    messages = body["errors"]["query"]["cursor"]
    assert len(messages) == 1 and messages[0]
    if message is not None:
        assert body["message"] == "The cursor is not valid for this request."
        assert messages == [message]
    assert_no_next(response)
    assert "X-Pagination" not in response.headers


def test_valid_cursor_is_accepted(client, user, cursor):
    params = [("page_size", "2"), ("cursor", cursor)]
    response = get_list(client, user, params)

    assert [task["title"] for task in check_page(response, TASKS, params, keyset=True)] == [
        "t2", "t1"]
    assert response.headers["X-Next-Cursor"] != cursor


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (tamper_payload, "Invalid cursor."),
        (tamper_signature, "Invalid cursor."),
        (lambda token: "not-a-cursor", "Invalid cursor."),
        (lambda token: "abc.def", "Invalid cursor."),
        (lambda token: token.split(".")[0], "Invalid cursor."),
        (lambda token: token + "x", "Invalid cursor."),
        (lambda token: "%00\u00e9.\u00e9", "Invalid cursor."),
        (lambda token: "A" * 2048, "Invalid cursor."),
        (lambda token: "", None),
        (lambda token: "A" * 2049, None),
        (lambda token: token + "." * (2049 - len(token)), None),
    ],
    ids=["tampered-payload", "tampered-signature", "garbage", "garbage-dotted",
         "payload-only", "extra-char", "non-ascii", "2048-chars", "empty", "2049-chars",
         "valid-then-padded"],
)
def test_bad_cursor_is_422(client, user, cursor, make, message):
    bad = make(cursor)
    assert bad != cursor

    assert_cursor_error(get_list(client, user, [("page_size", "2"), ("cursor", bad)]), message)


def test_cursor_with_another_sort_is_422(client, user, cursor):
    for sort in ("due_at", "created_at", "-created_at,title", "id"):
        response = get_list(client, user, [("sort", sort), ("cursor", cursor)])
        assert_cursor_error(
            response, "This cursor belongs to sort=-created_at; repeat that sort or start "
            "again without a cursor.",
        )
    # The same sort spelt out (or with spaces) is the same sort.
    for sort in ("-created_at", " -created_at "):
        params = [("sort", sort), ("page_size", "2"), ("cursor", cursor)]
        check_page(get_list(client, user, params), TASKS, params, keyset=True)


@pytest.mark.parametrize("page", ["1", "2"])
def test_cursor_with_page_is_422(client, user, cursor, page):
    response = get_list(client, user, [("page_size", "2"), ("page", page), ("cursor", cursor)])

    assert_cursor_error(response, "Send either cursor or page, not both.")


def test_cursor_of_another_user_is_422(client, user, other_user, cursor):
    create_task(client, other_user, title="theirs")

    response = get_list(client, other_user, [("page_size", "2"), ("cursor", cursor)])

    assert_cursor_error(response, "Invalid cursor.")
    # Still valid for its owner.
    params = [("page_size", "2"), ("cursor", cursor)]
    check_page(get_list(client, user, params), TASKS, params, keyset=True)


def test_cursor_signed_with_another_secret_is_422(client, user, app_config, cursor):
    other_app = create_app({**app_config, "SECRET_KEY": ANOTHER_SECRET})
    try:
        other_client = other_app.test_client()
        foreign = first_cursor(other_client, user, [("page_size", "2")])
        params = [("page_size", "2"), ("cursor", foreign)]
        # Valid where it was issued (same database, same user) ...
        check_page(get_list(other_client, user, params), TASKS, params, keyset=True)
        # ... but not here, nor our cursor there.
        assert_cursor_error(get_list(client, user, params), "Invalid cursor.")
        assert_cursor_error(
            get_list(other_client, user, [("page_size", "2"), ("cursor", cursor)]),
            "Invalid cursor.",
        )
    finally:
        with other_app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_cursor_signed_after_secret_change_is_422(client, user, app, cursor):
    original, app.config["SECRET_KEY"] = app.config["SECRET_KEY"], ANOTHER_SECRET
    try:
        assert_cursor_error(get_list(client, user, [("page_size", "2"), ("cursor", cursor)]),
                            "Invalid cursor.")
    finally:
        app.config["SECRET_KEY"] = original
    params = [("page_size", "2"), ("cursor", cursor)]
    check_page(get_list(client, user, params), TASKS, params, keyset=True)


@pytest.mark.parametrize("page_size", ["0", "101", "-1", "x"])
def test_page_size_bounds_apply_with_cursor(client, user, cursor, page_size):
    response = get_list(client, user, [("page_size", page_size), ("cursor", cursor)])

    assert_error(response, 422, field="page_size")
    assert_no_next(response)


@pytest.mark.parametrize("page_size", ["1", "100"])
def test_page_size_limits_with_cursor_are_accepted(client, user, cursor, page_size):
    params = [("page_size", page_size), ("cursor", cursor)]

    body = check_page(get_list(client, user, params), TASKS, params, keyset=True)

    assert [task["title"] for task in body] == ["t2", "t1", "t0"][: int(page_size)]


def test_cursor_without_token_is_401(client, cursor):
    response = client.get(f"{TASKS}?cursor={cursor}")

    assert_error(response, 401)
    assert_no_next(response)


# ---------------------------------------------------------------- title sort


@pytest.mark.parametrize("sort", ["title", "-title", "title,id", "priority,title"])
def test_cursor_of_title_sort_is_accepted(client, user, sort):
    """A cursor the server issued for a sort with ``title`` must be accepted back."""
    for title in ("b", "A", "c"):
        create_task(client, user, title=title)
    params = [("sort", sort), ("page_size", "1")]
    cursor = first_cursor(client, user, params)

    query = [*params, ("cursor", cursor)]
    response = get_list(client, user, query)

    body = check_page(response, TASKS, query, keyset=True)
    assert len(body) == 1


# ------------------------------------------------------------------ compat


def compat_path(account) -> str:
    return f"/api/{account.id}/tasks"


def test_compat_list_has_next_cursor_and_cursor_works(client, user, app):
    rows = insert_tasks(app, user.id, varied_specs(7, seed=9))
    path = compat_path(user)

    response = get_list(client, user, [("page_size", "2")], path)
    body = check_page(response, path, [("page_size", "2")], keyset=False)
    assert json.loads(response.headers["X-Pagination"])["total"] == 7
    assert "X-Next-Cursor" in response.headers
    # The original contract's default order: creation order (id ascending).
    assert [task["id"] for task in body] == python_order(rows, "id")[:2]

    pages = walk(client, user, [("page_size", "2")], path=path)
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    assert ids_of(pages) == python_order(rows, "id")
    assert all(task["user_id"] == user.id for page in pages for task in page)

    linked = walk(client, user, [("page_size", "2")], path=path, follow_link=True)
    assert ids_of(linked) == python_order(rows, "id")


def test_compat_cursor_without_page_size_returns_the_rest(client, user, app):
    rows = insert_tasks(app, user.id, varied_specs(9, seed=10))
    path = compat_path(user)
    cursor = first_cursor(client, user, [("page_size", "4"), ("sort", "due_at")], path)

    params = [("sort", "due_at"), ("cursor", cursor)]
    response = get_list(client, user, params, path)

    body = check_page(response, path, params, keyset=True)
    assert [task["id"] for task in body] == python_order(rows, "due_at")[4:]
    assert_no_next(response)

    full = get_list(client, user, [("sort", "due_at")], path)
    assert [task["id"] for task in check_page(full, path, [("sort", "due_at")],
                                              keyset=False)] == python_order(rows, "due_at")
    assert_no_next(full)


def test_compat_bad_cursors_are_422(client, user, other_user, cursor):
    path = compat_path(user)
    compat_cursor = first_cursor(client, user, [("page_size", "2")], path)

    for params, message in [
        ([("cursor", tamper_signature(compat_cursor))], "Invalid cursor."),
        ([("cursor", compat_cursor), ("page", "2")], "Send either cursor or page, not both."),
        ([("cursor", compat_cursor), ("sort", "-created_at")], None),
        ([("cursor", "")], None),
    ]:
        assert_cursor_error(get_list(client, user, params, path), message)

    create_task(client, other_user, title="theirs")
    response = get_list(client, other_user, [("cursor", compat_cursor)], compat_path(other_user))
    assert_cursor_error(response, "Invalid cursor.")

    for page_size in ("0", "1001"):
        response = get_list(client, user, [("page_size", page_size), ("cursor", compat_cursor)],
                            path)
        assert_error(response, 422, field="page_size")


def test_compat_other_users_path_with_cursor_is_403(client, user, cursor):
    stranger = make_account(client, "eve@example.com")

    response = get_list(client, stranger, [("cursor", cursor)], compat_path(user))

    assert_error(response, 403)
    assert_no_next(response)
