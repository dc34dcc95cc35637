"""Tag reads, always scoped to one user. Writes are in :mod:`taskapi.tags.service`."""

from __future__ import annotations

import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.models import Tag, task_tags

TAGS = Tag.__table__
_ALL_TAGS = TAGS.alias("all_tags")

#: One page of a user's tags, by name, with each tag's task count and the
#: user's total number of tags (a scalar subquery: same snapshot, one round
#: trip). Counts are computed for the page's tags only. Built once.
_PAGE = (
    sa.select(
        TAGS.c.name,
        sa.select(sa.func.count()).select_from(task_tags)
        .where(task_tags.c.tag_id == TAGS.c.id).scalar_subquery().label("task_count"),
        sa.select(sa.func.count()).select_from(_ALL_TAGS)
        .where(_ALL_TAGS.c.user_id == sa.bindparam("user_id"))
        .scalar_subquery().label("total"),
    )
    .where(TAGS.c.user_id == sa.bindparam("user_id"))
    .order_by(TAGS.c.name_key)
    .limit(sa.bindparam("limit"))
    .offset(sa.bindparam("offset"))
)
_COUNT = (sa.select(sa.func.count()).select_from(TAGS)
          .where(TAGS.c.user_id == sa.bindparam("user_id")))


def tag_key(name: str) -> str:
    """The case-insensitive identity of a tag name."""
    return name.lower()


def tag_page(user_id: int, *, limit: int, offset: int = 0) -> tuple[list[dict], int]:
    """``([{"name", "task_count"}], total)``: the user's tags ``offset`` to
    ``offset + limit`` in name order (``name_key``, case-insensitive; unique per
    user, so the order is stable), and how many tags the user has.

    One statement; a second (the count) only for a page past the end.
    """
    params = {"user_id": user_id, "limit": limit, "offset": offset}
    rows = db.session.connection().execute(_PAGE, params).all()
    if rows:
        total = rows[0].total
    elif offset:
        total = db.session.connection().execute(_COUNT, params).scalar_one()
    else:
        total = 0
    return [{"name": row.name, "task_count": row.task_count} for row in rows], total
