"""Filters and sort orders of GET /api/v1/tasks (and the compat list /api/{id}/tasks).

Tasks are created through the API; each test checks which tasks come back, in
which order, and that bad query values are a 422 naming the parameter.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from tests.helpers import assert_error, create_task, task_count

TASKS = "/api/v1/tasks"
ME = "/api/v1/auth/me"
PAST = "2020-01-01T00:00:00Z"
FUTURE = "2999-01-01T00:00:00Z"


# --------------------------------------------------------------------- helpers



def list_tasks(client, account, params=(), path=TASKS):
    """GET the list with ``params`` (dict or list of pairs); returns the response."""
    query = urlencode(list(params.items()) if isinstance(params, dict) else list(params))
    return client.get(f"{path}?{query}" if query else path, headers=account.headers)


def titles(client, account, params=(), path=TASKS) -> list[str]:
    response = list_tasks(client, account, params, path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [task["title"] for task in response.get_json()]


def set_timezone(client, account, zone: str) -> None:
    response = client.patch(ME, json={"timezone": zone}, headers=account.headers)
    assert response.status_code == 200, response.get_data(as_text=True)


def pagination(response) -> dict:
    return json.loads(response.headers["X-Pagination"])


# --------------------------------------------------------------- simple filters


@pytest.fixture
def mixed(client, user, other_user):
    """A spread of tasks for ``user`` (created in this order) and one for ``other_user``."""
    create_task(client, user, title="open-high", priority="high", due_at=PAST,
                tags=["Work", "urgent"])
    create_task(client, user, title="done-high", priority="high", completed=True,
                due_at=PAST, tags=["work"])
    create_task(client, user, title="open-medium", priority="medium", due_at=FUTURE,
                tags=["home"])
    create_task(client, user, title="done-low", priority="low", completed=True,
                tags=["home", "work"])
    create_task(client, user, title="open-none")
    create_task(client, other_user, title="theirs", priority="high", due_at=PAST,
                tags=["work"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"open-high", "done-high", "open-medium", "done-low", "open-none"}),
        ({"completed": "true"}, {"done-high", "done-low"}),
        ({"completed": "false"}, {"open-high", "open-medium", "open-none"}),
        ({"priority": "high"}, {"open-high", "done-high"}),
        ([("priority", "high"), ("priority", "low")], {"open-high", "done-high", "done-low"}),
        ([("priority", "low"), ("priority", "medium")], {"open-medium", "done-low"}),
        ({"tag": "work"}, {"open-high", "done-high", "done-low"}),
        ({"tag": "WORK"}, {"open-high", "done-high", "done-low"}),
        ([("tag", "work"), ("tag", "home")], {"done-low"}),
        ([("tag", "Work"), ("tag", "URGENT")], {"open-high"}),
        ([("tag", "work"), ("tag", "work")], {"open-high", "done-high", "done-low"}),
        ({"tag": "nosuchtag"}, set()),
        ([("tag", "home"), ("tag", "urgent")], set()),
        ({"has_due": "true"}, {"open-high", "done-high", "open-medium"}),
        ({"has_due": "false"}, {"done-low", "open-none"}),
        ({"overdue": "true"}, {"open-high"}),
        ({"overdue": "false"}, {"done-high", "open-medium", "done-low", "open-none"}),
        ({"due_before": "2021-01-01T00:00:00Z"}, {"open-high", "done-high"}),
        ({"due_after": "2021-01-01T00:00:00Z"}, {"open-medium"}),
        ({"due_after": "2019-12-31T23:00:00-02:00"}, {"open-medium"}),
        ({"due_after": "2019-12-31T23:00:00+02:00"}, {"open-high", "done-high",
                                                      "open-medium"}),
        ({"due_before": "2020-01-01T00:00:00Z"}, set()),
        ({"due_after": FUTURE}, set()),
        # Combined (AND)
        ({"completed": "false", "priority": "high"}, {"open-high"}),
        ({"completed": "true", "tag": "work"}, {"done-high", "done-low"}),
        ([("tag", "work"), ("has_due", "false")], {"done-low"}),
        ([("priority", "high"), ("priority", "medium"), ("overdue", "false")],
         {"done-high", "open-medium"}),
        ({"q": "open", "has_due": "true", "completed": "false"}, {"open-high", "open-medium"}),
        ({"due_after": "2019-01-01T00:00:00Z", "due_before": "2021-01-01T00:00:00Z",
          "completed": "true"}, {"done-high"}),
    ],
)
def test_filters(client, user, mixed, params, expected):
    assert set(titles(client, user, params)) == expected


def test_filters_never_show_other_users_tasks(client, other_user, mixed):
    assert titles(client, other_user, {"tag": "work", "priority": "high"}) == ["theirs"]
    assert titles(client, other_user, {"tag": "home"}) == []


def test_filter_total_in_pagination_header(client, user, mixed):
    response = list_tasks(client, user, {"tag": "work", "page_size": 2})

    assert response.status_code == 200
    assert len(response.get_json()) == 2
    assert pagination(response)["total"] == 3


def test_tag_filter_after_task_retagged(client, user):
    task = create_task(client, user, title="t", tags=["a"])
    client.patch(f"{TASKS}/{task['id']}", json={"tags": ["b"]}, headers=user.headers)

    assert titles(client, user, {"tag": "a"}) == []
    assert titles(client, user, {"tag": "b"}) == ["t"]


def test_tag_filter_uses_own_tags_only(client, user, other_user):
    create_task(client, user, title="mine", tags=["x"])
    create_task(client, other_user, title="theirs", tags=["y"])

    assert titles(client, user, {"tag": "y"}) == []


# ------------------------------------------------------------------------ q


@pytest.fixture
def texts(client, user):
    for title, description in [
        ("100% done", None),
        ("1000 done", None),
        ("a_b", None),
        ("axb", None),
        ("Buy MILK", None),
        ("Groceries", "two litres of milk"),
        ("back\\slash", None),
        ("other", "nothing here"),
    ]:
        create_task(client, user, title=title, description=description)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("milk", {"Buy MILK", "Groceries"}),
        ("MILK", {"Buy MILK", "Groceries"}),
        ("  milk  ", {"Buy MILK", "Groceries"}),
        ("litres OF", {"Groceries"}),
        ("100%", {"100% done"}),
        ("%", {"100% done"}),
        ("0%", {"100% done"}),
        ("a_b", {"a_b"}),
        ("_", {"a_b"}),
        ("\\", {"back\\slash"}),
        ("k\\s", {"back\\slash"}),
        ("done", {"100% done", "1000 done"}),
        ("zzz", set()),
    ],
)
def test_q_matches_title_or_description_literally(client, user, texts, q, expected):
    assert set(titles(client, user, {"q": q})) == expected


def test_q_does_not_search_other_users(client, user, other_user, texts):
    assert titles(client, other_user, {"q": "milk"}) == []


# ------------------------------------------------------------------ due_on


def test_due_on_uses_user_timezone(client, user):
    create_task(client, user, title="late-evening-ny", due_at="2025-03-10T03:00:00Z")
    create_task(client, user, title="noon-10th", due_at="2025-03-10T16:00:00Z")
    create_task(client, user, title="start-9th-ny", due_at="2025-03-09T05:00:00Z")
    create_task(client, user, title="end-8th-ny", due_at="2025-03-09T04:59:59Z")
    create_task(client, user, title="no-due")

    # UTC by default.
    assert set(titles(client, user, {"due_on": "2025-03-10"})) == {
        "late-evening-ny", "noon-10th",
    }
    assert set(titles(client, user, {"due_on": "2025-03-09"})) == {
        "start-9th-ny", "end-8th-ny",
    }

    set_timezone(client, user, "America/New_York")

    assert set(titles(client, user, {"due_on": "2025-03-10"})) == {"noon-10th"}
    assert set(titles(client, user, {"due_on": "2025-03-09"})) == {
        "late-evening-ny", "start-9th-ny",
    }
    assert set(titles(client, user, {"due_on": "2025-03-08"})) == {"end-8th-ny"}
    assert titles(client, user, {"due_on": "2025-03-11"}) == []


def test_due_on_timezone_east_of_utc(client, user):
    create_task(client, user, title="t", due_at="2025-06-30T23:30:00Z")
    set_timezone(client, user, "Asia/Tokyo")

    assert titles(client, user, {"due_on": "2025-07-01"}) == ["t"]
    assert titles(client, user, {"due_on": "2025-06-30"}) == []


def test_due_on_combined_with_other_filters(client, user):
    create_task(client, user, title="a", due_at="2025-03-10T12:00:00Z", tags=["x"])
    create_task(client, user, title="b", due_at="2025-03-10T13:00:00Z", completed=True)

    assert titles(client, user, {"due_on": "2025-03-10", "tag": "x"}) == ["a"]
    assert titles(client, user, {"due_on": "2025-03-10", "completed": "true"}) == ["b"]


# ------------------------------------------------------------ updated_since


def test_updated_since(client, user):
    a = create_task(client, user, title="a")
    b = create_task(client, user, title="b")

    assert set(titles(client, user, {"updated_since": a["updated_at"]})) == {"a", "b"}
    assert titles(client, user, {"updated_since": b["updated_at"]}) == ["b"]
    assert titles(client, user, {"updated_since": "2999-01-01T00:00:00+00:00"}) == []

    client.patch(f"{TASKS}/{a['id']}", json={"title": "a2"}, headers=user.headers)

    assert set(titles(client, user, {"updated_since": b["updated_at"]})) == {"a2", "b"}


def test_updated_since_with_offset(client, user):
    create_task(client, user, title="a")

    # Far past in another offset: everything; far future: nothing.
    assert titles(client, user, {"updated_since": "2000-01-01T00:00:00+05:30"}) == ["a"]
    assert titles(client, user, {"updated_since": "2998-12-31T23:00:00-05:00"}) == []


# -------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"completed": "yes"}, "completed"),
        ({"completed": "1"}, "completed"),
        ({"completed": "TRUE "}, "completed"),
        ({"priority": "urgent"}, "priority"),
        ([("priority", "high"), ("priority", "HIGH")], "priority"),
        ({"tag": "a,b"}, "tag"),
        ({"tag": "x" * 51}, "tag"),
        ({"tag": ""}, "tag"),
        ({"q": "x" * 201}, "q"),
        ({"due_before": "2025-01-01T00:00:00"}, "due_before"),
        ({"due_before": "tomorrow"}, "due_before"),
        ({"due_after": "2025-01-01T00:00:00"}, "due_after"),
        ({"due_after": "2025-02-30T00:00:00Z"}, "due_after"),
        ({"due_on": "2025-13-01"}, "due_on"),
        ({"due_on": "2025-02-30"}, "due_on"),
        ({"due_on": "10/03/2025"}, "due_on"),
        ({"due_on": "today"}, "due_on"),
        ({"overdue": "maybe"}, "overdue"),
        ({"has_due": "0"}, "has_due"),
        ({"updated_since": "2025-01-01T00:00:00"}, "updated_since"),
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"sort": "name"}, "sort"),
        ({"sort": "-user_id"}, "sort"),
        ({"sort": "title,title"}, "sort"),
        ({"sort": "title,-title"}, "sort"),
        ({"sort": "id,-id"}, "sort"),
        ({"sort": "title,"}, "sort"),
        ({"sort": ""}, "sort"),
        ({"sort": "--title"}, "sort"),
        ({"sort": "+title"}, "sort"),
        ({"sort": "TITLE"}, "sort"),
    ],
)
def test_bad_query_values_are_422_naming_the_parameter(client, user, params, field):
    response = list_tasks(client, user, params)

    body = assert_error(response, 422, field=field)
    assert field in body["errors"]["query"]


def test_bad_filter_on_compat_list_is_422(client, user):
    user_id = client.get(ME, headers=user.headers).get_json()["id"]

    response = list_tasks(client, user, {"sort": "bogus"}, path=f"/api/{user_id}/tasks")

    assert_error(response, 422, field="sort")


def test_list_requires_token_even_with_filters(client):
    assert_error(client.get(f"{TASKS}?tag=work&sort=title"), 401)


# ------------------------------------------------------------------ sorting


def test_default_sort_is_newest_first(client, user):
    for title in ("first", "second", "third"):
        create_task(client, user, title=title)

    assert titles(client, user) == ["third", "second", "first"]
    assert titles(client, user, {"sort": "-created_at"}) == ["third", "second", "first"]
    assert titles(client, user, {"sort": "created_at"}) == ["first", "second", "third"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("id", ["first", "second", "third"]),
        ("-id", ["third", "second", "first"]),
        ("updated_at", ["second", "third", "first"]),
        ("-updated_at", ["first", "third", "second"]),
    ],
)
def test_sort_by_id_and_updated_at(client, user, sort, expected):
    first = create_task(client, user, title="first")
    create_task(client, user, title="second")
    create_task(client, user, title="third")
    client.patch(f"{TASKS}/{first['id']}", json={"priority": "low"}, headers=user.headers)

    assert titles(client, user, {"sort": sort}) == expected


@pytest.fixture
def dated(client, user):
    create_task(client, user, title="none-1")
    create_task(client, user, title="mid", due_at="2025-06-01T00:00:00Z")
    create_task(client, user, title="early", due_at="2025-01-01T00:00:00Z")
    create_task(client, user, title="none-2")
    create_task(client, user, title="late", due_at="2025-12-01T00:00:00+02:00")


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("due_at", ["early", "mid", "late", "none-1", "none-2"]),
        ("due_at,id", ["early", "mid", "late", "none-1", "none-2"]),
        ("-due_at,id", ["late", "mid", "early", "none-1", "none-2"]),
        ("due_at,-id", ["early", "mid", "late", "none-2", "none-1"]),
    ],
)
def test_sort_by_due_at_puts_missing_last_both_ways(client, user, dated, sort, expected):
    assert titles(client, user, {"sort": sort}) == expected


def test_sort_by_due_at_desc_missing_last(client, user, dated):
    order = titles(client, user, {"sort": "-due_at"})

    assert order[:3] == ["late", "mid", "early"]
    assert set(order[3:]) == {"none-1", "none-2"}


@pytest.fixture
def prioritized(client, user) -> dict[str, int]:
    ids = {}
    for title, priority in [
        ("low-1", "low"), ("none-1", None), ("high-1", "high"), ("medium-1", "medium"),
        ("low-2", "low"), ("high-2", "high"), ("none-2", None),
    ]:
        ids[title] = create_task(client, user, title=title, priority=priority)["id"]
    return ids


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("priority",
         ["none-1", "none-2", "low-1", "low-2", "medium-1", "high-1", "high-2"]),
        ("priority,id",
         ["none-1", "none-2", "low-1", "low-2", "medium-1", "high-1", "high-2"]),
        ("-priority,id",
         ["high-1", "high-2", "medium-1", "low-1", "low-2", "none-1", "none-2"]),
        ("-priority,-id",
         ["high-2", "high-1", "medium-1", "low-2", "low-1", "none-2", "none-1"]),
        ("-priority,title",
         ["high-1", "high-2", "medium-1", "low-1", "low-2", "none-1", "none-2"]),
    ],
)
def test_sort_by_priority(client, user, prioritized, sort, expected):
    assert titles(client, user, {"sort": sort}) == expected


def test_sort_desc_priority_groups_high_first(client, user, prioritized):
    order = titles(client, user, {"sort": "-priority"})

    assert [t.split("-")[0] for t in order] == [
        "high", "high", "medium", "low", "low", "none", "none",
    ]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("title", ["apple", "Banana", "banana", "cherry"]),
        ("-title,id", ["cherry", "Banana", "banana", "apple"]),
        ("title,-id", ["apple", "banana", "Banana", "cherry"]),
    ],
)
def test_sort_by_title_case_insensitive(client, user, sort, expected):
    for title in ("cherry", "Banana", "apple", "banana"):
        create_task(client, user, title=title)

    assert titles(client, user, {"sort": sort}) == expected


def test_multi_key_sort(client, user):
    create_task(client, user, title="b-high", priority="high", completed=True)
    create_task(client, user, title="a-low", priority="low")
    create_task(client, user, title="a-high", priority="high")
    create_task(client, user, title="c-none")

    assert titles(client, user, {"sort": "-priority,title"}) == [
        "a-high", "b-high", "a-low", "c-none",
    ]
    assert titles(client, user, {"sort": " -priority , -title "}) == [
        "b-high", "a-high", "a-low", "c-none",
    ]


def test_sort_with_filters(client, user, prioritized):
    low_1 = prioritized["low-1"]
    client.patch(f"{TASKS}/{low_1}", json={"completed": True}, headers=user.headers)

    params = [("sort", "-priority,id"), ("completed", "false"),
              ("priority", "low"), ("priority", "high")]
    assert titles(client, user, params) == ["high-1", "high-2", "low-2"]


def test_paging_continues_the_sort_order(client, user, prioritized):
    full = titles(client, user, {"sort": "title"})
    assert full == sorted(full, key=str.lower)

    page1 = list_tasks(client, user, {"sort": "title", "page_size": 3, "page": 1})
    page2 = list_tasks(client, user, {"sort": "title", "page_size": 3, "page": 2})
    page3 = list_tasks(client, user, {"sort": "title", "page_size": 3, "page": 3})

    got = [[t["title"] for t in page.get_json()] for page in (page1, page2, page3)]
    assert got == [full[0:3], full[3:6], full[6:7]]
    assert pagination(page2)["total"] == 7


def test_paging_with_priority_sort_and_ties(client, user, prioritized):
    expected = ["high-1", "high-2", "medium-1", "low-1", "low-2", "none-1", "none-2"]
    pages = [
        [t["title"] for t in list_tasks(
            client, user, {"sort": "-priority,id", "page_size": 2, "page": page}
        ).get_json()]
        for page in (1, 2, 3, 4)
    ]

    assert pages == [expected[0:2], expected[2:4], expected[4:6], expected[6:7]]


# --------------------------------------------------------------- compat list


def test_compat_list_accepts_filters_and_sort(client, user, other_user):
    user_id = client.get(ME, headers=user.headers).get_json()["id"]
    create_task(client, user, title="b", priority="high", tags=["work"])
    create_task(client, user, title="a", priority="high", tags=["Work"], completed=True)
    create_task(client, user, title="c", priority="low", tags=["work"])
    create_task(client, user, title="d", priority="high")
    create_task(client, other_user, title="e", priority="high", tags=["work"])
    path = f"/api/{user_id}/tasks"

    assert titles(client, user, [("tag", "WORK"), ("priority", "high"), ("sort", "title")],
                  path=path) == ["a", "b"]
    assert titles(client, user, {"completed": "false", "sort": "-priority,-title"},
                  path=path) == ["d", "b", "c"]
    assert titles(client, user, {"q": "C"}, path=path) == ["c"]


def test_compat_list_due_on_uses_timezone(client, user):
    user_id = client.get(ME, headers=user.headers).get_json()["id"]
    create_task(client, user, title="t", due_at="2025-03-10T03:00:00Z")
    set_timezone(client, user, "America/New_York")
    path = f"/api/{user_id}/tasks"

    assert titles(client, user, {"due_on": "2025-03-09"}, path=path) == ["t"]
    assert titles(client, user, {"due_on": "2025-03-10"}, path=path) == []
    assert task_count(client.application) == 1
