"""flask-smorest subclasses: the error schema and bounded pagination.

The library's pagination schema has no upper bound on ``page``; a huge page makes
an OFFSET the database cannot represent (a 500). :class:`Blueprint` bounds it so
that such a request is a 422 and the bound appears in the OpenAPI document.
"""

from __future__ import annotations

import functools

import marshmallow as ma
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from webargs.flaskparser import FlaskParser

#: Largest accepted ``page``: page x page_size stays far below 2**63 (SQL OFFSET).
MAX_PAGE = 1_000_000

BEARER_SECURITY = [{"bearerAuth": []}]


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


class Api(_Api):
    """flask-smorest ``Api`` documenting :class:`ErrorSchema` for every error."""

    ERROR_SCHEMA = ErrorSchema


@functools.cache
def _bounded(schema_cls: type[ma.Schema]) -> type[ma.Schema]:
    page_field = schema_cls._declared_fields["page"]
    return type(
        schema_cls.__name__,
        (schema_cls,),
        {
            "page": ma.fields.Integer(
                load_default=page_field.load_default,
                validate=ma.validate.Range(min=1, max=MAX_PAGE),
            )
        },
    )


class _PaginationParser(FlaskParser):
    def parse(self, argmap, req=None, **kwargs):
        return super().parse(_bounded(argmap), req, **kwargs)


class Blueprint(_Blueprint):
    """flask-smorest ``Blueprint`` with ``page`` bounded to ``1..MAX_PAGE``."""

    PAGINATION_ARGUMENTS_PARSER = _PaginationParser()

    def _prepare_pagination_doc(self, doc, doc_info, *, spec, **kwargs):
        pagination = doc_info.get("pagination")
        if pagination:
            parameters = pagination["parameters"]
            parameters["schema"] = _bounded(parameters["schema"])
        return super()._prepare_pagination_doc(doc, doc_info, spec=spec, **kwargs)


def bearer_auth(blp: _Blueprint):
    """Decorator documenting bearer security and the 401 response on an operation.

    It documents only; the check itself is ``jwt_required`` in the view's
    ``decorators``, which runs before any argument parsing.
    """

    def decorator(func):
        func = blp.doc(security=BEARER_SECURITY)(func)
        return blp.alt_response(401, response="UNAUTHORIZED")(func)

    return decorator
