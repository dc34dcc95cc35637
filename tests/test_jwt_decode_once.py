"""taskapi.jwtmanager: one verified token decode per request, the library's errors.

With rate limits on, the limiter's key function and ``jwt_required`` both need
the token's claims; they must share one verified ``jwt.decode`` (PyJWT). Bad
tokens (another key, expired, ``alg: none``, another algorithm, garbage) are
401s with exactly the bodies and challenges Flask-JWT-Extended's own decoding
path gives.
"""

from __future__ import annotations

import time

import jwt as pyjwt
import pytest
from flask_jwt_extended.default_callbacks import default_decode_key_callback

from taskapi.extensions import jwt as jwt_manager
from tests.helpers import TEST_SECRETS, assert_error, auth_headers, create_task

TASKS = "/api/v1/tasks"
OTHER_KEY = "another-jwt-secret-0123456789abcdef0123456789"
CHALLENGE = 'Bearer realm="taskapi", error="invalid_token"'


@pytest.fixture
def app_config(app_config):
    return {**app_config, "RATELIMIT_ENABLED": True}


@pytest.fixture
def verified_decodes(monkeypatch) -> list[str]:
    """Every ``jwt.decode`` call that checks the signature, by token."""
    calls: list[str] = []
    real_decode = pyjwt.decode

    def spy(token, *args, **kwargs):
        if (kwargs.get("options") or {}).get("verify_signature", True) is not False:
            calls.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(pyjwt, "decode", spy)
    return calls


def claims_of(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def test_rate_limits_are_on(app):
    assert app.config["RATELIMIT_ENABLED"] is True


@pytest.mark.parametrize("url", [TASKS, "/api/v1/auth/me", "/api/v1/tags"])
def test_one_authenticated_request_decodes_its_token_once(client, user, verified_decodes,
                                                          url):
    response = client.get(url, headers=user.headers)
    assert response.status_code == 200
    assert verified_decodes == [user.access_token]


def test_task_requests_decode_once_each(client, user, verified_decodes):
    task = create_task(client, user, title="Once")
    assert verified_decodes == [user.access_token]
    listed = client.get(TASKS, headers=user.headers)
    assert [t["id"] for t in listed.get_json()] == [task["id"]]
    patched = client.patch(f"{TASKS}/{task['id']}", json={"title": "Twice"},
                           headers=user.headers)
    assert patched.get_json()["title"] == "Twice"
    assert verified_decodes == [user.access_token] * 3


def test_the_limiter_still_counts_per_user(client, user, other_user, verified_decodes):
    """The shared decode feeds the limiter: each user has a bucket of their own."""
    first = client.get(TASKS, headers=user.headers)
    limit = int(first.headers["X-RateLimit-Limit"])
    assert int(first.headers["X-RateLimit-Remaining"]) == limit - 1
    theirs = client.get(TASKS, headers=other_user.headers)
    assert int(theirs.headers["X-RateLimit-Remaining"]) == limit - 1
    again = client.get(TASKS, headers=user.headers)
    assert int(again.headers["X-RateLimit-Remaining"]) == limit - 2
    assert len(verified_decodes) == 3


def _forged(user) -> str:
    return pyjwt.encode(claims_of(user.access_token), OTHER_KEY, algorithm="HS256")


def _expired(user) -> str:
    claims = {**claims_of(user.access_token), "exp": int(time.time()) - 60}
    return pyjwt.encode(claims, TEST_SECRETS["JWT_SECRET_KEY"], algorithm="HS256")


def _alg_none(user) -> str:
    return pyjwt.encode(claims_of(user.access_token), None, algorithm="none")


def _alg_hs512(user) -> str:
    key = TEST_SECRETS["JWT_SECRET_KEY"] * 2  # long enough for HS512
    return pyjwt.encode(claims_of(user.access_token), key, algorithm="HS512")


def _unsigned_tail(user) -> str:
    header, payload, _ = user.access_token.split(".")
    return f"{header}.{payload}."


def _garbage(user) -> str:
    return "not.a.token"


#: name -> (token maker, the 401 message)
BAD_TOKENS = {
    "forged": (_forged, "Invalid token: Signature verification failed."),
    "expired": (_expired, "The token has expired."),
    "alg_none": (_alg_none, "Invalid token: The specified alg value is not allowed."),
    "alg_hs512": (_alg_hs512, "Invalid token: The specified alg value is not allowed."),
    "no_signature": (_unsigned_tail, "Invalid token: Signature verification failed."),
}
#: name -> token maker, for every kind of token
TOKENS = {name: make for name, (make, _) in BAD_TOKENS.items()}
TOKENS["garbage"] = _garbage
TOKENS["valid"] = lambda user: user.access_token


@pytest.mark.parametrize("name", list(BAD_TOKENS))
def test_bad_token_is_401_with_the_known_message(client, user, name):
    make, message = BAD_TOKENS[name]
    response = client.get(TASKS, headers=auth_headers(make(user)))
    body = assert_error(response, 401)
    assert body["message"] == message
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    assert "X-Pagination" not in response.headers


@pytest.mark.parametrize("name", ["forged", "alg_none", "garbage"])
def test_a_rejected_token_is_decoded_once_too(client, user, verified_decodes, name):
    token = TOKENS[name](user)
    assert_error(client.get(TASKS, headers=auth_headers(token)), 401)
    assert verified_decodes == [token]


def _response_of(client, token):
    response = client.get(TASKS, headers=auth_headers(token))
    return response.status_code, response.get_json(), response.headers.get("WWW-Authenticate")


@pytest.mark.parametrize("name", list(TOKENS))
def test_same_responses_as_the_librarys_own_decoding(client, user, monkeypatch, name):
    """A ``decode_key_loader`` makes the manager take Flask-JWT-Extended's own path
    (unverified decode, header read, verified decode): the answers must not differ."""
    token = TOKENS[name](user)
    fast = _response_of(client, token)

    asked = []

    def library_key(header, payload):
        asked.append(header["alg"])
        return default_decode_key_callback(header, payload)

    monkeypatch.setattr(jwt_manager, "_decode_key_callback", library_key)
    assert jwt_manager._decode_key_callback is not default_decode_key_callback
    assert _response_of(client, token) == fast
    assert fast[0] == (200 if name == "valid" else 401)
    # The library's path really ran (a token it cannot even parse fails before).
    assert bool(asked) is (name != "garbage")
