"""Conditional requests (RFC 9110 section 13) on /api/v1/tasks/{id} and .../complete.

Every response that carries a task carries its strong ``ETag``; GET honours
``If-None-Match`` (304), writes honour ``If-Match`` (412 with the current ``ETag``
when stale), and ``REQUIRE_IF_MATCH`` turns a missing ``If-Match`` into a 428.
Every test checks the status, the body and the stored row.
"""

from __future__ import annotations

import re

import pytest

from taskapi import create_app
from taskapi.config import ConfigurationError
from tests.helpers import assert_error, task_count, task_row

TASKS = "/api/v1/tasks"
TAGS = "/api/v1/tags"
#: A quoted strong entity tag (RFC 9110 section 8.8.3): no W/ prefix.
STRONG_ETAG = re.compile(r'^"[^"\s]+"$')
STALE_LOOKING = '"0000000000000000000000000000000000000000"'

#: The four conditional writes: method, path suffix, JSON body, success status.
WRITES = {
    "put": ("put", "", {"title": "Replaced"}, 200),
    "patch": ("patch", "", {"title": "Patched"}, 200),
    "complete": ("patch", "/complete", {"completed": True}, 200),
    "delete": ("delete", "", None, 204),
}
WRITE_NAMES = list(WRITES)


# --------------------------------------------------------------------- helpers


def url(task_id: int, suffix: str = "") -> str:
    return f"{TASKS}/{task_id}{suffix}"


def current_etag(client, account, task_id: int) -> str:
    response = client.get(url(task_id), headers=account.headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    etag = response.headers["ETag"]
    assert STRONG_ETAG.match(etag), etag
    return etag


def write(client, account, name: str, task_id: int, **headers):
    """Send the write ``name`` (see WRITES) with extra request headers."""
    method, suffix, body, _ = WRITES[name]
    kwargs = {"headers": {**account.headers, **headers}}
    if body is not None:
        kwargs["json"] = body
    return getattr(client, method)(url(task_id, suffix), **kwargs)


def assert_write_applied(client, app, account, name: str, task_id: int, response) -> None:
    """The write ``name`` succeeded: its status, and its effect on the row."""
    expected_status = WRITES[name][3]
    assert response.status_code == expected_status, response.get_data(as_text=True)
    row = task_row(app, task_id)
    if name == "delete":
        assert response.get_data() == b""
        assert row is None
        return
    body = response.get_json()
    if name == "put":
        assert body["title"] == row["title"] == "Replaced"
    elif name == "patch":
        assert body["title"] == row["title"] == "Patched"
    else:
        assert body["completed"] is row["completed"] is True
    # The response carries the new tag, the one a GET now gives.
    assert response.headers["ETag"] == current_etag(client, account, task_id)


def make_task(client, account, **fields) -> tuple[int, str]:
    """Create a task; return its id and the ETag of the 201 response."""
    fields.setdefault("title", "Original")
    response = client.post(TASKS, json=fields, headers=account.headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["id"], response.headers["ETag"]


def make_stale(client, account, task_id: int) -> tuple[str, str]:
    """Change the task once (no If-Match); return (stale tag, current tag)."""
    stale = current_etag(client, account, task_id)
    response = client.patch(url(task_id), json={"description": "moved on"},
                            headers=account.headers)
    assert response.status_code == 200
    current = response.headers["ETag"]
    assert current != stale
    return stale, current


# ------------------------------------------------------------- GET and ETag


def test_get_returns_quoted_strong_etag_stable_across_reads(client, user):
    task_id, created_etag = make_task(client, user)

    first = client.get(url(task_id), headers=user.headers)
    second = client.get(url(task_id), headers=user.headers)

    assert first.status_code == second.status_code == 200
    etag = first.headers["ETag"]
    assert STRONG_ETAG.match(etag), etag
    assert not etag.startswith("W/")
    assert second.headers["ETag"] == etag == created_etag
    assert first.get_json() == second.get_json()


def test_etags_differ_between_tasks(client, user):
    first_id, first_etag = make_task(client, user, title="Same")
    second_id, second_etag = make_task(client, user, title="Same")

    assert first_etag != second_etag
    assert current_etag(client, user, first_id) != current_etag(client, user, second_id)


def test_if_none_match_current_tag_is_304_with_etag_and_no_body(client, user):
    task_id, _ = make_task(client, user)
    etag = current_etag(client, user, task_id)

    response = client.get(url(task_id), headers={**user.headers, "If-None-Match": etag})

    assert response.status_code == 304
    assert response.get_data() == b""
    assert response.headers["ETag"] == etag


@pytest.mark.parametrize("header", [
    lambda etag: f'"other", {etag}',
    lambda etag: f'{etag}, "other"',
], ids=["last-in-list", "first-in-list"])
def test_if_none_match_list_containing_current_tag_is_304(client, user, header):
    task_id, _ = make_task(client, user)
    etag = current_etag(client, user, task_id)

    response = client.get(url(task_id),
                          headers={**user.headers, "If-None-Match": header(etag)})

    assert response.status_code == 304
    assert response.get_data() == b""
    assert response.headers["ETag"] == etag


def test_if_none_match_star_on_existing_task_is_304(client, user):
    task_id, _ = make_task(client, user)
    etag = current_etag(client, user, task_id)

    response = client.get(url(task_id), headers={**user.headers, "If-None-Match": "*"})

    assert response.status_code == 304
    assert response.get_data() == b""
    assert response.headers["ETag"] == etag


@pytest.mark.parametrize("value", [
    STALE_LOOKING, '"other-tag"', "garbage", "not a tag at all", '""', "W/\"other\"",
])
def test_if_none_match_other_tag_or_garbage_is_200_with_body(client, user, value):
    task_id, _ = make_task(client, user, title="Visible")
    etag = current_etag(client, user, task_id)

    response = client.get(url(task_id), headers={**user.headers, "If-None-Match": value})

    assert response.status_code == 200
    assert response.get_json()["title"] == "Visible"
    assert response.headers["ETag"] == etag


def test_if_none_match_stale_tag_after_a_write_is_200_with_new_tag(client, user):
    task_id, _ = make_task(client, user)
    stale, current = make_stale(client, user, task_id)

    response = client.get(url(task_id), headers={**user.headers, "If-None-Match": stale})

    assert response.status_code == 200
    assert response.get_json()["description"] == "moved on"
    assert response.headers["ETag"] == current


def test_if_none_match_weak_form_of_current_tag_is_304(client, user):
    """RFC 9110 section 13.1.2: If-None-Match uses the WEAK comparison, so
    ``W/"x"`` matches a current ``"x"``. (Proxies such as nginx weaken strong
    tags when they compress a response; clients then send the W/ form back.)"""
    task_id, _ = make_task(client, user)
    etag = current_etag(client, user, task_id)

    response = client.get(url(task_id), headers={**user.headers, "If-None-Match": f"W/{etag}"})

    assert response.status_code == 304, response.get_data(as_text=True)
    assert response.get_data() == b""
    assert response.headers["ETag"] == etag


# ------------------------------------------------------- writes return new tag


def test_post_201_etag_equals_following_get(client, user):
    response = client.post(TASKS, json={"title": "New"}, headers=user.headers)

    assert response.status_code == 201
    etag = response.headers["ETag"]
    assert STRONG_ETAG.match(etag), etag
    task_id = response.get_json()["id"]
    assert current_etag(client, user, task_id) == etag


@pytest.mark.parametrize("name", ["put", "patch", "complete"])
def test_write_returns_new_etag_equal_to_following_get(client, app, user, name):
    task_id, created = make_task(client, user)
    before = task_row(app, task_id)

    response = write(client, user, name, task_id)

    assert response.status_code == 200, response.get_data(as_text=True)
    new = response.headers["ETag"]
    assert STRONG_ETAG.match(new), new
    assert new != created
    assert current_etag(client, user, task_id) == new
    assert task_row(app, task_id)["version"] == before["version"] + 1


def test_every_successive_write_changes_the_etag(client, user):
    task_id, created = make_task(client, user)
    seen = [created]
    for name in ("put", "patch", "complete", "complete", "put"):
        method, suffix, body, _ = WRITES[name]
        response = getattr(client, method)(url(task_id, suffix), json=body,
                                           headers=user.headers)
        assert response.status_code == 200
        seen.append(response.headers["ETag"])
        assert current_etag(client, user, task_id) == seen[-1]
    # Same fields again (the second PUT, the toggles back) still gives a new tag.
    assert len(set(seen)) == len(seen)


def test_noop_patch_still_changes_etag(client, app, user):
    task_id, created = make_task(client, user, title="Same", priority="low")
    before = task_row(app, task_id)

    response = client.patch(url(task_id), json={}, headers=user.headers)

    assert response.status_code == 200
    assert response.get_json()["title"] == "Same"
    assert response.headers["ETag"] != created
    assert current_etag(client, user, task_id) == response.headers["ETag"]
    after = task_row(app, task_id)
    assert after["version"] == before["version"] + 1
    assert after["title"] == before["title"] and after["priority"] == before["priority"]


def test_delete_tag_changes_etag_of_tasks_carrying_it_only(client, app, user, other_user):
    tagged_id, _ = make_task(client, user, title="Tagged", tags=["work"])
    both_id, _ = make_task(client, user, title="Both", tags=["work", "home"])
    home_id, _ = make_task(client, user, title="Home only", tags=["home"])
    plain_id, _ = make_task(client, user, title="No tags")
    # Another user's tag of the same name is another tag.
    bob_id, bob_created = make_task(client, other_user, title="Bob's", tags=["work"])
    before = {task_id: current_etag(client, user, task_id)
              for task_id in (tagged_id, both_id, home_id, plain_id)}
    rows_before = {task_id: task_row(app, task_id)
                   for task_id in (tagged_id, both_id, home_id, plain_id, bob_id)}

    response = client.delete(f"{TAGS}/Work", headers=user.headers)

    assert response.status_code == 204
    after = {task_id: current_etag(client, user, task_id) for task_id in before}
    assert after[tagged_id] != before[tagged_id]
    assert after[both_id] != before[both_id]
    assert after[home_id] == before[home_id]
    assert after[plain_id] == before[plain_id]
    assert current_etag(client, other_user, bob_id) == bob_created
    assert task_row(app, bob_id) == rows_before[bob_id]
    assert task_row(app, home_id) == rows_before[home_id]
    assert task_row(app, tagged_id)["version"] == rows_before[tagged_id]["version"] + 1
    # The tag really left the tasks.
    tags = client.get(url(both_id), headers=user.headers).get_json()["tags"]
    assert tags == ["home"]
    # And the new tag is what If-Match now needs: the old one is stale.
    stale = client.patch(url(tagged_id), json={"title": "x"},
                         headers={**user.headers, "If-Match": before[tagged_id]})
    assert_error(stale, 412)
    assert stale.headers["ETag"] == after[tagged_id]


def test_deleted_then_recreated_task_has_a_different_etag(client, app, user):
    task_id, created = make_task(client, user, title="Same")
    assert client.delete(url(task_id), headers=user.headers).status_code == 204

    new_id, new_etag = make_task(client, user, title="Same")

    # On SQLite the id is reused; the tag must still differ (created_at is in it).
    assert new_etag != created
    response = client.patch(url(new_id), json={"title": "Other"},
                            headers={**user.headers, "If-Match": created})
    assert_error(response, 412)
    assert task_row(app, new_id)["title"] == "Same"


# ------------------------------------------------------------------ If-Match


@pytest.mark.parametrize("name", WRITE_NAMES)
def test_if_match_current_tag_succeeds(client, app, user, name):
    task_id, _ = make_task(client, user)
    etag = current_etag(client, user, task_id)

    response = write(client, user, name, task_id, **{"If-Match": etag})

    assert_write_applied(client, app, user, name, task_id, response)


@pytest.mark.parametrize("name", WRITE_NAMES)
def test_if_match_stale_tag_is_412_with_current_etag_and_no_change(client, app, user, name):
    task_id, _ = make_task(client, user)
    stale, current = make_stale(client, user, task_id)
    before = task_row(app, task_id)

    response = write(client, user, name, task_id, **{"If-Match": stale})

    body = assert_error(response, 412)
    assert "errors" not in body
    assert response.headers["ETag"] == current
    assert task_row(app, task_id) == before
    assert current_etag(client, user, task_id) == current


@pytest.mark.parametrize("name", WRITE_NAMES)
def test_if_match_unknown_tag_is_412(client, app, user, name):
    task_id, _ = make_task(client, user)
    etag = current_etag(client, user, task_id)
    before = task_row(app, task_id)

    response = write(client, user, name, task_id, **{"If-Match": STALE_LOOKING})

    assert_error(response, 412)
    assert response.headers["ETag"] == etag
    assert task_row(app, task_id) == before


@pytest.mark.parametrize("name", WRITE_NAMES)
def test_if_match_star_succeeds(client, app, user, name):
    task_id, _ = make_task(client, user)

    response = write(client, user, name, task_id, **{"If-Match": "*"})

    assert_write_applied(client, app, user, name, task_id, response)


@pytest.mark.parametrize("name", WRITE_NAMES)
def test_if_match_list_containing_current_tag_succeeds(client, app, user, name):
    task_id, _ = make_task(client, user)
    stale, current = make_stale(client, user, task_id)

    response = write(client, user, name, task_id,
                     **{"If-Match": f'{stale}, "unrelated", {current}'})

    assert_write_applied(client, app, user, name, task_id, response)


@pytest.mark.parametrize("name", WRITE_NAMES)
def test_if_match_weak_form_of_current_tag_is_412(client, app, user, name):
    """If-Match uses the STRONG comparison (RFC 9110 section 13.1.1): a weak tag
    never matches, not even one of the current value."""
    task_id, _ = make_task(client, user)
    etag = current_etag(client, user, task_id)
    before = task_row(app, task_id)

    response = write(client, user, name, task_id, **{"If-Match": f"W/{etag}"})

    assert_error(response, 412)
    assert response.headers["ETag"] == etag
    assert task_row(app, task_id) == before


@pytest.mark.parametrize("name", WRITE_NAMES)
def test_write_without_if_match_succeeds_by_default(client, app, user, name):
    assert app.config["REQUIRE_IF_MATCH"] is False
    task_id, _ = make_task(client, user)

    response = write(client, user, name, task_id)

    assert_write_applied(client, app, user, name, task_id, response)


def test_lost_update_second_writer_with_same_etag_gets_412(client, app, user):
    """Two clients read the same version; both send it back. Only the first wins."""
    task_id, _ = make_task(client, user, title="Draft")
    alice_etag = current_etag(client, user, task_id)
    bob_etag = current_etag(app.test_client(), user, task_id)
    assert alice_etag == bob_etag

    first = client.patch(url(task_id), json={"title": "Alice's title"},
                         headers={**user.headers, "If-Match": alice_etag})
    second = app.test_client().patch(url(task_id), json={"title": "Bob's title"},
                                     headers={**user.headers, "If-Match": bob_etag})

    assert first.status_code == 200
    assert first.get_json()["title"] == "Alice's title"
    assert_error(second, 412)
    assert second.headers["ETag"] == first.headers["ETag"]
    assert task_row(app, task_id)["title"] == "Alice's title"
    assert client.get(url(task_id), headers=user.headers).get_json()["title"] == (
        "Alice's title"
    )


def test_lost_update_delete_after_concurrent_edit_is_412(client, app, user):
    task_id, _ = make_task(client, user)
    etag = current_etag(client, user, task_id)
    edited = client.put(url(task_id), json={"title": "Edited elsewhere"},
                        headers={**user.headers, "If-Match": etag})
    assert edited.status_code == 200

    response = client.delete(url(task_id), headers={**user.headers, "If-Match": etag})

    assert_error(response, 412)
    assert response.headers["ETag"] == edited.headers["ETag"]
    assert task_row(app, task_id)["title"] == "Edited elsewhere"
    assert task_count(app) == 1


def test_if_match_on_missing_task_is_404(client, user):
    response = client.patch(url(999), json={"title": "x"},
                            headers={**user.headers, "If-Match": "*"})
    assert_error(response, 404)
    response = client.get(url(999), headers={**user.headers, "If-None-Match": "*"})
    assert_error(response, 404)


# ------------------------------------------- If-None-Match on writes (RFC 9110)


def test_put_with_if_none_match_star_on_existing_task_is_412(client, app, user):
    """RFC 9110 section 13.1.2: ``If-None-Match: *`` is false when the resource
    exists, and for a method other than GET/HEAD the server "MUST NOT perform
    the requested method" but answer 412 ("create only, never overwrite")."""
    task_id, _ = make_task(client, user)
    before = task_row(app, task_id)

    response = client.put(url(task_id), json={"title": "Overwritten"},
                          headers={**user.headers, "If-None-Match": "*"})

    assert_error(response, 412)
    assert task_row(app, task_id) == before


def test_delete_with_if_none_match_current_tag_is_412(client, app, user):
    """RFC 9110 section 13.1.2: ``If-None-Match`` naming the current tag is false;
    a DELETE must then be a 412, and the task stays."""
    task_id, _ = make_task(client, user)
    etag = current_etag(client, user, task_id)

    response = client.delete(url(task_id), headers={**user.headers, "If-None-Match": etag})

    assert_error(response, 412)
    assert task_row(app, task_id) is not None


# ---------------------------------------------------------- other user's task


@pytest.mark.parametrize("name", WRITE_NAMES)
@pytest.mark.parametrize("if_match", ["owner-etag", "*", STALE_LOOKING])
def test_other_users_task_with_if_match_is_404(client, app, user, other_user, name,
                                               if_match):
    task_id, etag = make_task(client, user)
    before = task_row(app, task_id)
    header = etag if if_match == "owner-etag" else if_match

    response = write(client, other_user, name, task_id, **{"If-Match": header})

    body = assert_error(response, 404)
    assert body["message"] == "Task not found."
    assert "ETag" not in response.headers
    assert task_row(app, task_id) == before


@pytest.mark.parametrize("if_none_match", ["owner-etag", "*", STALE_LOOKING])
def test_other_users_task_with_if_none_match_is_404(client, user, other_user,
                                                    if_none_match):
    task_id, etag = make_task(client, user)
    header = etag if if_none_match == "owner-etag" else if_none_match

    response = client.get(url(task_id), headers={**other_user.headers, "If-None-Match": header})

    body = assert_error(response, 404)
    assert body["message"] == "Task not found."
    assert "ETag" not in response.headers


def test_other_users_missing_and_existing_tasks_look_the_same(client, user, other_user):
    task_id, etag = make_task(client, user)
    headers = {**other_user.headers, "If-Match": etag}

    existing = client.patch(url(task_id), json={"title": "x"}, headers=headers)
    missing = client.patch(url(task_id + 1000), json={"title": "x"}, headers=headers)

    assert existing.status_code == missing.status_code == 404
    assert existing.get_json() == missing.get_json()


# ------------------------------------------------------- REQUIRE_IF_MATCH=True


class TestRequireIfMatch:
    """The app built with ``REQUIRE_IF_MATCH: True`` in its config mapping."""

    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "REQUIRE_IF_MATCH": True}

    def test_config_is_on(self, app):
        assert app.config["REQUIRE_IF_MATCH"] is True

    @pytest.mark.parametrize("name", WRITE_NAMES)
    def test_write_without_if_match_is_428_and_changes_nothing(self, client, app, user, name):
        task_id, _ = make_task(client, user)
        before = task_row(app, task_id)

        response = write(client, user, name, task_id)

        body = assert_error(response, 428)
        assert "If-Match" in body["message"]
        assert "errors" not in body
        assert task_row(app, task_id) == before

    @pytest.mark.parametrize("name", WRITE_NAMES)
    def test_write_with_empty_if_match_is_428(self, client, app, user, name):
        task_id, _ = make_task(client, user)
        before = task_row(app, task_id)

        response = write(client, user, name, task_id, **{"If-Match": ""})

        assert_error(response, 428)
        assert task_row(app, task_id) == before

    @pytest.mark.parametrize("name", WRITE_NAMES)
    def test_write_with_current_if_match_succeeds(self, client, app, user, name):
        task_id, _ = make_task(client, user)
        etag = current_etag(client, user, task_id)

        response = write(client, user, name, task_id, **{"If-Match": etag})

        assert_write_applied(client, app, user, name, task_id, response)

    @pytest.mark.parametrize("name", WRITE_NAMES)
    def test_write_with_star_succeeds(self, client, app, user, name):
        task_id, _ = make_task(client, user)

        response = write(client, user, name, task_id, **{"If-Match": "*"})

        assert_write_applied(client, app, user, name, task_id, response)

    @pytest.mark.parametrize("name", WRITE_NAMES)
    def test_write_with_stale_if_match_is_still_412(self, client, app, user, name):
        task_id, _ = make_task(client, user)
        etag = current_etag(client, user, task_id)
        edited = write(client, user, "patch", task_id, **{"If-Match": etag})
        assert edited.status_code == 200
        before = task_row(app, task_id)

        response = write(client, user, name, task_id, **{"If-Match": etag})

        assert_error(response, 412)
        assert response.headers["ETag"] == edited.headers["ETag"]
        assert task_row(app, task_id) == before

    def test_get_and_post_are_unaffected(self, client, app, user):
        created = client.post(TASKS, json={"title": "No If-Match needed"},
                              headers=user.headers)
        assert created.status_code == 201
        task_id = created.get_json()["id"]
        assert task_row(app, task_id)["title"] == "No If-Match needed"

        read = client.get(url(task_id), headers=user.headers)
        assert read.status_code == 200
        assert read.headers["ETag"] == created.headers["ETag"]
        listed = client.get(TASKS, headers=user.headers)
        assert listed.status_code == 200
        assert [task["id"] for task in listed.get_json()] == [task_id]
        stats = client.get(f"{TASKS}/stats", headers=user.headers)
        assert stats.status_code == 200
        assert stats.get_json()["total"] == 1

    def test_other_users_task_without_if_match_does_not_reveal_existence(
        self, client, app, user, other_user
    ):
        task_id, _ = make_task(client, user)
        before = task_row(app, task_id)

        existing = client.delete(url(task_id), headers=other_user.headers)
        missing = client.delete(url(task_id + 1000), headers=other_user.headers)

        assert existing.status_code == missing.status_code
        assert existing.get_json() == missing.get_json()
        assert task_row(app, task_id) == before


def test_require_if_match_can_be_switched_on_at_runtime(client, app, user):
    task_id, _ = make_task(client, user)
    app.config["REQUIRE_IF_MATCH"] = True
    before = task_row(app, task_id)

    refused = client.patch(url(task_id), json={"title": "x"}, headers=user.headers)

    assert_error(refused, 428)
    assert task_row(app, task_id) == before
    accepted = client.patch(url(task_id), json={"title": "x"},
                            headers={**user.headers, "If-Match": current_etag(client, user,
                                                                              task_id)})
    assert accepted.status_code == 200
    assert task_row(app, task_id)["title"] == "x"


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None])
def test_require_if_match_must_be_a_boolean(app_config, value):
    with pytest.raises(ConfigurationError, match="REQUIRE_IF_MATCH"):
        create_app({**app_config, "REQUIRE_IF_MATCH": value})


@pytest.mark.parametrize(("env", "expected"), [("true", True), ("false", False)])
def test_require_if_match_from_environment(app_config, monkeypatch, env, expected):
    monkeypatch.setenv("TASKAPI_REQUIRE_IF_MATCH", env)
    app = create_app(app_config)
    assert app.config["REQUIRE_IF_MATCH"] is expected


def test_require_if_match_from_environment_rejects_non_boolean(app_config, monkeypatch):
    monkeypatch.setenv("TASKAPI_REQUIRE_IF_MATCH", "yes")
    with pytest.raises(ConfigurationError, match="REQUIRE_IF_MATCH"):
        create_app(app_config)


# -------------------------------------------------------------------- compat


def test_compat_routes_work_without_etags_and_move_the_v1_etag(client, app, user):
    task_id, created = make_task(client, user, title="Shared")
    compat = f"/api/{user.id}/tasks/{task_id}"

    read = client.get(compat, headers=user.headers)
    assert read.status_code == 200
    assert read.get_json()["title"] == "Shared"

    put = client.put(compat, json={"title": "Via compat"}, headers=user.headers)
    assert put.status_code == 200
    assert put.get_json()["title"] == "Via compat"
    assert task_row(app, task_id)["title"] == "Via compat"
    after_put = current_etag(client, user, task_id)
    assert after_put != created
    # A v1 client holding the old tag can no longer overwrite the compat edit.
    stale = client.patch(url(task_id), json={"title": "v1"},
                         headers={**user.headers, "If-Match": created})
    assert_error(stale, 412)
    assert stale.headers["ETag"] == after_put
    assert task_row(app, task_id)["title"] == "Via compat"
    # A 304 no longer answers the old tag.
    assert client.get(url(task_id),
                      headers={**user.headers, "If-None-Match": created}).status_code == 200

    completed = client.patch(f"{compat}/complete", json={"completed": True},
                             headers=user.headers)
    assert completed.status_code == 200
    assert completed.get_json()["completed"] is True
    after_complete = current_etag(client, user, task_id)
    assert after_complete not in (created, after_put)

    deleted = client.delete(compat, headers=user.headers)
    assert deleted.status_code == 204
    assert task_row(app, task_id) is None
    assert_error(client.get(url(task_id), headers=user.headers), 404)


def test_compat_routes_ignore_conditional_headers(client, app, user):
    task_id, _ = make_task(client, user, title="Shared")
    compat = f"/api/{user.id}/tasks/{task_id}"

    put = client.put(compat, json={"title": "Compat"},
                     headers={**user.headers, "If-Match": STALE_LOOKING})

    assert put.status_code == 200
    assert task_row(app, task_id)["title"] == "Compat"


# ------------------------------------------------------------------- OpenAPI


@pytest.fixture
def spec(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def resolve(spec: dict, item: dict) -> dict:
    """Follow a local ``$ref`` (one level is all the document uses)."""
    ref = item.get("$ref")
    if ref is None:
        return item
    node = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def header_parameters(spec: dict, operation: dict) -> dict[str, dict]:
    params = [resolve(spec, param) for param in operation.get("parameters", [])]
    return {param["name"]: param for param in params if param["in"] == "header"}


@pytest.mark.parametrize(("path", "method"), [
    ("/api/v1/tasks/{task_id}", "put"),
    ("/api/v1/tasks/{task_id}", "patch"),
    ("/api/v1/tasks/{task_id}", "delete"),
    ("/api/v1/tasks/{task_id}/complete", "patch"),
])
def test_openapi_writes_document_optional_if_match_412_and_428(spec, path, method):
    operation = spec["paths"][path][method]

    headers = header_parameters(spec, operation)
    assert "If-Match" in headers
    assert headers["If-Match"].get("required", False) is False
    assert {"412", "428"} <= set(operation["responses"])
    assert "304" not in operation["responses"]
    for code in ("412", "428"):
        response = resolve(spec, operation["responses"][code])
        assert response["description"]


def test_openapi_get_documents_if_none_match_304_and_etag(spec):
    operation = spec["paths"]["/api/v1/tasks/{task_id}"]["get"]

    headers = header_parameters(spec, operation)
    assert "If-None-Match" in headers
    assert headers["If-None-Match"].get("required", False) is False
    assert "304" in operation["responses"]
    assert "ETag" in operation["responses"]["200"]["headers"]
    assert not {"412", "428"} & set(operation["responses"])


@pytest.mark.parametrize(("path", "method", "status"), [
    ("/api/v1/tasks", "post", "201"),
    ("/api/v1/tasks/{task_id}", "put", "200"),
    ("/api/v1/tasks/{task_id}", "patch", "200"),
    ("/api/v1/tasks/{task_id}/complete", "patch", "200"),
])
def test_openapi_write_responses_document_etag_header(spec, path, method, status):
    response = spec["paths"][path][method]["responses"][status]
    assert "ETag" in response["headers"]


def test_openapi_if_match_component_is_not_required(spec):
    component = spec["components"]["parameters"]["IF_MATCH"]
    assert component["name"] == "If-Match"
    assert component["in"] == "header"
    assert component.get("required", False) is False
    assert "428" in component["description"] or "412" in component["description"]
