"""Request and response shapes of the Phase II contract.

Bodies here are lenient like the original backend's (pydantic's default):
fields a schema does not know, read-only ones (``id``, ``user_id``,
``created_at``...) included, are ignored, never stored, and named in a debug
log line. Types and values are still validated (a wrong type or a bad date is
a 422). The v1 routes stay strict (an unknown field is a 422 there).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime, time

import marshmallow as ma

from taskapi.auth.schemas import (
    ACCESS_TOKEN_EXAMPLE,
    REFRESH_TOKEN_EXAMPLE,
    LoginSchema,
    LogoutSchema,
    RegisterSchema,
    UserSchema,
)
from taskapi.fields import StrictBoolean, UTCDateTime
from taskapi.tasks.filters import SORT_KEYS, parse_sort
from taskapi.tasks.schemas import (
    SORT_PATTERN,
    SortField,
    TaskFilterArgsSchema,
    TaskSchema,
    without_defaults,
)

log = logging.getLogger("taskapi.compat")

#: The original backend listed tasks in creation order.
COMPAT_DEFAULT_SORT = "id"


class Lenient(ma.Schema):
    """Schema mixin: unknown and read-only input fields are dropped (marshmallow's
    ``EXCLUDE``; dump-only fields count as unknown on load), with a debug line.

    ``ALIASES`` maps an input name to the field it stands for (``dueDate`` ->
    ``due_date``); the field's own name wins when both are sent.
    """

    ALIASES: dict[str, str] = {}

    class Meta:
        unknown = ma.EXCLUDE

    @ma.pre_load
    def _aliases_and_unknown(self, data, **_kwargs):
        if not isinstance(data, Mapping):
            return data  # marshmallow answers "Invalid input type"
        known = {field.data_key or name for name, field in self.load_fields.items()}
        ignored = sorted(str(key) for key in data
                         if key not in known and key not in self.ALIASES)
        if ignored:
            log.debug("ignored body fields: %s", ", ".join(ignored))
        present = [alias for alias in self.ALIASES if alias in data]
        if present:
            data = dict(data)
            for alias in present:
                value = data.pop(alias)
                data.setdefault(self.ALIASES[alias], value)
        return data

    def handle_error(self, error, data, **_kwargs):
        """Name the field as the client sent it: an error of ``due_date`` read from
        ``dueDate`` is reported under ``dueDate``."""
        if not isinstance(data, Mapping) or not isinstance(error.messages, dict):
            return
        sent_as = {field: alias for alias, field in self.ALIASES.items()
                   if alias in data and field not in data}
        if any(field in error.messages for field in sent_as):
            messages = {sent_as.get(key, key): value for key, value in error.messages.items()}
            raise ma.ValidationError(messages, data=error.data,
                                     valid_data=error.valid_data) from error


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
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise self.make_error("range") from None


class CompatTaskSchema(Lenient, TaskSchema):
    """A task as the old backend showed it: ``due_date`` for ``due_at``, with
    ``user_id``; ``dueDate`` (the original web frontend's name) is accepted as an
    alias of ``due_date`` and dumped next to it with the same value."""

    ALIASES = {"dueDate": "due_date"}

    class Meta(Lenient.Meta):
        exclude = ("due_at", "completed_at", "tags", "list_id", "parent_id", "position",
                   "subtask_count", "open_subtask_count", "recurrence", "next_due_at")

    user_id = ma.fields.Integer(dump_only=True, metadata={"example": 1})
    due_date = LenientDueDate(
        attribute="due_at", allow_none=True, load_default=None,
        metadata={"description": "YYYY-MM-DD, or ISO 8601 (no offset means UTC). Also "
                  "accepted as `dueDate`; `due_date` wins when both are sent",
                  "example": "2025-12-31T17:00:00+00:00"},
    )
    dueDate = LenientDueDate(  # noqa: N815 - the original frontend's field name
        attribute="due_at", dump_only=True, allow_none=True,
        metadata={"description": "The same value as `due_date`, under the name the "
                  "original web frontend reads", "example": "2025-12-31T17:00:00+00:00"},
    )


CompatTaskUpdateSchema = without_defaults(
    CompatTaskSchema, "CompatTaskUpdateSchema",
    "PUT in this contract is a partial update: use with ``partial=True``.",
)


class CompatCompleteSchema(Lenient):
    completed = StrictBoolean(
        metadata={"description": "New state; omit the body to toggle", "example": True}
    )


class CompatRefreshSchema(Lenient):
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


class CompatRegisterSchema(Lenient, RegisterSchema):
    """POST /api/auth/register: the v1 rules, other fields ignored."""


class CompatLoginSchema(Lenient, LoginSchema):
    """POST /api/auth/login: the v1 rules, other fields ignored."""


class CompatLogoutSchema(Lenient, LogoutSchema):
    """POST /api/auth/logout: optional ``refresh_token``, other fields ignored."""


class CompatListArgsSchema(TaskFilterArgsSchema):
    """The v1 list parameters; the default order is the original backend's:
    creation order (``id`` ascending)."""

    sort = SortField(
        load_default=lambda: parse_sort(COMPAT_DEFAULT_SORT),
        metadata={"description": "Comma-separated keys, '-' for descending, each key at "
                  f"most once: {', '.join(SORT_KEYS)}. Default {COMPAT_DEFAULT_SORT} "
                  "(creation order, as in the original backend); ties broken by id. "
                  "Tasks without due_at sort last either way.",
                  "example": "-created_at", "pattern": SORT_PATTERN},
    )
