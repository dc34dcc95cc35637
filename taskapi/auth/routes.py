"""Auth routes under /api/v1/auth. Tokens: see :mod:`taskapi.auth.tokens`."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import g
from flask.views import MethodView
from flask_jwt_extended import current_user, decode_token, get_jwt, jwt_required
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_smorest import abort
from jwt.exceptions import PyJWTError
from sqlalchemy.exc import IntegrityError

from taskapi.auth import tokens
from taskapi.auth.passwords import hash_password, needs_rehash, verify_password
from taskapi.auth.schemas import (
    EmptySchema,
    LoginSchema,
    LogoutSchema,
    MeSchema,
    MeUpdateSchema,
    PasswordChangeSchema,
    RegisterSchema,
    TokenSchema,
    UserSchema,
)
from taskapi.database import read_before_write
from taskapi.extensions import db
from taskapi.models import User, utcnow
from taskapi.ratelimits import login_limits, password_limits, password_refused, register_limits
from taskapi.smorest import Blueprint, bearer_auth
from taskapi.tasks.service import refresh_next_due

log = logging.getLogger("taskapi.auth")

blp = Blueprint(
    "auth", __name__, url_prefix="/api/v1/auth",
    description="Accounts and JWT access/refresh tokens.",
)
auth_doc = bearer_auth(blp)

BAD_CREDENTIALS = "Invalid email or password."


def find_user_by_email(email: str) -> User | None:
    """The user with this (already normalised) email, or None."""
    return db.session.scalars(sa.select(User).where(User.email == email)).first()


def register_user(data: dict) -> User:
    """Create an account from validated ``RegisterSchema`` data; 409 if taken."""
    # Hash before the first query: on SQLite the write lock is held from there on.
    password_hash = hash_password(data["password"])
    if find_user_by_email(data["email"]) is not None:
        abort(409, message="An account with this email already exists.")
    user = User(email=data["email"], name=data["name"], password_hash=password_hash)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        abort(409, message="An account with this email already exists.")
    log.info("user registered: user_id=%s", user.id)
    return user


def authenticate(email: str, password: str) -> User:
    """The active user with these credentials, else 401 (same body either way).

    Unknown emails are verified against a dummy hash so that both failures take
    as long as a wrong password (OWASP Authentication Cheat Sheet).
    """
    # A reader's lookup, ended before the slow hash check: neither the SQLite
    # write turn nor a lock is held while argon2 runs.
    with read_before_write():
        user = find_user_by_email(email)
        user_id, password_hash, active = (
            (user.id, user.password_hash, user.is_active) if user else (None, None, False)
        )
        db.session.commit()
    if not verify_password(password_hash, password) or not active:
        password_refused()
        log.warning(
            "login failed: user_id=%s reason=%s",
            user_id if user_id is not None else "-",
            "unknown account" if user_id is None else
            ("inactive account" if not active else "wrong password"),
        )
        abort(401, message=BAD_CREDENTIALS)
    g.user_id = user_id
    # Any new hash is computed before the write transaction begins.
    new_hash = hash_password(password) if needs_rehash(password_hash) else None
    if new_hash is not None:
        user.password_hash = new_hash
    return user


def refresh_session() -> dict:
    """Spend the request's refresh token and issue a new pair of its session
    (:func:`taskapi.auth.tokens.rotate_refresh_token`); 401 on reuse."""
    user = current_user
    issued = tokens.rotate_refresh_token(user, get_jwt()["jti"], tokens.current_session())
    db.session.commit()
    log.info("tokens refreshed: user_id=%s", user.id)
    return issued


def end_session(refresh_token: str | None = None) -> None:
    """Log out: revoke every token of the request's session, and of the session
    of ``refresh_token`` if one is given (422 unless it is a refresh token of
    this account). Commits."""
    user_id = current_user.id
    other = None
    if refresh_token:
        other = tokens.session_of(user_id, _own_refresh_jti(refresh_token))
    session_id = tokens.current_session()
    count = tokens.revoke_session(user_id, session_id, "logout")
    if other is not None and other != session_id:
        count += tokens.revoke_session(user_id, other, "logout")
    db.session.commit()
    log.info("logout: user_id=%s revoked=%s", user_id, count)


@blp.route("/register")
class Register(MethodView):
    decorators = [register_limits]

    @blp.doc(operationId="registerUser", security=[])
    @blp.arguments(RegisterSchema)
    @blp.response(201, UserSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data):
        """Create an account

        Returns the new user (never the password or its hash). Emails are
        stored trimmed and lower-cased; passwords are 8-128 characters.
        """
        return register_user(data)


@blp.route("/login")
class Login(MethodView):
    decorators = [login_limits]

    @blp.doc(operationId="logIn", security=[])
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    def post(self, data):
        """Log in with email and password

        Returns an access token (15 minutes by default) and a single-use
        refresh token (30 days by default).
        """
        user = authenticate(data["email"], data["password"])
        issued = tokens.issue_tokens(user)
        db.session.commit()
        log.info("login: user_id=%s", user.id)
        return issued


@blp.route("/refresh")
class Refresh(MethodView):
    decorators = [jwt_required(refresh=True)]

    @blp.doc(operationId="refreshTokens")
    @blp.arguments(EmptySchema, required=False)
    @blp.response(200, TokenSchema)
    @auth_doc
    def post(self, _data):
        """Exchange a refresh token for a new token pair

        Send the refresh token as `Authorization: Bearer <refresh_token>`. It is
        spent by this call (rotation); the new pair belongs to the same session.
        Presented again within `JWT_REFRESH_REUSE_WINDOW` seconds (default 30:
        concurrent refreshes of one client), it gets another new pair of the
        session; later, that is reuse (RFC 9700 section 4.14.2) and every token
        of the session is revoked.
        """
        return refresh_session()


@blp.route("/logout")
class Logout(MethodView):
    decorators = [jwt_required()]

    @blp.doc(operationId="logOut")
    @blp.arguments(LogoutSchema, required=False)
    @blp.response(204)
    @auth_doc
    def post(self, data):
        """Log out: end the session

        Revokes, at once, the access token in `Authorization` and every token
        of its session: the refresh token issued with it and those refreshed
        from it. `{"refresh_token": ...}` is optional; when sent, that token's
        session ends too. A refresh token of another account is a 422 and
        nothing is revoked. Other sessions (other devices) stay logged in: see
        `logout-all`.
        """
        end_session(data.get("refresh_token"))


@blp.route("/logout-all")
class LogoutAll(MethodView):
    decorators = [jwt_required()]

    @blp.doc(operationId="logOutEverywhere")
    @blp.arguments(EmptySchema, required=False)
    @blp.response(204)
    @auth_doc
    def post(self, _data):
        """Log out of every session

        Revokes every access and refresh token of the account, this request's
        included: every device has to log in again.
        """
        user_id = current_user.id
        count = tokens.revoke_all_tokens(user_id, "logout_all")
        db.session.commit()
        log.info("logout everywhere: user_id=%s revoked=%s", user_id, count)


@blp.route("/password")
class Password(MethodView):
    decorators = [password_limits, jwt_required()]

    @blp.doc(operationId="changePassword")
    @blp.arguments(PasswordChangeSchema)
    @blp.response(204)
    @blp.alt_response(401, response="UNAUTHORIZED")
    @auth_doc
    def post(self, data):
        """Change the password

        `current_password` must be right (else 401, and nothing changes);
        `new_password` follows the rules of registration (8-128 characters,
        NIST SP 800-63B section 5.1.1) and must differ from the current one.
        The new one is hashed with argon2id. Every other session of the
        account is revoked (OWASP Session Management Cheat Sheet: renew
        sessions after a password change); this one stays logged in.
        Rate limited like login.
        """
        change_password(data["current_password"], data["new_password"])


def change_password(current_password: str, new_password: str) -> None:
    """Check ``current_password`` of the request's user (401 when wrong), store
    the argon2 hash of ``new_password`` and revoke every other session. Commits."""
    # A reader's lookup, ended before the slow hashing: on SQLite neither the
    # write turn nor the lock is held while argon2 runs.
    with read_before_write():
        user = tokens.current_account()
        user_id, password_hash = user.id, user.password_hash
        db.session.commit()  # nor, on PostgreSQL, an open transaction
    if not verify_password(password_hash, current_password):
        password_refused()
        log.warning("password change refused: user_id=%s reason=wrong password", user_id)
        abort(401, message="The current password is wrong.")
    new_hash = hash_password(new_password)
    # Compare-and-set: of two concurrent changes from the same password, one wins.
    changed = db.session.execute(
        sa.update(User)
        .where(User.id == user_id, User.password_hash == password_hash)
        .values(password_hash=new_hash, updated_at=utcnow())
    ).rowcount
    if changed != 1:
        db.session.rollback()
        abort(409, message="The password was changed by another request; log in again.")
    count = tokens.revoke_all_tokens(user_id, "password_changed",
                                     except_session=tokens.current_session())
    db.session.commit()
    log.info("password changed: user_id=%s revoked=%s", user_id, count)


def _own_refresh_jti(encoded: str) -> str:
    """The jti of a refresh token of the current user; 422 for anything else."""
    try:
        claims = decode_token(encoded, allow_expired=True)
    except (PyJWTError, JWTExtendedException):
        claims = {}
    if claims.get("type") != "refresh" or claims.get("sub") != str(current_user.id):
        abort(422, errors={"json": {"refresh_token": ["Not a refresh token of this account."]}})
    return claims["jti"]


@blp.route("/me")
class Me(MethodView):
    decorators = [jwt_required()]

    @blp.doc(operationId="getCurrentUser")
    @blp.response(200, MeSchema)
    @auth_doc
    def get(self):
        """The current user

        The account the access token belongs to, with its settings (`timezone`).
        """
        return tokens.current_account()

    @blp.doc(operationId="updateCurrentUser")
    @blp.arguments(MeUpdateSchema)
    @blp.response(200, MeSchema)
    @auth_doc
    def patch(self, data):
        """Change the current user's name or time zone

        Only the fields sent change. `timezone` is an IANA name (`Europe/Paris`);
        it decides the calendar day of `due_on` and of the task statistics, and
        the wall times of recurring tasks' occurrences (their `next_due_at` is
        recomputed; `due_at` stays).
        """
        user = tokens.current_account()
        zone_changed = data.get("timezone", user.timezone) != user.timezone
        for name, value in data.items():
            setattr(user, name, value)
        if zone_changed:  # occurrences of recurring tasks are wall times in it
            refresh_next_due(user.id, user.timezone)
        db.session.commit()
        log.info("user updated: user_id=%s fields=%s", user.id, ",".join(sorted(data)) or "-")
        return user
