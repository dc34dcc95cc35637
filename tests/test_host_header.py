"""The ``Host`` header is never reflected, and can be checked (taskapi/hosts.py).

A client that forges ``Host`` must not find it in ``Link`` (list pages, v1 and
the original contract), in ``Location`` (201, the ``/docs`` redirect,
Werkzeug's slash-merging 308) or in any other header: they are relative
references (RFC 3986 section 4.2). With ``TRUSTED_HOSTS`` set (also as
``TASKAPI_TRUSTED_HOSTS``, a JSON list or comma-separated), a request for
another host is a 400 in the one JSON error shape.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest

from taskapi import create_app
from taskapi.config import ConfigurationError
from tests.helpers import assert_error, create_task, dispose, make_account, make_app

FORGED = "evil.example"
HOST = {"Host": FORGED}
LINK = re.compile(r'<(?P<url>[^>]*)>; rel="next"')


def assert_not_reflected(response) -> None:
    for name, value in response.headers.items():
        assert FORGED not in value, f"{name}: {value}"


def assert_relative(reference: str, path: str) -> None:
    """A path-absolute relative reference (no scheme, no host) to ``path``."""
    parts = urlsplit(reference)
    assert (parts.scheme, parts.netloc) == ("", ""), reference
    assert reference.startswith("/") and not reference.startswith("//"), reference
    assert parts.path == path, reference


@pytest.fixture
def account(client):
    account = make_account(client, "host@example.com")
    for n in range(3):
        create_task(client, account, title=f"T{n}", priority=("high", "low")[n % 2])
    return account


@pytest.mark.parametrize("path", ["/api/v1/tasks", "/api/{user_id}/tasks"])
def test_next_link_is_relative_and_leaves_the_forged_host_out(client, account, path):
    path = path.format(user_id=account.id)
    response = client.get(f"{path}?page_size=1&priority=high&priority=low&q=T",
                          headers={**account.headers, **HOST})

    assert response.status_code == 200, response.get_json()
    assert_not_reflected(response)
    url = LINK.fullmatch(response.headers["Link"])["url"]
    assert_relative(url, path)
    assert f"cursor={response.headers['X-Next-Cursor']}" in url

    # The reference resolves against the URL the client asked for (RFC 3986 section 5).
    following = urljoin(f"https://api.example.com{path}?page_size=1", url)
    assert urlsplit(following).netloc == "api.example.com"
    parts = urlsplit(following)
    nxt = client.get(f"{parts.path}?{parts.query}", headers=account.headers)
    assert nxt.status_code == 200 and nxt.get_json()[0]["id"] != response.get_json()[0]["id"]


def test_link_is_the_same_whatever_the_host(client, account):
    first = client.get("/api/v1/tasks?page_size=1", headers={**account.headers, **HOST})
    again = client.get("/api/v1/tasks?page_size=1", headers=account.headers)

    assert first.headers["Link"] == again.headers["Link"]
    assert_not_reflected(first)


def test_created_location_is_relative(client, account):
    response = client.post("/api/v1/tasks", json={"title": "New"},
                           headers={**account.headers, **HOST})

    assert response.status_code == 201
    assert_relative(response.headers["Location"], f"/api/v1/tasks/{response.get_json()['id']}")
    assert_not_reflected(response)


@pytest.mark.parametrize(("path", "status", "location"), [
    ("/docs", 302, "/api/docs"),
    ("/api//v1/tasks", 308, "/api/v1/tasks"),
    ("/api/v1//tasks?page_size=5&q=a%20b", 308, "/api/v1/tasks?page_size=5&q=a%20b"),
    ("/api/v1/tasks//1", 308, "/api/v1/tasks/1"),
])
def test_redirect_location_is_relative(client, path, status, location):
    for host in (FORGED, f"{FORGED}:8443", FORGED.upper()):
        response = client.get(path, headers={"Host": host})

        assert response.status_code == status
        assert response.headers["Location"] == location
        assert FORGED not in response.get_data(as_text=True).lower()
        assert all(FORGED not in value.lower() for _, value in response.headers.items())


def test_relative_redirect_is_followed_to_the_same_resource(client, account):
    response = client.get("/api/v1//tasks", headers=account.headers, follow_redirects=True)

    assert response.status_code == 200
    assert len(response.get_json()) == 3


# --- TRUSTED_HOSTS -------------------------------------------------------------------


@pytest.fixture
def trusted_app(database_url):
    app = make_app(database_url, TRUSTED_HOSTS=["api.example.com", ".internal.example"])
    yield app
    dispose(app)


@pytest.mark.parametrize("host", [FORGED, "api.example.com.evil.example", "internal.example."])
def test_untrusted_host_is_a_json_400(trusted_app, host):
    client = trusted_app.test_client()
    for path in ("/api/v1/tasks", "/health", "/api/docs", "/api//v1/tasks", "/nowhere"):
        response = client.get(path, headers={"Host": host})

        body = assert_error(response, 400)
        assert "not trusted" in body["message"], body
        assert "Location" not in response.headers


@pytest.mark.parametrize("host", ["api.example.com", "api.example.com:8443",
                                  "eu.internal.example"])
def test_trusted_host_is_served(trusted_app, host):
    response = trusted_app.test_client().get("/health", headers={"Host": host})

    assert response.status_code == 200


@pytest.mark.parametrize("value", ['["api.example.com"]', "api.example.com, other.example"])
def test_trusted_hosts_from_the_environment(monkeypatch, database_url, value):
    monkeypatch.setenv("TASKAPI_TRUSTED_HOSTS", value)
    app = make_app(database_url)
    try:
        assert app.config["TRUSTED_HOSTS"][0] == "api.example.com"
        client = app.test_client()
        assert client.get("/health", headers={"Host": "api.example.com"}).status_code == 200
        assert_error(client.get("/health", headers=HOST), 400)
    finally:
        dispose(app)


def test_without_trusted_hosts_any_host_is_served(client):
    assert client.get("/health", headers=HOST).status_code == 200


@pytest.mark.parametrize("value", [[], "", " , ", 42, ["api.example.com", 7]])
def test_unusable_trusted_hosts_are_refused(database_url, value):
    with pytest.raises(ConfigurationError, match="TRUSTED_HOSTS"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TRUSTED_HOSTS": value,
                    "SECRET_KEY": "s" * 40, "JWT_SECRET_KEY": "j" * 40})
