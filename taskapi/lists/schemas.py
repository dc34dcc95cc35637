"""Task list schemas. Read-only fields are dump-only: a body naming one is a 422."""

from __future__ import annotations

import marshmallow as ma

from taskapi.fields import QueryBoolean, StrictBoolean, TrimmedString, UTCDateTime
from taskapi.serializers import CompiledDump

#: ``#RRGGBB``, the CSS hex colour notation (CSS Color Module Level 4, section 5.2).
COLOR_PATTERN = r"^#[0-9A-Fa-f]{6}$"


class ListSchema(CompiledDump, ma.Schema):
    """A task list, with how many tasks it holds (subtasks included)."""

    id = ma.fields.Integer(dump_only=True, metadata={"example": 7})
    name = TrimmedString(
        required=True, min_length=1, max_length=100,
        metadata={"description": "1-100 characters after trimming; unique among your "
                  "lists, case-insensitively", "example": "Groceries"},
    )
    color = ma.fields.String(
        allow_none=True, load_default=None,
        validate=ma.validate.Regexp(COLOR_PATTERN, error="Must be #RRGGBB."),
        metadata={"description": "#RRGGBB or null", "example": "#2E7D32",
                  "pattern": COLOR_PATTERN},
    )
    position = ma.fields.String(
        dump_only=True,
        metadata={"description": "Sort key of the list among your lists (byte order); "
                  "change it with POST /api/v1/lists/{list_id}/move", "example": "a1"},
    )
    archived = StrictBoolean(
        load_default=False,
        metadata={"description": "Hidden from GET /api/v1/lists and its tasks from the "
                  "default task listing (not the Inbox)", "example": False},
    )
    is_inbox = ma.fields.Boolean(
        dump_only=True,
        metadata={"description": "The list new tasks go to by default; every user has "
                  "exactly one, which cannot be renamed, archived or deleted",
                  "example": False},
    )
    task_count = ma.fields.Integer(dump_only=True, metadata={"example": 12})
    open_count = ma.fields.Integer(
        dump_only=True, metadata={"description": "Tasks not completed", "example": 5})
    created_at = UTCDateTime(dump_only=True, metadata={"example": "2026-11-21T09:30:00+00:00"})
    updated_at = UTCDateTime(dump_only=True, metadata={"example": "2026-11-21T10:05:12+00:00"})


class ListPatchSchema(ListSchema):
    """Partial update of a list: only the fields sent change (no defaults)."""

    color = ma.fields.String(
        allow_none=True, validate=ma.validate.Regexp(COLOR_PATTERN, error="Must be #RRGGBB."),
        metadata={"description": "#RRGGBB or null", "example": "#2E7D32",
                  "pattern": COLOR_PATTERN},
    )
    archived = StrictBoolean(metadata={"description": "Archive (true) or restore (false)",
                                       "example": True})


class ListArgsSchema(ma.Schema):
    archived = QueryBoolean(
        load_default=False,
        metadata={"description": "true: archived lists too (default false)"})


class ListMoveSchema(ma.Schema):
    after_id = ma.fields.Integer(
        allow_none=True, load_default=None, strict=True,
        validate=ma.validate.Range(min=1, max=2147483647),
        metadata={"description": "The list to go right after; absent or null: first",
                  "example": 3})


class ListDeleteArgsSchema(ma.Schema):
    """What happens to the tasks of a list being deleted."""

    tasks = ma.fields.String(
        validate=ma.validate.OneOf(("delete", "move")),
        metadata={"description": "delete: delete them (with their subtasks); move: move "
                  "them to list `to`, keeping their order. Omitted: a list that holds "
                  "tasks is not deleted (409)"})
    to = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=2147483647),
        metadata={"description": "With tasks=move: the list that receives them"})

    @ma.validates_schema
    def _to_with_move(self, data, **_kwargs):
        if data.get("tasks") == "move" and data.get("to") is None:
            raise ma.ValidationError("Required with tasks=move.", "to")
        if data.get("to") is not None and data.get("tasks") != "move":
            raise ma.ValidationError("Only with tasks=move.", "to")
