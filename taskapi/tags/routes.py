"""Tag routes under /api/v1/tags; every route needs an access token."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_jwt_extended import current_user, jwt_required
from flask_smorest import abort

from taskapi.fields import TagName
from taskapi.smorest import Blueprint, bearer_auth
from taskapi.tags import queries, service
from taskapi.tasks.page_cache import cached_list

blp = Blueprint(
    "tags", __name__, url_prefix="/api/v1/tags",
    description="The current user's tags, with how many tasks carry each.",
)
auth_doc = bearer_auth(blp)
TAG_NAME = TagName()

#: Tags are small and a client usually wants them all (a filter menu): one page
#: of the largest size holds every tag of a user at the default MAX_TAGS_PER_USER.
PAGE_SIZE, MAX_PAGE_SIZE = 100, 1000
ETAG_HEADER = {
    "description": "Strong ETag of this page: send it as `If-None-Match` to get a 304 "
    "while none of your tasks or tags changed", "schema": {"type": "string"},
}


class TagCountSchema(ma.Schema):
    name = ma.fields.String(required=True, metadata={"example": "work"})
    task_count = ma.fields.Integer(required=True, metadata={"example": 3})


@blp.route("")
class Tags(MethodView):
    decorators = [jwt_required()]

    @cached_list
    @blp.doc(operationId="listTags")
    @blp.response(200, TagCountSchema(many=True), headers={"ETag": ETAG_HEADER})
    @blp.alt_response(304, response="NOT_MODIFIED", headers={"ETag": ETAG_HEADER})
    @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
    @auth_doc
    def get(self, pagination_parameters):
        """List tags with their task counts

        The current user's tags by name (case-insensitive order), with how
        many of their tasks carry each, in offset pages: `page` and
        `page_size` (default 100, at most 1000); `X-Pagination` carries the
        total and page numbers. Tags are created by naming them in a task's
        `tags`, and removed when their last task drops them. The `ETag` gives
        a 304 to `If-None-Match` while none of your tasks or tags changed.
        """
        items, total = queries.tag_page(current_user.id, limit=pagination_parameters.page_size,
                                        offset=pagination_parameters.first_item)
        pagination_parameters.item_count = total
        return items


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
        version (and ETag). A tag on many tasks is removed in batches of 1,000
        tasks, each committed on its own: meanwhile the tag is on fewer tasks
        after each batch, and if the request fails halfway, deleting it again
        finishes. 404 when the user has no such tag.
        """
        try:
            name = TAG_NAME.deserialize(name)
        except ma.ValidationError:
            # No tag can have this name (blank, too long, a comma or a control
            # character such as NUL, which PostgreSQL text cannot even compare).
            abort(404, message="Tag not found.")
        service.delete_tag_or_404(current_user.id, name)
