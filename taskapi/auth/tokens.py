"""JWT issuing, checking, rotation and revocation (Flask-JWT-Extended).

Every issued token has a row in ``issued_tokens`` keyed by its ``jti``; a token
is accepted only while its row exists, is not revoked, and its user exists and
is active. That one indexed lookup per request (token joined with user) makes
revocation hold across gunicorn workers and restarts.

Sessions: the tokens of one login or registration, and every pair refreshed
from them, share a ``session_id`` (a token family). Logout revokes the whole
session; logout-all and a password change revoke several. A user has at most
``SESSIONS_PER_USER`` live sessions: a new one beyond ends the oldest
(:func:`end_oldest_sessions`).

Refresh tokens are single-use (rotation): using one revokes it with reason
``rotated``. Presenting a rotated refresh token again is treated as theft and
revokes its whole session (reuse detection, OAuth 2.0 Security BCP, RFC 9700
section 4.14.2: "revoke the active refresh token" of the family) — except
within ``JWT_REFRESH_REUSE_WINDOW`` seconds of the rotation, see
:func:`rotate_refresh_token`. Error responses are 401 with ``WWW-Authenticate:
Bearer`` (RFC 6750 section 3) in the one error shape.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask, current_app, g, request
from flask_jwt_extended import create_access_token, create_refresh_token, current_user
from flask_smorest import abort

from taskapi.database import read_before_write
from taskapi.errors import error_response
from taskapi.extensions import db, jwt
from taskapi.jwtmanager import MAX_AUTHORIZATION_LENGTH, bearer_elements, bearer_token
from taskapi.models import IssuedToken, User, utcnow

log = logging.getLogger("taskapi.auth")


def _seconds(name: str) -> int:
    value = current_app.config[name]
    return int(value.total_seconds()) if isinstance(value, timedelta) else int(value)


def issue_tokens(user: User, session_id: str | None = None) -> dict:
    """Create and record an access and a refresh token for ``user``, in the
    session ``session_id`` (a refresh) or in a new session (None: a login).

    Returns ``{"access_token", "refresh_token", "token_type": "Bearer",
    "expires_in"}`` (``expires_in`` in seconds, RFC 6749 section 5.1). The
    user's expired token rows are pruned on the way, and a new session beyond
    ``SESSIONS_PER_USER`` ends the oldest (:func:`end_oldest_sessions`). The
    caller commits.
    """
    now = utcnow()
    db.session.execute(
        sa.delete(IssuedToken).where(
            IssuedToken.user_id == user.id, IssuedToken.expires_at < now
        )
    )
    if session_id is None:
        end_oldest_sessions(user.id, current_app.config["SESSIONS_PER_USER"] - 1, now)
        session_id = str(uuid.uuid4())
    tokens = {}
    for token_type, create, lifetime in (
        ("access", create_access_token, _seconds("JWT_ACCESS_TOKEN_EXPIRES")),
        ("refresh", create_refresh_token, _seconds("JWT_REFRESH_TOKEN_EXPIRES")),
    ):
        jti = str(uuid.uuid4())
        # One clock reading for iat, nbf, exp and the row (the library would read
        # the clock again: exp - iat could then be off by a second).
        issued = int(now.timestamp())
        exp = issued + lifetime
        tokens[f"{token_type}_token"] = create(
            identity=str(user.id),
            additional_claims={"jti": jti, "iat": issued, "nbf": issued, "exp": exp},
            expires_delta=False,
        )
        db.session.add(
            IssuedToken(
                jti=jti,
                token_type=token_type,
                user_id=user.id,
                issued_at=now,
                expires_at=datetime.fromtimestamp(exp, UTC),
                session_id=session_id,
            )
        )
    return {
        **tokens,
        "token_type": "Bearer",
        "expires_in": _seconds("JWT_ACCESS_TOKEN_EXPIRES"),
    }


def end_oldest_sessions(user_id: int, keep: int, now: datetime | None = None) -> int:
    """Revoke every token of the live sessions of ``user_id`` but the ``keep``
    newest, with reason ``session_limit``; returns how many tokens. The caller
    commits.

    A session is live while it holds a live refresh token (not revoked, not
    expired); the newest is the one whose newest refresh token was issued last,
    so the sessions ended are those that went longest without a login or a
    refresh (OWASP Session Management Cheat Sheet: bound the sessions of an
    account). Two logins at the same moment may each keep ``keep`` others: the
    next login trims the excess.
    """
    now = now or utcnow()
    newest = sa.func.max(IssuedToken.issued_at)
    stale = list(db.session.scalars(
        sa.select(IssuedToken.session_id)
        .where(IssuedToken.user_id == user_id, IssuedToken.token_type == "refresh",
               IssuedToken.revoked_at.is_(None), IssuedToken.expires_at > now)
        .group_by(IssuedToken.session_id)
        .order_by(newest.desc(), IssuedToken.session_id.desc())
        .offset(max(keep, 0))
    ))
    if not stale:
        return 0
    count = db.session.execute(
        sa.update(IssuedToken)
        .where(IssuedToken.user_id == user_id, IssuedToken.session_id.in_(stale),
               IssuedToken.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason="session_limit")
    ).rowcount
    log.info("sessions over the limit ended: user_id=%s sessions=%s revoked=%s",
             user_id, len(stale), count)
    return count


def revoke_token(jti: str, reason: str) -> bool:
    """Revoke one token if it is still live; True when this call revoked it.

    A compare-and-set ``UPDATE ... WHERE revoked_at IS NULL``: of two concurrent
    calls for the same ``jti`` exactly one gets True (no double spend of a
    refresh token). The caller commits.
    """
    result = db.session.execute(
        sa.update(IssuedToken)
        .where(IssuedToken.jti == jti, IssuedToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoke_reason=reason)
    )
    return result.rowcount == 1


def revoke_all_tokens(user_id: int, reason: str, *, except_session: str | None = None) -> int:
    """Revoke every live token of a user, of every session but ``except_session``
    if given; returns how many. The caller commits."""
    statement = (
        sa.update(IssuedToken)
        .where(IssuedToken.user_id == user_id, IssuedToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoke_reason=reason)
    )
    if except_session is not None:
        statement = statement.where(IssuedToken.session_id != except_session)
    return db.session.execute(statement).rowcount


def revoke_session(user_id: int, session_id: str, reason: str) -> int:
    """Revoke every live token of one session of ``user_id``; returns how many.
    The caller commits."""
    result = db.session.execute(
        sa.update(IssuedToken)
        .where(IssuedToken.user_id == user_id, IssuedToken.session_id == session_id,
               IssuedToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoke_reason=reason)
    )
    return result.rowcount


def session_of(user_id: int, jti: str) -> str | None:
    """The ``session_id`` of the token ``jti`` of ``user_id``, or None."""
    return db.session.scalar(
        sa.select(IssuedToken.session_id)
        .where(IssuedToken.jti == jti, IssuedToken.user_id == user_id)
    )


def current_session() -> str:
    """The ``session_id`` of the request's token (read by the token check)."""
    return g.token_session_id


def prune_expired_tokens() -> int:
    """Delete every token row whose ``expires_at`` has passed; returns the count."""
    result = db.session.execute(
        sa.delete(IssuedToken).where(IssuedToken.expires_at < utcnow())
    )
    return result.rowcount


def handle_refresh_reuse(user_id: int, session_id: str, jti: str) -> None:
    """A rotated refresh token came back after the reuse window: revoke its whole
    session, commit."""
    count = revoke_session(user_id, session_id, "reuse")
    db.session.commit()
    log.warning("refresh token reuse detected: user_id=%s jti=%s session=%s revoked=%s",
                user_id, jti, session_id, count)


def _reuse_window() -> timedelta:
    return timedelta(seconds=current_app.config["JWT_REFRESH_REUSE_WINDOW"])


def _within_reuse_window(revoked_at: datetime | None, reason: str | None) -> bool:
    """Whether a refresh token revoked at ``revoked_at`` for ``reason`` may still be
    presented: it was rotated (not logged out or revoked for reuse), at most
    ``JWT_REFRESH_REUSE_WINDOW`` seconds ago."""
    window = _reuse_window()
    return (reason == "rotated" and revoked_at is not None and window > timedelta(0)
            and utcnow() - revoked_at <= window)


def _session_live(session_id: str) -> bool:
    """Whether ``session_id`` still holds a live refresh token (not logged out,
    not revoked for reuse, not expired)."""
    return db.session.scalar(
        sa.select(sa.literal(True)).where(
            IssuedToken.session_id == session_id, IssuedToken.token_type == "refresh",
            IssuedToken.revoked_at.is_(None), IssuedToken.expires_at > utcnow(),
        ).limit(1)
    ) is not None


def rotate_refresh_token(user: User | TokenUser, jti: str, session_id: str) -> dict:
    """Spend the refresh token ``jti`` of ``user`` and issue a new pair of the same
    session (the :func:`issue_tokens` dict); the caller commits.

    The token is revoked with a compare-and-set (:func:`revoke_token`). When it
    was rotated already, by a concurrent refresh of the same client (a web page
    whose parallel calls all hit one expired access token) or by a client that
    did not store the answer, and that was at most ``JWT_REFRESH_REUSE_WINDOW``
    seconds ago (Auth0's "reuse interval", Okta's "grace period for token
    rotation"), the caller gets a *new* pair of the same session. Not the pair
    of the first rotation: tokens themselves are never stored (only their
    ``jti``), so that pair cannot be sent again. Nor is that pair superseded:
    every pair handed out within the window keeps working, because each of the
    concurrent callers retries its own request with the pair it got. Each new
    refresh token is single use again. The grace ends with the session: after
    a logout, or a reuse revocation, the same token is a 401.

    After the window the token is reuse (RFC 9700 section 4.14.2): the whole
    session is revoked and 401 raised.
    """
    if not revoke_token(jti, "rotated"):
        revoked_at, reason = db.session.execute(
            sa.select(IssuedToken.revoked_at, IssuedToken.revoke_reason)
            .where(IssuedToken.jti == jti)
        ).one_or_none() or (None, None)
        if not _within_reuse_window(revoked_at, reason) or not _session_live(session_id):
            if reason == "rotated" and not _within_reuse_window(revoked_at, reason):
                handle_refresh_reuse(user.id, session_id, jti)
            else:
                db.session.rollback()
            abort(401, message="The token has been revoked.")
        log.info("refresh within the reuse window: user_id=%s jti=%s", user.id, jti)
    return issue_tokens(user, session_id)


@dataclass(frozen=True, slots=True)
class BearerIdentity:
    """Who a bearer credential other than this server's JWTs stands for (a
    plugin's, such as a personal access token): ``scheme`` names the kind
    (``pat``), ``credential_id`` the credential, ``scopes`` what it may do."""

    user_id: int
    scheme: str
    credential_id: int
    scopes: frozenset[str]


class BearerRefused(Exception):
    """An authenticator's refusal (revoked, expired, unknown): a 401 with this
    message and the RFC 6750 challenge."""


_AUTHENTICATORS = "taskapi.bearer_authenticators"
#: The WSGI environ key of the credential a stand-in JWT replaced in
#: ``Authorization`` (a batch sends it on with each of its operations).
ORIGINAL_AUTHORIZATION = "taskapi.original_authorization"
#: Seconds the stand-in JWT of an authenticated credential lives: it never
#: leaves the request that made it.
_STAND_IN_SECONDS = 60


def register_bearer_authenticator(app: Flask, prefix: str, authenticate) -> None:
    """Accept bearer tokens starting with ``prefix`` on ``app`` besides its JWTs:
    ``authenticate(token)`` returns a :class:`BearerIdentity` or raises
    :class:`BearerRefused`. The request then runs as that user exactly as with
    an access JWT (``current_user``, rate limits per user, the account checks
    of :func:`_is_revoked`), with ``g.bearer_identity`` set for scope checks."""
    app.extensions.setdefault(_AUTHENTICATORS, {})[prefix] = authenticate


def _stand_in(token: str) -> str | None:
    """For a token of a registered authenticator: authenticate it and return a
    JWT standing in for it in this request only (``via`` its scheme; accepted by
    :func:`_is_revoked` only while ``g.bearer_identity`` says so); None for any
    other token. Raises :class:`BearerRefused`."""
    for prefix, authenticate in current_app.extensions.get(_AUTHENTICATORS, {}).items():
        if token.startswith(prefix):
            identity = authenticate(token)
            g.bearer_identity = identity
            return create_access_token(
                identity=str(identity.user_id),
                additional_claims={"via": identity.scheme, "cid": identity.credential_id},
                expires_delta=timedelta(seconds=_STAND_IN_SECONDS))
    return None


_USER_STATE = (sa.select(User.__table__.c.is_active, User.__table__.c.timezone,
                         User.__table__.c.data_version)
               .where(User.__table__.c.id == sa.bindparam("user_id")))


def _accept_stand_in(user_id: int, payload: dict) -> bool:
    identity = g.get("bearer_identity")
    if identity is None or identity.scheme != payload.get("via") \
            or identity.user_id != user_id or identity.credential_id != payload.get("cid"):
        return False
    with read_before_write():
        row = db.session.connection().execute(_USER_STATE, {"user_id": user_id}).first()
    if row is None or not row[0]:
        return False
    g.current_token_user = TokenUser(user_id, row[1], row[2])
    g.token_session_id = None
    g.user_id = user_id
    return True


def init_jwt(app: Flask) -> None:
    """Bind Flask-JWT-Extended and install the database checks and 401 responses."""
    app.config.setdefault("JWT_TOKEN_LOCATION", ["headers"])
    app.config.setdefault("JWT_COOKIE_CSRF_PROTECT", False)  # bearer headers only
    # HS256 only: a token signed with any other algorithm (none, HS512) is invalid.
    app.config["JWT_ALGORITHM"] = "HS256"
    app.config["JWT_DECODE_ALGORITHMS"] = ["HS256"]
    jwt.init_app(app)
    app.before_request(_check_authorization_header)


#: The placeholder handed to Flask-JWT-Extended for bearer credentials that
#: :func:`taskapi.jwtmanager.bearer_token` does not read: a header the library
#: refuses too ("Bad Authorization header").
UNREAD_BEARER = "Bearer"


def _check_authorization_header():
    """Before every request: one reading of ``Authorization`` for everyone.

    A header that names the Bearer scheme is replaced by ``Bearer <token>``, the
    token :func:`taskapi.jwtmanager.bearer_token` reads (the rate limiter's
    reading), or by :data:`UNREAD_BEARER` when it reads none (a tab for a space,
    two bearer tokens...): Flask-JWT-Extended, which would otherwise read some
    of those itself (it splits on commas and any whitespace), then authenticates
    exactly the requests the limiter counts for their user. The scheme is
    matched case-insensitively (RFC 9110 section 11.1). Longer than
    :data:`~taskapi.jwtmanager.MAX_AUTHORIZATION_LENGTH`: a 401 on any route.
    Headers of other schemes only are left alone (a 401 where a token is needed).
    """
    header = request.environ.get("HTTP_AUTHORIZATION")
    if not header or not bearer_elements(header):
        return None
    if len(header) > MAX_AUTHORIZATION_LENGTH:
        return _invalid(f"Invalid token: longer than {MAX_AUTHORIZATION_LENGTH} characters.")
    token = bearer_token(header)
    if token and current_app.extensions.get(_AUTHENTICATORS):
        try:
            stand_in = _stand_in(token)
        except BearerRefused as refused:
            return _invalid(str(refused))
        if stand_in is not None:
            request.environ[ORIGINAL_AUTHORIZATION] = f"Bearer {token}"
            token = stand_in
    request.environ["HTTP_AUTHORIZATION"] = f"Bearer {token}" if token else UNREAD_BEARER
    return None


@dataclass(frozen=True, slots=True)
class TokenUser:
    """The user of the request's token, as the token check read it (``current_user``
    of the routes): ``id``, IANA ``timezone`` and ``data_version``
    (:mod:`taskapi.data_version`). Routes that change or show the account itself
    load the ORM row with :func:`current_account`."""

    id: int
    timezone: str
    data_version: int


_TOKENS, _USERS = IssuedToken.__table__, User.__table__
#: The one query of every authenticated request: token row and user in one Core
#: SELECT, built once, so SQLAlchemy's compiled cache serves it.
_TOKEN_WITH_USER = (
    sa.select(_TOKENS.c.user_id, _TOKENS.c.token_type, _TOKENS.c.revoked_at,
              _TOKENS.c.revoke_reason, _TOKENS.c.session_id, _USERS.c.is_active,
              _USERS.c.timezone, _USERS.c.data_version)
    .join(_USERS, _USERS.c.id == _TOKENS.c.user_id)
    .where(_TOKENS.c.jti == sa.bindparam("jti"))
)


@jwt.token_in_blocklist_loader
def _is_revoked(_header: dict, payload: dict) -> bool:
    """True (a 401) unless the token is one this server issued and still honours:
    ``sub`` the decimal string of a user id, an ``exp`` claim (every issued token
    has one; without it PyJWT would accept the token forever), and its ``jti`` row
    live and of the same user, type and active account."""
    subject = payload.get("sub")
    if not isinstance(subject, str) or not subject.isascii() or not subject.isdigit():
        return True
    if "exp" not in payload:
        return True
    jti = payload.get("jti")
    if not isinstance(jti, str):
        return True
    user_id = int(subject)
    if "via" in payload:  # a plugin's credential, authenticated in this request
        return not _accept_stand_in(user_id, payload)
    with read_before_write():
        row = db.session.connection().execute(_TOKEN_WITH_USER, {"jti": jti}).first()
    if row is None:
        return True
    (token_user_id, token_type, revoked_at, revoke_reason, session_id, is_active, timezone,
     data_version) = row
    if token_user_id != user_id or token_type != payload.get("type"):
        return True
    if not is_active:
        return True
    if revoked_at is not None:
        if token_type != "refresh" or revoke_reason != "rotated":
            return True
        if not _within_reuse_window(revoked_at, revoke_reason):
            handle_refresh_reuse(user_id, session_id, jti)
            return True
        # Rotated moments ago: the refresh route decides (rotate_refresh_token).
    g.current_token_user = TokenUser(user_id, timezone, data_version)
    g.token_session_id = session_id
    g.user_id = user_id
    return False


def current_account() -> User:
    """The ORM row of the request's token user (for routes that change or show the
    account); 401 if it vanished since the token check."""
    user = db.session.get(User, current_user.id)
    if user is None:
        abort(401, message="The token's user no longer exists.")
    return user


@jwt.user_lookup_loader
def _load_user(_header: dict, _payload: dict) -> TokenUser | None:
    return g.get("current_token_user")


def _challenge(message: str, error: str | None = None):
    """401 with the RFC 6750 challenge; ``error="invalid_token"`` when one was sent."""
    challenge = 'Bearer realm="taskapi"' + (f', error="{error}"' if error else "")
    return error_response(401, message, headers={"WWW-Authenticate": challenge})


def _invalid(message: str):
    log.warning("rejected token: %s", message)
    return _challenge(message, "invalid_token")


@jwt.unauthorized_loader
def _missing(reason: str):
    return _challenge(f"Authentication required: {reason}.")


@jwt.invalid_token_loader
def _invalid_token(reason: str):
    return _invalid(f"Invalid token: {reason}.")


@jwt.expired_token_loader
def _expired(_header: dict, _payload: dict):
    return _invalid("The token has expired.")


@jwt.revoked_token_loader
def _revoked(_header: dict, payload: dict):
    log.warning("revoked token used: jti=%s sub=%s", payload.get("jti"), payload.get("sub"))
    return _challenge("The token has been revoked.", "invalid_token")


@jwt.user_lookup_error_loader
def _user_gone(_header: dict, _payload: dict):
    return _invalid("The token's user no longer exists.")


@jwt.needs_fresh_token_loader
def _needs_fresh(_header: dict, _payload: dict):
    return _invalid("A fresh token is required.")


@jwt.token_verification_failed_loader
def _verification_failed(_header: dict, _payload: dict):
    return _invalid("The token failed verification.")
