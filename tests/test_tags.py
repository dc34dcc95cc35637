"""Tags on tasks, /api/v1/tags, and the user's settings at /api/v1/auth/me.

Every test goes through the HTTP client and checks status, body and the rows in
the database (read in a fresh app context).
"""

from __future__ import annotations

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
    # The tags themselves remain (with no tasks).
    assert len(tag_rows(app, user.id)) == 2


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


def test_tag_whose_tasks_were_deleted_is_listed_with_zero(app, client, user):
    task = create_task(client, user, tags=["lonely", "kept"])
    create_task(client, user, title="other", tags=["kept"])

    assert client.delete(f"{TASKS}/{task['id']}", headers=user.headers).status_code == 204

    assert client.get(TAGS, headers=user.headers).get_json() == [
        {"name": "kept", "task_count": 1},
        {"name": "lonely", "task_count": 0},
    ]
    assert len(tag_rows(app, user.id)) == 2


def test_tag_removed_from_task_by_patch_counts_zero(client, user):
    task = create_task(client, user, tags=["gone"])
    client.patch(f"{TASKS}/{task['id']}", json={"tags": []}, headers=user.headers)

    assert client.get(TAGS, headers=user.headers).get_json() == [
        {"name": "gone", "task_count": 0}
    ]


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
    task = create_task(client, user, tags=["x"])
    client.delete(f"{TASKS}/{task['id']}", headers=user.headers)

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
