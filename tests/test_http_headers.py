"""HTTP-level protections: security response headers, HSTS, and CORS (Flask-CORS).

- Every response: ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy:
  no-referrer``; ``Cache-Control: no-store`` on the auth routes (their bodies
  hold tokens), error responses included.
- ``Strict-Transport-Security`` only with ``HSTS = True``, ``max-age`` from
  ``HSTS_MAX_AGE``.
- CORS on ``/api/*`` for ``CORS_ORIGINS`` (default: http://localhost:3000 and
  http://127.0.0.1:3000 in development, none in production); no credentials.
- The docs page's Content-Security-Policy: scripts from this origin and the one
  inline script by its per-response nonce, never ``'unsafe-inline'``.
"""

from __future__ import annotations

import re

import pytest

from taskapi import create_app
from taskapi.config import DEV_CORS_ORIGINS, ConfigurationError
from taskapi.security import CORS_MAX_AGE
from tests.conftest import FAST_HASHING
from tests.helpers import TEST_SECRETS, assert_error, auth_headers, create_task

TASKS = "/api/v1/tasks"
AUTH = "/api/v1/auth"
DEV_ORIGIN = "http://localhost:3000"
DEV_IP_ORIGIN = "http://127.0.0.1:3000"  # the same development server, by address
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
EXPOSED = ("ETag", "Link", "X-Pagination", "X-Next-Cursor", "Retry-After", "X-Request-ID")
PREFLIGHT = {
    "Origin": DEV_ORIGIN,
    "Access-Control-Request-Method": "PATCH",
    "Access-Control-Request-Headers": "authorization, content-type, if-match",
}
NEW_USER = {"email": "new@example.com", "password": "correct horse battery", "name": "New"}


@pytest.fixture
def settings() -> dict:
    """Settings a test class overrides."""
    return {}


@pytest.fixture
def app_config(app_config, settings) -> dict:
    return {**app_config, **settings}


def assert_security_headers(response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, dict(response.headers))
        assert len(response.headers.getlist(name)) == 1


def preflight(client, path: str = TASKS, origin: str = DEV_ORIGIN, **overrides):
    return client.options(path, headers={**PREFLIGHT, "Origin": origin, **overrides})


def header_set(value: str | None) -> set[str]:
    """A comma-separated header value as a set of lower-cased names."""
    return {part.strip().lower() for part in (value or "").split(",") if part.strip()}


def config(tmp_path, **settings) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'headers.sqlite3'}",
        "RATELIMIT_ENABLED": False,
        **TEST_SECRETS,
        **FAST_HASHING,
        **settings,
    }


# --- responses of every kind --------------------------------------------------------


def send(kind: str, client, user):
    """One request of ``kind``; returns ``(response, expected status)``."""
    if kind == "get-200":
        create_task(client, user, title="Listed")
        return client.get(TASKS, headers=user.headers), 200
    if kind == "post-201":
        return client.post(TASKS, json={"title": "Created"}, headers=user.headers), 201
    if kind == "not-found-404":
        return client.get(f"{TASKS}/999999", headers=user.headers), 404
    if kind == "unknown-route-404":
        return client.get("/api/v1/nothing-here"), 404
    if kind == "unauthorized-401":
        return client.get(TASKS), 401
    if kind == "invalid-422":
        return client.post(TASKS, json={"title": ""}, headers=user.headers), 422
    if kind == "malformed-400":
        return client.post(TASKS, data="{", content_type="application/json",
                           headers=user.headers), 400
    if kind == "method-405":
        return client.delete(TASKS, headers=user.headers), 405
    if kind == "not-json-415":
        return client.post(TASKS, data="title", content_type="text/plain",
                           headers=user.headers), 415
    if kind == "openapi-json":
        return client.get("/api/openapi.json"), 200
    if kind == "health":
        return client.get("/health"), 200
    if kind == "compat-list":
        return client.get(f"/api/{user.id}/tasks", headers=user.headers), 200
    if kind == "compat-forbidden-403":
        return client.get(f"/api/{user.id + 1}/tasks", headers=user.headers), 403
    if kind == "redirect-302":
        return client.get("/docs"), 302
    if kind == "preflight":
        return preflight(client), 200
    if kind in ("not-modified-304", "precondition-failed-412"):
        task = create_task(client, user, title="Versioned")
        path = f"{TASKS}/{task['id']}"
        etag = client.get(path, headers=user.headers).headers["ETag"]
        if kind == "not-modified-304":
            return client.get(path, headers={**user.headers, "If-None-Match": etag}), 304
        return client.patch(path, json={"title": "New"},
                            headers={**user.headers, "If-Match": '"stale"'}), 412
    raise AssertionError(kind)


KINDS = ["get-200", "post-201", "not-found-404", "unknown-route-404", "unauthorized-401",
         "invalid-422", "malformed-400", "method-405", "not-json-415", "openapi-json",
         "health", "compat-list", "compat-forbidden-403", "redirect-302", "preflight",
         "not-modified-304", "precondition-failed-412"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_response_has_the_security_headers(client, user, kind):
    response, status = send(kind, client, user)

    assert response.status_code == status, response.get_data(as_text=True)
    if status >= 400:
        body = assert_error(response, status)
        if status == 422:
            assert "title" in body["errors"]["json"]
        if status == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    elif kind == "get-200":
        assert [task["title"] for task in response.get_json()] == ["Listed"]
    elif kind == "post-201":
        assert response.get_json()["title"] == "Created"
    elif kind == "openapi-json":
        assert response.get_json()["openapi"] == "3.0.3"
        assert response.content_type == "application/json"
    assert_security_headers(response)
    assert "Strict-Transport-Security" not in response.headers


def test_unexpected_500_has_the_security_headers(app, client):
    def boom():
        raise RuntimeError("boom")

    app.add_url_rule("/api/v1/auth/boom", "auth_boom", view_func=boom)

    response = client.get("/api/v1/auth/boom")

    assert_error(response, 500)
    assert_security_headers(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_security_headers_set_by_a_view_are_not_duplicated(app, client):
    def framed():
        return "ok", 200, {"Referrer-Policy": "same-origin"}

    app.add_url_rule("/api/v1/framed", "framed", view_func=framed)

    response = client.get("/api/v1/framed")

    assert response.status_code == 200
    assert response.headers.getlist("Referrer-Policy") == ["same-origin"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# --- Cache-Control: no-store on the auth routes ----------------------------------------


def auth_request(kind: str, client, user):
    """One auth request of ``kind``; returns ``(response, expected status)``."""
    good = {"email": user.email, "password": user.password}
    bad = {"email": user.email, "password": "wrong password"}
    bearer_access, bearer_refresh = user.headers, auth_headers(user.refresh_token)
    requests = {
        "v1-login-200": lambda: (client.post(f"{AUTH}/login", json=good), 200),
        "v1-login-401": lambda: (client.post(f"{AUTH}/login", json=bad), 401),
        "v1-login-422": lambda: (client.post(f"{AUTH}/login", json={"email": "x"}), 422),
        "v1-login-400": lambda: (client.post(f"{AUTH}/login", data="{",
                                             content_type="application/json"), 400),
        "v1-login-405": lambda: (client.get(f"{AUTH}/login"), 405),
        "v1-register-201": lambda: (client.post(f"{AUTH}/register", json=NEW_USER), 201),
        "v1-register-409": lambda: (client.post(f"{AUTH}/register",
                                                json={**NEW_USER, "email": user.email}), 409),
        "v1-register-422": lambda: (client.post(f"{AUTH}/register", json={}), 422),
        "v1-refresh-200": lambda: (client.post(f"{AUTH}/refresh", headers=bearer_refresh), 200),
        "v1-refresh-401": lambda: (client.post(f"{AUTH}/refresh"), 401),
        "v1-me-200": lambda: (client.get(f"{AUTH}/me", headers=bearer_access), 200),
        "v1-me-401": lambda: (client.get(f"{AUTH}/me"), 401),
        "v1-me-patch-200": lambda: (client.patch(f"{AUTH}/me", json={"name": "Renamed"},
                                                 headers=bearer_access), 200),
        "v1-me-patch-422": lambda: (client.patch(f"{AUTH}/me", json={"name": ""},
                                                 headers=bearer_access), 422),
        "v1-logout-204": lambda: (client.post(f"{AUTH}/logout", headers=bearer_access), 204),
        "v1-unknown-404": lambda: (client.get(f"{AUTH}/nothing"), 404),
        "compat-login-200": lambda: (client.post("/api/auth/login", json=good), 200),
        "compat-login-401": lambda: (client.post("/api/auth/login", json=bad), 401),
        "compat-register-201": lambda: (client.post("/api/auth/register", json=NEW_USER), 201),
        "compat-register-422": lambda: (client.post("/api/auth/register",
                                                    json={"email": "x"}), 422),
        "compat-refresh-200": lambda: (client.post(
            "/api/auth/refresh", json={"refresh_token": user.refresh_token}), 200),
        "compat-refresh-401": lambda: (client.post("/api/auth/refresh", json={}), 401),
        "compat-logout-200": lambda: (client.post("/api/auth/logout",
                                                  headers=bearer_access), 200),
        "compat-logout-401": lambda: (client.post("/api/auth/logout"), 401),
    }
    return requests[kind]()


AUTH_KINDS = [
    "v1-login-200", "v1-login-401", "v1-login-422", "v1-login-400", "v1-login-405",
    "v1-register-201", "v1-register-409", "v1-register-422", "v1-refresh-200",
    "v1-refresh-401", "v1-me-200", "v1-me-401", "v1-me-patch-200", "v1-me-patch-422",
    "v1-logout-204", "v1-unknown-404", "compat-login-200", "compat-login-401",
    "compat-register-201", "compat-register-422", "compat-refresh-200",
    "compat-refresh-401", "compat-logout-200", "compat-logout-401",
]


@pytest.mark.parametrize("kind", AUTH_KINDS)
def test_auth_responses_are_not_stored(client, user, kind):
    response, status = auth_request(kind, client, user)

    assert response.status_code == status, response.get_data(as_text=True)
    if status >= 400:
        assert_error(response, status)
    elif kind.endswith("login-200") or kind.endswith("refresh-200"):
        body = response.get_json()
        assert body.get("access_token") or body.get("token")
    assert response.headers["Cache-Control"] == "no-store"
    assert len(response.headers.getlist("Cache-Control")) == 1
    assert_security_headers(response)


def test_auth_preflight_is_not_stored_either(client):
    response = preflight(client, f"{AUTH}/login", **{"Access-Control-Request-Method": "POST"})

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == DEV_ORIGIN
    assert response.headers["Cache-Control"] == "no-store"
    assert_security_headers(response)


# --- HSTS ---------------------------------------------------------------------------


def hsts_responses(client, user) -> list:
    return [send(kind, client, user)[0] for kind in KINDS] + [
        auth_request("v1-login-200", client, user)[0],
        auth_request("v1-login-401", client, user)[0],
    ]


def test_no_hsts_by_default(app, client, user):
    assert app.config["HSTS"] is False
    for response in hsts_responses(client, user):
        assert "Strict-Transport-Security" not in response.headers


class TestHsts:
    @pytest.fixture
    def settings(self):
        return {"HSTS": True}

    def test_hsts_on_every_response(self, client, user):
        responses = hsts_responses(client, user)

        assert {r.status_code for r in responses} >= {200, 201, 302, 401, 404, 422}
        for response in responses:
            assert response.headers.getlist("Strict-Transport-Security") == [
                "max-age=31536000"
            ], response.request.path


class TestHstsMaxAge:
    @pytest.fixture
    def settings(self):
        return {"HSTS": True, "HSTS_MAX_AGE": 600}

    def test_max_age_follows_the_setting(self, client, user):
        for response in hsts_responses(client, user):
            assert response.headers["Strict-Transport-Security"] == "max-age=600"


def test_hsts_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TASKAPI_HSTS", "true")
    monkeypatch.setenv("TASKAPI_HSTS_MAX_AGE", "86400")
    app = create_app(config(tmp_path))

    response = app.test_client().get("/health")

    assert response.headers["Strict-Transport-Security"] == "max-age=86400"


@pytest.mark.parametrize("settings", [{"HSTS": "yes"}, {"HSTS": 1},
                                      {"HSTS": True, "HSTS_MAX_AGE": 0},
                                      {"HSTS": True, "HSTS_MAX_AGE": "1 year"}])
def test_bad_hsts_settings_are_refused(tmp_path, settings):
    with pytest.raises(ConfigurationError, match="HSTS"):
        create_app(config(tmp_path, **settings))


# --- CORS: the default development app -----------------------------------------------


def test_default_dev_origins():
    assert DEV_CORS_ORIGINS == (DEV_ORIGIN, DEV_IP_ORIGIN)


@pytest.mark.parametrize("origin", [DEV_ORIGIN, DEV_IP_ORIGIN])
def test_preflight_from_the_dev_origin(app, client, origin):
    assert app.config["CORS_ORIGINS"] == [DEV_ORIGIN, DEV_IP_ORIGIN]

    response = preflight(client, origin=origin)

    assert response.status_code == 200
    assert response.get_data() == b""
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "origin" in header_set(response.headers.get("Vary"))
    methods = header_set(response.headers["Access-Control-Allow-Methods"])
    assert {"get", "post", "put", "patch", "delete"} <= methods
    assert header_set(response.headers["Access-Control-Allow-Headers"]) >= {
        "authorization", "content-type", "if-match"
    }
    assert int(response.headers["Access-Control-Max-Age"]) == CORS_MAX_AGE > 0
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert_security_headers(response)


@pytest.mark.parametrize("path", ["/api/v1/tasks/1", "/api/v1/tags", "/api/1/tasks",
                                  "/api/v1/tasks/stats"])
def test_preflight_on_other_api_routes(client, path):
    response = preflight(
        client, path, **{"Access-Control-Request-Headers": "if-none-match, x-request-id"}
    )

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == DEV_ORIGIN
    assert header_set(response.headers["Access-Control-Allow-Headers"]) == {
        "if-none-match", "x-request-id"
    }


def test_preflight_does_not_allow_other_request_headers(client):
    response = preflight(client, **{"Access-Control-Request-Headers": "authorization, x-evil"})

    assert response.status_code == 200
    assert "x-evil" not in header_set(response.headers.get("Access-Control-Allow-Headers"))


def test_actual_request_exposes_the_client_headers(client, user):
    create_task(client, user, title="One")
    create_task(client, user, title="Two")

    response = client.get(TASKS, query_string={"page_size": 1},
                          headers={**user.headers, "Origin": DEV_ORIGIN})

    assert response.status_code == 200, response.get_json()
    assert len(response.get_json()) == 1
    assert response.headers["Access-Control-Allow-Origin"] == DEV_ORIGIN
    exposed = header_set(response.headers["Access-Control-Expose-Headers"])
    assert {name.lower() for name in EXPOSED} <= exposed
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert_security_headers(response)


@pytest.mark.parametrize("origin", [DEV_ORIGIN, DEV_IP_ORIGIN])
def test_actual_request_from_either_dev_origin(client, user, origin):
    response = client.post(f"{AUTH}/refresh", headers={**auth_headers(user.refresh_token),
                                                       "Origin": origin})

    assert response.status_code == 200, response.get_json()
    assert response.headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize("origin", [DEV_ORIGIN, DEV_IP_ORIGIN])
def test_error_responses_carry_cors_headers(client, origin):
    """A browser can read a 401 only if it carries Access-Control-Allow-Origin."""
    response = client.get(TASKS, headers={"Origin": origin})

    assert_error(response, 401)
    assert response.headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize("origin", [
    "http://evil.example",
    "http://localhost:3001",
    "https://localhost:3000",
    "http://localhost:3000.evil.example",
    "http://127.0.0.1:3001",
    "https://127.0.0.1:3000",
    "http://127.0.0.2:3000",
    "http://[::1]:3000",
    "null",
])
def test_origin_not_in_the_list_gets_no_cors_headers(client, user, origin):
    actual = client.get(TASKS, headers={**user.headers, "Origin": origin})
    pre = preflight(client, origin=origin)

    assert actual.status_code == 200
    assert pre.status_code == 200
    for response in (actual, pre):
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Credentials" not in response.headers
        assert_security_headers(response)


def test_cors_only_on_api_paths(client):
    response = client.get("/health", headers={"Origin": DEV_ORIGIN})

    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


# --- CORS: configuration ------------------------------------------------------------


class TestOriginsAsString:
    @pytest.fixture
    def settings(self):
        return {"CORS_ORIGINS": " https://app.example.com ,https://admin.example.com,, "}

    def test_comma_separated_origins(self, app, client):
        assert app.config["CORS_ORIGINS"] == ["https://app.example.com",
                                              "https://admin.example.com"]
        for origin in ("https://app.example.com", "https://admin.example.com"):
            response = preflight(client, origin=origin)
            assert response.headers["Access-Control-Allow-Origin"] == origin
            assert "origin" in header_set(response.headers.get("Vary"))
        for origin in (DEV_ORIGIN, DEV_IP_ORIGIN, "https://app.example.com.evil.net",
                       "https://example.com"):
            response = preflight(client, origin=origin)
            assert "Access-Control-Allow-Origin" not in response.headers


class TestOriginsAsList:
    @pytest.fixture
    def settings(self):
        return {"CORS_ORIGINS": ["https://app.example.com"]}

    def test_list_replaces_the_default(self, app, client):
        assert app.config["CORS_ORIGINS"] == ["https://app.example.com"]
        allowed = client.get(TASKS, headers={"Origin": "https://app.example.com"})
        refused = [client.get(TASKS, headers={"Origin": origin})
                   for origin in (DEV_ORIGIN, DEV_IP_ORIGIN)]

        assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert all("Access-Control-Allow-Origin" not in r.headers for r in refused)


class TestNoOrigins:
    @pytest.fixture
    def settings(self):
        return {"CORS_ORIGINS": ""}

    def test_empty_string_allows_no_origin(self, app, client):
        assert app.config["CORS_ORIGINS"] == []
        assert "Access-Control-Allow-Origin" not in preflight(client).headers


@pytest.mark.parametrize("value, expected", [
    ('["https://a.example", "https://b.example"]', ["https://a.example", "https://b.example"]),
    ("https://a.example,https://b.example", ["https://a.example", "https://b.example"]),
    ("https://a.example", ["https://a.example"]),
])
def test_origins_from_the_environment(tmp_path, monkeypatch, value, expected):
    monkeypatch.setenv("TASKAPI_CORS_ORIGINS", value)
    app = create_app(config(tmp_path))

    assert app.config["CORS_ORIGINS"] == expected
    response = preflight(app.test_client(), origin="https://a.example")
    assert response.headers["Access-Control-Allow-Origin"] == "https://a.example"


def test_production_has_no_cors_origins_by_default(tmp_path):
    assert all(len(value) >= 32 for value in TEST_SECRETS.values())
    app = create_app(config(tmp_path, ENV="production"))
    client = app.test_client()

    for origin in (DEV_ORIGIN, DEV_IP_ORIGIN):
        actual = client.get(TASKS, headers={"Origin": origin})
        pre = preflight(client, origin=origin)

        assert app.config["CORS_ORIGINS"] == []
        assert_error(actual, 401)
        assert pre.status_code == 200
        for response in (actual, pre):
            assert "Access-Control-Allow-Origin" not in response.headers
            assert_security_headers(response)


def test_production_uses_configured_origins(tmp_path):
    app = create_app(config(tmp_path, ENV="production",
                            CORS_ORIGINS="https://app.example.com"))

    response = preflight(app.test_client(), origin="https://app.example.com")

    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"


@pytest.mark.parametrize("value", [5, ["https://a.example", 5], {"https://a.example": True},
                                   True])
def test_bad_cors_origins_are_refused(tmp_path, value):
    with pytest.raises(ConfigurationError, match="CORS_ORIGINS"):
        create_app(config(tmp_path, CORS_ORIGINS=value))


# --- the docs page's Content-Security-Policy ----------------------------------------


def csp_directives(policy: str) -> dict[str, list[str]]:
    """``{"script-src": ["'self'", ...], ...}`` of a Content-Security-Policy value."""
    directives = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def test_docs_page_scripts_run_by_nonce_not_unsafe_inline(client):
    pages = [client.get("/api/docs") for _ in range(2)]
    nonces = []
    for page in pages:
        script_src = csp_directives(page.headers["Content-Security-Policy"])["script-src"]
        assert "'unsafe-inline'" not in script_src
        (nonce,) = [value for value in script_src if value.startswith("'nonce-")]
        inline = re.findall(r"<script( nonce=\"[^\"]*\")?>", page.get_data(as_text=True))
        assert inline == [f' nonce="{nonce[7:-1]}"'], inline  # the one inline script
        assert len(nonce[7:-1]) >= 22  # 128 bits, base64url (CSP3: at least 128 bits)
        nonces.append(nonce)
    assert nonces[0] != nonces[1]  # a new one per response


def test_docs_assets_get_the_policy_without_a_nonce(client):
    response = client.get("/api/docs/assets/swagger-ui-bundle.js")

    script_src = csp_directives(response.headers["Content-Security-Policy"])["script-src"]
    assert script_src == ["'self'"]
