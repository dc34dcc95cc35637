"""flask-smorest subclasses: the error schema, bounded pagination, optional If-Match,
required bodies, and OpenAPI links.

The library's pagination schema has no upper bound on ``page``; a huge page makes
an OFFSET the database cannot represent (a 500). :class:`Blueprint` bounds it so
that such a request is a 422 and the bound appears in the OpenAPI document.

The library's ETag feature makes ``If-Match`` mandatory on PUT, PATCH and DELETE.
Here it is optional unless ``REQUIRE_IF_MATCH`` is set (RFC 9110 section 13.1.1
leaves that to the server; RFC 6585 section 3 gives 428 for "required"); a stale
tag is a 412 that carries the current ``ETag``, and a 304 carries it too
(RFC 9110 section 15.4.5).

The library documents a JSON body as required by default but accepts a request
without one; here such a request is a 422, as the document says. It documents
``X-Pagination`` as a plain header of object type; here it is described as what
it is, a JSON document (OpenAPI 3.0 Header Object with ``content``).
"""

from __future__ import annotations

import copy
import functools
import http
import re

import marshmallow as ma
from flask import Response, current_app, request
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from flask_smorest import abort
from flask_smorest import etag as smorest_etag
from flask_smorest.exceptions import NotModified
from flask_smorest.utils import prepare_response, resolve_schema_instance
from webargs.flaskparser import FlaskParser
from werkzeug.http import quote_etag

from taskapi.docs import ERROR_RESPONSES
from taskapi.ratelimits import EXEMPT_ENDPOINTS

#: Largest accepted ``page``: page x page_size stays far below 2**63 (SQL OFFSET).
MAX_PAGE = 1_000_000

BEARER_SECURITY = [{"bearerAuth": []}]

#: Descriptions of the path parameters, by name, for every route that has them.
PATH_PARAMETERS = {
    "task_id": "The task's `id` (1 to 2147483647). Another user's task is a 404.",
    "user_id": "Your own user `id` (the original contract puts it in the path); "
               "another id is a 403.",
    "name": "Tag name, matched case-insensitively.",
    "list_id": "The list's `id` (1 to 2147483647). Another user's list is a 404.",
    "token_id": "The personal access token's `id` (1 to 2147483647). Another user's "
                "token is a 404.",
}
PAGE_DESCRIPTION = f"Offset page number, 1 to {MAX_PAGE:,}; default 1. Not with `cursor`."
PAGE_SIZE_DESCRIPTION = "Items per page."


class ErrorSchema(ma.Schema):
    """The one error body of every 4xx and 5xx response."""

    code = ma.fields.Integer(
        required=True, metadata={"description": "HTTP status code", "example": 404}
    )
    status = ma.fields.String(
        required=True, metadata={"description": "HTTP reason phrase", "example": "Not Found"}
    )
    message = ma.fields.String(
        required=True,
        metadata={"description": "Human-readable explanation", "example": "Task not found."},
    )
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        metadata={
            "description": "Validation errors only: location (json, query) -> field -> "
            "list of messages"
        },
    )
    detail = ma.fields.String(
        metadata={
            "description": "Routes of the original contract only (`/`, `/health`, `/docs`, "
            "`/api/auth/*`, `/api/{user_id}/tasks...`), where clients read FastAPI's "
            "`detail`: `message`, or for a validation error its first field error, as "
            "`field: message`",
            "example": "password: Length must be between 8 and 128.",
        },
    )


IF_MATCH_HEADER = {
    **smorest_etag.IF_MATCH_HEADER,
    "required": False,
    "description": "The ETag from your last read; a stale one is a 412 and nothing "
    "changes. Optional unless the server sets TASKAPI_REQUIRE_IF_MATCH (then 428 "
    "without it).",
}
LIST_IF_NONE_MATCH = {
    "in": "header", "name": "If-None-Match", "required": False, "schema": {"type": "string"},
    "description": "The list's ETag from your last read: 304 with no body while it is "
    "current (RFC 9110 section 13.1.2)",
}
IF_NONE_MATCH_HEADER = {
    **smorest_etag.IF_NONE_MATCH_HEADER,
    "description": "The ETag you hold; 304 with no body while it is current.",
}


class Api(_Api):
    """flask-smorest ``Api`` documenting :class:`ErrorSchema` for every error."""

    ERROR_SCHEMA = ErrorSchema

    def _register_responses(self):
        # flask-smorest registers one response per HTTP status, described by its
        # reason phrase; here the error ones say when taskapi sends them.
        for status in http.HTTPStatus:
            description, headers = ERROR_RESPONSES.get(status, (status.phrase, {}))
            response = {"description": description}
            if headers:
                response["headers"] = headers
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Any other error, in the same shape",
                    "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)

    def _register_etag_headers(self):
        components = self.spec.components
        components.parameter("IF_NONE_MATCH", "header", IF_NONE_MATCH_HEADER, lazy=True)
        components.parameter("IF_MATCH", "header", IF_MATCH_HEADER, lazy=True)
        components.header("ETAG", smorest_etag.ETAG_HEADER, lazy=True)


@functools.cache
def _bounded(schema_cls: type[ma.Schema]) -> type[ma.Schema]:
    page_field = schema_cls._declared_fields["page"]
    page_size_field = copy.copy(schema_cls._declared_fields["page_size"])
    page_size_field.metadata = {**page_size_field.metadata,
                                "description": PAGE_SIZE_DESCRIPTION}
    return type(
        schema_cls.__name__,
        (schema_cls,),
        {
            # A callable default is left out of the document: a generated client
            # would otherwise send page=1 with every cursor, which is a 422.
            "page": ma.fields.Integer(
                load_default=lambda default=page_field.load_default: default,
                validate=ma.validate.Range(min=1, max=MAX_PAGE),
                metadata={"description": PAGE_DESCRIPTION},
            ),
            "page_size": page_size_field,
        },
    )


@functools.cache
def _bounded_instance(schema_cls: type[ma.Schema]) -> ma.Schema:
    # webargs builds a new schema (deep-copying its fields) when given a class.
    return _bounded(schema_cls)()


class _PaginationParser(FlaskParser):
    def parse(self, argmap, req=None, **kwargs):
        return super().parse(_bounded_instance(argmap), req, **kwargs)


class Blueprint(_Blueprint):
    """flask-smorest ``Blueprint`` with ``page`` bounded to ``1..MAX_PAGE``, keyset
    pages without ``X-Pagination``, and optional ``If-Match`` (see the module doc).
    """

    PAGINATION_ARGUMENTS_PARSER = _PaginationParser()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._prepare_list_etag_doc)

    @staticmethod
    def _prepare_list_etag_doc(doc, doc_info, **_kwargs):
        # Lists with taskapi.tasks.page_cache.cached_list honour If-None-Match.
        if doc_info.get("list_etag"):
            doc.setdefault("parameters", []).append(LIST_IF_NONE_MATCH)
        return doc

    def route(self, rule, *, parameters=None, **options):
        """flask-smorest's ``route``, documenting each path parameter named in
        :data:`PATH_PARAMETERS` (the library documents only its type) and the 429
        of every operation the rate limits count (all but ``EXEMPT_ENDPOINTS``)."""
        documented = list(parameters or [])
        for name in re.findall(r"<(?:[^<>:]+:)?([a-z_]+)>", rule):
            if name in PATH_PARAMETERS:
                documented.append({"in": "path", "name": name,
                                   "description": PATH_PARAMETERS[name]})
        register = super().route(rule, parameters=documented or None, **options)

        def decorator(view):
            endpoint = f"{self.name}.{options.get('endpoint', view.__name__)}"
            if endpoint not in EXEMPT_ENDPOINTS:
                for method in view.methods or ():
                    handler = getattr(view, method.lower())
                    setattr(view, method.lower(),
                            self.alt_response(429, response="TOO_MANY_REQUESTS")(handler))
            return register(view)

        return decorator

    def arguments(self, schema, *, location="json", required=True, **kwargs):
        """flask-smorest's ``arguments``; a ``json`` body marked ``required`` (the
        default, and what the OpenAPI document then says) must be sent: without one
        the request is a 422 naming the body, before any other parsing."""
        decorator = super().arguments(schema, location=location, required=required, **kwargs)
        if location != "json" or not required:
            return decorator

        def require_body(func):
            parsed = decorator(func)

            @functools.wraps(parsed)
            def wrapper(*args, **kwargs):
                if not request.get_data(cache=True).strip():
                    abort(422, message="A JSON request body is required.",
                          errors={"json": {"_schema": ["A JSON request body is required."]}})
                return parsed(*args, **kwargs)

            return wrapper

        return require_body

    def _set_pagination_metadata(self, page_params, result, headers):
        if getattr(page_params, "keyset", False):
            return result, headers  # a cursor page has no total or page numbers
        return super()._set_pagination_metadata(page_params, result, headers)

    def _check_precondition(self):
        if (
            request.method in self.METHODS_NEEDING_CHECK_ETAG
            and not request.if_match
            and current_app.config["REQUIRE_IF_MATCH"]
        ):
            abort(428, message="This server requires If-Match with the ETag of your "
                  "last read of the resource.")

    def check_etag(self, etag_data, etag_schema=None):
        """412 (with the current ``ETag``) when ``If-Match`` is sent and does not
        match the tag of ``etag_data`` (strong comparison), or when
        ``If-None-Match`` is sent and matches it (weak comparison); no
        condition passes."""
        if not self._is_etag_enabled():
            return
        if etag_schema is not None:
            etag_data = resolve_schema_instance(etag_schema).dump(etag_data)
        etag = self._generate_etag(etag_data)
        smorest_etag._get_etag_ctx()["etag_checked"] = True
        if request.if_match and etag not in request.if_match:
            abort(412, message="The resource changed since the ETag you sent (If-Match); "
                  "read it again.", headers={"ETag": quote_etag(etag)})
        if request.if_none_match and request.if_none_match.contains_weak(etag):
            # RFC 9110 section 13.1.2: a true If-None-Match on a write is a 412.
            abort(412, message="If-None-Match matches the resource's current ETag.",
                  headers={"ETag": quote_etag(etag)})

    def _check_not_modified(self, etag):
        # If-None-Match uses the weak comparison (RFC 9110 section 13.1.2).
        if (request.method in self.METHODS_CHECKING_NOT_MODIFIED
                and request.if_none_match.contains_weak(etag)):
            raise NotModified(response=Response(status=304, headers={"ETag": quote_etag(etag)}))

    def _document_pagination_metadata(self, spec, resp_doc):
        # The header carries a JSON document: OpenAPI 3 describes that with
        # ``content`` (a ``schema`` would mean the "simple" comma-separated style).
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = {
            "description": "Offset pages only: the total and the page numbers, as JSON",
            "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/PaginationMetadata"}}},
        }

    def _prepare_pagination_doc(self, doc, doc_info, *, spec, **kwargs):
        pagination = doc_info.get("pagination")
        if pagination:
            parameters = pagination["parameters"]
            parameters["schema"] = _bounded(parameters["schema"])
        return super()._prepare_pagination_doc(doc, doc_info, spec=spec, **kwargs)


def created_links(operation_ids: tuple[str, ...], **parameters: str) -> dict:
    """OpenAPI ``links`` of a 201 response: how each operation in ``operation_ids``
    is called on what was created (OpenAPI 3.0.3, Link Object). ``parameters`` maps
    a path parameter to a runtime expression such as ``$response.body#/id``."""
    return {201: {"links": {
        operation_id: {
            "operationId": operation_id,
            "parameters": parameters,
            "description": f"{operation_id} on the created resource",
        }
        for operation_id in operation_ids
    }}}


def bearer_auth(blp: _Blueprint):
    """Decorator documenting bearer security and the 401 response on an operation.

    It documents only; the check itself is ``jwt_required`` in the view's
    ``decorators``, which runs before any argument parsing.
    """

    def decorator(func):
        func = blp.doc(security=BEARER_SECURITY)(func)
        return blp.alt_response(401, response="UNAUTHORIZED")(func)

    return decorator
