"""Request checks shared by every route, before any view or library reads the request.

- A POST/PUT/PATCH body that is not JSON (form data, text) is a 415: it would
  otherwise be read as "no body" and, on ``/complete``, toggle the task.
- A JSON body must be UTF-8 and parse (else 400), be nested at most
  :data:`MAX_DEPTH` levels (else 400: deeper documents exhaust Python's recursion
  limit in the JSON parsers of webargs and Flask-JWT-Extended), and hold no lone
  surrogate such as ``"\\ud800"`` (a 422 naming the field: RFC 8259 section 8.2
  calls such strings unpredictable, I-JSON, RFC 7493 section 2.1, forbids them, and
  they cannot be stored or hashed as UTF-8).
- A JSON body of ``null`` is a 422, like any other body that is not an object.
- A query string must be UTF-8 once percent-decoded (else 400); werkzeug would
  otherwise replace bad bytes with U+FFFD and search for that.

An absent body is left to the route (``/complete`` toggles, ``logout`` accepts it).
"""

from __future__ import annotations

import json
from urllib.parse import unquote_to_bytes

from flask import Flask, request
from flask_smorest import abort

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: Deepest JSON body accepted (arrays and objects): task bodies are 2 levels deep.
MAX_DEPTH = 32


def init_body_checks(app: Flask) -> None:
    """Register the checks as a ``before_request`` hook of ``app``."""
    app.before_request(_check_request)


def _check_request() -> None:
    _check_query_string()
    if request.method not in BODY_METHODS:
        return
    body = request.get_data(cache=True)
    if not body.strip():
        return
    if not request.is_json:
        abort(415, message="Send the request body as JSON (Content-Type: application/json).")
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        abort(400, message="The request body is not valid UTF-8 JSON.")
    if document is None:
        abort(422, errors={"json": {"_schema": ["Invalid input type: expected an object."]}})
    _check_document(document)


def _check_query_string() -> None:
    try:
        unquote_to_bytes(request.query_string).decode("utf-8")
    except UnicodeDecodeError:
        abort(400, message="The query string is not valid UTF-8 once percent-decoded.")


def _check_document(document) -> None:
    """400 when nested deeper than :data:`MAX_DEPTH`; 422 at the first string (value
    or key) that is not valid Unicode, with its path as the field."""
    stack = [(document, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            abort(400, message=f"The request body is nested more than {MAX_DEPTH} levels deep.")
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, path)
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, str(index))) for index, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, path)


def _check_text(text: str, path: tuple[str, ...]) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        message = ["Not valid Unicode: a lone surrogate (\\ud800-\\udfff) in a string."]
        errors: dict | list = message
        for key in reversed(path or ("_schema",)):
            errors = {_printable(key): errors}
        abort(422, errors={"json": errors})


def _printable(key: str) -> str:
    """A key for the error body, itself without lone surrogates."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")
