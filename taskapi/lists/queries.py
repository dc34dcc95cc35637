"""List reads, always scoped to one user. Writes are in :mod:`taskapi.lists.service`."""

from __future__ import annotations

import sqlalchemy as sa
from flask_smorest import abort

from taskapi.extensions import db
from taskapi.models import TaskList

LISTS = TaskList.__table__
_ALL = LISTS.alias("all_lists")
#: ``task_count`` and ``open_count`` are columns kept by triggers
#: (:data:`taskapi.models.LIST_COUNT_DDL`): a page of lists reads no task.
COLUMNS = ("id", "name", "color", "position", "archived", "is_inbox", "created_at",
           "updated_at", "version", "task_count", "open_count")


def _visible(table, archived: bool) -> list[sa.ColumnElement[bool]]:
    where = [table.c.user_id == sa.bindparam("user_id")]
    if not archived:
        where.append(table.c.archived.is_(False))
    return where


def _page(archived: bool) -> sa.Select:
    total = (sa.select(sa.func.count()).select_from(_ALL).where(*_visible(_ALL, archived))
             .scalar_subquery().label("total"))
    return (sa.select(*(LISTS.c[name] for name in COLUMNS), total)
            .where(*_visible(LISTS, archived))
            .order_by(LISTS.c.position, LISTS.c.id)
            .limit(sa.bindparam("limit")).offset(sa.bindparam("offset")))


#: Built once each: SQLAlchemy's compiled cache serves them.
_PAGES = {False: _page(False), True: _page(True)}
_ONE = (sa.select(*(LISTS.c[name] for name in COLUMNS))
        .where(LISTS.c.user_id == sa.bindparam("user_id"),
               LISTS.c.id == sa.bindparam("list_id")))


def _row(row: sa.Row) -> dict:
    return dict(row._mapping)


def list_page(user_id: int, *, archived: bool, limit: int, offset: int) -> tuple[list[dict], int]:
    """A page of the user's lists in their manual order (``position``, then
    ``id``), archived ones only with ``archived``, and the total: one statement
    (a second one for a page past the end). Items are dicts of
    :class:`~taskapi.lists.schemas.ListSchema`'s fields plus ``version``."""
    params = {"user_id": user_id, "limit": limit, "offset": offset}
    rows = db.session.execute(_PAGES[archived], params).all()
    if rows:
        return [_row(row) for row in rows], rows[0].total
    total = db.session.scalar(sa.select(sa.func.count()).select_from(LISTS)
                              .where(*_visible(LISTS, archived)), params) if offset else 0
    return [], total


def get_list(user_id: int, list_id: int) -> dict:
    """The user's list ``list_id`` with its counts; 404 when missing or another
    user's (never 403)."""
    row = db.session.execute(_ONE, {"user_id": user_id, "list_id": list_id}).first()
    if row is None:
        abort(404, message="List not found.")
    return _row(row)


def etag_data(item: dict) -> dict:
    """What a list's ETag is computed from: its ``version`` (every write of the
    list), ``created_at`` (a new list given a deleted one's id differs) and its
    counts (they change with its tasks, not with the list's row)."""
    created = item["created_at"]
    return {"id": item["id"], "version": item["version"],
            "created_at": created if isinstance(created, str) else created.isoformat(),
            "task_count": item["task_count"], "open_count": item["open_count"]}
