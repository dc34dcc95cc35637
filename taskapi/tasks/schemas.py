"""Task schemas: one shape for reading and writing, read-only fields dump-only.

A body that names a read-only field (``id``, ``created_at``, ...) or any field
not listed here (``user_id``) is a 422: no mass assignment.
"""

from __future__ import annotations

import copy
from datetime import date

import marshmallow as ma

from taskapi.fields import QueryBoolean, StrictBoolean, TagName, TrimmedString, UTCDateTime
from taskapi.models import PRIORITIES
from taskapi.serializers import CompiledDump
from taskapi.tasks.cursors import CURSOR_PATTERN, MAX_CURSOR_LENGTH
from taskapi.tasks.filters import DEFAULT_SORT, MAX_FILTER_VALUES, SORT_KEYS, parse_sort
from taskapi.tasks.recurrence import ANCHORS, FROM_DUE, MAX_RULE_LENGTH, RuleError, parse_rule

MAX_TAGS = MAX_FILTER_VALUES
TOO_MANY_VALUES = "At most {max} values."
#: ``due_on`` bounds: time zones are within a day of UTC, so the start and the
#: end of these days exist as UTC instants (Python's datetime stops at year 9999).
FIRST_DAY = date(1, 1, 2)
LAST_DAY = date(9999, 12, 30)


class RuleField(ma.fields.String):
    """An RFC 5545 RRULE value, checked by :func:`taskapi.tasks.recurrence.parse_rule`
    (422 naming the part at fault); loads as the canonical text."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parse_rule(text).text
        except RuleError as error:
            raise ma.ValidationError(str(error)) from error


class RecurrenceSchema(CompiledDump, ma.Schema):
    """How a task recurs: an RFC 5545 RRULE evaluated in the user's time zone."""

    rule = RuleField(
        required=True,
        metadata={"description": "RFC 5545 RRULE value (section 3.3.10), without DTSTART: "
                  "the task's due_at is the first occurrence. FREQ is DAILY, WEEKLY, "
                  "MONTHLY or YEARLY (not SECONDLY, MINUTELY or HOURLY); COUNT or UNTIL "
                  "may end it; BYHOUR, BYMINUTE and BYSECOND take one value. "
                  f"At most {MAX_RULE_LENGTH} characters.",
                  "example": "FREQ=WEEKLY;BYDAY=MO,WE", "maxLength": MAX_RULE_LENGTH},
    )
    from_ = ma.fields.String(
        data_key="from", load_default=FROM_DUE, validate=ma.validate.OneOf(ANCHORS),
        metadata={"description": "Count the next due date from the due date (due, the "
                  "default) or from the time the task is completed (completion)",
                  "example": "due"},
    )
    text = ma.fields.String(
        dump_only=True,
        metadata={"description": "English summary of the rule",
                  "example": "every week on Monday and Wednesday"},
    )

    @ma.post_load
    def _whole(self, data, **_kwargs):
        # A partial update (PATCH) loads its nested objects partially too: a
        # recurrence is still given whole, rule and all.
        if "rule" not in data:
            raise ma.ValidationError("Missing data for required field.", "rule")
        data.setdefault("from_", FROM_DUE)
        return data


class TaskSchema(CompiledDump, ma.Schema):
    """A task. Datetimes are ISO 8601 in UTC with an explicit offset.

    Dumped by a serializer compiled from these fields (:mod:`taskapi.serializers`)."""

    id = ma.fields.Integer(dump_only=True, metadata={"example": 42})
    title = TrimmedString(
        required=True, min_length=1, max_length=255,
        metadata={"description": "1-255 characters after trimming", "example": "Buy milk"},
    )
    description = TrimmedString(
        max_length=1000, multiline=True, allow_none=True, load_default=None,
        metadata={"description": "At most 1000 characters", "example": "Two litres"},
    )
    completed = StrictBoolean(load_default=False, metadata={"example": False})
    completed_at = UTCDateTime(
        dump_only=True, allow_none=True,
        metadata={"description": "When it was last marked completed; null while open",
                  "example": None},
    )
    priority = ma.fields.String(
        allow_none=True, load_default=None, validate=ma.validate.OneOf(PRIORITIES),
        metadata={"description": "low, medium, high or null", "example": "high"},
    )
    due_at = UTCDateTime(
        allow_none=True, load_default=None,
        metadata={"description": "Due date and time; input must carry an offset",
                  "example": "2025-12-31T17:00:00Z"},
    )
    tags = ma.fields.List(
        TagName(), attribute="tag_names", load_default=list,
        validate=ma.validate.Length(max=MAX_TAGS),
        metadata={"description": f"Up to {MAX_TAGS} labels, 1-50 characters each, no commas; "
                  "matched case-insensitively", "example": ["work", "errands"]},
    )
    created_at = UTCDateTime(dump_only=True, metadata={"example": "2026-11-21T09:30:00+00:00"})
    updated_at = UTCDateTime(
        dump_only=True, metadata={"description": "Changes with every write, and when the "
                                  "task's subtask counts change",
                                  "example": "2026-11-21T10:05:12+00:00"},
    )
    list_id = ma.fields.Integer(
        dump_only=True, metadata={"description": "The list the task is in; change it with "
                                  "POST /api/v1/tasks/{task_id}/move", "example": 7})
    parent_id = ma.fields.Integer(
        dump_only=True, allow_none=True,
        metadata={"description": "The task this one is a subtask of; null for a top-level "
                  "task", "example": None})
    position = ma.fields.String(
        dump_only=True,
        metadata={"description": "Sort key among the task's siblings (same list and "
                  "parent), compared byte by byte; sort=position orders by it",
                  "example": "a3"})
    recurrence = ma.fields.Nested(
        RecurrenceSchema, allow_none=True, load_default=None,
        metadata={"description": "Repeat the task (needs due_at): completing it moves "
                  "due_at to the next occurrence, in your time zone, and keeps it open; "
                  "when the rule has no more occurrences, the task is completed. null: "
                  "it does not recur",
                  "example": {"rule": "FREQ=WEEKLY;BYDAY=MO,WE", "from": "due",
                              "text": "every week on Monday and Wednesday"}},
    )
    next_due_at = UTCDateTime(
        dump_only=True, allow_none=True,
        metadata={"description": "The occurrence after due_at of a recurring task; null "
                  "when it does not recur or the rule ends at due_at",
                  "example": "2026-01-07T17:00:00+00:00"},
    )
    subtask_count = ma.fields.Integer(
        dump_only=True, metadata={"description": "Direct subtasks", "example": 2})
    open_subtask_count = ma.fields.Integer(
        dump_only=True, metadata={"description": "Direct subtasks not completed",
                                  "example": 1})


#: A 32-bit id (tasks and lists).
ID_RANGE = ma.validate.Range(min=1, max=2147483647)


class TaskCreateSchema(TaskSchema):
    """A new task: the fields of a task, and where it goes."""

    list_id = ma.fields.Integer(
        strict=True, validate=ID_RANGE,
        metadata={"description": "One of your lists (GET /api/v1/lists); default: the "
                  "parent's list, else your Inbox", "example": 7})
    parent_id = ma.fields.Integer(
        strict=True, allow_none=True, validate=ID_RANGE,
        metadata={"description": "Make it a subtask of this task of yours (same list; at "
                  "most 3 levels)", "example": None})
    position = ma.fields.String(
        load_only=True, validate=ma.validate.OneOf(("first", "last")),
        metadata={"description": "first or last (the default) among its siblings",
                  "example": "last"})


class TaskMoveSchema(ma.Schema):
    """Where to move a task (Google Tasks' ``move``, ``after_id`` as its ``previous``)."""

    list_id = ma.fields.Integer(
        strict=True, validate=ID_RANGE,
        metadata={"description": "Destination list; alone, the task goes to its top level",
                  "example": 7})
    parent_id = ma.fields.Integer(
        strict=True, allow_none=True, validate=ID_RANGE,
        metadata={"description": "New parent task (null: top level); the task goes to the "
                  "parent's list", "example": None})
    after_id = ma.fields.Integer(
        strict=True, allow_none=True, validate=ID_RANGE,
        metadata={"description": "The sibling to go right after at the destination; "
                  "absent or null: first", "example": 41})


def without_defaults(schema_cls: type[ma.Schema], name: str, doc: str) -> type[ma.Schema]:
    """A subclass of ``schema_cls`` whose fields have no load default, for partial
    updates (use with ``partial=True``). marshmallow skips missing fields then
    anyway; without the default the OpenAPI document shows none either, so a
    generated client does not send one (``completed: false`` would reopen a task)."""
    fields = {}
    for field_name, field in schema_cls._declared_fields.items():
        if field.load_default is not ma.missing:
            field = copy.copy(field)
            field.load_default = ma.missing
        fields[field_name] = field
    return type(name, (schema_cls,), {**fields, "__doc__": doc})


TaskPatchSchema = without_defaults(
    TaskSchema, "TaskPatchSchema",
    "Partial update: use with ``partial=True``; only the fields sent change.",
)


class TaskCompleteSchema(ma.Schema):
    completed = StrictBoolean(
        metadata={"description": "New state; omit the body to toggle", "example": True}
    )


_SORT_KEY = rf"\s*-?(?:{'|'.join(SORT_KEYS)})\s*"
#: The grammar of ``sort`` for the OpenAPI document (a repeated key is refused too).
SORT_PATTERN = rf"^{_SORT_KEY}(?:,{_SORT_KEY})*$"


class SortField(ma.fields.String):
    """``sort=key,-key``: loads as ``[(key, descending), ...]``; unknown keys are a 422."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parse_sort(text)
        except ValueError as error:
            raise ma.ValidationError(str(error)) from error


class TaskFilterArgsSchema(ma.Schema):
    """Query parameters of a task list (v1 and the original contract); all filters
    combine with AND."""

    completed = QueryBoolean(
        metadata={"description": "Only completed (true) or open (false) tasks"}
    )
    priority = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(PRIORITIES)),
        validate=ma.validate.Length(max=MAX_FILTER_VALUES, error=TOO_MANY_VALUES),
        metadata={"description": "Repeatable (at most 20); tasks with any of these "
                  "priorities"},
    )
    tag = ma.fields.List(
        TagName(), validate=ma.validate.Length(max=MAX_FILTER_VALUES, error=TOO_MANY_VALUES),
        metadata={"description": "Repeatable (at most 20, the tags a task can carry); "
                  "tasks carrying all these tags (case-insensitive)"},
    )
    q = TrimmedString(
        min_length=1, max_length=200,
        metadata={"description": "Case-insensitive text in title or description; "
                  "% and _ match themselves. Texts of 3 or more characters are "
                  "answered from a text index."},
    )
    due_before = UTCDateTime(metadata={"description": "due_at earlier than this (with offset)"})
    due_after = UTCDateTime(metadata={"description": "due_at later than this (with offset)"})
    due_on = ma.fields.Date(
        validate=ma.validate.Range(min=FIRST_DAY, max=LAST_DAY,
                                   error="Must be a day from {min} to {max}."),
        metadata={"description": "due_at on this calendar day (YYYY-MM-DD) in the user's "
                  "time zone; from 0001-01-02 to 9999-12-30 (the day's start and end "
                  "must exist in UTC in every time zone)"},
    )
    overdue = QueryBoolean(
        metadata={"description": "true: due_at in the past and not completed; false: the rest"}
    )
    has_due = QueryBoolean(metadata={"description": "Whether due_at is set"})
    recurring = QueryBoolean(
        metadata={"description": "true: only recurring tasks; false: only the others"})
    updated_since = UTCDateTime(
        metadata={"description": "updated_at at or after this (with offset)"}
    )
    sort = SortField(
        load_default=lambda: parse_sort(DEFAULT_SORT),
        metadata={"description": "Comma-separated keys, '-' for descending, each key at "
                  f"most once: {', '.join(SORT_KEYS)}. Default {DEFAULT_SORT}; ties broken "
                  "by id. Tasks without due_at sort last either way.",
                  "example": "-priority,due_at", "pattern": SORT_PATTERN},
    )
    cursor = ma.fields.String(
        validate=ma.validate.Length(min=1, max=MAX_CURSOR_LENGTH),
        metadata={"description": "Opaque position from the previous response's "
                  "X-Next-Cursor: returns the page after it (same sort required; not "
                  "with page). Any other value is a 422.",
                  "pattern": CURSOR_PATTERN},
    )


#: The default order of a list or a task's subtasks: their manual order.
PLACED_SORT = "position"


class TaskListArgsSchema(TaskFilterArgsSchema):
    """Query parameters of GET /api/v1/tasks: the filters, and lists and subtasks."""

    list_id = ma.fields.Integer(
        validate=ID_RANGE,
        metadata={"description": "Only tasks in this list of yours (404 for any other "
                  "id); archived lists included. Default order: position"})
    parent_id = ma.fields.Integer(
        validate=ID_RANGE,
        metadata={"description": "Only the subtasks of this task of yours (404 for any "
                  "other id). Default order: position"})
    top_level = QueryBoolean(
        metadata={"description": "true: only top-level tasks; false: only subtasks"})
    sort = SortField(
        metadata={"description": "Comma-separated keys, '-' for descending, each key at "
                  f"most once: {', '.join(SORT_KEYS)}. Default {DEFAULT_SORT}, or "
                  f"{PLACED_SORT} with list_id or parent_id; ties broken by id. Tasks "
                  "without due_at sort last either way.",
                  "example": "-priority,due_at", "pattern": SORT_PATTERN},
    )

    @ma.post_load
    def _defaults(self, data, **_kwargs):
        placed = data.get("list_id") is not None or data.get("parent_id") is not None
        if "sort" not in data:
            data["sort"] = parse_sort(PLACED_SORT if placed else DEFAULT_SORT)
        # Without a list or a parent named, tasks of archived lists stay out.
        data["hide_archived"] = not placed
        return data


class CompletionSchema(ma.Schema):
    """One completion of a recurring task."""

    completed_at = UTCDateTime(
        required=True, metadata={"example": "2026-01-05T18:02:11+00:00"})
    due_at = UTCDateTime(
        required=True, metadata={"description": "The occurrence that was completed",
                                 "example": "2026-01-05T17:00:00+00:00"})
    next_due_at = UTCDateTime(
        required=True, allow_none=True,
        metadata={"description": "The due date the task moved to; null when the rule had "
                  "no more occurrences and the task stayed completed",
                  "example": "2026-01-07T17:00:00+00:00"})


class TaskStatsArgsSchema(ma.Schema):
    list_id = ma.fields.Integer(
        validate=ID_RANGE,
        metadata={"description": "Count the tasks of this list of yours only (404 for "
                  "any other id)"})


class PriorityCountsSchema(ma.Schema):
    high = ma.fields.Integer(required=True, metadata={"example": 2})
    medium = ma.fields.Integer(required=True, metadata={"example": 5})
    low = ma.fields.Integer(required=True, metadata={"example": 1})
    none = ma.fields.Integer(
        required=True, metadata={"description": "No priority set", "example": 4}
    )


class DayCountSchema(ma.Schema):
    date = ma.fields.Date(required=True, metadata={"description": "Calendar day in the "
                          "user's time zone", "example": "2026-11-21"})
    count = ma.fields.Integer(required=True, metadata={"example": 3})


class TaskStatsSchema(ma.Schema):
    """Counts over all the user's tasks, computed by the database."""

    total = ma.fields.Integer(required=True, metadata={"example": 12})
    completed = ma.fields.Integer(required=True, metadata={"example": 7})
    open = ma.fields.Integer(
        required=True, metadata={"description": "total - completed", "example": 5}
    )
    overdue = ma.fields.Integer(
        required=True,
        metadata={"description": "Open tasks with due_at in the past", "example": 1},
    )
    due_today = ma.fields.Integer(
        required=True,
        metadata={"description": "Open tasks due today in the user's time zone",
                  "example": 2},
    )
    by_priority = ma.fields.Nested(PriorityCountsSchema, required=True)
    completed_last_7_days = ma.fields.List(
        ma.fields.Nested(DayCountSchema), required=True,
        metadata={"description": "Completions on each of the last 7 days, oldest "
                  "first, today last: tasks by completed_at, and each completion of a "
                  "recurring task that moved it to its next occurrence"},
    )
