"""Tag routes under /api/v1/tags; every route needs an access token."""

from __future__ import annotations

import logging

import marshmallow as ma
from flask.views import MethodView
from flask_jwt_extended import current_user, jwt_required
from flask_smorest import abort

from taskapi.fields import TagName
from taskapi.smorest import Blueprint, bearer_auth
from taskapi.tags import queries

log = logging.getLogger("taskapi.tasks")

blp = Blueprint(
    "tags", __name__, url_prefix="/api/v1/tags",
    description="The current user's tags, with how many tasks carry each.",
)
auth_doc = bearer_auth(blp)
TAG_NAME = TagName()


class TagCountSchema(ma.Schema):
    name = ma.fields.String(required=True, metadata={"example": "work"})
    task_count = ma.fields.Integer(required=True, metadata={"example": 3})


@blp.route("")
class Tags(MethodView):
    decorators = [jwt_required()]

    @blp.doc(operationId="listTags")
    @blp.response(200, TagCountSchema(many=True))
    @auth_doc
    def get(self):
        """List tags with their task counts

        Every tag of the current user, by name (case-insensitive order), with
        how many of their tasks carry it. Tags are created by naming them in a
        task's `tags`.
        """
        return queries.tag_counts(current_user.id)


@blp.route("/<string(maxlength=200):name>")
class TagByName(MethodView):
    decorators = [jwt_required()]

    @blp.doc(operationId="deleteTag")
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    @auth_doc
    def delete(self, name):
        """Delete a tag, removing it from every task (case-insensitive name)

        The tasks themselves stay; each one that carried the tag gets a new
        version (and ETag). 404 when the user has no such tag.
        """
        try:
            name = TAG_NAME.deserialize(name)
        except ma.ValidationError:
            # No tag can have this name (blank, too long, a comma or a control
            # character such as NUL, which PostgreSQL text cannot even compare).
            abort(404, message="Tag not found.")
        queries.delete_tag_or_404(current_user.id, name)
        log.info("tag deleted: user_id=%s", current_user.id)
