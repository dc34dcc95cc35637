"""Request-body checks shared by every route.

- A POST/PUT/PATCH body that is not JSON (form data, text) is a 415: it would
  otherwise be read as "no body" and, on ``/complete``, toggle the task.
- A JSON body of ``null`` is a 422, like any other body that is not an object.

An absent body is left to the route (``/complete`` toggles, ``logout`` accepts it).
"""

from __future__ import annotations

from flask import Flask, request
from flask_smorest import abort

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def init_body_checks(app: Flask) -> None:
    """Register the checks as a ``before_request`` hook of ``app``."""
    app.before_request(_check_body)


def _check_body() -> None:
    if request.method not in BODY_METHODS:
        return
    body = request.get_data(cache=True)
    if not body.strip():
        return
    if not request.is_json:
        abort(415, message="Send the request body as JSON (Content-Type: application/json).")
    if body.strip() == b"null":
        abort(422, errors={"json": {"_schema": ["Invalid input type: expected an object."]}})
