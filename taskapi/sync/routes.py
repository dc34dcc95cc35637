"""Sync routes: GET /api/v1/sync (the change feed) and POST /api/v1/batch."""

from __future__ import annotations

from http import HTTPStatus

from flask import jsonify
from flask.views import MethodView
from flask_jwt_extended import current_user, jwt_required
from flask_smorest import abort

from taskapi.errors import error_response
from taskapi.smorest import Blueprint, bearer_auth
from taskapi.sync import batch, feed
from taskapi.sync.schemas import BatchResultSchema, BatchSchema, SyncArgsSchema, SyncPageSchema

blp = Blueprint(
    "sync", __name__, url_prefix="/api/v1",
    description="Sync for offline clients: what changed since your last sync, "
    "deletions included, and batches of writes replayed in one transaction.",
)
auth_doc = bearer_auth(blp)


@blp.route("/sync")
class Sync(MethodView):
    decorators = [jwt_required()]

    @blp.doc(operationId="sync")
    @blp.arguments(SyncArgsSchema, location="query")
    @blp.response(200, SyncPageSchema)
    @blp.alt_response(410, response="GONE")
    @auth_doc
    def get(self, args):
        """Changes since a sync token

        Without `since`: every task, list and tag (a full sync). With the
        `sync_token` of the previous answer: what was created, changed or
        deleted since, in commit order, at most `limit` per answer; call again
        with the new `sync_token` while `has_more` is true. A change committed
        while you sync is in this answer or the next, never lost. A token
        tampered with or another user's is a 422; 410 when it is older than
        the deletions kept (SYNC_TOMBSTONE_DAYS, 90 days by default): sync in
        full again, without `since`.
        """
        bound = current_user.data_version
        if "since" in args:
            try:
                position = feed.decode_token(args["since"], current_user.id)
            except feed.SyncTokenError as error:
                abort(422, message=str(error), errors={"query": {"since": [str(error)]}})
        else:
            position = feed.start(bound)
        try:
            page = feed.read_page(current_user.id, bound, position, args["limit"])
        except feed.SyncTokenGone:
            abort(410, message="This sync token is older than the deletions kept: "
                  "sync in full (without since).")
        return jsonify({"changes": page.changes,
                        "sync_token": feed.encode_token(current_user.id, page.position),
                        "has_more": page.has_more})


@blp.route("/batch")
class Batch(MethodView):
    decorators = [jwt_required()]

    @blp.doc(operationId="batch")
    @blp.arguments(BatchSchema)
    @blp.response(200, BatchResultSchema)
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    @auth_doc
    def post(self, data):
        """Run several operations in one transaction

        Up to 100 `operations`, each `{method, path, body?, headers?}` on a
        path under /api/v1 (not /api/v1/auth/*), run in order as if sent one by
        one, but all-or-nothing: the answer lists each one's `status`,
        `headers` (ETag, Location) and `body`. The first operation answered
        with an error stops the batch and nothing is applied: the batch is
        answered with that operation's status, and `errors.operations` holds
        its index and body. An operation may carry its own `Idempotency-Key`
        (and If-Match); its stored answer is replayed inside a retried batch.
        """
        operations = data["operations"]
        for index, operation in enumerate(operations):
            problem = batch.path_error(operation["path"])
            if problem:
                abort(422, message=f"Operation {index}: {problem}",
                      errors={"json": {"operations": {str(index): {"path": [problem]}}}})
        try:
            results = batch.run_batch(operations)
        except batch.OperationFailed as failed:
            status = failed.result.status
            return error_response(
                status, f"Operation {failed.index} failed ({status} "
                f"{HTTPStatus(status).phrase}); nothing was applied.",
                errors={"operations": {str(failed.index): failed.result.body}},
                headers={name: value for name, value in failed.result.headers.items()
                         if name == "ETag"})
        return {"results": [{"status": result.status, "headers": result.headers,
                             "body": result.body} for result in results]}
