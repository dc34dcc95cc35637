"""Keyset (cursor) pagination for task lists.

A cursor is the position after the last task of a page: the values of that
task's sort expressions (see :func:`taskapi.tasks.filters.sort_columns`), the
sort it belongs to and the user it was issued to, serialised as JSON and signed
with ``SECRET_KEY`` by itsdangerous (URL-safe, salt :data:`SALT`). Signed, not
encrypted: it is only ever handed to the user whose task values it holds.

The next page is ``WHERE (k1, k2, ..., id) > (v1, v2, ..., vid)`` in the sort's
mixed directions, written out as ``k1 > v1 OR (k1 = v1 AND k2 > v2) ...`` so
that it is portable SQL, plus a redundant bound on the first key that lets the
database seek in the index. Its cost does not depend on how deep the page is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadData, URLSafeSerializer

from taskapi.models import Task, UTCDateTime
from taskapi.tasks.filters import Term, sort_columns, sort_text

SALT = "taskapi.tasks.cursor"
#: Longest cursor accepted, in characters (a real one is well under 1 KiB).
MAX_CURSOR_LENGTH = 2048
#: The characters of a cursor (itsdangerous' URL-safe base64 and its "."), so it
#: never needs percent-encoding and a maximal list request fits gunicorn's
#: request line (see README, GUNICORN_LIMIT_REQUEST_LINE).
CURSOR_PATTERN = r"^[A-Za-z0-9_.-]+$"


class CursorError(ValueError):
    """The cursor is not one this server issued for this sort and user."""


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _is_datetime(expr: sa.ColumnElement) -> bool:
    return isinstance(expr.type, UTCDateTime)


def encode_cursor(user_id: int, sort: list[tuple[str, bool]], values: tuple) -> str:
    """The cursor after a task whose sort expressions evaluated to ``values``."""
    plain = [
        value.isoformat() if isinstance(value, datetime) else value for value in values
    ]
    return _serializer().dumps({"u": user_id, "s": sort_text(sort), "v": plain})


def decode_cursor(token: str, sort: list[tuple[str, bool]]) -> tuple[int, list[Any]]:
    """``(user_id, values)`` from a cursor issued for ``sort``.

    Raises :class:`CursorError` when the signature does not verify (tampered or
    another server's secret), when the cursor was issued for another sort, or
    when its values do not fit the sort's expressions.
    """
    if len(token) > MAX_CURSOR_LENGTH:
        raise CursorError("Invalid cursor.")
    try:
        payload = _serializer().loads(token)
    except BadData:
        raise CursorError("Invalid cursor.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("v"), list):
        raise CursorError("Invalid cursor.")
    if payload.get("s") != sort_text(sort):
        raise CursorError(
            f"This cursor belongs to sort={payload.get('s')}; repeat that sort or "
            "start again without a cursor."
        )
    columns = sort_columns(sort)
    if len(payload["v"]) != len(columns) or not isinstance(payload.get("u"), int):
        raise CursorError("Invalid cursor.")
    values = []
    for (expr, _), value in zip(columns, payload["v"], strict=True):
        values.append(_load_value(expr, value))
    return payload["u"], values


def _load_value(expr: sa.ColumnElement, value: Any) -> Any:
    if value is None:
        if expr is not Task.due_at:
            raise CursorError("Invalid cursor.")
        return None
    if _is_datetime(expr):
        try:
            loaded = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise CursorError("Invalid cursor.") from None
        if loaded.tzinfo is None:
            raise CursorError("Invalid cursor.")
        return loaded
    if isinstance(expr.type, sa.Boolean):
        expected: type = bool
    elif isinstance(expr.type, sa.String):
        expected = str
    else:
        expected = int
    if type(value) is not expected:
        raise CursorError("Invalid cursor.")
    return value


def after_term(sort: list[tuple[str, bool]], values: list[Any]) -> Term:
    """``WHERE`` condition, as a :class:`~taskapi.tasks.filters.Term`: rows
    strictly after ``values`` in the order of ``sort``.

    A ``None`` value (a task without ``due_at``) compares as ``IS NULL``; the
    ``DUE_MISSING`` key before it already places those tasks last. Boolean keys
    compare with ``=`` only (false before true), as SQLAlchemy requires. Other
    values are bound parameters ``k0``, ``k1``, ...: the term's key records only
    where the Nones and booleans are, which is all that shapes the SQL.
    """
    columns = sort_columns(sort)
    shape = tuple(value if value is None or isinstance(value, bool) else "v"
                  for value in values)
    params = {f"k{index}": value for index, value in enumerate(values)
              if value is not None and not isinstance(value, bool)}
    return Term(("after", sort_text(sort), shape), params,
                lambda: _after_condition(columns, values))


def after(sort: list[tuple[str, bool]], values: list[Any]) -> sa.ColumnElement[bool]:
    """The condition of :func:`after_term`, with its values bound."""
    return after_term(sort, values).build()


def _after_condition(columns: list[tuple[sa.ColumnElement, bool]],
                     values: list[Any]) -> sa.ColumnElement[bool]:
    def bound(index: int, expr: sa.ColumnElement) -> sa.BindParameter:
        return sa.bindparam(f"k{index}", values[index], type_=expr.type)

    directions = {descending for _, descending in columns}
    if len(directions) == 1 and None not in values:
        # One direction: a row-value comparison, which both databases turn into
        # a single index range that starts right at the cursor.
        left = sa.tuple_(*(expr for expr, _ in columns))
        right = sa.tuple_(*(
            sa.literal(value, expr.type) if isinstance(value, bool) else bound(index, expr)
            for index, ((expr, _), value) in enumerate(zip(columns, values, strict=True))))
        return left < right if directions == {True} else left > right
    branches: list[sa.ColumnElement[bool]] = []
    equal: list[sa.ColumnElement[bool]] = []
    for index, ((expr, descending), value) in enumerate(zip(columns, values, strict=True)):
        if value is None:
            equal.append(expr.is_(None))
            continue
        if isinstance(value, bool):
            if value == descending:  # the other boolean value comes after
                branches.append(sa.and_(*equal, expr == (not value)))
            equal.append(expr == value)
            continue
        branches.append(sa.and_(*equal, expr < bound(index, expr) if descending
                                else expr > bound(index, expr)))
        equal.append(expr == bound(index, expr))
    condition = sa.or_(*branches) if branches else sa.false()
    (first, descending), first_value = columns[0], values[0]
    if first_value is not None and not isinstance(first_value, bool):
        # Implied by the OR above; stated so the index on the first key is used.
        bound_first = bound(0, first)
        condition = sa.and_(first <= bound_first if descending else first >= bound_first,
                            condition)
    return condition
