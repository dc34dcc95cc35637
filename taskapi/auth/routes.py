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
    RegisterSchema,
    TokenSchema,
    UserSchema,
)
from taskapi.extensions import db
from taskapi.models import User
from taskapi.ratelimits import auth_limits
from taskapi.smorest import Blueprint, bearer_auth

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
    user = find_user_by_email(email)
    user_id, password_hash, active = (
        (user.id, user.password_hash, user.is_active) if user else (None, None, False)
    )
    # End the transaction before the slow hash check: no lock held meanwhile.
    db.session.commit()
    if not verify_password(password_hash, password) or not active:
        log.warning(
            "login failed: user_id=%s reason=%s",
            user_id if user_id is not None else "-",
            "unknown account" if user_id is None else
            ("inactive account" if not active else "wrong password"),
        )
        abort(401, message=BAD_CREDENTIALS)
    g.user_id = user.id
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def rotate_refresh_token() -> dict:
    """Spend the current refresh token and issue a new pair; 401 on reuse."""
    claims = get_jwt()
    user = current_user
    if not tokens.revoke_token(claims["jti"], "rotated"):
        # Lost a race with another use of the same refresh token.
        tokens.handle_refresh_reuse(user.id, claims["jti"])
        abort(401, message="The token has been revoked.")
    issued = tokens.issue_tokens(user)
    db.session.commit()
    log.info("tokens refreshed: user_id=%s", user.id)
    return issued


@blp.route("/register")
class Register(MethodView):
    decorators = [auth_limits]

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
    decorators = [auth_limits]

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
        revoked by this call (rotation); presenting it again revokes every token
        of the account (reuse detection).
        """
        return rotate_refresh_token()


@blp.route("/logout")
class Logout(MethodView):
    decorators = [jwt_required()]

    @blp.doc(operationId="logOut")
    @blp.arguments(LogoutSchema, required=False)
    @blp.response(204)
    @auth_doc
    def post(self, data):
        """Log out: revoke the access token (and a refresh token if given)

        The access token in `Authorization` is revoked at once; send
        `{"refresh_token": ...}` to revoke that one too, otherwise it stays
        usable until it expires or is used. A refresh token of another account
        is a 422 and nothing is revoked.
        """
        refresh_jti = None
        if data.get("refresh_token"):
            refresh_jti = _own_refresh_jti(data["refresh_token"])
        tokens.revoke_token(get_jwt()["jti"], "logout")
        if refresh_jti:
            tokens.revoke_token(refresh_jti, "logout")
        db.session.commit()
        log.info("logout: user_id=%s", current_user.id)


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
        it decides the calendar day of `due_on` and of the task statistics.
        """
        user = tokens.current_account()
        for name, value in data.items():
            setattr(user, name, value)
        db.session.commit()
        log.info("user updated: user_id=%s fields=%s", user.id, ",".join(sorted(data)) or "-")
        return user
