"""Schemas of the change feed and of batches. Unknown fields are a 422, as everywhere."""

from __future__ import annotations

import marshmallow as ma

from taskapi.sync.feed import DEFAULT_LIMIT, MAX_LIMIT, MAX_TOKEN_LENGTH

#: Most operations in one batch.
MAX_OPERATIONS = 100
BATCH_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: Request headers an operation may carry (the Authorization of the batch is
#: every operation's).
OPERATION_HEADERS = ("If-Match", "If-None-Match", "Idempotency-Key")
TOKEN_PATTERN = r"^[A-Za-z0-9_.-]+$"


class SyncArgsSchema(ma.Schema):
    since = ma.fields.String(
        validate=[ma.validate.Length(min=1, max=MAX_TOKEN_LENGTH),
                  ma.validate.Regexp(TOKEN_PATTERN, error="Not a sync token.")],
        metadata={"description": "The `sync_token` of your last sync; without it, "
                  "everything (a full sync, no deletions)", "pattern": TOKEN_PATTERN})
    limit = ma.fields.Integer(
        load_default=DEFAULT_LIMIT, validate=ma.validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"Most changes in the answer (default {DEFAULT_LIMIT}, "
                  f"at most {MAX_LIMIT})"})


class ChangeSchema(ma.Schema):
    type = ma.fields.String(required=True, validate=ma.validate.OneOf(("task", "list", "tag")),
                            metadata={"example": "task"})
    id = ma.fields.Integer(required=True, metadata={"example": 42})
    op = ma.fields.String(required=True, validate=ma.validate.OneOf(("upsert", "delete")),
                          metadata={"example": "upsert"})
    data = ma.fields.Dict(
        allow_none=True, required=True,
        metadata={"description": "For an upsert, the resource as its GET returns it: a Task, "
                  "a List, or a tag's `{name, task_count}`; null for a delete",
                  "anyOf": [{"$ref": "#/components/schemas/Task"},
                            {"$ref": "#/components/schemas/List"},
                            {"$ref": "#/components/schemas/TagCount"}],
                  "nullable": True, "example": {"name": "work", "task_count": 3}})
    version = ma.fields.Integer(
        required=True, metadata={"description": "The change's sequence number in your "
                                 "account: it only grows", "example": 1207})


class SyncPageSchema(ma.Schema):
    changes = ma.fields.List(ma.fields.Nested(ChangeSchema), required=True)
    sync_token = ma.fields.String(
        required=True, metadata={"description": "Opaque; pass it as `since` next time",
                                 "example": "WzEsMyw2LDAsMF0.Jx4i0Ux1b0kq7b3aX0m2LQ8cQ4Y"})
    has_more = ma.fields.Boolean(
        required=True, metadata={"description": "More changes are waiting: call again "
                                 "with `sync_token` at once", "example": False})


class OperationSchema(ma.Schema):
    method = ma.fields.String(required=True, validate=ma.validate.OneOf(BATCH_METHODS),
                              metadata={"example": "POST"})
    path = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=2048),
        metadata={"description": "A path under /api/v1 with its query string, e.g. "
                  "`/api/v1/tasks/42`; not /api/v1/auth/* nor /api/v1/batch",
                  "example": "/api/v1/tasks"})
    body = ma.fields.Raw(metadata={"description": "The operation's JSON body",
                                   "example": {"title": "Call Bob"}})
    headers = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.OneOf(
            OPERATION_HEADERS, error=f"Only {', '.join(OPERATION_HEADERS)}.")),
        values=ma.fields.String(validate=ma.validate.Length(max=1024)),
        metadata={"description": f"Request headers of the operation: "
                  f"{', '.join(OPERATION_HEADERS)}",
                  "example": {"Idempotency-Key": "phone-17"}})


class BatchSchema(ma.Schema):
    operations = ma.fields.List(
        ma.fields.Nested(OperationSchema), required=True,
        validate=ma.validate.Length(min=1, max=MAX_OPERATIONS),
        metadata={"description": f"1 to {MAX_OPERATIONS} operations, run in order"})


class OperationResultSchema(ma.Schema):
    status = ma.fields.Integer(required=True, metadata={"example": 201})
    headers = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(),
                             metadata={"description": "ETag, Location and Idempotent-Replayed, "
                                       "when sent", "example": {"Location": "/api/v1/tasks/9"}})
    body = ma.fields.Raw(metadata={"description": "The JSON answer, or null (any JSON value)",
                                   "example": {"id": 9, "title": "Call Bob"}})


class BatchResultSchema(ma.Schema):
    results = ma.fields.List(ma.fields.Nested(OperationResultSchema), required=True)
