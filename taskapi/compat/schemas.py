"""Request and response shapes of the Phase II contract."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import marshmallow as ma

from taskapi.auth.schemas import ACCESS_TOKEN_EXAMPLE, REFRESH_TOKEN_EXAMPLE, UserSchema
from taskapi.fields import StrictBoolean, UTCDateTime
from taskapi.tasks.schemas import TaskSchema, without_defaults


class LenientDueDate(UTCDateTime):
    """``due_date``: an ISO 8601 datetime with or without offset, or a date.

    The old backend accepted ``2025-12-31`` and ``2025-12-31T23:59:59``; both are
    read as UTC (a date as midnight UTC). Output is ISO 8601 in UTC.
    """

    default_error_messages = {
        "invalid": "Not a valid date or datetime (YYYY-MM-DD or ISO 8601).",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid", input=value, obj_type="datetime")
        text = value.strip()
        try:
            if len(text) == 10:
                return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
            parsed = datetime.fromisoformat(text)
        except ValueError as error:
            raise self.make_error("invalid", input=value, obj_type="datetime") from error
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)


class CompatTaskSchema(TaskSchema):
    """A task as the old backend showed it: ``due_date`` for ``due_at``, with ``user_id``."""

    class Meta:
        exclude = ("due_at", "completed_at", "tags")

    user_id = ma.fields.Integer(dump_only=True, metadata={"example": 1})
    due_date = LenientDueDate(
        attribute="due_at", allow_none=True, load_default=None,
        metadata={"description": "YYYY-MM-DD, or ISO 8601 (no offset means UTC)",
                  "example": "2025-12-31T17:00:00+00:00"},
    )


CompatTaskUpdateSchema = without_defaults(
    CompatTaskSchema, "CompatTaskUpdateSchema",
    "PUT in this contract is a partial update: use with ``partial=True``.",
)


class CompatCompleteSchema(ma.Schema):
    completed = StrictBoolean(
        metadata={"description": "New state; omit the body to toggle", "example": True}
    )


class CompatRefreshSchema(ma.Schema):
    refresh_token = ma.fields.String(
        validate=ma.validate.Length(min=1, max=8192),
        metadata={"description": "Or send it as `Authorization: Bearer <refresh_token>`",
                  "example": REFRESH_TOKEN_EXAMPLE},
    )


class CompatAuthSchema(ma.Schema):
    """``{"user": {...}, "token": "<access>", "refresh_token": "<refresh>"}``."""

    user = ma.fields.Nested(UserSchema, required=True)
    token = ma.fields.String(
        required=True,
        metadata={"description": "Access token (JWT)", "example": ACCESS_TOKEN_EXAMPLE},
    )
    refresh_token = ma.fields.String(
        required=True, metadata={"description": "Refresh token (JWT), single use",
                                 "example": REFRESH_TOKEN_EXAMPLE},
    )


class MessageSchema(ma.Schema):
    message = ma.fields.String(required=True, metadata={"example": "Successfully logged out"})


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"example": "healthy"})
