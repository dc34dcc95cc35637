"""Simultaneous requests that only one may win, over real gunicorn (3 worker
processes), on SQLite and on PostgreSQL.

Each race starts its requests together (``threading.Barrier``), each on a
connection opened beforehand. Proven, for each database and in every round:

- lost updates (RFC 9110 section 13.1.1): 20 PATCH, or 20 PUT, of one task with
  the same ``If-Match`` ETag give exactly one 200 and 19 412s that carry the new
  ETag; the row is the winner's body at version 2;
- refresh-token rotation with the reuse window off (``JWT_REFRESH_REUSE_WINDOW``
  0: any second use is reuse): 2, or 10, refreshes with one refresh token (v1
  ``POST /api/v1/auth/refresh`` and the original ``POST /api/auth/refresh``)
  give at most one 200, the others 401; in the database the token is spent
  (``revoke_reason`` "rotated"), at most one new refresh token was issued, and
  every token of that session is revoked (the winner's pair too: reuse ends the
  session), while another session of the same user still works. The same race
  within the window (every caller gets a pair) is in ``test_sessions.py``.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest

from tests.helpers import PASSWORD
from tests.report import record
from tests.server_access import Client, Response, utc
from tests.servers import Server, log_shown_on_failure, serve

# One xdist worker runs the module: its server (module scope) starts once.
pytestmark = [pytest.mark.slow, pytest.mark.heavy, pytest.mark.xdist_group("races")]

SETTINGS = {"TASKAPI_RATELIMIT_ENABLED": "false", "TASKAPI_JWT_REFRESH_REUSE_WINDOW": "0"}
WRITERS, WRITE_ROUNDS = 20, 4
REFRESH_ROUNDS = 4
TASKS = "/api/v1/tasks"
FIELDS = ("title", "description", "priority", "completed", "due_at", "tags")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def running(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp(f"races-{request.param}")
    yield from serve(request, directory, workers=3, settings=SETTINGS)


@pytest.fixture
def server(running, request):
    with log_shown_on_failure(request, running):
        yield running


def account(server: Server, email: str) -> tuple[int, dict]:
    """Register ``email`` and log in; returns ``(user id, login response body)``."""
    answer = server.request("POST", "/api/v1/auth/register",
                            {"email": email, "password": PASSWORD, "name": "Racer"})
    assert answer.status == 201, answer
    return answer.json["id"], log_in(server, email)


def log_in(server: Server, email: str) -> dict:
    answer = server.request("POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    assert answer.status == 200, answer
    return answer.json


def race(server: Server, requests: list[tuple]) -> list[Response]:
    """Send every ``(method, path, body, token, headers)`` at the same moment, each
    on its own connection, opened and used once before; the answers, in order."""
    barrier = threading.Barrier(len(requests))

    def send(arguments) -> Response:
        client = Client(server.port)
        try:
            assert client.request("GET", "/health").status == 200
            barrier.wait(timeout=30)
            return client.request(*arguments)
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, requests))


def body_for(method: str, round_: int, n: int) -> dict:
    if method == "PUT":
        return {"title": f"round {round_} writer {n}", "priority": "high",
                "due_at": f"2026-05-{n + 1:02d}T08:00:00+02:00", "tags": [f"w{n}"]}
    return {"title": f"round {round_} writer {n}", "description": f"by writer {n}"}


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_same_if_match_from_many_writers_gives_one_200(server, method):
    user_id, tokens = account(server, f"lost-update-{method.lower()}@example.com")
    token = tokens["access_token"]
    for round_ in range(WRITE_ROUNDS):
        created = server.request("POST", TASKS, {"title": "original", "tags": ["start"]}, token)
        assert created.status == 201, created
        task_id, etag = created.json["id"], created.headers["ETag"]
        path = f"{TASKS}/{task_id}"

        answers = race(server, [(method, path, body_for(method, round_, n), token,
                                 {"If-Match": etag}) for n in range(WRITERS)])

        statuses = sorted(answer.status for answer in answers)
        assert statuses == [200] + [412] * (WRITERS - 1), (round_, statuses)
        winner = next(answer for answer in answers if answer.status == 200)
        assert winner.headers["ETag"] != etag
        for answer in answers:
            if answer.status == 412:
                assert answer.json["code"] == 412
                assert answer.headers["ETag"] == winner.headers["ETag"]
        row = server.database.tasks([user_id])[task_id]
        assert row["version"] == 2
        assert {name: row[name] for name in FIELDS} == {
            name: utc(winner.json[name]) if name == "due_at" else winner.json[name]
            for name in FIELDS}
        assert row["updated_at"] == utc(winner.json["updated_at"])
        current = server.request("GET", path, token=token)
        assert (current.status, current.json) == (200, winner.json)
        assert current.headers["ETag"] == winner.headers["ETag"]
        record("concurrency", "lost-update races (exactly one 200)", 1)


def refresh_request(route: str, refresh_token: str) -> tuple:
    if route == "v1":
        return ("POST", "/api/v1/auth/refresh", None, refresh_token, None)
    return ("POST", "/api/auth/refresh", {"refresh_token": refresh_token}, None, None)


def refresh_rows(server: Server, user_id: int) -> int:
    return server.database.scalar(
        "SELECT COUNT(*) FROM issued_tokens WHERE user_id = :user_id "
        "AND token_type = 'refresh'", user_id=user_id)


def session_rows(server: Server, session_id: str) -> list[tuple]:
    """``(token_type, revoked_at, revoke_reason)`` of every token of a session."""
    return server.database.query(
        "SELECT token_type, revoked_at, revoke_reason FROM issued_tokens "
        "WHERE session_id = :session_id ORDER BY id", session_id=session_id)


def session_of(server: Server, jti: str) -> str:
    return server.database.scalar("SELECT session_id FROM issued_tokens WHERE jti = :jti",
                                  jti=jti)


@pytest.mark.parametrize("racers", [2, 10])
@pytest.mark.parametrize("route", ["v1", "compat"])
def test_one_refresh_token_spent_at_most_once(server, route, racers):
    email = f"refresh-{route}-{racers}@example.com"
    user_id, bystander = account(server, email)
    for round_ in range(REFRESH_ROUNDS):
        refresh_token = log_in(server, email)["refresh_token"]
        jti = jwt.decode(refresh_token, options={"verify_signature": False})["jti"]
        session_id = session_of(server, jti)
        issued_before = refresh_rows(server, user_id)

        answers = race(server, [refresh_request(route, refresh_token)] * racers)

        statuses = sorted(answer.status for answer in answers)
        wins = statuses.count(200)
        assert wins <= 1 and statuses.count(401) == racers - wins, (round_, statuses)
        for answer in answers:
            if answer.status == 200:
                assert set(answer.json) >= {"refresh_token", "token" if route == "compat"
                                            else "access_token"}
            else:
                assert answer.json["code"] == 401
                assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        spent = server.database.query(
            "SELECT revoked_at, revoke_reason FROM issued_tokens WHERE jti = :jti", jti=jti)
        assert len(spent) == 1 and spent[0][0] is not None, spent
        assert spent[0][1] == "rotated", spent
        assert refresh_rows(server, user_id) - issued_before == wins
        # The losers' reuse ended the session: the winner's new pair with it.
        rows = session_rows(server, session_id)
        assert len(rows) == 2 + 2 * wins, rows
        assert all(revoked_at is not None for _, revoked_at, _ in rows), rows
        assert sorted(reason for _, _, reason in rows) == sorted(
            ["rotated"] + ["reuse"] * (1 + 2 * wins)), rows
        for answer in answers:
            if answer.status == 200:
                access = answer.json["token" if route == "compat" else "access_token"]
                assert server.request("GET", "/api/v1/auth/me", token=access).status == 401
        record("concurrency", "refresh races (at most one success)", 1)
    # The account's first session (never refreshed) is untouched by every round.
    me = server.request("GET", "/api/v1/auth/me", token=bystander["access_token"])
    assert (me.status, me.json["id"]) == (200, user_id)
