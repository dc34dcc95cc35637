"""``/api/v1/auth/tokens``: create, list and revoke personal access tokens."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app, g
from flask.views import MethodView
from flask_jwt_extended import current_user, jwt_required
from flask_smorest import abort

from taskapi.auth.tokens import BearerIdentity, BearerRefused
from taskapi.extensions import db
from taskapi.fields import TrimmedString, UTCDateTime
from taskapi.models import User, utcnow
from taskapi.plugins.pat.models import PersonalAccessToken
from taskapi.plugins.pat.scopes import SCOPES
from taskapi.smorest import Blueprint, bearer_auth

log = logging.getLogger("taskapi.auth")

#: ``tapi_`` and 43 characters of base64url: 32 random bytes (256 bits) from
#: ``secrets`` (RFC 6750's b64token alphabet, so any client can send it).
TOKEN_PREFIX = "tapi_"
TOKEN_BYTES = 32
SHOWN = 12  # characters kept as the listing's prefix: tapi_ and 7 more
#: How often last_used_at is written at most, per token.
LAST_USED_EVERY = timedelta(minutes=1)

blp = Blueprint(
    "personal-access-tokens", __name__, url_prefix="/api/v1/auth/tokens",
    description="Personal access tokens: long-lived, scoped bearer tokens for scripts and "
    "integrations (built-in plugin `pat`). Send one as `Authorization: Bearer tapi_...`.")
auth_doc = bearer_auth(blp)


def token_hash(token: str) -> str:
    """SHA-256 of ``token``, hex. A fast hash is right here: a token carries 256
    random bits, so no guess can find one from its hash, and the slow,
    salted hashes that protect low-entropy passwords (argon2id, OWASP Password
    Storage Cheat Sheet) would only slow every request down; GitHub stores its
    tokens' SHA-256 the same way."""
    return hashlib.sha256(token.encode()).hexdigest()


def _known_scope(value: str) -> None:
    """One of :data:`~taskapi.plugins.pat.scopes.SCOPES`, plugins' included."""
    if value not in SCOPES:
        raise ma.ValidationError(f"Unknown scope; use {', '.join(SCOPES)}.")


class PersonalAccessTokenSchema(ma.Schema):
    """A personal access token as listed (never the token itself)."""

    id = ma.fields.Integer(dump_only=True, metadata={"example": 3})
    name = TrimmedString(required=True, min_length=1, max_length=100,
                         metadata={"description": "What it is for", "example": "backup script"})
    prefix = ma.fields.String(
        dump_only=True, metadata={"description": "Its first characters, to recognise it",
                                  "example": "tapi_Xy3kQ9a"})
    scopes = ma.fields.List(
        ma.fields.String(validate=_known_scope, metadata={"enum": list(SCOPES)}),
        required=True,
        validate=ma.validate.Length(min=1, max=len(SCOPES)),
        metadata={"description": "What it may do, each scope once: " + ", ".join(SCOPES),
                  "example": ["tasks:read", "tasks:write"], "uniqueItems": True})
    created_at = UTCDateTime(dump_only=True, metadata={"example": "2026-12-04T09:00:00+00:00"})
    last_used_at = UTCDateTime(
        dump_only=True, allow_none=True,
        metadata={"description": "Last request made with it (to the minute); null: never",
                  "example": None})
    expires_at = UTCDateTime(
        dump_only=True, allow_none=True,
        metadata={"description": "null: it does not expire", "example": None})

    @ma.validates("scopes")
    def _distinct(self, value, **_kwargs):
        if len(set(value)) != len(value):
            raise ma.ValidationError("Each scope at most once.")


class PersonalAccessTokenCreateSchema(PersonalAccessTokenSchema):
    expires_in_days = ma.fields.Integer(
        load_only=True, strict=True, validate=ma.validate.Range(min=1, max=3650),
        metadata={"description": "Days until it expires (at most PAT_MAX_DAYS); omitted: "
                  "PAT_MAX_DAYS, or never when that is not set", "example": 90})


class NewPersonalAccessTokenSchema(PersonalAccessTokenSchema):
    token = ma.fields.String(
        dump_only=True, metadata={"description": "The token: shown this once, stored only "
                                  "as a hash", "example": "tapi_Xy3kQ9a..."})


def _row(token: PersonalAccessToken) -> dict:
    return {"id": token.id, "name": token.name, "prefix": token.prefix,
            "scopes": token.scopes.split(), "created_at": token.created_at,
            "last_used_at": token.last_used_at, "expires_at": token.expires_at}


def _password_session_only() -> None:
    if g.get("bearer_identity") is not None:
        abort(403, message="Personal access tokens cannot manage tokens: use the access "
              "token of a password login.")


@blp.route("")
class Tokens(MethodView):
    decorators = [jwt_required()]

    @blp.doc(operationId="listPersonalAccessTokens")
    @blp.response(200, PersonalAccessTokenSchema(many=True))
    @auth_doc
    def get(self):
        """List your personal access tokens

        Newest first; the tokens themselves are never shown again.
        """
        _password_session_only()
        tokens = db.session.scalars(
            sa.select(PersonalAccessToken).where(PersonalAccessToken.user_id == current_user.id)
            .order_by(PersonalAccessToken.id.desc()))
        return [_row(token) for token in tokens]

    @blp.doc(operationId="createPersonalAccessToken")
    @blp.arguments(PersonalAccessTokenCreateSchema)
    @blp.response(201, NewPersonalAccessTokenSchema)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(409, response="CONFLICT")
    @auth_doc
    def post(self, data):
        """Create a personal access token

        `{name, scopes, expires_in_days?}`; the answer carries `token` once.
        Needs the access token of a password login (a personal access token
        gets 403). 409 beyond `PAT_MAX_PER_USER` tokens (default 50); 422 for
        an `expires_in_days` beyond `PAT_MAX_DAYS`.
        """
        _password_session_only()
        config = current_app.config
        db.session.execute(sa.select(User.id).where(User.id == current_user.id)
                           .with_for_update())  # one create at a time per user: the quota
        count = db.session.scalar(sa.select(sa.func.count()).select_from(PersonalAccessToken)
                                  .where(PersonalAccessToken.user_id == current_user.id))
        if count >= config["PAT_MAX_PER_USER"]:
            abort(409, message=f"You have {count} personal access tokens, the most allowed; "
                  "revoke one first.")
        days = data.get("expires_in_days", config["PAT_MAX_DAYS"])
        if days is not None and config["PAT_MAX_DAYS"] is not None \
                and days > config["PAT_MAX_DAYS"]:
            message = f"At most {config['PAT_MAX_DAYS']} days."
            abort(422, message=message, errors={"json": {"expires_in_days": [message]}})
        now = utcnow()
        token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
        row = PersonalAccessToken(
            user_id=current_user.id, name=data["name"], token_hash=token_hash(token),
            prefix=token[:SHOWN], scopes=" ".join(data["scopes"]), created_at=now,
            expires_at=now + timedelta(days=days) if days is not None else None)
        db.session.add(row)
        db.session.commit()
        log.info("personal access token created: user_id=%s token_id=%s scopes=%s",
                 current_user.id, row.id, row.scopes)
        return {**_row(row), "token": token}


@blp.route("/<int(min=1, max=2147483647):token_id>")
class TokenById(MethodView):
    decorators = [jwt_required()]

    @blp.doc(operationId="revokePersonalAccessToken")
    @blp.response(204)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def delete(self, token_id):
        """Revoke a personal access token

        It stops working at once (401), in every worker.
        """
        _password_session_only()
        deleted = db.session.execute(
            sa.delete(PersonalAccessToken).where(PersonalAccessToken.id == token_id,
                                                 PersonalAccessToken.user_id == current_user.id))
        if deleted.rowcount == 0:
            abort(404, message="Token not found.")
        db.session.commit()
        log.info("personal access token revoked: user_id=%s token_id=%s", current_user.id,
                 token_id)


_LOOKUP = (sa.select(PersonalAccessToken.id, PersonalAccessToken.user_id,
                     PersonalAccessToken.scopes, PersonalAccessToken.expires_at,
                     PersonalAccessToken.last_used_at)
           .where(PersonalAccessToken.token_hash == sa.bindparam("token_hash")))


def authenticate(token: str) -> BearerIdentity:
    """The identity of personal access token ``token``; :class:`BearerRefused`
    (a 401) when it is unknown, revoked or expired. Notes the use in
    ``last_used_at`` at most once a minute, in a transaction of its own."""
    row = db.session.execute(_LOOKUP, {"token_hash": token_hash(token)}).first()
    db.session.rollback()  # the lookup's read transaction: the request starts afresh
    if row is None:
        raise BearerRefused("Invalid token: not a live personal access token (revoked, "
                            "or never issued).")
    token_id, user_id, scopes, expires_at, last_used_at = row
    now = utcnow()
    if expires_at is not None and expires_at <= now:
        raise BearerRefused("The personal access token has expired.")
    if last_used_at is None or now - last_used_at >= LAST_USED_EVERY:
        _note_use(token_id, now)
    return BearerIdentity(user_id, "pat", token_id, frozenset(scopes.split()))


def _note_use(token_id: int, now) -> None:
    try:
        with db.engine.begin() as connection:
            connection.execute(sa.update(PersonalAccessToken.__table__)
                               .where(PersonalAccessToken.__table__.c.id == token_id)
                               .values(last_used_at=now))
    except sa.exc.SQLAlchemyError:  # a note, not the request's business
        log.warning("personal access token use not recorded: token_id=%s", token_id,
                    exc_info=True)
