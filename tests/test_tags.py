"""Tags on tasks, /api/v1/tags, and the user's settings at /api/v1/auth/me.

Every test goes through the HTTP client and checks status, body and the rows in
the database (read in a fresh app context).
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.models import Tag, Task, User, task_tags
from tests.helpers import assert_error, create_task, task_count, task_row

TASKS = "/api/v1/tasks"
TAGS = "/api/v1/tags"
ME = "/api/v1/auth/me"


# --------------------------------------------------------------------- helpers



def tag_rows(app, user_id: int | None = None) -> list[tuple[int, str, str]]:
    """``(user_id, name, name_key)`` of every tag row, optionally for one user."""
    with app.app_context():
        query = sa.select(Tag.user_id, Tag.name, Tag.name_key).order_by(Tag.id)
        if user_id is not None:
            query = query.where(Tag.user_id == user_id)
        return [tuple(row) for row in db.session.execute(query)]


def db_task_tags(app, task_id: int) -> list[str]:
    """Names of the tags linked to the task in the association table, sorted."""
    with app.app_context():
        return sorted(
            db.session.scalars(
                sa.select(Tag.name)
                .join(task_tags, task_tags.c.tag_id == Tag.id)
                .where(task_tags.c.task_id == task_id)
            )
        )


def association_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(task_tags))


def data_version(app, user_id: int) -> int:
    with app.app_context():
        return db.session.get(User, user_id).data_version


def tag_ids(app, user_id: int) -> dict[str, int]:
    """``{name_key: id}`` of the user's tags."""
    with app.app_context():
        return dict(db.session.execute(
            sa.select(Tag.name_key, Tag.id).where(Tag.user_id == user_id)).all())


def pagination(response) -> dict:
    return json.loads(response.headers["X-Pagination"])


def user_row(app, user_id: int) -> dict:
    with app.app_context():
        user = db.session.get(User, user_id)
        return {"name": user.name, "timezone": user.timezone}


# ------------------------------------------------------------ tags on tasks


def test_create_with_tags_returns_them_sorted_case_insensitively(app, client, user):
    task = create_task(client, user, tags=["cherry", "Banana", "apple", "  Date  "])

    assert task["tags"] == ["apple", "Banana", "cherry", "Date"]
    assert client.get(f"{TASKS}/{task['id']}", headers=user.headers).get_json()["tags"] == [
        "apple", "Banana", "cherry", "Date",
    ]
    assert sorted(name for _, name, _ in tag_rows(app, user.id)) == [
        "Banana", "Date", "apple", "cherry",
    ]
    assert {key for _, _, key in tag_rows(app)} == {"apple", "banana", "cherry", "date"}
    assert db_task_tags(app, task["id"]) == ["Banana", "Date", "apple", "cherry"]


def test_task_without_tags_has_empty_list(app, client, user):
    task = create_task(client, user)

    assert task["tags"] == []
    assert tag_rows(app) == []


def test_tag_matched_case_insensitively_keeps_first_case(app, client, user):
    first = create_task(client, user, title="A", tags=["Work"])
    second = create_task(client, user, title="B", tags=["work"])
    third = create_task(client, user, title="C", tags=["WORK", "home"])

    assert first["tags"] == ["Work"]
    assert second["tags"] == ["Work"]
    assert third["tags"] == ["home", "Work"]
    assert tag_rows(app, user.id) == [(user.id, "Work", "work"), (user.id, "home", "home")]
    assert db_task_tags(app, second["id"]) == ["Work"]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["a", "A", "a"], ["a"]),
        (["x", " x ", "X"], ["x"]),
        (["Go", "go", "rust", "Rust"], ["Go", "rust"]),
    ],
)
def test_duplicate_tags_in_one_list_collapse(app, client, user, tags, expected):
    task = create_task(client, user, tags=tags)

    assert task["tags"] == expected
    assert [name for _, name, _ in tag_rows(app)] == expected
    assert association_count(app) == len(expected)


def test_tags_are_per_user(app, client, user, other_user):
    mine = create_task(client, user, tags=["Work"])
    theirs = create_task(client, other_user, tags=["WORK"])

    assert mine["tags"] == ["Work"]
    assert theirs["tags"] == ["WORK"]
    assert tag_rows(app, user.id) == [(user.id, "Work", "work")]
    assert tag_rows(app, other_user.id) == [(other_user.id, "WORK", "work")]


def test_tag_boundaries_accepted(app, client, user):
    twenty = [f"t{i:02d}" for i in range(20)]
    task = create_task(client, user, tags=twenty)
    assert task["tags"] == twenty

    long_name = "x" * 50
    task = create_task(client, user, tags=[long_name, "  " + "y" * 46 + "  "])
    assert task["tags"] == [long_name, "y" * 46]
    assert len(tag_rows(app, user.id)) == 22


def test_put_without_tags_clears_them(app, client, user):
    task = create_task(client, user, tags=["a", "b"])

    response = client.put(f"{TASKS}/{task['id']}", json={"title": "New"}, headers=user.headers)

    assert response.status_code == 200
    assert response.get_json()["tags"] == []
    assert db_task_tags(app, task["id"]) == []
    # No other task carries them: the tags themselves are gone.
    assert tag_rows(app, user.id) == []


def test_put_with_tags_replaces_them(app, client, user):
    task = create_task(client, user, tags=["a", "b"])

    response = client.put(
        f"{TASKS}/{task['id']}", json={"title": "New", "tags": ["B", "c"]}, headers=user.headers
    )

    assert response.status_code == 200
    assert response.get_json()["tags"] == ["b", "c"]
    assert db_task_tags(app, task["id"]) == ["b", "c"]


def test_patch_without_tags_keeps_them(app, client, user):
    task = create_task(client, user, tags=["a", "b"])

    response = client.patch(
        f"{TASKS}/{task['id']}", json={"title": "Renamed"}, headers=user.headers
    )

    assert response.status_code == 200
    assert response.get_json()["tags"] == ["a", "b"]
    assert response.get_json()["title"] == "Renamed"
    assert db_task_tags(app, task["id"]) == ["a", "b"]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [(["c", "A"], ["A", "c"]), (["b"], ["b"]), ([], [])],
)
def test_patch_with_tags_replaces_them(app, client, user, tags, expected):
    task = create_task(client, user, tags=["A", "b"])

    response = client.patch(f"{TASKS}/{task['id']}", json={"tags": tags}, headers=user.headers)

    assert response.status_code == 200
    assert response.get_json()["tags"] == expected
    assert db_task_tags(app, task["id"]) == sorted(expected)
    assert task_row(app, task["id"])["title"] == "Task"


INVALID_TAGS = [
    pytest.param([f"t{i}" for i in range(21)], id="21-tags"),
    pytest.param(["a,b"], id="comma"),
    pytest.param([""], id="empty"),
    pytest.param(["   "], id="blank"),
    pytest.param(["x" * 51], id="51-chars"),
    pytest.param([1], id="non-string"),
    pytest.param(["ok", None], id="null-item"),
    pytest.param(["a\x00b"], id="nul"),
    pytest.param(["a\nb"], id="newline"),
    pytest.param(["a\tb"], id="tab"),
    pytest.param("work", id="not-a-list"),
    pytest.param(None, id="null"),
]


@pytest.mark.parametrize("tags", INVALID_TAGS)
def test_create_with_invalid_tags_is_422_and_stores_nothing(app, client, user, tags):
    response = client.post(TASKS, json={"title": "T", "tags": tags}, headers=user.headers)

    assert_error(response, 422, field="tags")
    assert task_count(app) == 0
    assert tag_rows(app) == []


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("tags", INVALID_TAGS)
def test_update_with_invalid_tags_is_422_and_changes_nothing(app, client, user, method, tags):
    task = create_task(client, user, title="Keep", tags=["keep"])
    before = task_row(app, task["id"])

    response = getattr(client, method)(
        f"{TASKS}/{task['id']}", json={"title": "Changed", "tags": tags}, headers=user.headers
    )

    assert_error(response, 422, field="tags")
    assert task_row(app, task["id"]) == before
    assert db_task_tags(app, task["id"]) == ["keep"]
    assert tag_rows(app) == [(user.id, "keep", "keep")]
    assert task_count(app) == 1


# ----------------------------------------------------------------- GET /tags


def test_list_tags_with_counts_ordered_case_insensitively(app, client, user, other_user):
    create_task(client, user, title="1", tags=["zeta", "Alpha"])
    create_task(client, user, title="2", tags=["alpha", "beta"])
    create_task(client, user, title="3", tags=["ALPHA"])
    create_task(client, other_user, title="x", tags=["alpha", "other"])

    response = client.get(TAGS, headers=user.headers)

    assert response.status_code == 200
    assert response.get_json() == [
        {"name": "Alpha", "task_count": 3},
        {"name": "beta", "task_count": 1},
        {"name": "zeta", "task_count": 1},
    ]
    assert client.get(TAGS, headers=other_user.headers).get_json() == [
        {"name": "alpha", "task_count": 1},
        {"name": "other", "task_count": 1},
    ]


def test_list_tags_order_mixed_case(client, user):
    create_task(client, user, tags=["cherry", "Banana", "apple", "Date"])

    names = [tag["name"] for tag in client.get(TAGS, headers=user.headers).get_json()]

    assert names == ["apple", "Banana", "cherry", "Date"]


def test_list_tags_empty(client, user):
    response = client.get(TAGS, headers=user.headers)

    assert response.status_code == 200
    assert response.get_json() == []


def test_tag_whose_last_task_was_deleted_is_gone(app, client, user):
    task = create_task(client, user, tags=["lonely", "kept"])
    create_task(client, user, title="other", tags=["kept"])

    assert client.delete(f"{TASKS}/{task['id']}", headers=user.headers).status_code == 204

    assert client.get(TAGS, headers=user.headers).get_json() == [
        {"name": "kept", "task_count": 1},
    ]
    assert tag_rows(app, user.id) == [(user.id, "kept", "kept")]


def test_tag_removed_from_its_last_task_by_patch_is_gone(app, client, user):
    task = create_task(client, user, tags=["gone"])
    client.patch(f"{TASKS}/{task['id']}", json={"tags": []}, headers=user.headers)

    assert client.get(TAGS, headers=user.headers).get_json() == []
    assert tag_rows(app, user.id) == []


def test_list_tags_offset_pages_with_x_pagination(client, user):
    names = [f"tag{i:02d}" for i in range(25)]
    create_task(client, user, title="a", tags=names[:20])
    create_task(client, user, title="b", tags=[*names[20:], "TAG00"])

    response = client.get(f"{TAGS}?page=2&page_size=10", headers=user.headers)

    assert response.status_code == 200
    assert response.get_json() == [{"name": name, "task_count": 1} for name in names[10:20]]
    assert pagination(response) == {"total": 25, "total_pages": 3, "first_page": 1,
                                    "last_page": 3, "page": 2, "previous_page": 1,
                                    "next_page": 3}
    last = client.get(f"{TAGS}?page=3&page_size=10", headers=user.headers)
    assert [tag["name"] for tag in last.get_json()] == names[20:]
    assert pagination(last)["page"] == 3 and "next_page" not in pagination(last)
    first = client.get(f"{TAGS}?page_size=10", headers=user.headers).get_json()
    assert first[0] == {"name": "tag00", "task_count": 2}
    past = client.get(f"{TAGS}?page=9&page_size=10", headers=user.headers)
    assert past.status_code == 200
    assert past.get_json() == []
    assert pagination(past)["total"] == 25


def test_list_tags_default_page_is_100_and_1000_at_most(client, user):
    names = [f"t{i:03d}" for i in range(101)]
    for start in range(0, 101, 20):
        create_task(client, user, title=f"t{start}", tags=names[start:start + 20])

    default = client.get(TAGS, headers=user.headers)
    assert [tag["name"] for tag in default.get_json()] == names[:100]
    assert pagination(default)["total"] == 101
    assert pagination(default)["last_page"] == 2
    everything = client.get(f"{TAGS}?page_size=1000", headers=user.headers)
    assert [tag["name"] for tag in everything.get_json()] == names
    assert pagination(everything)["total_pages"] == 1


@pytest.mark.parametrize("query", ["page_size=1001", "page_size=0", "page=0", "page=x"])
def test_list_tags_bad_paging_is_422(client, user, query):
    create_task(client, user, tags=["a"])

    assert_error(client.get(f"{TAGS}?{query}", headers=user.headers), 422,
                 field=query.split("=")[0])


def test_list_tags_etag_is_304_until_the_users_data_changes(app, client, user, other_user):
    task = create_task(client, user, tags=["a"])
    first = client.get(TAGS, headers=user.headers)
    etag = first.headers["ETag"]

    assert client.get(TAGS, headers={**user.headers, "If-None-Match": etag}).status_code == 304
    create_task(client, other_user, tags=["theirs"])  # another user's write
    unchanged = client.get(TAGS, headers={**user.headers, "If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.headers["ETag"] == etag

    client.patch(f"{TASKS}/{task['id']}", json={"tags": ["a", "b"]}, headers=user.headers)
    changed = client.get(TAGS, headers={**user.headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.get_json() == [{"name": "a", "task_count": 1}, {"name": "b", "task_count": 1}]
    assert changed.headers["ETag"] != etag
    other_page = client.get(f"{TAGS}?page_size=1", headers=user.headers)
    assert other_page.headers["ETag"] not in (etag, changed.headers["ETag"])

    assert client.delete(f"{TAGS}/b", headers=user.headers).status_code == 204
    after_delete = client.get(TAGS, headers={**user.headers,
                                             "If-None-Match": changed.headers["ETag"]})
    assert after_delete.status_code == 200
    assert after_delete.get_json() == [{"name": "a", "task_count": 1}]


# ------------------------------------------------------------- unused tags

#: name -> (method, path, body): each takes the tags "Solo", "shared" and "kept"
#: of task {task} away ("kept" stays on the task when it is updated).
DROPS = {
    "v1_put": ("put", TASKS + "/{task}", {"title": "T", "tags": ["kept"]}),
    "v1_patch": ("patch", TASKS + "/{task}", {"tags": ["KEPT"]}),
    "v1_delete": ("delete", TASKS + "/{task}", None),
    "compat_delete": ("delete", "/api/{me}/tasks/{task}", None),
}


@pytest.mark.parametrize("name", list(DROPS))
def test_tag_dropped_by_its_last_task_is_deleted(app, client, user, other_user, name):
    method, path, body = DROPS[name]
    task = create_task(client, user, title="T", tags=["Solo", "shared", "kept"])
    other = create_task(client, user, title="other", tags=["shared"])
    theirs = create_task(client, other_user, title="theirs", tags=["solo"])
    ids = tag_ids(app, user.id)
    version, their_version = data_version(app, user.id), data_version(app, other_user.id)

    response = getattr(client, method)(path.format(task=task["id"], me=user.id), json=body,
                                       headers=user.headers)

    assert response.status_code == (204 if method == "delete" else 200)
    # "Solo" had no other task: gone. "shared" is on another task, "kept" on this one.
    remaining = [(user.id, "shared", "shared")]
    if method != "delete":
        remaining.append((user.id, "kept", "kept"))
        assert response.get_json()["tags"] == ["kept"]
    assert tag_rows(app, user.id) == remaining
    after = tag_ids(app, user.id)
    assert after == {key: ids[key] for key in after}  # the survivors are the same rows
    assert db_task_tags(app, other["id"]) == ["shared"]
    assert tag_rows(app, other_user.id) == [(other_user.id, "solo", "solo")]
    assert db_task_tags(app, theirs["id"]) == ["solo"]
    assert data_version(app, user.id) == version + 1
    assert data_version(app, other_user.id) == their_version
    listed = [{"name": "shared", "task_count": 1}]
    if method != "delete":
        listed.insert(0, {"name": "kept", "task_count": 1})
    assert client.get(TAGS, headers=user.headers).get_json() == listed


def test_tags_kept_by_an_update_are_the_same_rows(app, client, user):
    task = create_task(client, user, tags=["Solo", "other"])
    ids = tag_ids(app, user.id)

    response = client.patch(f"{TASKS}/{task['id']}", json={"tags": ["SOLO", "new"]},
                            headers=user.headers)

    assert response.status_code == 200
    assert response.get_json()["tags"] == ["new", "Solo"]
    assert tag_rows(app, user.id) == [(user.id, "Solo", "solo"), (user.id, "new", "new")]
    assert tag_ids(app, user.id)["solo"] == ids["solo"]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("patch", TASKS + "/{task}", {"title": "Renamed"}),
    ("patch", TASKS + "/{task}/complete", None),
    ("put", "/api/{me}/tasks/{task}", {"title": "Compat rename"}),
    ("patch", "/api/{me}/tasks/{task}/complete", None),
])
def test_updates_without_tags_keep_the_tags(app, client, user, method, path, body):
    task = create_task(client, user, tags=["solo"])

    response = getattr(client, method)(path.format(task=task["id"], me=user.id), json=body,
                                       headers=user.headers)

    assert response.status_code == 200
    assert db_task_tags(app, task["id"]) == ["solo"]
    assert tag_rows(app, user.id) == [(user.id, "solo", "solo")]


# -------------------------------------------------------------- DELETE /tags


@pytest.mark.parametrize("path_name", ["work", "Work", "WORK"])
def test_delete_tag_case_insensitive(app, client, user, other_user, path_name):
    a = create_task(client, user, title="a", tags=["Work", "home"])
    b = create_task(client, user, title="b", tags=["work"])
    c = create_task(client, user, title="c", tags=["home"])
    theirs = create_task(client, other_user, title="t", tags=["work"])
    before = {t["id"]: task_row(app, t["id"]) for t in (a, b, c, theirs)}

    response = client.delete(f"{TAGS}/{path_name}", headers=user.headers)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert client.get(f"{TASKS}/{a['id']}", headers=user.headers).get_json()["tags"] == ["home"]
    assert client.get(f"{TASKS}/{b['id']}", headers=user.headers).get_json()["tags"] == []
    assert db_task_tags(app, a["id"]) == ["home"]
    assert db_task_tags(app, b["id"]) == []
    assert db_task_tags(app, c["id"]) == ["home"]
    # Losing the tag moves updated_at of the tasks that carried it, only those.
    for task in (a, b):
        after = task_row(app, task["id"])
        assert after["updated_at"] > before[task["id"]]["updated_at"]
        assert after["title"] == before[task["id"]]["title"]
    assert task_row(app, c["id"]) == before[c["id"]]
    assert task_row(app, theirs["id"]) == before[theirs["id"]]
    # Rows: my tag gone, the other user's same-named tag untouched.
    assert tag_rows(app, user.id) == [(user.id, "home", "home")]
    assert tag_rows(app, other_user.id) == [(other_user.id, "work", "work")]
    assert db_task_tags(app, theirs["id"]) == ["work"]
    assert task_count(app) == 4
    assert client.get(TAGS, headers=user.headers).get_json() == [
        {"name": "home", "task_count": 2}
    ]


def test_delete_tag_without_tasks(app, client, user):
    # A tag no task carries: left by a release that kept unused tags, or made
    # in flask shell.
    with app.app_context():
        db.session.add(Tag(user_id=user.id, name="x", name_key="x"))
        db.session.commit()

    assert client.get(TAGS, headers=user.headers).get_json() == [{"name": "x", "task_count": 0}]
    assert client.delete(f"{TAGS}/x", headers=user.headers).status_code == 204
    assert tag_rows(app) == []


def test_deleted_tag_name_can_be_used_again(app, client, user):
    old = create_task(client, user, title="old", tags=["Work"])
    client.delete(f"{TAGS}/work", headers=user.headers)

    new = create_task(client, user, title="new", tags=["work"])
    # A fresh tag is created, with the new case; the old task stays untagged.
    assert new["tags"] == ["work"]
    assert client.get(f"{TASKS}/{old['id']}", headers=user.headers).get_json()["tags"] == []
    assert tag_rows(app, user.id) == [(user.id, "work", "work")]


def test_delete_tag_then_new_tag_does_not_reappear_on_old_tasks(app, client, user):
    old = create_task(client, user, title="old", tags=["a", "b"])
    client.delete(f"{TAGS}/b", headers=user.headers)

    create_task(client, user, title="new", tags=["c"])

    assert client.get(f"{TASKS}/{old['id']}", headers=user.headers).get_json()["tags"] == ["a"]
    assert db_task_tags(app, old["id"]) == ["a"]


def test_delete_unknown_tag_is_404(app, client, user):
    create_task(client, user, tags=["known"])

    assert_error(client.delete(f"{TAGS}/unknown", headers=user.headers), 404)
    assert tag_rows(app, user.id) == [(user.id, "known", "known")]


def test_delete_other_users_tag_is_404(app, client, user, other_user):
    theirs = create_task(client, other_user, tags=["secret"])
    before = task_row(app, theirs["id"])

    assert_error(client.delete(f"{TAGS}/secret", headers=user.headers), 404)
    assert tag_rows(app) == [(other_user.id, "secret", "secret")]
    assert db_task_tags(app, theirs["id"]) == ["secret"]
    assert task_row(app, theirs["id"]) == before


@pytest.mark.parametrize(
    ("method", "path"), [("get", TAGS), ("delete", f"{TAGS}/work")]
)
def test_tags_require_token(app, client, user, method, path):
    create_task(client, user, tags=["work"])

    assert_error(getattr(client, method)(path), 401)
    assert_error(getattr(client, method)(path, headers={"Authorization": "Bearer nope"}), 401)
    assert tag_rows(app, user.id) == [(user.id, "work", "work")]


def test_deleting_task_keeps_other_tasks_tags(app, client, user):
    a = create_task(client, user, title="a", tags=["shared"])
    b = create_task(client, user, title="b", tags=["shared"])

    client.delete(f"{TASKS}/{a['id']}", headers=user.headers)

    assert db_task_tags(app, b["id"]) == ["shared"]
    with app.app_context():
        assert db.session.get(Task, a["id"]) is None
    assert association_count(app) == 1


# ----------------------------------------------------------------- /auth/me


def test_me_default_timezone_is_utc(client, user):
    response = client.get(ME, headers=user.headers)

    assert response.status_code == 200
    body = response.get_json()
    assert body["timezone"] == "UTC"
    assert body["id"] == user.id
    assert body["email"] == user.email


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Paris", "Asia/Kolkata", "UTC"])
def test_patch_me_timezone(app, client, user, zone):
    response = client.patch(ME, json={"timezone": zone}, headers=user.headers)

    assert response.status_code == 200
    assert response.get_json()["timezone"] == zone
    assert response.get_json()["name"] == "Ada"
    assert user_row(app, user.id) == {"name": "Ada", "timezone": zone}
    assert client.get(ME, headers=user.headers).get_json()["timezone"] == zone


def test_patch_me_timezone_is_trimmed(app, client, user):
    response = client.patch(ME, json={"timezone": "  Europe/Paris "}, headers=user.headers)

    assert response.status_code == 200
    assert user_row(app, user.id)["timezone"] == "Europe/Paris"


def test_patch_me_name(app, client, user):
    response = client.patch(ME, json={"name": "  Ada L.  "}, headers=user.headers)

    assert response.status_code == 200
    assert response.get_json()["name"] == "Ada L."
    assert response.get_json()["timezone"] == "UTC"
    assert user_row(app, user.id) == {"name": "Ada L.", "timezone": "UTC"}


def test_patch_me_both_fields(app, client, user):
    response = client.patch(
        ME, json={"name": "Lovelace", "timezone": "Asia/Tokyo"}, headers=user.headers
    )

    assert response.status_code == 200
    assert user_row(app, user.id) == {"name": "Lovelace", "timezone": "Asia/Tokyo"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": "   "}, "timezone"),
        ({"timezone": 5}, "timezone"),
        ({"timezone": None}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"email": "new@example.com"}, "email"),
        ({"is_admin": True}, "is_admin"),
        ({"nickname": "x"}, "nickname"),
        ({"name": "Ok", "timezone": "Mars/Olympus"}, "timezone"),
    ],
)
def test_patch_me_invalid_is_422_and_db_unchanged(app, client, user, body, field):
    response = client.patch(ME, json=body, headers=user.headers)

    assert_error(response, 422, field=field)
    assert user_row(app, user.id) == {"name": "Ada", "timezone": "UTC"}
    assert client.get(ME, headers=user.headers).get_json()["timezone"] == "UTC"


def test_me_requires_token(client, user):
    assert_error(client.get(ME), 401)
    assert_error(client.patch(ME, json={"timezone": "Europe/Paris"}), 401)
