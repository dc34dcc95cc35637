"""List ETags, 304s and the list page cache (taskapi.tasks.page_cache, taskapi.data_version).

Over HTTP: GET /api/v1/tasks and the original contract's GET /api/{user_id}/tasks
carry a strong ETag keyed by the user's ``data_version``; ``If-None-Match``
gives a 304; every successful write moves ``users.data_version`` by exactly one
(and so the ETag), a failed write moves nothing; cached pages are byte for byte
what an uncached app renders; revocation and other clients' writes show at once.
"""

from __future__ import annotations

import re

import pytest

from taskapi.extensions import cache, db
from taskapi.models import User
from tests.helpers import assert_error, auth_headers, create_task, dispose, login, make_app

TASKS = "/api/v1/tasks"
STRONG_ETAG = re.compile(r'^"[0-9a-f]{40}"$')
#: Headers a list page must repeat exactly when it comes from the cache.
PAGE_HEADERS = ("ETag", "X-Pagination", "Link", "X-Next-Cursor", "Content-Type")


def compat_list(user) -> str:
    return f"/api/{user.id}/tasks"


def data_version(app, user_id: int) -> int:
    with app.app_context():
        return db.session.get(User, user_id).data_version


def get_list(client, account, url: str = TASKS, **headers):
    return client.get(url, headers={**account.headers, **headers})


def list_etag(client, account, url: str = TASKS) -> str:
    response = get_list(client, account, url)
    assert response.status_code == 200, response.get_data(as_text=True)
    etag = response.headers["ETag"]
    assert STRONG_ETAG.match(etag), etag
    return etag


def page_headers(response) -> dict:
    return {name: response.headers.get(name) for name in PAGE_HEADERS}


def kept_page(app, etag: str):
    """What the list cache holds for ``etag`` (a quoted ETag header value)."""
    with app.app_context():
        return cache.get(f"taskapi:list:{etag.strip(chr(34))}")


# ------------------------------------------------------------ ETag and 304


@pytest.mark.parametrize("which", ["v1", "compat"])
def test_list_has_strong_etag_and_if_none_match_gives_304(client, user, which):
    create_task(client, user, title="One")
    url = TASKS if which == "v1" else compat_list(user)
    first = get_list(client, user, url)
    assert first.status_code == 200
    assert [task["title"] for task in first.get_json()] == ["One"]
    etag = first.headers["ETag"]
    assert STRONG_ETAG.match(etag)

    for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = get_list(client, user, url, **{"If-None-Match": sent})
        assert again.status_code == 304, sent
        assert again.get_data() == b""
        assert again.headers["ETag"] == etag

    other = get_list(client, user, url, **{"If-None-Match": '"not-this-one"'})
    assert other.status_code == 200
    assert other.get_data() == first.get_data()
    assert other.headers["ETag"] == etag


def test_v1_and_compat_lists_have_different_etags(client, user):
    create_task(client, user)
    assert list_etag(client, user) != list_etag(client, user, compat_list(user))


@pytest.mark.parametrize("which", ["v1", "compat"])
def test_page_format_is_part_of_the_key(app, client, user, monkeypatch, which):
    """An ETag or kept page of a release whose pages looked different (another
    PAGE_FORMAT) never matches: 200 with a new tag, not a 304 or the old page."""
    from taskapi.tasks import page_cache

    create_task(client, user, title="One")
    url = TASKS if which == "v1" else compat_list(user)
    old = get_list(client, user, url)
    old_etag = old.headers["ETag"]
    assert kept_page(app, old_etag) is not None

    monkeypatch.setattr(page_cache, "PAGE_FORMAT", page_cache.PAGE_FORMAT + 1)
    new = get_list(client, user, url, **{"If-None-Match": old_etag})

    assert new.status_code == 200
    assert STRONG_ETAG.match(new.headers["ETag"]) and new.headers["ETag"] != old_etag
    assert new.get_data() == old.get_data()
    assert kept_page(app, new.headers["ETag"]) is not None
    assert data_version(app, user.id) == 1  # the data did not change, the format did


def _v1_post(client, user, task_id):
    return client.post(TASKS, json={"title": "Brand new"}, headers=user.headers)


def _v1_patch(client, user, task_id):
    return client.patch(f"{TASKS}/{task_id}", json={"title": "Patched"}, headers=user.headers)


def _v1_put(client, user, task_id):
    return client.put(f"{TASKS}/{task_id}", json={"title": "Replaced"}, headers=user.headers)


def _v1_delete(client, user, task_id):
    return client.delete(f"{TASKS}/{task_id}", headers=user.headers)


def _v1_complete(client, user, task_id):
    return client.patch(f"{TASKS}/{task_id}/complete", json={"completed": True},
                        headers=user.headers)


def _tag_delete(client, user, task_id):
    return client.delete("/api/v1/tags/WORK", headers=user.headers)


def _compat_post(client, user, task_id):
    return client.post(compat_list(user), json={"title": "Brand new"}, headers=user.headers)


def _compat_put(client, user, task_id):
    return client.put(f"{compat_list(user)}/{task_id}", json={"title": "Replaced"},
                      headers=user.headers)


def _compat_delete(client, user, task_id):
    return client.delete(f"{compat_list(user)}/{task_id}", headers=user.headers)


def _compat_complete(client, user, task_id):
    return client.patch(f"{compat_list(user)}/{task_id}/complete", headers=user.headers)


def _titles(tasks, task_id):
    return sorted(task["title"] for task in tasks)


#: name -> (write, success status, what the v1 list shows afterwards)
WRITES = {
    "v1_post": (_v1_post, 201, lambda tasks, tid: _titles(tasks, tid) == ["Brand new", "Old"]),
    "v1_patch": (_v1_patch, 200, lambda tasks, tid: _titles(tasks, tid) == ["Patched"]),
    "v1_put": (_v1_put, 200, lambda tasks, tid: [(t["title"], t["tags"]) for t in tasks]
               == [("Replaced", [])]),
    "v1_delete": (_v1_delete, 204, lambda tasks, tid: tasks == []),
    "v1_complete": (_v1_complete, 200, lambda tasks, tid: tasks[0]["completed"] is True),
    "tag_delete": (_tag_delete, 204, lambda tasks, tid: tasks[0]["tags"] == []),
    "compat_post": (_compat_post, 201,
                    lambda tasks, tid: _titles(tasks, tid) == ["Brand new", "Old"]),
    "compat_put": (_compat_put, 200, lambda tasks, tid: _titles(tasks, tid) == ["Replaced"]),
    "compat_delete": (_compat_delete, 204, lambda tasks, tid: tasks == []),
    "compat_complete": (_compat_complete, 200, lambda tasks, tid: tasks[0]["completed"] is True),
}


def _projection(tasks) -> list[tuple]:
    return sorted((t["id"], t["title"], t["completed"], t["updated_at"]) for t in tasks)


@pytest.mark.parametrize("name", list(WRITES))
def test_write_moves_data_version_by_one_and_the_etags(app, client, user, other_user, name):
    write, status, shows = WRITES[name]
    task = create_task(client, user, title="Old", tags=["Work"])
    before = get_list(client, user)
    assert before.get_json()[0]["tags"] == ["Work"]
    old_v1 = before.headers["ETag"]
    old_compat = list_etag(client, user, compat_list(user))
    assert get_list(client, user, **{"If-None-Match": old_v1}).status_code == 304
    version, others = data_version(app, user.id), data_version(app, other_user.id)

    response = write(client, user, task["id"])
    assert response.status_code == status, response.get_data(as_text=True)
    assert data_version(app, user.id) == version + 1
    assert data_version(app, other_user.id) == others

    after = get_list(client, user, **{"If-None-Match": old_v1})
    assert after.status_code == 200
    assert after.headers["ETag"] != old_v1
    assert shows(after.get_json(), task["id"]), after.get_json()
    compat = get_list(client, user, compat_list(user), **{"If-None-Match": old_compat})
    assert compat.status_code == 200
    assert compat.headers["ETag"] != old_compat
    assert _projection(compat.get_json()) == _projection(after.get_json())
    # The new ETag is a 304 again, until the next write.
    assert get_list(client, user, **{"If-None-Match": after.headers["ETag"]}).status_code == 304


STALE = {"If-Match": '"0000000000000000000000000000000000000000"'}


#: name -> (method, URL template, JSON body or None, extra headers, expected status).
#: {own}: the user's task, {foreign}: the other user's, {me}/{other}: the user ids.
FAILED_WRITES = {
    "v1_post_422": ("post", TASKS, {"title": "  "}, {}, 422),
    "v1_post_unknown_field_422": ("post", TASKS, {"title": "x", "user_id": 2}, {}, 422),
    "v1_patch_422": ("patch", TASKS + "/{own}", {"priority": "urgent"}, {}, 422),
    "v1_put_422": ("put", TASKS + "/{own}", {"description": "no title"}, {}, 422),
    "v1_complete_422": ("patch", TASKS + "/{own}/complete", {"completed": "yes"}, {}, 422),
    "v1_patch_404_other": ("patch", TASKS + "/{foreign}", {"title": "Mine now"}, {}, 404),
    "v1_put_404_other": ("put", TASKS + "/{foreign}", {"title": "Mine now"}, {}, 404),
    "v1_delete_404_other": ("delete", TASKS + "/{foreign}", None, {}, 404),
    "v1_complete_404_other": ("patch", TASKS + "/{foreign}/complete", None, {}, 404),
    "v1_patch_412": ("patch", TASKS + "/{own}", {"title": "Stale"}, STALE, 412),
    "v1_put_412": ("put", TASKS + "/{own}", {"title": "Stale"}, STALE, 412),
    "v1_delete_412": ("delete", TASKS + "/{own}", None, STALE, 412),
    "v1_complete_412": ("patch", TASKS + "/{own}/complete", {"completed": True}, STALE, 412),
    "tag_delete_404": ("delete", "/api/v1/tags/nope", None, {}, 404),
    "tag_delete_404_other": ("delete", "/api/v1/tags/theirs", None, {}, 404),
    "compat_post_422": ("post", "/api/{me}/tasks", {"title": ""}, {}, 422),
    "compat_put_422": ("put", "/api/{me}/tasks/{own}", {"due_date": "soon"}, {}, 422),
    "compat_put_404_other": ("put", "/api/{me}/tasks/{foreign}", {"title": "x"}, {}, 404),
    "compat_delete_404_other": ("delete", "/api/{me}/tasks/{foreign}", None, {}, 404),
    "compat_complete_404_other": ("patch", "/api/{me}/tasks/{foreign}/complete", None, {},
                                  404),
    "compat_post_403": ("post", "/api/{other}/tasks", {"title": "x"}, {}, 403),
}


@pytest.mark.parametrize("name", list(FAILED_WRITES))
def test_failed_write_moves_nothing(app, client, user, other_user, name):
    own = create_task(client, user, title="Mine", tags=["Work"])
    foreign = create_task(client, other_user, title="Theirs", tags=["theirs"])
    method, template, body, headers, status = FAILED_WRITES[name]
    url = template.format(own=own["id"], foreign=foreign["id"], me=user.id,
                          other=other_user.id)
    etags = {url_: list_etag(client, user, url_) for url_ in (TASKS, compat_list(user))}
    before_body = get_list(client, user).get_data()
    versions = data_version(app, user.id), data_version(app, other_user.id)

    kwargs = {"headers": {**user.headers, **headers}}
    if body is not None:
        kwargs["json"] = body
    assert_error(getattr(client, method)(url, **kwargs), status)

    assert (data_version(app, user.id), data_version(app, other_user.id)) == versions
    for url_, etag in etags.items():
        response = get_list(client, user, url_, **{"If-None-Match": etag})
        assert response.status_code == 304, url_
    assert get_list(client, user).get_data() == before_body


def test_another_users_etag_never_gives_304(client, user, other_user):
    # Same data (none), same data_version (0): still different lists.
    mine = list_etag(client, user)
    theirs = list_etag(client, other_user)
    assert mine != theirs
    response = get_list(client, other_user, **{"If-None-Match": mine})
    assert response.status_code == 200
    assert response.get_json() == []
    create_task(client, user, title="Ada's")
    create_task(client, other_user, title="Bob's")
    mine = list_etag(client, user)
    response = get_list(client, other_user, **{"If-None-Match": mine})
    assert response.status_code == 200
    assert [task["title"] for task in response.get_json()] == ["Bob's"]
    compat = list_etag(client, user, compat_list(user))
    response = get_list(client, other_user, compat_list(other_user),
                        **{"If-None-Match": compat})
    assert response.status_code == 200
    assert [task["title"] for task in response.get_json()] == ["Bob's"]


QUERIES = ["", "?page_size=2", "?page_size=2&page=2", "?sort=title", "?sort=-title",
           "?completed=true", "?completed=false", "?priority=high", "?priority=low",
           "?tag=work", "?q=milk", "?has_due=true", "?due_on=2026-11-21",
           "?priority=high&priority=low", "?page_size=3"]


def test_different_queries_have_different_etags(client, user):
    create_task(client, user, title="Buy milk", priority="high", tags=["work"])
    create_task(client, user, title="Walk", priority="low", due_at="2026-11-21T10:00:00Z")
    create_task(client, user, title="Read")
    etags = {query: list_etag(client, user, TASKS + query) for query in QUERIES}
    assert len(set(etags.values())) == len(QUERIES), etags
    for query, etag in etags.items():
        for other_query in QUERIES:
            response = get_list(client, user, TASKS + other_query, **{"If-None-Match": etag})
            assert response.status_code == (304 if other_query == query else 200)


def test_query_text_with_ampersand_is_not_another_query(client, user):
    """``q`` may contain ``&`` and ``=``: ``?q=x%26tag%3Dy`` (text search for
    "x&tag=y") and ``?q=x&tag=y`` (text "x" and tag y) are different lists."""
    create_task(client, user, title="x&tag=y")
    create_task(client, user, title="xb", tags=["y"])
    search = get_list(client, user, f"{TASKS}?q=x%26tag%3Dy")
    assert [task["title"] for task in search.get_json()] == ["x&tag=y"]
    filtered = get_list(client, user, f"{TASKS}?q=x&tag=y")
    assert filtered.status_code == 200
    assert [task["title"] for task in filtered.get_json()] == ["xb"]
    assert filtered.headers["ETag"] != search.headers["ETag"]
    conditional = get_list(client, user, f"{TASKS}?q=x&tag=y",
                           **{"If-None-Match": search.headers["ETag"]})
    assert conditional.status_code == 200


def test_repeated_parameter_in_another_order_is_not_the_same_page(client, user, database_url):
    """The cache must not change which list a URL gives: whatever the API does with
    ``?sort=title&sort=-title``, a cached app answers what an uncached one does."""
    create_task(client, user, title="a")
    create_task(client, user, title="b")
    urls = [f"{TASKS}?sort=title&sort=-title", f"{TASKS}?sort=-title&sort=title"]
    uncached = make_app(database_url, LIST_CACHE=False)
    try:
        expected = {url: uncached.test_client().get(url, headers=user.headers)
                    for url in urls}
    finally:
        dispose(uncached)
    responses = {url: get_list(client, user, url) for url in urls}
    for url in urls:
        assert responses[url].get_data() == expected[url].get_data(), url
    if expected[urls[0]].get_data() != expected[urls[1]].get_data():
        assert responses[urls[0]].headers["ETag"] != responses[urls[1]].headers["ETag"]


@pytest.mark.parametrize("value", ["true", "false"])
def test_overdue_lists_have_no_etag_and_never_304(client, user, value):
    create_task(client, user, title="Late", due_at="2000-01-01T00:00:00Z")
    create_task(client, user, title="Later", due_at="2999-01-01T00:00:00Z")
    url = f"{TASKS}?overdue={value}"
    first = get_list(client, user, url)
    assert first.status_code == 200
    assert "ETag" not in first.headers
    assert [task["title"] for task in first.get_json()] == \
        (["Late"] if value == "true" else ["Later"])
    plain_etag = list_etag(client, user)
    for sent in ("*", plain_etag, f"W/{plain_etag}"):
        response = get_list(client, user, url, **{"If-None-Match": sent})
        assert response.status_code == 200, sent
        assert response.get_data() == first.get_data()
        assert "ETag" not in response.headers


def test_timezone_change_moves_the_etag_of_a_due_on_list(client, user):
    # 23:30 UTC on the 21st is 00:30 on the 22nd in Paris (UTC+1 in November).
    task = create_task(client, user, title="Midnight", due_at="2026-11-21T23:30:00Z")
    url = f"{TASKS}?due_on=2026-11-22"
    first = get_list(client, user, url)
    assert first.get_json() == []
    etag = first.headers["ETag"]
    response = client.patch("/api/v1/auth/me", json={"timezone": "Europe/Paris"},
                            headers=user.headers)
    assert response.status_code == 200
    assert response.get_json()["timezone"] == "Europe/Paris"
    after = get_list(client, user, url, **{"If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["ETag"] != etag
    assert [t["id"] for t in after.get_json()] == [task["id"]]


# -------------------------------------------------------------- the page cache


def _make_tasks(client, user, count: int) -> None:
    for number in range(count):
        create_task(client, user, title=f"Task {number} — ünï", tags=["Work", f"t{number}"],
                    description="x" * 50)


def test_repeated_get_is_byte_identical_and_kept(app, client, user):
    _make_tasks(client, user, 5)
    url = f"{TASKS}?page_size=2"
    first = get_list(client, user, url)
    assert first.status_code == 200
    assert first.headers["X-Pagination"] and first.headers["Link"]
    assert first.headers["X-Next-Cursor"]
    assert kept_page(app, first.headers["ETag"]) is not None
    second = get_list(client, user, url)
    assert second.status_code == 200
    assert second.get_data() == first.get_data()
    assert page_headers(second) == page_headers(first)

    cursor_url = f"{TASKS}?page_size=2&cursor={first.headers['X-Next-Cursor']}"
    cursor_first = get_list(client, user, cursor_url)
    assert cursor_first.status_code == 200
    assert "X-Pagination" not in cursor_first.headers
    assert {t["id"] for t in cursor_first.get_json()}.isdisjoint(
        {t["id"] for t in first.get_json()})
    cursor_second = get_list(client, user, cursor_url)
    assert cursor_second.get_data() == cursor_first.get_data()
    assert page_headers(cursor_second) == page_headers(cursor_first)


LIST_URLS = ["", "?page_size=2", "?page_size=2&page=3", "?sort=title&page_size=4",
             "?tag=work", "?q=%C3%BCn%C3%AF", "?page=9"]


@pytest.fixture
def uncached_client(database_url):
    """A second app on the same database, with ``LIST_CACHE=False``."""
    uncached = make_app(database_url, LIST_CACHE=False)
    yield uncached, uncached.test_client()
    dispose(uncached)


def _compare(client, other_client, user, urls):
    for query in urls:
        for url in (TASKS + query, compat_list(user) + query):
            for _ in range(2):  # the second time from the cache
                cached = get_list(client, user, url)
                plain = get_list(other_client, user, url)
                assert cached.status_code == plain.status_code, url
                assert cached.get_data() == plain.get_data(), url
                assert page_headers(cached) == page_headers(plain), url


def test_uncached_app_gives_identical_responses(client, user, uncached_client):
    uncached, other_client = uncached_client
    _make_tasks(client, user, 5)
    _compare(client, other_client, user, LIST_URLS)
    etag = list_etag(other_client, user)
    with uncached.app_context():
        assert cache.get(f"taskapi:list:{etag.strip(chr(34))}") is None
    assert get_list(other_client, user, **{"If-None-Match": etag}).status_code == 304
    create_task(other_client, user, title="Written through the uncached app")
    _compare(client, other_client, user, LIST_URLS)


@pytest.fixture
def app_config(app_config, request):
    """The default test config, plus ``request.param`` when parametrized indirectly."""
    return {**app_config, **getattr(request, "param", {})}


@pytest.mark.parametrize("app_config", [{"LIST_CACHE_MAX_BYTES": 400}], indirect=True)
def test_page_over_the_size_limit_is_correct_and_not_kept(app, client, user,
                                                         uncached_client):
    _, other_client = uncached_client
    _make_tasks(client, user, 4)
    first = get_list(client, user)
    assert len(first.get_data()) > 400
    assert kept_page(app, first.headers["ETag"]) is None
    _compare(client, other_client, user, ["", "?page_size=2"])
    assert get_list(client, user, **{"If-None-Match": first.headers["ETag"]}).status_code == 304
    create_task(client, user, title="One more")
    after = get_list(client, user, **{"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200
    assert len(after.get_json()) == 5
    small = get_list(client, user, f"{TASKS}?page_size=1&sort=title")
    assert len(small.get_data()) <= 400
    assert kept_page(app, small.headers["ETag"]) is not None


# --------------------------------------------------- revocation, other clients


@pytest.mark.parametrize("which", ["v1", "compat"])
def test_logout_revokes_a_cached_list_at_once(client, user, which):
    create_task(client, user)
    url = TASKS if which == "v1" else compat_list(user)
    etag = list_etag(client, user, url)
    assert get_list(client, user, url).status_code == 200  # now served from the cache
    response = client.post("/api/v1/auth/logout", headers=user.headers)
    assert response.status_code == 204
    for headers in ({}, {"If-None-Match": etag}):
        body = assert_error(get_list(client, user, url, **headers), 401)
        assert body["message"] == "The token has been revoked."


def test_write_through_one_client_is_visible_through_another(app, client, user):
    reader = client
    writer = app.test_client()
    session = login(writer, user.email)
    assert session.status_code == 200
    writer_headers = auth_headers(session.get_json()["access_token"])
    for number in range(1, 5):
        etag = list_etag(reader, user)
        assert get_list(reader, user).status_code == 200  # cached
        response = writer.post(TASKS, json={"title": f"From the writer {number}"},
                               headers=writer_headers)
        assert response.status_code == 201
        listed = get_list(reader, user, **{"If-None-Match": etag})
        assert listed.status_code == 200
        assert len(listed.get_json()) == number
        assert listed.get_json()[0]["id"] == response.get_json()["id"]
        compat = get_list(reader, user, compat_list(user))
        assert {t["id"] for t in compat.get_json()} == {t["id"] for t in listed.get_json()}
    last = listed.get_json()[0]["id"]
    assert writer.delete(f"{TASKS}/{last}", headers=writer_headers).status_code == 204
    assert last not in {t["id"] for t in get_list(reader, user).get_json()}


@pytest.mark.parametrize("which", ["v1", "compat"])
def test_if_none_match_star_does_not_skip_validation(client, user, which):
    """``If-None-Match: *`` matches any list, so it must not answer before the query
    is validated: an invalid query is still a 422, a valid one a 304."""
    create_task(client, user, title="One")
    url = TASKS if which == "v1" else f"/api/{user.id}/tasks"

    invalid = client.get(f"{url}?due_after=&priority=false",
                         headers={**user.headers, "If-None-Match": "*"})
    valid = client.get(url, headers={**user.headers, "If-None-Match": "*"})

    assert_error(invalid, 422)
    assert valid.status_code == 304
    assert valid.get_data() == b""
    assert valid.headers["ETag"] == client.get(url, headers=user.headers).headers["ETag"]
