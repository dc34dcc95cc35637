"""Token attacks on protected routes, v1 and the original contract.

Proven here: every malformed, forged, expired, revoked or misused credential
is refused with 401, the one error shape and a ``WWW-Authenticate: Bearer``
challenge (RFC 6750 section 3) on a v1 read (``GET /api/v1/tasks``), a v1
write (``POST /api/v1/tasks``, and no task is stored) and a compat read
(``GET /api/{user_id}/tasks`` of the victim). Each forged token differs from
a valid one only in the attacked way: the positive control re-signs a real
token's claims with the same signer and is accepted. An access token is
refused by both refresh routes, and the bearer scheme is matched
case-insensitively (RFC 9110 section 11.1).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

import jwt
import pytest
import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.models import IssuedToken, User
from tests.helpers import (
    TEST_SECRETS,
    Account,
    assert_error,
    create_task,
    make_account,
    task_count,
)
from tests.report import record

SECRET = TEST_SECRETS["JWT_SECRET_KEY"]
OTHER_SECRET = "another-jwt-secret-0123456789abcdef0123456789"
DROP = object()  # a claim value meaning "leave this claim out"
ROW = "token attacks (v1 + compat)"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def sign(claims: dict, key: str = SECRET, alg: str = "HS256", **changes) -> str:
    """A compact JWS of ``claims`` with ``changes`` (``DROP`` removes a claim).

    Built by hand so that claims PyJWT would refuse to encode (a non-string
    ``sub``) can be sent; ``alg="none"`` gives an empty signature.
    """
    payload = {k: v for k, v in {**claims, **changes}.items() if v is not DROP}
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}.get(alg)
    signature = hmac.new(key.encode(), f"{head}.{body}".encode(), digest).digest() if digest \
        else b""
    return f"{head}.{body}.{b64url(signature)}"


def with_payload(token: str, **changes) -> str:
    """``token`` with its payload changed and its original signature kept."""
    head, _, signature = token.split(".")
    body = json.dumps({**claims_of(token), **changes}, separators=(",", ":")).encode()
    return f"{head}.{b64url(body)}.{signature}"


def shifted(claims: dict, seconds: int) -> dict:
    """``claims`` with ``iat``, ``nbf`` and ``exp`` moved by ``seconds``."""
    return {**claims, **{k: claims[k] + seconds for k in ("iat", "nbf", "exp")}}


@dataclass
class Scene:
    app: object
    client: object
    victim: Account
    attacker: Account
    target_id: int  # the user id in the compat path


@pytest.fixture
def scene(app, client, user, other_user) -> Scene:
    create_task(client, user, title="victim secret")
    return Scene(app, client, user, other_user, user.id)


def deactivate(scene: Scene) -> str:
    with scene.app.app_context():
        db.session.get(User, scene.victim.id).is_active = False
        db.session.commit()
    return f"Bearer {scene.victim.access_token}"


def deleted_user(scene: Scene) -> str:
    """The token of a deleted account whose id a new account may inherit (SQLite
    reuses the highest rowid): the stale token must not open the heir's data."""
    ghost = make_account(scene.client, "ghost@example.com")
    with scene.app.app_context():
        db.session.execute(sa.delete(User).where(User.id == ghost.id))
        db.session.commit()
        # ON DELETE CASCADE: the token rows go with the account.
        assert not db.session.scalars(
            sa.select(IssuedToken).where(IssuedToken.user_id == ghost.id)).all()
    heir = make_account(scene.client, "heir@example.com")
    create_task(scene.client, heir, title="heir secret")
    scene.target_id = heir.id
    return f"Bearer {ghost.access_token}"


def revoked(scene: Scene) -> str:
    response = scene.client.post("/api/v1/auth/logout", headers=scene.victim.headers)
    assert response.status_code == 204
    return f"Bearer {scene.victim.access_token}"


def access(scene: Scene) -> dict:
    return claims_of(scene.victim.access_token)


def basic(scene: Scene) -> str:
    pair = f"{scene.victim.email}:{scene.victim.password}".encode()
    return f"Basic {base64.b64encode(pair).decode()}"


def expired(scene: Scene) -> str:
    claims = access(scene)
    return "Bearer " + sign(shifted(claims, int(time.time()) - 60 - claims["exp"]))


def sub_true(scene: Scene) -> str:
    # True would read as user 1 if ``sub`` were coerced with int().
    assert scene.victim.id == 1
    return "Bearer " + sign(access(scene), sub=True)


ATTACKS = {
    "no-header": lambda s: None,
    "bearer-with-nothing": lambda s: "Bearer ",
    "bearer-word-only": lambda s: "Bearer",
    "bearer-two-tokens": lambda s: f"Bearer {s.victim.access_token} {s.victim.access_token}",
    "basic-real-credentials": basic,
    "basic-with-valid-jwt": lambda s: f"Basic {s.victim.access_token}",
    "alg-none": lambda s: "Bearer " + sign(access(s), alg="none"),
    "alg-none-original-signature": lambda s: "Bearer " + ".".join(
        [sign(access(s), alg="none").split(".")[0], *s.victim.access_token.split(".")[1:]]),
    "signature-stripped": lambda s: "Bearer " + s.victim.access_token.rsplit(".", 1)[0] + ".",
    "another-secret": lambda s: "Bearer " + sign(access(s), key=OTHER_SECRET),
    "hs512-our-secret": lambda s: "Bearer " + sign(access(s), alg="HS512"),
    "tampered-exp-original-signature": lambda s: "Bearer " + with_payload(
        s.victim.access_token, exp=access(s)["exp"] + 86400),
    "tampered-sub-original-signature": lambda s: "Bearer " + with_payload(
        s.attacker.access_token, sub=str(s.victim.id)),
    "expired": expired,
    "nbf-in-future": lambda s: "Bearer " + sign(access(s), nbf=int(time.time()) + 3600),
    "no-sub": lambda s: "Bearer " + sign(access(s), sub=DROP),
    "no-jti": lambda s: "Bearer " + sign(access(s), jti=DROP),
    "no-exp": lambda s: "Bearer " + sign(access(s), exp=DROP),
    "jti-never-issued": lambda s: "Bearer " + sign(
        access(s), jti="00000000-0000-4000-8000-000000000000"),
    "sub-never-existed": lambda s: "Bearer " + sign(access(s), sub="999999"),
    "sub-swapped-real-jti": lambda s: "Bearer " + sign(
        claims_of(s.attacker.access_token), sub=str(s.victim.id)),
    "sub-of-deleted-user": deleted_user,
    "sub-of-deactivated-user": deactivate,
    "refresh-token-as-access": lambda s: f"Bearer {s.victim.refresh_token}",
    "refresh-token-relabelled-access": lambda s: "Bearer " + sign(
        claims_of(s.victim.refresh_token), type="access"),
    "revoked-by-logout": revoked,
    "over-8-kib": lambda s: "Bearer " + sign(access(s), pad="x" * 8500),
    "sub-int": lambda s: "Bearer " + sign(access(s), sub=s.victim.id),
    "sub-float": lambda s: "Bearer " + sign(access(s), sub=float(s.victim.id)),
    "sub-bool": sub_true,
    "sub-list": lambda s: "Bearer " + sign(access(s), sub=[str(s.victim.id)]),
    "sub-null": lambda s: "Bearer " + sign(access(s), sub=None),
    "sub-object": lambda s: "Bearer " + sign(access(s), sub={"id": str(s.victim.id)}),
}

ROUTES = {
    "v1-list": ("get", lambda s: "/api/v1/tasks", None),
    "v1-create": ("post", lambda s: "/api/v1/tasks", {"title": "planted"}),
    "compat-list": ("get", lambda s: f"/api/{s.target_id}/tasks", None),
}


def call(scene: Scene, route: str, authorization: str | None):
    method, path, body = ROUTES[route]
    headers = {} if authorization is None else {"Authorization": authorization}
    return getattr(scene.client, method)(path(scene), headers=headers, json=body)


def assert_unauthorized(response) -> None:
    assert_error(response, 401)
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), response.headers


@pytest.mark.parametrize("route", ROUTES)
def test_control_reforged_token_with_issued_jti_is_accepted(scene, route):
    record("attacks", ROW)
    token = sign(access(scene))
    before = task_count(scene.app)

    response = call(scene, route, f"Bearer {token}")

    assert response.status_code in (200, 201), response.get_data(as_text=True)
    if route == "v1-create":
        assert task_count(scene.app) == before + 1
    else:
        assert [task["title"] for task in response.get_json()] == ["victim secret"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("attack", ATTACKS)
def test_attack_is_401_and_changes_nothing(scene, attack, route):
    record("attacks", ROW)
    authorization = ATTACKS[attack](scene)
    before = task_count(scene.app)

    response = call(scene, route, authorization)

    assert_unauthorized(response)
    assert b"secret" not in response.get_data()
    assert task_count(scene.app) == before


def token_state(app) -> list[tuple]:
    with app.app_context():
        return [tuple(row) for row in db.session.execute(
            sa.select(IssuedToken.__table__).order_by(IssuedToken.id))]


REFRESH_CALLS = {
    "v1-bearer": ("/api/v1/auth/refresh", "header"),
    "compat-bearer": ("/api/auth/refresh", "header"),
    "compat-body": ("/api/auth/refresh", "json"),
}


def refresh_with(client, call_id: str, token: str):
    path, where = REFRESH_CALLS[call_id]
    if where == "json":
        return client.post(path, json={"refresh_token": token})
    return client.post(path, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("call_id", REFRESH_CALLS)
def test_access_token_at_refresh_is_401(scene, call_id):
    record("attacks", ROW)
    before = token_state(scene.app)

    response = refresh_with(scene.client, call_id, scene.victim.access_token)

    assert_unauthorized(response)
    assert token_state(scene.app) == before
    assert scene.client.get("/api/v1/tasks", headers=scene.victim.headers).status_code == 200


@pytest.mark.parametrize("call_id", REFRESH_CALLS)
def test_control_refresh_token_at_refresh_is_accepted(scene, call_id):
    record("attacks", ROW)
    before = len(token_state(scene.app))

    response = refresh_with(scene.client, call_id, scene.victim.refresh_token)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(token_state(scene.app)) == before + 2


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("scheme", ["bearer", "BEARER"])
def test_bearer_scheme_is_case_insensitive(scene, scheme, route):
    """RFC 9110 section 11.1: the auth scheme is a case-insensitive token."""
    record("attacks", ROW)

    response = call(scene, route, f"{scheme} {scene.victim.access_token}")

    assert response.status_code in (200, 201), response.get_data(as_text=True)
