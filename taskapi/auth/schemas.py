"""Auth request and response schemas. Unknown fields raise (422)."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import marshmallow as ma

from taskapi.fields import TrimmedString, UTCDateTime

#: NIST SP 800-63B section 5.1.1.2 / OWASP: at least 8 characters; the upper
#: bound keeps hashing cost bounded.
PASSWORD_MIN, PASSWORD_MAX = 8, 128
#: A new password may hold any character but control characters (NUL, newlines...).
NO_CONTROL = re.compile(r"^[^\x00-\x1f\x7f]*$")
#: Shape-only examples for the OpenAPI document (not valid tokens).
ACCESS_TOKEN_EXAMPLE = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
                        "eyJzdWIiOiIxIiwidHlwZSI6ImFjY2VzcyJ9.c2lnbmF0dXJl")
REFRESH_TOKEN_EXAMPLE = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
                         "eyJzdWIiOiIxIiwidHlwZSI6InJlZnJlc2gifQ.c2lnbmF0dXJl")


def new_password_field() -> ma.fields.String:
    """A password being chosen: 8-128 characters, no control characters."""
    return ma.fields.String(
        required=True, load_only=True,
        validate=[
            ma.validate.Length(min=PASSWORD_MIN, max=PASSWORD_MAX),
            ma.validate.Regexp(NO_CONTROL, error="Must not contain control characters."),
        ],
        metadata={"example": "correct horse battery", "format": "password",
                  "pattern": NO_CONTROL.pattern},
    )


def current_password_field() -> ma.fields.String:
    """A password being checked: 1-128 characters (longer ones are never valid)."""
    return ma.fields.String(
        required=True, load_only=True,
        validate=ma.validate.Length(min=1, max=PASSWORD_MAX),
        metadata={"format": "password", "example": "correct horse battery"},
    )


class RegisterSchema(ma.Schema):
    email = TrimmedString(
        required=True, min_length=3, max_length=255, lower=True,
        validate=ma.validate.Email(error="Not a valid email address."),
        metadata={"example": "ada@example.com", "format": "email"},
    )
    password = new_password_field()
    name = TrimmedString(
        required=True, min_length=1, max_length=255, metadata={"example": "Ada Lovelace"}
    )


class LoginSchema(ma.Schema):
    email = TrimmedString(
        required=True, min_length=1, max_length=255, lower=True,
        metadata={"example": "ada@example.com"},
    )
    password = current_password_field()


class EmptySchema(ma.Schema):
    """The body of a route that takes none: absent or ``{}``; any field is a 422."""


class LogoutSchema(ma.Schema):
    refresh_token = ma.fields.String(
        validate=ma.validate.Length(min=1, max=8192),
        metadata={"description": "Optional: also end the session of this refresh token "
                  "(the request's own session ends either way).",
                  "example": REFRESH_TOKEN_EXAMPLE},
    )


class PasswordChangeSchema(ma.Schema):
    """``{"current_password", "new_password"}``; the new one follows the rules of
    registration and must differ from the current one."""

    current_password = current_password_field()
    new_password = new_password_field()

    @ma.validates_schema
    def _differs(self, data, **_kwargs):
        if data.get("current_password") == data.get("new_password"):
            raise ma.ValidationError("Must differ from the current password.",
                                     "new_password")


class UserSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True, metadata={"example": 1})
    email = ma.fields.String(
        dump_only=True, metadata={"description": "Lower-cased", "example": "ada@example.com"}
    )
    name = ma.fields.String(dump_only=True, metadata={"example": "Ada Lovelace"})
    created_at = UTCDateTime(dump_only=True, metadata={"example": "2026-11-21T09:30:00+00:00"})


class TokenSchema(ma.Schema):
    access_token = ma.fields.String(
        required=True,
        metadata={"description": "JWT, HS256: send as Authorization: Bearer <access_token>",
                  "example": ACCESS_TOKEN_EXAMPLE},
    )
    refresh_token = ma.fields.String(
        required=True, metadata={"description": "JWT, single use: each refresh rotates it",
                                 "example": REFRESH_TOKEN_EXAMPLE}
    )
    token_type = ma.fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(
        required=True,
        metadata={"description": "Access token lifetime in seconds", "example": 900},
    )


def _valid_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ma.ValidationError("Unknown time zone; use an IANA name such as Europe/Paris.") \
            from error


class MeSchema(UserSchema):
    """The current user, with settings only they see."""

    timezone = ma.fields.String(
        dump_only=True, metadata={"description": "IANA time zone", "example": "Europe/Paris"}
    )


class MeUpdateSchema(ma.Schema):
    """PATCH /auth/me: the fields sent change."""

    name = TrimmedString(min_length=1, max_length=255, metadata={"example": "Ada King"})
    timezone = TrimmedString(
        min_length=1, max_length=64, validate=_valid_zone,
        metadata={"description": "IANA time zone name; drives due_on and day boundaries",
                  "example": "America/New_York"},
    )
