"""The limits of login, register and password change (taskapi.ratelimits), and
their small body limit.

OWASP Authentication Cheat Sheet: the limits must slow down guessing without
letting anyone lock the owner out. Proven over the test client, by status,
body, rate-limit headers and the rows (tokens issued, users created, hashes):

- failed logins count per email and client IP (``RATELIMIT_LOGIN_PER_ACCOUNT_IP``):
  the guessing address gets 429, even with the right password, while the owner
  logs in from another address; successful logins, 422s and 401s that are not
  a password check (a refused ``Authorization`` header) count nothing;
- failed logins per email from every address (``RATELIMIT_AUTH_PER_ACCOUNT``),
  the ceiling against guessing spread over many addresses;
- every login attempt per client IP (``RATELIMIT_AUTH_PER_IP``), with the
  password change; registration in a bucket of its own
  (``RATELIMIT_REGISTER_PER_IP``); the original contract's twins share them all;
- wrong current passwords per user (``RATELIMIT_PASSWORD_PER_USER``);
- a body over 16 KiB to any of these routes is a 413 in the one error shape
  without a byte of it read; over the per-IP limit, a 1 MiB body is a 429 unread.
"""

from __future__ import annotations

import io
import json

import pytest

from taskapi.extensions import db
from taskapi.models import User
from taskapi.ratelimits import AUTH_MAX_BODY
from tests.helpers import PASSWORD, assert_error, auth_headers
from tests.test_rate_limits import (  # noqa: F401 (the same fixtures)
    COMPAT_LOGIN,
    COMPAT_REGISTER,
    LOGIN,
    REGISTER,
    app_config,
    assert_passed,
    assert_rate_limited,
    big_json_body,
    from_ip,
    limits,
    make_account,
    post_login,
    post_register,
    post_stream,
    token_count,
    user_emails,
)

PASSWORD_ROUTE = "/api/v1/auth/password"
ME = "/api/v1/auth/me"
NEW_PASSWORD = "a brand new passphrase"
ATTACKER, OWNER, ELSEWHERE = "198.51.100.7", "203.0.113.20", "203.0.113.30"
WRONG = "wrong password"




def change_password(client, token: str, current: str, new: str = NEW_PASSWORD, **kwargs):
    return client.post(PASSWORD_ROUTE, json={"current_password": current, "new_password": new},
                       headers=auth_headers(token), **kwargs)


def password_hash(app, user_id: int) -> str:
    with app.app_context():
        return db.session.get(User, user_id).password_hash


# --- failed logins per email and client IP -------------------------------------------


class TestFailedLoginsPerAccountAndIp:
    @pytest.fixture
    def limits(self):
        return {"RATELIMIT_LOGIN_PER_ACCOUNT_IP": "3 per minute"}

    def test_three_failures_then_429_even_with_the_right_password(self, app, client):
        make_account(client, "ada@example.com")
        for remaining in ("2", "1", "0"):
            response = post_login(client, "ada@example.com", WRONG, **from_ip(ATTACKER))
            assert_error(response, 401)
            assert response.headers["X-RateLimit-Limit"] == "3"
            assert response.headers["X-RateLimit-Remaining"] == remaining
        issued = token_count(app)

        response = post_login(client, "ada@example.com", **from_ip(ATTACKER))

        assert_rate_limited(response, 3)
        assert "access_token" not in response.get_json()
        assert token_count(app) == issued

    @pytest.mark.parametrize("path", [LOGIN, COMPAT_LOGIN])
    def test_the_right_password_from_another_ip_gets_through_meanwhile(self, app, client,
                                                                         path):
        make_account(client, "ada@example.com")
        for _ in range(3):
            assert_error(post_login(client, "ada@example.com", WRONG, path=path,
                                    **from_ip(ATTACKER)), 401)
        assert_rate_limited(post_login(client, "ada@example.com", path=path,
                                       **from_ip(ATTACKER)), 3)

        response = post_login(client, "ada@example.com", path=path, **from_ip(OWNER))

        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        token = body["access_token"] if path == LOGIN else body["token"]
        assert client.get(ME, headers=auth_headers(token)).status_code == 200
        # The owner's own mistakes do not touch the attacker's bucket, nor the reverse.
        assert_error(post_login(client, "ada@example.com", WRONG, **from_ip(OWNER)), 401)
        assert post_login(client, "ada@example.com", **from_ip(OWNER)).status_code == 200
        assert_rate_limited(post_login(client, "ada@example.com", **from_ip(ATTACKER)), 3)

    def test_successful_logins_are_not_counted(self, client):
        make_account(client, "ada@example.com", ip=OWNER)
        for _ in range(6):
            response = post_login(client, "ada@example.com", **from_ip(OWNER))
            assert response.status_code == 200, response.get_json()
            assert response.headers["X-RateLimit-Remaining"] == "3"
        for _ in range(3):
            assert_error(post_login(client, "ada@example.com", WRONG, **from_ip(OWNER)), 401)
        assert_rate_limited(post_login(client, "ada@example.com", **from_ip(OWNER)), 3)

    def test_unknown_emails_count_per_email(self, client):
        for _ in range(3):
            assert_error(post_login(client, "nobody@example.com", **from_ip(ATTACKER)), 401)

        assert_rate_limited(post_login(client, "nobody@example.com", **from_ip(ATTACKER)), 3)
        assert_error(post_login(client, "somebody@example.com", **from_ip(ATTACKER)), 401)

    def test_email_is_matched_as_stored_trimmed_and_lower_cased(self, client):
        for email in ("ada@example.com", "  ADA@Example.COM ", "\tAda@EXAMPLE.com\n"):
            assert_error(post_login(client, email, WRONG, **from_ip(ATTACKER)), 401)

        assert_rate_limited(post_login(client, "aDa@example.com  ", **from_ip(ATTACKER)), 3)
        assert_error(post_login(client, "ada2@example.com", **from_ip(ATTACKER)), 401)

    def test_compat_login_shares_the_bucket(self, client):
        assert_error(post_login(client, "ada@example.com", WRONG, **from_ip(ATTACKER)), 401)
        assert_error(post_login(client, "ada@example.com", WRONG, path=COMPAT_LOGIN,
                                **from_ip(ATTACKER)), 401)
        assert_error(post_login(client, "ada@example.com", WRONG, **from_ip(ATTACKER)), 401)

        assert_rate_limited(post_login(client, "ada@example.com", path=COMPAT_LOGIN,
                                       **from_ip(ATTACKER)), 3)
        assert_rate_limited(post_login(client, "ada@example.com", **from_ip(ATTACKER)), 3)

    @pytest.mark.parametrize("path", [LOGIN, COMPAT_LOGIN])
    def test_429_is_the_one_error_shape_and_issues_no_token(self, app, client, path):
        make_account(client, "ada@example.com")
        for _ in range(3):
            post_login(client, "ada@example.com", WRONG, path=path)
        issued = token_count(app)

        response = post_login(client, "ada@example.com", path=path)

        body = assert_rate_limited(response, 3)
        extra = {"detail": body["message"]} if path == COMPAT_LOGIN else {}
        assert body == {"code": 429, "status": "Too Many Requests",
                        "message": body["message"], **extra}
        assert token_count(app) == issued
        assert response.headers["Cache-Control"] == "no-store"

    def test_a_refused_header_or_body_is_not_a_failed_login(self, client):
        """401s from the Authorization check and 422s say nothing about the
        password: they must not let anyone spend the owner's bucket."""
        make_account(client, "ada@example.com")
        too_long = {"Authorization": "Bearer " + "x" * 9000}
        for _ in range(4):
            response = post_login(client, "ada@example.com", headers=too_long,
                                  **from_ip(ATTACKER))
            assert_error(response, 401)
            assert_error(client.post(LOGIN, json={"email": "ada@example.com"},
                                     **from_ip(ATTACKER)), 422, field="password")

        response = post_login(client, "ada@example.com", **from_ip(ATTACKER))

        assert response.status_code == 200, response.get_json()
        assert response.headers["X-RateLimit-Remaining"] == "3"


# --- failed logins per email, from every address --------------------------------------


class TestFailedLoginsPerAccount:
    @pytest.fixture
    def limits(self):
        return {"RATELIMIT_AUTH_PER_ACCOUNT": "3 per minute"}

    def test_failures_from_many_addresses_reach_the_ceiling(self, app, client):
        make_account(client, "ada@example.com")
        for n in range(3):
            assert_error(post_login(client, "ada@example.com", WRONG,
                                    **from_ip(f"198.51.100.{n}")), 401)
        issued = token_count(app)

        response = post_login(client, "ada@example.com", **from_ip(OWNER))

        assert_rate_limited(response, 3)
        assert token_count(app) == issued
        assert_rate_limited(post_login(client, "ada@example.com", path=COMPAT_LOGIN,
                                       **from_ip(ELSEWHERE)), 3)
        # Another account is not affected.
        make_account(client, "bob@example.com", ip=OWNER)

    def test_successes_from_many_addresses_are_not_counted(self, client):
        make_account(client, "ada@example.com")
        for n in range(5):
            response = post_login(client, "ada@example.com", **from_ip(f"198.51.100.{n}"))
            assert response.status_code == 200, response.get_json()
        for n in range(3):
            assert_error(post_login(client, "ada@example.com", WRONG,
                                    **from_ip(f"192.0.2.{n}")), 401)
        assert_rate_limited(post_login(client, "ada@example.com", **from_ip(OWNER)), 3)


# --- every attempt per client IP; registration on its own -----------------------------


class TestLoginPerIp:
    @pytest.fixture
    def limits(self):
        return {"RATELIMIT_AUTH_PER_IP": "3 per minute"}

    def test_every_attempt_counts_then_429_for_any_email(self, app, client):
        make_account(client, "ada@example.com", ip=OWNER)  # one attempt from OWNER
        assert_passed(post_login(client, "ada@example.com", **from_ip(ATTACKER)), 200)
        assert_passed(post_login(client, "bob@example.com", **from_ip(ATTACKER)), 401)
        assert_passed(client.post(COMPAT_LOGIN, json={"email": "x@example.com"},
                                  **from_ip(ATTACKER)), 422)
        issued = token_count(app)

        for path in (LOGIN, COMPAT_LOGIN):
            response = post_login(client, "ada@example.com", path=path, **from_ip(ATTACKER))
            body = assert_rate_limited(response, 3)
            assert "3 per 1 minute" in body["message"]
        assert token_count(app) == issued
        # Another address has its own bucket (OWNER spent one on the setup login).
        for _ in range(2):
            assert_passed(post_login(client, "ada@example.com", **from_ip(OWNER)), 200)
        assert_rate_limited(post_login(client, "ada@example.com", **from_ip(OWNER)), 3)

    def test_registrations_do_not_spend_it(self, app, client):
        for n in range(5):
            assert_passed(post_register(client, f"user{n}@example.com", **from_ip(ATTACKER)),
                          201)
        for _ in range(3):
            assert_passed(post_login(client, "user0@example.com", **from_ip(ATTACKER)), 200)
        assert_rate_limited(post_login(client, "user0@example.com", **from_ip(ATTACKER)), 3)

    def test_password_changes_share_it(self, app, client):
        ada = make_account(client, "ada@example.com")
        assert_error(change_password(client, ada.access_token, WRONG, **from_ip(ATTACKER)), 401)
        assert_error(post_login(client, "ada@example.com", WRONG, **from_ip(ATTACKER)), 401)
        assert_error(change_password(client, ada.access_token, WRONG, **from_ip(ATTACKER)), 401)
        hash_before = password_hash(app, ada.id)

        response = change_password(client, ada.access_token, PASSWORD, **from_ip(ATTACKER))

        assert_rate_limited(response, 3)
        assert password_hash(app, ada.id) == hash_before


class TestRegisterPerIp:
    @pytest.fixture
    def limits(self):
        return {"RATELIMIT_REGISTER_PER_IP": "2 per minute",
                "RATELIMIT_LOGIN_PER_ACCOUNT_IP": "2 per minute",
                "RATELIMIT_AUTH_PER_ACCOUNT": "2 per minute"}

    def test_two_registrations_then_429_and_no_user(self, app, client):
        assert_passed(post_register(client, "a1@example.com", **from_ip(ATTACKER)), 201)
        assert_passed(post_register(client, "a2@example.com", path=COMPAT_REGISTER,
                                    **from_ip(ATTACKER)), 201)

        for path in (REGISTER, COMPAT_REGISTER):
            assert_rate_limited(post_register(client, "a3@example.com", path=path,
                                              **from_ip(ATTACKER)), 2)

        assert user_emails(app) == {"a1@example.com", "a2@example.com"}
        # Login from that address is not affected; another address may register.
        assert_passed(post_login(client, "a1@example.com", **from_ip(ATTACKER)), 200)
        assert_passed(post_register(client, "a3@example.com", **from_ip(OWNER)), 201)

    def test_registrations_for_an_email_do_not_spend_its_login_buckets(self, client):
        """Before, a registration counted for the email like a login: anyone could
        keep an owner out by registering their email again and again."""
        assert_passed(post_register(client, "ada@example.com", **from_ip(OWNER)), 201)
        for ip in (ATTACKER, ELSEWHERE):
            assert_passed(post_register(client, "ada@example.com", **from_ip(ip)), 409)
            assert_passed(post_register(client, "ada@example.com", path=COMPAT_REGISTER,
                                        **from_ip(ip)), 409)

        response = post_login(client, "ada@example.com", **from_ip(OWNER))

        assert response.status_code == 200, response.get_json()
        assert response.headers["X-RateLimit-Remaining"] == "2"


# --- password change: wrong current passwords per user --------------------------------


class TestPasswordChangePerUser:
    @pytest.fixture
    def limits(self):
        return {"RATELIMIT_PASSWORD_PER_USER": "2 per minute"}

    def test_two_wrong_passwords_then_429_from_any_address(self, app, client):
        ada = make_account(client, "ada@example.com")
        bob = make_account(client, "bob@example.com")
        for ip in (ATTACKER, ELSEWHERE):
            assert_error(change_password(client, ada.access_token, WRONG, **from_ip(ip)), 401)
        hash_before = password_hash(app, ada.id)

        response = change_password(client, ada.access_token, PASSWORD, **from_ip(OWNER))

        assert_rate_limited(response, 2)
        assert password_hash(app, ada.id) == hash_before
        # Another user from the same address is not limited, nor is ada's login.
        assert change_password(client, bob.access_token, PASSWORD,
                               **from_ip(OWNER)).status_code == 204
        assert post_login(client, "ada@example.com", **from_ip(OWNER)).status_code == 200

    def test_successful_changes_are_not_counted(self, app, client):
        ada = make_account(client, "ada@example.com")
        current = PASSWORD
        for n in range(3):
            new = f"{NEW_PASSWORD} {n}"
            response = change_password(client, ada.access_token, current, new)
            assert response.status_code == 204, response.get_json()
            current = new
        for _ in range(2):
            assert_error(change_password(client, ada.access_token, WRONG), 401)
        assert_rate_limited(change_password(client, ada.access_token, current), 2)

    def test_a_refused_token_is_not_its_owners_failure(self, app, client):
        ada = make_account(client, "ada@example.com")
        old = post_login(client, "ada@example.com").get_json()
        assert client.post("/api/v1/auth/logout",
                           headers=auth_headers(old["access_token"])).status_code == 204
        for _ in range(3):
            assert_error(change_password(client, old["access_token"], WRONG,
                                         **from_ip(ATTACKER)), 401)

        response = change_password(client, ada.access_token, PASSWORD)

        assert response.status_code == 204, response.get_json()


# --- body size --------------------------------------------------------------------------


def padded(size: int, **fields) -> bytes:
    """``fields`` as a JSON object padded with spaces to exactly ``size`` bytes."""
    data = json.dumps(fields).encode()
    return data[:-1] + b" " * (size - len(data)) + b"}"


ROUTES = {
    "login": (LOGIN, {"email": "ada@example.com", "password": PASSWORD}),
    "compat-login": (COMPAT_LOGIN, {"email": "ada@example.com", "password": PASSWORD}),
    "register": (REGISTER, {"email": "new@example.com", "password": PASSWORD, "name": "N"}),
    "compat-register": (COMPAT_REGISTER,
                        {"email": "new@example.com", "password": PASSWORD, "name": "N"}),
    "password": (PASSWORD_ROUTE, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
}


class TestBodyLimit:
    @pytest.mark.parametrize("route", ROUTES)
    def test_a_body_over_16_kib_is_413_unread(self, app, client, route):
        ada = make_account(client, "ada@example.com")
        path, fields = ROUTES[route]
        headers = ada.headers if route == "password" else {}
        hash_before, issued = password_hash(app, ada.id), token_count(app)

        response, stream = post_stream(client, path, padded(AUTH_MAX_BODY + 1, **fields),
                                       headers=headers)

        body = assert_error(response, 413)
        assert str(AUTH_MAX_BODY) in body["message"]
        assert stream.bytes_read == 0
        assert password_hash(app, ada.id) == hash_before
        assert token_count(app) == issued
        assert user_emails(app) == {"ada@example.com"}

    @pytest.mark.parametrize("route", ROUTES)
    def test_a_body_of_16_kib_is_served(self, app, client, route):
        ada = make_account(client, "ada@example.com")
        path, fields = ROUTES[route]
        headers = ada.headers if route == "password" else {}
        data = padded(AUTH_MAX_BODY, **fields)

        response, stream = post_stream(client, path, data, headers=headers)

        assert response.status_code in (200, 201, 204), response.get_json()
        assert stream.bytes_read == len(data)

    def test_a_streamed_body_is_cut_at_16_kib(self, client):
        """Without Content-Length (chunked), werkzeug stops reading at the limit."""
        data = big_json_body(64 * 1024, email="ada@example.com", password=PASSWORD)

        response = client.post(LOGIN, input_stream=io.BytesIO(data),
                               content_type="application/json",
                               environ_base={"wsgi.input_terminated": True})

        assert_error(response, 413)

    def test_a_smaller_max_content_length_still_wins(self, app, client):
        app.config["MAX_CONTENT_LENGTH"] = 100
        response = post_login(client, "ada@example.com", "x" * 120)

        body = assert_error(response, 413)
        assert "100 bytes" in body["message"]


class TestBigBodyOverTheLimit:
    @pytest.fixture
    def limits(self):
        return {"RATELIMIT_AUTH_PER_IP": "1 per minute",
                "RATELIMIT_REGISTER_PER_IP": "1 per minute"}

    @pytest.mark.parametrize("route", ["login", "compat-login", "register", "compat-register"])
    def test_a_1_mib_body_is_429_unread(self, client, route):
        path, fields = ROUTES[route]
        assert_error(client.post(path, json={}, **from_ip(ATTACKER)), 422)

        response, stream = post_stream(client, path, big_json_body(**fields),
                                       **from_ip(ATTACKER))

        assert_rate_limited(response, 1)
        assert stream.bytes_read == 0

    def test_a_413_is_an_attempt_of_its_address(self, client):
        response, _ = post_stream(client, LOGIN, big_json_body(email="a@example.com"),
                                  **from_ip(ATTACKER))
        assert_error(response, 413)

        assert_rate_limited(post_login(client, "ada@example.com", **from_ip(ATTACKER)), 1)
        assert_error(post_login(client, "ada@example.com", **from_ip(OWNER)), 401)
