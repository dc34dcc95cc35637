"""Rate limits (Flask-Limiter): who is counted, the 429 response, limits checked
before any body is read, ProxyFix, Redis storage shared by processes, and failing
open when Redis is down. The limits of login, register and password change are
in ``test_login_limits.py``; the reading of ``Authorization`` in
``test_auth_header.py``.

Limits are switched on here (tests/conftest.py switches them off) with large
values, and each test class lowers the one limit it is about.

Redis: tests using the ``redis_url`` fixture need ``TASKAPI_TEST_REDIS_URL`` (a
throwaway database such as ``redis://127.0.0.1:6379/15``; it is flushed before and
after each test). Without it they are skipped, or fail when
``TASKAPI_TEST_REQUIRE_SERVICES=1`` (``.ci/run``).
"""

from __future__ import annotations

import io
import json
import logging
import re

import flask_migrate
import jwt
import pytest
import sqlalchemy as sa

from taskapi import create_app
from taskapi.config import Defaults
from taskapi.extensions import db
from taskapi.models import IssuedToken, Task, User
from tests.conftest import FAST_HASHING
from tests.helpers import (
    PASSWORD,
    TEST_SECRETS,
    Account,
    assert_error,
    auth_headers,
    service_url,
)
from tests.servers import REPO_ROOT, Server

LARGE = "1000 per minute"
LOGIN, REGISTER = "/api/v1/auth/login", "/api/v1/auth/register"
COMPAT_LOGIN, COMPAT_REGISTER = "/api/auth/login", "/api/auth/register"
TASKS = "/api/v1/tasks"
SETUP_IP = "192.0.2.50"  # accounts are created from here, away from the counted buckets
OTHER_SECRET = "another-jwt-secret-0123456789abcdef0123456789"
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
PREFLIGHT = {
    "Origin": "http://localhost:3000",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture
def limits() -> dict:
    """Settings a test class overrides: the limit it is about, small."""
    return {}


@pytest.fixture
def app_config(app_config, limits) -> dict:
    return {
        **app_config,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_DEFAULT": LARGE,
        "RATELIMIT_AUTH_PER_IP": LARGE,
        "RATELIMIT_LOGIN_PER_ACCOUNT_IP": LARGE,
        "RATELIMIT_AUTH_PER_ACCOUNT": LARGE,
        "RATELIMIT_REGISTER_PER_IP": LARGE,
        "RATELIMIT_PASSWORD_PER_USER": LARGE,
        **limits,
    }


@pytest.fixture
def redis_url():
    """A flushed Redis database from ``TASKAPI_TEST_REDIS_URL``."""
    url = service_url("TASKAPI_TEST_REDIS_URL", "these tests need a real Redis database "
                      "they may flush, e.g. redis://127.0.0.1:6379/15")
    import redis

    connection = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    connection.flushdb()
    try:
        yield url
    finally:
        connection.flushdb()
        connection.close()


# --- helpers ------------------------------------------------------------------------


def from_ip(ip: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": ip}}


def post_login(client, email: str, password: str = PASSWORD, path: str = LOGIN, **kwargs):
    return client.post(path, json={"email": email, "password": password}, **kwargs)


def post_register(client, email: str, path: str = REGISTER, **kwargs):
    return client.post(
        path, json={"email": email, "password": PASSWORD, "name": "Rate"}, **kwargs
    )


def make_account(client, email: str, ip: str = SETUP_IP) -> Account:
    """Register and log in from ``ip`` (not the address the tests count)."""
    registered = post_register(client, email, **from_ip(ip))
    assert registered.status_code == 201, registered.get_json()
    logged_in = post_login(client, email, **from_ip(ip))
    assert logged_in.status_code == 200, logged_in.get_json()
    tokens = logged_in.get_json()
    return Account(registered.get_json()["id"], email, PASSWORD,
                   tokens["access_token"], tokens["refresh_token"])


def assert_rate_limited(response, limit: int, per_seconds: int = 60) -> dict:
    """A 429 in the one error shape with the rate-limit headers of ``limit``."""
    body = assert_error(response, 429)
    assert body["status"] == "Too Many Requests"
    assert f"limit: {limit} per" in body["message"]
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= per_seconds
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) > 0
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    return body


def assert_passed(response, *statuses: int) -> None:
    assert response.status_code in statuses, response.get_data(as_text=True)


def token_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(IssuedToken))


def user_emails(app) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(sa.select(User.email)))


def forge(token: str, key: str = OTHER_SECRET) -> str:
    """``token``'s claims (same ``sub``), signed with another key."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode(claims, key, algorithm="HS256")


class CountingStream(io.BytesIO):
    """A request body that counts the bytes the app reads from it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def read1(self, size: int = -1) -> bytes:
        chunk = super().read1(size)
        self.bytes_read += len(chunk)
        return chunk

    def readinto(self, buffer) -> int:
        count = super().readinto(buffer)
        self.bytes_read += count
        return count

    def readline(self, size: int | None = -1) -> bytes:
        line = super().readline(size)
        self.bytes_read += len(line)
        return line


def big_json_body(size: int = 1024 * 1024, **fields) -> bytes:
    """A JSON object of about ``size`` bytes: ``fields`` and a long array of zeros
    (the costly kind to parse and check)."""
    head = json.dumps(fields)[:-1] + (', "pad": [' if fields else '{"pad": [')
    count = max((size - len(head) - 2) // 2, 1)
    return (head + ",".join(["0"] * count) + "]}").encode()


def post_stream(client, path: str, data: bytes, **kwargs):
    """POST ``data`` as JSON through a :class:`CountingStream`; returns both."""
    stream = CountingStream(data)
    response = client.post(path, input_stream=stream, content_length=len(data),
                           content_type="application/json", **kwargs)
    return response, stream


# --- every route: per user, per IP when anonymous ------------------------------------


class TestDefaultLimit:
    @pytest.fixture
    def limits(self):
        return {"RATELIMIT_DEFAULT": "5 per minute"}

    def test_user_gets_five_requests_then_429(self, client):
        ada = make_account(client, "ada@example.com")
        for remaining in range(4, -1, -1):
            response = client.get(TASKS, headers=ada.headers)
            assert response.status_code == 200
            assert response.headers["X-RateLimit-Limit"] == "5"
            assert response.headers["X-RateLimit-Remaining"] == str(remaining)

        assert_rate_limited(client.get(TASKS, headers=ada.headers), 5)
        # Every route shares the budget: a write is refused too.
        assert_rate_limited(client.post(TASKS, json={"title": "x"}, headers=ada.headers), 5)

    def test_429_is_readable_by_a_browser_client(self, client):
        """CORS headers on the 429, Retry-After and X-RateLimit-* exposed."""
        origin = {"Origin": "http://localhost:3000"}
        for _ in range(5):
            assert_error(client.get(TASKS, headers=origin), 401)

        response = client.get(TASKS, headers=origin)

        assert_rate_limited(response, 5)
        assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
        exposed = {h.strip().lower()
                   for h in response.headers["Access-Control-Expose-Headers"].split(",")}
        assert {"retry-after", "x-ratelimit-limit", "x-ratelimit-remaining",
                "x-ratelimit-reset"} <= exposed

    def test_counted_per_user_not_per_ip(self, client):
        ada = make_account(client, "ada@example.com")
        bob = make_account(client, "bob@example.com")
        for _ in range(5):
            assert client.get(TASKS, headers=ada.headers).status_code == 200
        assert_rate_limited(client.get(TASKS, headers=ada.headers), 5)

        # Same REMOTE_ADDR (the test client's 127.0.0.1), another user: a full budget.
        for _ in range(5):
            assert client.get(TASKS, headers=bob.headers).status_code == 200
        assert_rate_limited(client.get(TASKS, headers=bob.headers), 5)

        # Nor did the users spend the anonymous budget of their address.
        for _ in range(5):
            assert_error(client.get(TASKS), 401)
        assert_rate_limited(client.get(TASKS), 5)

    def test_user_budget_follows_the_token_across_ips(self, client):
        ada = make_account(client, "ada@example.com")
        for n in range(5):
            response = client.get(TASKS, headers=ada.headers, **from_ip(f"10.0.1.{n}"))
            assert response.status_code == 200
        assert_rate_limited(client.get(TASKS, headers=ada.headers, **from_ip("10.0.1.9")), 5)

    def test_anonymous_and_invalid_tokens_are_counted_per_ip(self, client):
        for _ in range(3):
            assert_error(client.get(TASKS), 401)
        for header in ({"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic eDp5"}):
            assert_error(client.get(TASKS, headers=header), 401)

        assert_rate_limited(client.get(TASKS, headers={"Authorization": "Bearer x.y.z"}), 5)
        assert_rate_limited(client.get(TASKS), 5)
        assert_error(client.get(TASKS, **from_ip("10.0.0.2")), 401)

    def test_forged_token_does_not_spend_the_victims_budget(self, client):
        victim = make_account(client, "victim@example.com")
        forged = forge(victim.access_token)
        assert jwt.decode(forged, options={"verify_signature": False})["sub"] == str(victim.id)
        for _ in range(2):
            assert client.get(TASKS, headers=victim.headers).status_code == 200

        for _ in range(5):
            assert_error(client.get(TASKS, headers=auth_headers(forged)), 401)
        # The forgeries were counted against their IP ...
        assert_rate_limited(client.get(TASKS, headers=auth_headers(forged)), 5)

        # ... and not against the victim, who still has 3 of 5 (from the same IP).
        for remaining in ("2", "1", "0"):
            response = client.get(TASKS, headers=victim.headers)
            assert response.status_code == 200
            assert response.headers["X-RateLimit-Remaining"] == remaining
        assert_rate_limited(client.get(TASKS, headers=victim.headers), 5)

    def test_a_spent_refresh_token_does_not_spend_its_owners_budget(self, client):
        """Refresh tokens live 30 days and outlive their rotation or a logout: sent as
        the bearer of any route, one counts against the sender's IP, not its owner."""
        victim = make_account(client, "victim@example.com")
        rotated = client.post("/api/v1/auth/refresh", **from_ip("10.0.0.5"),
                              headers=auth_headers(victim.refresh_token))
        assert rotated.status_code == 200  # the old refresh token is now revoked
        leaked = auth_headers(victim.refresh_token)

        for _ in range(5):
            assert_error(client.get(TASKS, headers=leaked, **from_ip("198.51.100.7")), 401)
        assert_rate_limited(client.get(TASKS, headers=leaked, **from_ip("198.51.100.7")), 5)

        for remaining in ("4", "3", "2", "1", "0"):
            response = client.get(TASKS, headers=victim.headers)
            assert response.status_code == 200
            assert response.headers["X-RateLimit-Remaining"] == remaining
        assert_rate_limited(client.get(TASKS, headers=victim.headers), 5)

    def test_forged_tokens_from_other_ips_do_not_block_the_victim(self, client):
        victim = make_account(client, "victim@example.com")
        forged = auth_headers(forge(victim.access_token))
        for n in range(12):
            response = client.get(TASKS, headers=forged, **from_ip(f"198.51.100.{n}"))
            assert_error(response, 401)

        for _ in range(5):
            assert client.get(TASKS, headers=victim.headers).status_code == 200

    def test_health_and_ready_are_never_limited(self, app, client):
        with app.app_context():
            flask_migrate.stamp()  # the schema comes from create_all: mark it current
        for _ in range(8):
            health = client.get("/health")
            assert health.status_code == 200
            assert health.get_json() == {"status": "healthy"}
            ready = client.get("/ready")
            assert ready.status_code == 200, ready.get_json()
            assert ready.get_json()["status"] == "ready"
            for response in (health, ready):
                assert not set(RATE_HEADERS) & set(response.headers.keys())
                assert "Retry-After" not in response.headers

        # Nor did they spend the address's budget.
        response = client.get(TASKS)
        assert_error(response, 401)
        assert response.headers["X-RateLimit-Remaining"] == "4"

    def test_cors_preflight_is_not_counted(self, client):
        ada = make_account(client, "ada@example.com")
        for path in (TASKS, "/api/v1/tasks/1", LOGIN, f"/api/{ada.id}/tasks"):
            for _ in range(6):
                response = client.options(path, headers=PREFLIGHT)
                assert response.status_code == 200
                assert response.headers["Access-Control-Allow-Origin"] == PREFLIGHT["Origin"]
                assert "X-RateLimit-Limit" not in response.headers

        response = client.get(TASKS)
        assert_error(response, 401)
        assert response.headers["X-RateLimit-Remaining"] == "4"
        response = client.get(TASKS, headers=ada.headers)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Remaining"] == "4"

    def test_auth_routes_have_their_own_limits_not_the_default(self, client):
        """Login and register carry the auth limits instead of the default."""
        for n in range(7):
            response = post_login(client, f"user{n}@example.com")
            assert_error(response, 401)
            assert response.headers["X-RateLimit-Limit"] == "1000"
        response = client.get(TASKS)
        assert response.headers["X-RateLimit-Remaining"] == "4"


class TestCorsPreflightOnAuthRoutes:
    @pytest.fixture
    def limits(self):
        return {"RATELIMIT_AUTH_PER_IP": "2 per minute",
                "RATELIMIT_LOGIN_PER_ACCOUNT_IP": "2 per minute",
                "RATELIMIT_AUTH_PER_ACCOUNT": "2 per minute",
                "RATELIMIT_REGISTER_PER_IP": "2 per minute"}

    def test_preflight_does_not_spend_the_auth_limits(self, client):
        for path in (LOGIN, REGISTER, COMPAT_LOGIN, COMPAT_REGISTER, "/api/v1/auth/password"):
            for _ in range(3):
                assert client.options(path, headers=PREFLIGHT).status_code == 200

        assert_error(post_login(client, "ada@example.com"), 401)
        assert_error(post_login(client, "ada@example.com", path=COMPAT_LOGIN), 401)
        assert_rate_limited(post_login(client, "bob@example.com"), 2)
        assert_passed(post_register(client, "carol@example.com"), 201)
        assert_passed(post_register(client, "dave@example.com", path=COMPAT_REGISTER), 201)
        assert_rate_limited(post_register(client, "erin@example.com"), 2)


# --- checked before the body is read -----------------------------------------------------


class TestLimitsBeforeTheBody:
    """A client over its limit costs no body parsing: the 429 comes before the
    body checks (taskapi.bodies) read a byte of it."""

    @pytest.fixture
    def limits(self):
        return {"RATELIMIT_DEFAULT": "2 per minute"}

    def test_user_over_the_default_limit_gets_429_unread(self, app, client):
        ada = make_account(client, "ada@example.com")
        for _ in range(2):
            assert client.get(TASKS, headers=ada.headers).status_code == 200
        body = big_json_body(title="Big")

        response, stream = post_stream(client, TASKS, body, headers=ada.headers)

        assert_rate_limited(response, 2)
        assert stream.bytes_read == 0
        with app.app_context():
            assert db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 0

    def test_anonymous_client_over_the_limit_gets_429_unread(self, client):
        for _ in range(2):
            assert_error(client.get(TASKS), 401)

        response, stream = post_stream(client, TASKS, big_json_body(title="Big"))

        assert_rate_limited(response, 2)
        assert stream.bytes_read == 0

    def test_within_the_limit_the_body_is_read_and_checked(self, client):
        """The control: under the limit the route reads the body and creates the task."""
        ada = make_account(client, "ada@example.com")
        data = json.dumps({"title": "Small"}).encode()

        response, stream = post_stream(client, TASKS, data, headers=ada.headers)

        assert response.status_code == 201, response.get_json()
        assert stream.bytes_read == len(data)


# --- switched off ---------------------------------------------------------------------


class TestDisabled:
    @pytest.fixture
    def limits(self):
        return {
            "RATELIMIT_ENABLED": False,
            "RATELIMIT_DEFAULT": "1 per minute",
            "RATELIMIT_AUTH_PER_IP": "1 per minute",
            "RATELIMIT_LOGIN_PER_ACCOUNT_IP": "1 per minute",
            "RATELIMIT_AUTH_PER_ACCOUNT": "1 per minute",
            "RATELIMIT_REGISTER_PER_IP": "1 per minute",
            "RATELIMIT_PASSWORD_PER_USER": "1 per minute",
        }

    def test_no_429_and_no_rate_limit_headers(self, client):
        ada = make_account(client, "ada@example.com", ip="127.0.0.1")
        responses = []
        for _ in range(5):
            responses.append(post_login(client, "ada@example.com"))
            responses.append(post_login(client, "ada@example.com", path=COMPAT_LOGIN))
            responses.append(post_login(client, "nobody@example.com"))
            responses.append(post_register(client, "ada@example.com"))
            responses.append(client.get(TASKS, headers=ada.headers))
            responses.append(client.get(TASKS))

        assert [r.status_code for r in responses] == [200, 200, 401, 409, 200, 401] * 5
        for response in responses:
            assert not set(RATE_HEADERS) & set(response.headers.keys())
            assert "Retry-After" not in response.headers


# --- ProxyFix -------------------------------------------------------------------------


class TestProxyFix:
    @pytest.fixture
    def limits(self):
        return {"RATELIMIT_DEFAULT": "2 per minute", "RATELIMIT_AUTH_PER_IP": "2 per minute",
                "PROXY_FIX_X_FOR": 1}

    def test_limit_counts_per_forwarded_address(self, client):
        first = {"X-Forwarded-For": "203.0.113.9"}
        second = {"X-Forwarded-For": "203.0.113.10"}
        for _ in range(2):
            assert_error(client.get(TASKS, headers=first), 401)
        assert_rate_limited(client.get(TASKS, headers=first), 2)

        for _ in range(2):
            assert_error(client.get(TASKS, headers=second), 401)
        assert_rate_limited(client.get(TASKS, headers=second), 2)
        # The proxy's own address (127.0.0.1, no header) is yet another bucket.
        assert_error(client.get(TASKS), 401)

    def test_only_the_address_the_trusted_proxy_added_counts(self, client):
        """With one trusted proxy, values the client put before it are ignored."""
        for n in range(2):
            headers = {"X-Forwarded-For": f"10.9.9.{n}, 203.0.113.9"}
            assert_error(client.get(TASKS, headers=headers), 401)
        assert_rate_limited(
            client.get(TASKS, headers={"X-Forwarded-For": "10.9.9.7, 203.0.113.9"}), 2
        )

    def test_auth_per_ip_limit_uses_the_forwarded_address(self, client):
        headers = {"X-Forwarded-For": "203.0.113.9"}
        for n in range(2):
            assert_error(post_login(client, f"u{n}@example.com", headers=headers), 401)
        assert_rate_limited(post_login(client, "u3@example.com", headers=headers), 2)
        response = post_login(client, "u4@example.com",
                              headers={"X-Forwarded-For": "203.0.113.10"})
        assert_error(response, 401)


class TestNoProxyFix:
    @pytest.fixture
    def limits(self):
        return {"RATELIMIT_DEFAULT": "2 per minute"}  # PROXY_FIX_X_FOR: default 0

    def test_spoofed_forwarded_for_does_not_escape_the_limit(self, app, client):
        assert app.config["PROXY_FIX_X_FOR"] == 0
        for n in range(2):
            response = client.get(TASKS, headers={"X-Forwarded-For": f"203.0.113.{n}"})
            assert_error(response, 401)

        response = client.get(TASKS, headers={"X-Forwarded-For": "203.0.113.99"})

        assert_rate_limited(response, 2)
        assert_rate_limited(client.get(TASKS), 2)


# --- storage: Redis -------------------------------------------------------------------


class TestRedisInProcess:
    @pytest.fixture
    def limits(self, redis_url):
        # The production timeout (1 s) is for a dead Redis; on a loaded CI machine
        # a live one may answer later, which would send the counts to memory.
        return {"RATELIMIT_STORAGE_URI": redis_url,
                "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 10,
                                              "socket_timeout": 10},
                "RATELIMIT_LOGIN_PER_ACCOUNT_IP": "3 per minute"}

    def test_counts_are_kept_in_redis(self, client, redis_url):
        import redis

        from taskapi.extensions import limiter

        assert not limiter._storage_dead, "the limiter starts on the in-memory fallback"
        assert type(limiter.storage).__name__ == "RedisStorage", limiter.storage

        for _ in range(3):
            assert_error(post_login(client, "ada@example.com"), 401)
        assert_rate_limited(post_login(client, "ada@example.com"), 3)
        assert_passed(post_register(client, "bob@example.com"), 201)

        keys = [key.decode() for key in redis.Redis.from_url(redis_url).keys("*")]
        assert any("/account-ip:127.0.0.1|ada@example.com/login-account-ip/" in key
                   for key in keys), keys
        assert any("/account:ada@example.com/login-account/" in key for key in keys), keys
        assert any("/127.0.0.1/auth-ip/" in key for key in keys), keys
        assert any("/127.0.0.1/register-ip/" in key for key in keys), keys


@pytest.fixture
def two_servers(app, database_url, redis_url, tmp_path):
    """Two gunicorn servers (one worker process each) on one database and one Redis."""
    settings = {"TASKAPI_RATELIMIT_STORAGE_URI": redis_url,
                "TASKAPI_RATELIMIT_LOGIN_PER_ACCOUNT_IP": "3 per minute"}
    servers = [
        Server(tmp_path / name, database_url, workers=1, threads=2, settings=settings,
               migrate=False, name=f"gunicorn-{name}")
        for name in ("a", "b")
    ]
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_until_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


def test_two_processes_share_the_counts_in_redis(client, two_servers):
    """The schema comes from the ``app`` fixture (create_all on the shared database);
    the account is registered in-process, which spends nothing in Redis."""
    make_account(client, "ada@example.com")
    server_a, server_b = two_servers
    body = {"email": "ada@example.com", "password": PASSWORD}
    wrong = {"email": "ada@example.com", "password": "wrong password"}

    def logs() -> str:
        return server_a.log()[-3000:] + server_b.log()[-3000:]

    statuses = []
    for server, attempt in ((server_a, body), (server_a, wrong), (server_b, wrong),
                            (server_b, body), (server_a, wrong)):
        status, headers, answer = server.request("POST", LOGIN, attempt)
        statuses.append(status)
        assert headers["X-RateLimit-Limit"] == "3", logs()
    assert statuses == [200, 401, 401, 200, 401], logs()

    # Three failures, on two servers: even the right password is refused now.
    for server, path in ((server_b, LOGIN), (server_a, LOGIN), (server_b, COMPAT_LOGIN)):
        status, headers, answer = server.request("POST", path, body)
        assert status == 429, (answer, logs())
        assert answer["code"] == 429
        assert "access_token" not in answer and "token" not in answer
        assert headers["X-RateLimit-Remaining"] == "0"
        assert 0 < int(headers["Retry-After"]) <= 60

    # Another account is counted separately, on both servers.
    other = {"email": "bob@example.com", "password": PASSWORD}
    assert server_a.request("POST", LOGIN, other)[0] == 401
    assert server_b.request("POST", LOGIN, other)[0] == 401
    assert "Rate limit storage unreachable" not in logs()


def test_an_app_after_one_whose_redis_was_down_counts_in_its_own_redis(app_config, redis_url):
    """The limiter is shared by the apps of a process: an outage of one app's
    storage must not send the next app's counts to the in-memory fallback."""
    import redis

    from taskapi import create_app

    settings = {"RATELIMIT_LOGIN_PER_ACCOUNT_IP": "3 per minute"}
    down = create_app({**app_config, **settings, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0"})
    assert_error(post_login(down.test_client(), "ada@example.com"), 401)  # storage dead
    up = create_app({**app_config, **settings, "RATELIMIT_STORAGE_URI": redis_url})
    client = up.test_client()
    for _ in range(3):
        assert_error(post_login(client, "ada@example.com"), 401)
    assert_rate_limited(post_login(client, "ada@example.com"), 3)
    assert redis.Redis.from_url(redis_url).keys("*")


class TestRedisDown:
    @pytest.fixture
    def limits(self):
        return {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0",
                "RATELIMIT_LOGIN_PER_ACCOUNT_IP": "3 per minute"}

    def test_requests_are_served_and_the_outage_is_logged(self, client, caplog):
        caplog.set_level(logging.WARNING, logger="flask-limiter")

        wrong = post_login(client, "ada@example.com", "wrong password")
        registered = post_register(client, "bob@example.com")
        logged_in = post_login(client, "bob@example.com")
        token = logged_in.get_json()["access_token"]
        listed = client.get(TASKS, headers=auth_headers(token))
        created = client.post(TASKS, json={"title": "Still works"},
                              headers=auth_headers(token))

        assert_error(wrong, 401)
        assert registered.status_code == 201, registered.get_json()
        assert logged_in.status_code == 200, logged_in.get_json()
        assert listed.status_code == 200
        assert listed.get_json() == []
        assert created.status_code == 201, created.get_json()
        outage = [r for r in caplog.records
                  if r.name == "flask-limiter" and r.levelno >= logging.WARNING]
        assert outage, "no warning from the flask-limiter logger"
        assert "unreachable" in outage[0].getMessage()

    def test_limits_still_apply_in_memory_meanwhile(self, client):
        for _ in range(3):
            assert_error(post_login(client, "ada@example.com"), 401)

        response = post_login(client, "ada@example.com")

        assert_rate_limited(response, 3)


# --- 503 while the database is down ----------------------------------------------------


class TestDatabaseDown:
    @pytest.fixture
    def limits(self, tmp_path):
        return {
            # A file in a folder that does not exist: every connection fails.
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}",
            "DB_RETRY_AFTER": 5,
            "RATELIMIT_DEFAULT": "1000 per hour",
            "RATELIMIT_AUTH_PER_IP": "1000 per hour",
            "RATELIMIT_LOGIN_PER_ACCOUNT_IP": "1000 per hour",
            "RATELIMIT_AUTH_PER_ACCOUNT": "1000 per hour",
        }

    @pytest.fixture
    def app(self, app_config):
        """No create_all: there is no database to create the tables in."""
        app = create_app(app_config)
        yield app
        with app.app_context():
            db.engine.dispose()

    def test_503_keeps_the_database_retry_after(self, client):
        """A 503 keeps its own Retry-After (DB_RETRY_AFTER, 5 s), not the time
        left in the rate-limit window that Flask-Limiter's header hook would set."""
        response = post_login(client, "ada@example.com")

        assert_error(response, 503)
        assert response.headers["X-RateLimit-Limit"] == "1000"
        assert response.headers["Retry-After"] == "5"


# --- one process, several apps ----------------------------------------------------------


def bare_config(tmp_path, **settings) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'several.sqlite3'}",
        **TEST_SECRETS,
        **FAST_HASHING,
        **settings,
    }


def new_app(tmp_path, **settings):
    app = create_app(bare_config(tmp_path, **settings))
    with app.app_context():
        db.create_all()
    return app


def test_each_app_uses_its_own_default_limit(tmp_path):
    """Each app's RATELIMIT_DEFAULT applies to its own requests (read per request)."""
    first = new_app(tmp_path, RATELIMIT_DEFAULT="2 per minute")
    second = new_app(tmp_path, RATELIMIT_DEFAULT="5 per minute")
    assert first.config["RATELIMIT_DEFAULT"] == "2 per minute"

    client = second.test_client()
    responses = [client.get(TASKS, **from_ip("10.7.0.1")) for _ in range(5)]

    assert [r.status_code for r in responses] == [401] * 5
    assert responses[0].headers["X-RateLimit-Limit"] == "5"


def test_disabling_limits_in_one_app_leaves_another_app_limited(tmp_path):
    """RATELIMIT_ENABLED false in one app does not switch off another app's limits."""
    limited = new_app(tmp_path, RATELIMIT_DEFAULT="2 per minute")
    new_app(tmp_path, RATELIMIT_ENABLED=False)
    client = limited.test_client()

    statuses = [client.get(TASKS, **from_ip("10.7.0.2")).status_code for _ in range(3)]

    assert statuses == [401, 401, 429]


# --- documentation ----------------------------------------------------------------------

DOCUMENTED = ["RATELIMIT_ENABLED", "RATELIMIT_STORAGE_URI", "RATELIMIT_DEFAULT",
              "RATELIMIT_AUTH_PER_IP", "RATELIMIT_LOGIN_PER_ACCOUNT_IP",
              "RATELIMIT_AUTH_PER_ACCOUNT", "RATELIMIT_REGISTER_PER_IP",
              "RATELIMIT_PASSWORD_PER_USER", "SESSIONS_PER_USER", "PROXY_FIX_X_FOR",
              "PROXY_FIX_X_PROTO", "CORS_ORIGINS", "HSTS", "HSTS_MAX_AGE"]


def readme_settings() -> dict[str, str]:
    """``{NAME: default cell}`` of the README settings table rows ``| `TASKAPI_NAME` |``."""
    rows = {}
    for line in (REPO_ROOT / "README.md").read_text().splitlines():
        match = re.match(r"\|\s*`TASKAPI_([A-Z0-9_]+)`\s*\|([^|]*)\|", line)
        if match:
            rows[match.group(1)] = match.group(2).strip()
    return rows


@pytest.mark.parametrize("name", DOCUMENTED)
def test_setting_is_in_the_readme_table_with_its_default(name):
    rows = readme_settings()

    assert name in rows, f"README settings table has no row for TASKAPI_{name}"
    default = getattr(Defaults, name)
    if name == "CORS_ORIGINS":
        assert default is None
        assert "localhost:3000" in rows[name] and "production" in rows[name]
    else:
        shown = default if isinstance(default, str) else json.dumps(default)
        assert rows[name] == f"`{shown}`"
