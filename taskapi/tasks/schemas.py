"""Task schemas: one shape for reading and writing, read-only fields dump-only.

A body that names a read-only field (``id``, ``created_at``, ...) or any field
not listed here (``user_id``) is a 422: no mass assignment.
"""

from __future__ import annotations

import marshmallow as ma

from taskapi.fields import QueryBoolean, StrictBoolean, TrimmedString, UTCDateTime
from taskapi.models import PRIORITIES


class TaskSchema(ma.Schema):
    """A task. Datetimes are ISO 8601 in UTC with an explicit offset."""

    id = ma.fields.Integer(dump_only=True, metadata={"example": 42})
    title = TrimmedString(
        required=True, min_length=1, max_length=255,
        metadata={"description": "1-255 characters after trimming", "example": "Buy milk"},
    )
    description = TrimmedString(
        max_length=1000, multiline=True, allow_none=True, load_default=None,
        metadata={"description": "At most 1000 characters", "example": "Two litres"},
    )
    completed = StrictBoolean(load_default=False)
    completed_at = UTCDateTime(
        dump_only=True, metadata={"description": "When it was last marked completed"}
    )
    priority = ma.fields.String(
        allow_none=True, load_default=None, validate=ma.validate.OneOf(PRIORITIES),
        metadata={"description": "low, medium, high or null"},
    )
    due_at = UTCDateTime(
        allow_none=True, load_default=None,
        metadata={"description": "Due date and time; input must carry an offset",
                  "example": "2025-12-31T17:00:00Z"},
    )
    created_at = UTCDateTime(dump_only=True)
    updated_at = UTCDateTime(dump_only=True)


class TaskPatchSchema(TaskSchema):
    """Partial update: use with ``partial=True``; only the fields sent change."""


class TaskCompleteSchema(ma.Schema):
    completed = StrictBoolean(
        metadata={"description": "New state; omit the body to toggle"}
    )


class TaskListArgsSchema(ma.Schema):
    completed = QueryBoolean(
        metadata={"description": "Only completed (true) or open (false) tasks"}
    )
