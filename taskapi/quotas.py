"""Per-user quotas: how many rows of a table a user has, counted up to a limit.

``MAX_TASKS_PER_USER``, ``MAX_LISTS_PER_USER`` and ``MAX_TAGS_PER_USER`` are
checked by counting the user's rows with the count stopped at the quota
(``SELECT count(*) FROM (SELECT 1 FROM t WHERE user_id = ? LIMIT quota)``, on
the table's ``user_id`` index): a few index entries for a normal user, at most
the quota for one at the limit, never the whole table. Exact under
concurrency when the caller holds the user's row lock
(:func:`taskapi.data_version.bump`); on SQLite writes are serialised anyway.
"""

from __future__ import annotations

import sqlalchemy as sa

from taskapi.extensions import db

_COUNTS: dict[str, sa.Select] = {}


def _count_statement(table: sa.Table) -> sa.Select:
    """Built once per table (SQLAlchemy's compiled cache then serves its SQL);
    bind parameters ``user_id`` and ``quota``."""
    statement = _COUNTS.get(table.name)
    if statement is None:
        bounded = (sa.select(sa.literal(1)).where(table.c.user_id == sa.bindparam("user_id"))
                   .limit(sa.bindparam("quota")))
        statement = _COUNTS[table.name] = sa.select(sa.func.count()).select_from(
            bounded.subquery())
    return statement


def count_up_to(table: sa.Table, user_id: int, quota: int) -> int:
    """The number of the user's rows in ``table`` (a table with ``user_id``),
    or ``quota`` when there are at least that many."""
    return db.session.scalar(_count_statement(table), {"user_id": user_id, "quota": quota})
