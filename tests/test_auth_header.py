"""One reading of ``Authorization`` for the token check and the rate limiter.

:func:`taskapi.jwtmanager.bearer_token` reads the header; the limiter counts a
request for the user of the token it reads, and the token check hands
Flask-JWT-Extended that same token or a header the library refuses. Proven over
the test client: every header form that authenticates (200) is counted in its
user's bucket and not in the address's, every form that does not (401) in the
address's and not in the user's. Before, ``Bearer <token>, Basic eA==`` and
``Bearer<TAB><token>`` authenticated (the library splits on commas and any
whitespace) while the limiter counted them per IP: a user escaped their limit.
"""

from __future__ import annotations

import pytest

from taskapi.jwtmanager import MAX_AUTHORIZATION_LENGTH, bearer_token
from tests.helpers import assert_error
from tests.test_rate_limits import LARGE, assert_rate_limited, from_ip, make_account

TASKS = "/api/v1/tasks"
LIMIT = 4
TOKEN = "eyJ.eyJ.sig"

#: Header forms (``{t}`` the token) that authenticate.
AUTHENTICATING = {
    "plain": "Bearer {t}",
    "lower-case-scheme": "bearer {t}",
    "upper-case-scheme": "BEARER {t}",
    "two-spaces": "Bearer  {t}",
    "trailing-space": "Bearer {t} ",
    "then-basic": "Bearer {t}, Basic eA==",
    "after-basic": "Basic eA==, Bearer {t}",
    "empty-element-first": ", Bearer {t}",
    "trailing-comma": "Bearer {t},",
}
#: Forms that do not: refused by both readings alike.
REFUSED = {
    "tab": "Bearer\t{t}",
    "no-break-space": "Bearer\xa0{t}",
    "two-bearer-elements": "Bearer {t}, Bearer {t}",
    "two-bearer-elements-any-case": "Bearer {t}, bearer {t}",
    "two-tokens": "Bearer {t} {t}",
    "not-b64token": "Bearer {t};x",
    "no-token": "Bearer",
    "empty-token": "Bearer ",
    "other-scheme": "Token {t}",
    "basic-with-the-token": "Basic {t}",
    "no-space": "Bearer{t}",
}


@pytest.fixture
def app_config(app_config) -> dict:
    return {**app_config, "RATELIMIT_ENABLED": True, "RATELIMIT_DEFAULT": f"{LIMIT} per minute",
            "RATELIMIT_AUTH_PER_IP": LARGE, "RATELIMIT_LOGIN_PER_ACCOUNT_IP": LARGE,
            "RATELIMIT_AUTH_PER_ACCOUNT": LARGE, "RATELIMIT_REGISTER_PER_IP": LARGE}


def remaining(response) -> int:
    return int(response.headers["X-RateLimit-Remaining"])


# --- the function -----------------------------------------------------------------------


@pytest.mark.parametrize("form", AUTHENTICATING.values(), ids=AUTHENTICATING)
def test_bearer_token_reads_the_token_of_these_forms(form):
    assert bearer_token(form.format(t=TOKEN)) == TOKEN


@pytest.mark.parametrize("form", REFUSED.values(), ids=REFUSED)
def test_bearer_token_reads_nothing_in_these_forms(form):
    assert bearer_token(form.format(t=TOKEN)) is None


def test_bearer_token_reads_nothing_over_the_length_bound():
    assert bearer_token("Bearer " + "a" * (MAX_AUTHORIZATION_LENGTH - 7)) is not None
    assert bearer_token("Bearer " + "a" * (MAX_AUTHORIZATION_LENGTH - 6)) is None
    assert bearer_token(None) is None
    assert bearer_token("") is None


# --- over HTTP ----------------------------------------------------------------------------


def test_bearer_then_basic_is_counted_for_its_user(client):
    """The request of the issue: it authenticates, so its user's budget pays."""
    ada = make_account(client, "ada@example.com")
    header = {"Authorization": f"Bearer {ada.access_token}, Basic eA=="}
    for left in range(LIMIT - 1, -1, -1):
        response = client.get(TASKS, headers=header)
        assert response.status_code == 200, response.get_json()
        assert remaining(response) == left

    assert_rate_limited(client.get(TASKS, headers=header), LIMIT)
    assert_rate_limited(client.get(TASKS, headers=ada.headers), LIMIT)
    # The address's anonymous budget was not spent.
    response = client.get(TASKS)
    assert_error(response, 401)
    assert remaining(response) == LIMIT - 1


@pytest.mark.parametrize("form", [*AUTHENTICATING.values(), *REFUSED.values()],
                         ids=[*AUTHENTICATING, *REFUSED])
def test_a_form_that_authenticates_is_counted_for_its_user_and_no_other(client, form):
    ada = make_account(client, "ada@example.com")

    response = client.get(TASKS, headers={"Authorization": form.format(t=ada.access_token)},
                          **from_ip("198.51.100.7"))

    user = client.get(TASKS, headers=ada.headers)
    anonymous = client.get(TASKS, **from_ip("198.51.100.7"))
    assert user.status_code == 200
    if response.status_code == 200:
        assert (remaining(user), remaining(anonymous)) == (LIMIT - 2, LIMIT - 1)
    else:
        assert_error(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert (remaining(user), remaining(anonymous)) == (LIMIT - 1, LIMIT - 2)
    expected = 200 if form in AUTHENTICATING.values() else 401
    assert response.status_code == expected


@pytest.mark.parametrize("form", ["Bearer {t}, Basic eA==", "bearer {t}"])
def test_writes_are_counted_the_same_way(app, client, form):
    ada = make_account(client, "ada@example.com")
    header = {"Authorization": form.format(t=ada.access_token)}
    for _ in range(LIMIT):
        assert client.post(TASKS, json={"title": "x"}, headers=header).status_code == 201

    assert_rate_limited(client.post(TASKS, json={"title": "x"}, headers=ada.headers), LIMIT)


def test_a_header_with_an_unread_bearer_element_does_not_break_login(client):
    """Routes without a token ignore the header: only the token check refuses it."""
    make_account(client, "ada@example.com")
    for form in ("Bearer ", "Bearer a b", "Bearer\tabc"):
        response = client.post("/api/v1/auth/login", headers={"Authorization": form},
                               json={"email": "ada@example.com",
                                     "password": "correct horse battery"})
        assert response.status_code == 200, (form, response.get_json())


def test_an_over_long_bearer_header_is_401_and_counted_per_ip(client):
    ada = make_account(client, "ada@example.com")
    header = {"Authorization": f"Bearer {ada.access_token}, Basic {'x' * 9000}"}

    response = client.get(TASKS, headers=header)

    body = assert_error(response, 401)
    assert str(MAX_AUTHORIZATION_LENGTH) in body["message"]
    assert remaining(client.get(TASKS, headers=ada.headers)) == LIMIT - 1
