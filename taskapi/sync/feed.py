"""The change feed: what changed in a user's tasks, lists and tags since a sync token.

A change is ``{"type", "id", "op", "data", "version"}``: ``op`` is ``upsert``
(``data`` is the resource as its GET returns it) or ``delete`` (``data`` is
null); ``version`` is the change's sequence (the ``sync_seq`` of the row or the
tombstone, :mod:`taskapi.sync.models`), which only grows. Changes come in
sequence order; within one sequence (one transaction) deletions first, then
lists, tags and tasks, each by id: the feed is walked by the keyset
``(seq, rank, id)`` (:data:`RANKS`), which a later write can only move a row
past, never before. Each page reads the rows with ``sync_seq`` at most the
``data_version`` the request's token check read: the visibility rule of
:mod:`taskapi.sync.models`.

A sync token is the keyset position after the last change handed out, plus the
*floor* under which tombstones are skipped (a full sync starts from nothing, so
deletions from before it are noise), bound to the user and signed with
``SECRET_KEY`` by itsdangerous (salt :data:`SALT`). It carries no clock: it
stays valid until pruning removes a tombstone it would need (410 Gone).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadData, URLSafeSerializer

from taskapi.extensions import db
from taskapi.lists.queries import COLUMNS as LIST_COLUMNS
from taskapi.lists.schemas import ListSchema
from taskapi.models import Tag, Task, TaskList, User, task_tags, utcnow
from taskapi.sync.models import KINDS, SyncTombstone
from taskapi.tasks import rows
from taskapi.tasks.schemas import TaskSchema

SALT = "taskapi.sync.token"
DEFAULT_LIMIT, MAX_LIMIT = 500, 1000
MAX_TOKEN_LENGTH = 512
#: Order of changes within one sequence: tombstones by kind, then upserts.
RANKS = {("delete", kind): rank for rank, kind in enumerate(KINDS)} | {
    ("upsert", "list"): 3, ("upsert", "tag"): 4, ("upsert", "task"): 5}
UPSERTS_FROM = 3
#: The position after everything of a sequence.
END = 6

TASKS, LISTS, TAGS, USERS = Task.__table__, TaskList.__table__, Tag.__table__, User.__table__
TOMBSTONES = SyncTombstone.__table__
_TASK_SCHEMA, _LIST_SCHEMA = TaskSchema(), ListSchema()
_HORIZON = sa.select(USERS.c.sync_horizon).where(USERS.c.id == sa.bindparam("user_id"))


class SyncTokenError(ValueError):
    """The token is not one this server issued to this user (a 422)."""


class SyncTokenGone(LookupError):
    """The token needs tombstones that were pruned: the client must sync in full (410)."""


@dataclass(frozen=True, slots=True)
class Position:
    """A place in the feed: after ``(seq, rank, id)``; tombstones at or below
    ``floor`` are skipped."""

    seq: int
    rank: int
    id: int
    floor: int


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def encode_token(user_id: int, position: Position) -> str:
    """The opaque sync token for ``position`` (URL-safe characters only)."""
    return _serializer().dumps([user_id, position.seq, position.rank, position.id,
                                position.floor])


def decode_token(token: str, user_id: int) -> Position:
    """The position of a token issued to ``user_id``. Raises :class:`SyncTokenError`
    when it is tampered with, another server's or another user's."""
    try:
        payload = _serializer().loads(token)
    except BadData:
        raise SyncTokenError("Not a sync token issued by this server.") from None
    if (not isinstance(payload, list) or len(payload) != 5
            or not all(type(value) is int for value in payload)):
        raise SyncTokenError("Not a sync token issued by this server.")
    if payload[0] != user_id:
        raise SyncTokenError("This sync token belongs to another user.")
    return Position(*payload[1:])


def start(bound: int) -> Position:
    """The position of a full sync: before every row, no tombstone up to ``bound``."""
    return Position(-1, END, 0, bound)


def _after(seq_col: sa.ColumnElement, id_col: sa.ColumnElement, rank: int,
           cursor_rank: int) -> sa.ColumnElement[bool]:
    """``(seq, rank, id) > (:seq, :rank, :id)`` for a source whose rank is fixed."""
    if rank > cursor_rank:
        return seq_col >= sa.bindparam("seq")
    if rank < cursor_rank:
        return seq_col > sa.bindparam("seq")
    return sa.tuple_(seq_col, id_col) > sa.tuple_(sa.bindparam("seq"), sa.bindparam("id"))


def _source(columns: list, table: sa.Table, rank: int, cursor_rank: int) -> sa.Select:
    return (sa.select(table.c.sync_seq, *columns)
            .where(table.c.user_id == sa.bindparam("user_id"),
                   table.c.sync_seq <= sa.bindparam("bound"),
                   _after(table.c.sync_seq, table.c.id, rank, cursor_rank))
            .order_by(table.c.sync_seq, table.c.id).limit(sa.bindparam("limit")))


def _tag_columns() -> list:
    count = (sa.select(sa.func.count()).select_from(task_tags)
             .where(task_tags.c.tag_id == TAGS.c.id).scalar_subquery().label("task_count"))
    return [TAGS.c.id, TAGS.c.name, count]


def _tombstones(cursor_rank: int) -> sa.Select:
    seq, kind, object_id = TOMBSTONES.c.seq, TOMBSTONES.c.kind, TOMBSTONES.c.object_id
    if cursor_rank >= UPSERTS_FROM:
        after = seq > sa.bindparam("seq")
    else:
        after = sa.tuple_(seq, kind, object_id) > sa.tuple_(
            sa.bindparam("seq"), sa.bindparam("kind"), sa.bindparam("id"))
    return (sa.select(seq, kind, object_id)
            .where(TOMBSTONES.c.user_id == sa.bindparam("user_id"), seq <= sa.bindparam("bound"),
                   seq > sa.bindparam("floor"), after)
            .order_by(seq, kind, object_id).limit(sa.bindparam("limit")))


class _Statements:
    """The four statements of a page for one dialect and cursor rank, built once."""

    def __init__(self, dialect: str, cursor_rank: int):
        self.tasks = _source(rows.task_columns(dialect), TASKS, RANKS["upsert", "task"],
                             cursor_rank)
        self.lists = _source([LISTS.c[name] for name in LIST_COLUMNS], LISTS,
                             RANKS["upsert", "list"], cursor_rank)
        self.tags = _source(_tag_columns(), TAGS, RANKS["upsert", "tag"], cursor_rank)
        self.tombstones = _tombstones(cursor_rank)


_statements: dict[tuple[str, int], _Statements] = {}


def _statements_for(dialect: str, cursor_rank: int) -> _Statements:
    key = (dialect, min(cursor_rank, END))
    found = _statements.get(key)
    if found is None:
        found = _statements[key] = _Statements(dialect, key[1])
    return found


@dataclass(frozen=True, slots=True)
class Page:
    """One answer of the feed: ``changes`` (dicts of the documented shape), the
    position to continue from, and whether more changes are waiting."""

    changes: list[dict]
    position: Position
    has_more: bool


def _keyed(seq: int, rank: int, id_: int, change: dict) -> tuple:
    return seq, rank, id_, change


def read_page(user_id: int, bound: int, position: Position, limit: int) -> Page:
    """The changes after ``position`` up to sequence ``bound`` (the
    ``data_version`` the request read first), at most ``limit``.

    Raises :class:`SyncTokenGone` when the tombstones the position needs were
    pruned (``users.sync_horizon``). Four indexed statements (tasks, lists, tags,
    tombstones, each by ``(user_id, sync_seq, id)``) and the horizon; none when
    nothing changed since ``position``.
    """
    if position.seq >= bound and position.rank >= END:
        return Page([], position, False)
    connection = db.session.connection()
    dialect = connection.dialect.name
    statements = _statements_for(dialect, position.rank)
    params = {"user_id": user_id, "bound": bound, "seq": position.seq, "id": position.id,
              "floor": position.floor, "limit": limit + 1,
              "kind": KINDS[position.rank] if position.rank < UPSERTS_FROM else ""}
    convert = rows.converter(dialect)
    task_rank, list_rank, tag_rank = (RANKS["upsert", "task"], RANKS["upsert", "list"],
                                      RANKS["upsert", "tag"])
    tasks = [_keyed(row[0], task_rank, row[1], {
        "type": "task", "id": row[1], "op": "upsert", "version": row[0],
        "data": _TASK_SCHEMA.dump(convert(row[1:]))})
        for row in connection.execute(statements.tasks, params)]
    lists = [_keyed(row.sync_seq, list_rank, row.id, {
        "type": "list", "id": row.id, "op": "upsert", "version": row.sync_seq,
        "data": _LIST_SCHEMA.dump(row._mapping)})
        for row in connection.execute(statements.lists, params)]
    tags = [_keyed(row.sync_seq, tag_rank, row.id, {
        "type": "tag", "id": row.id, "op": "upsert", "version": row.sync_seq,
        "data": {"name": row.name, "task_count": row.task_count}})
        for row in connection.execute(statements.tags, params)]
    deleted = [_keyed(row.seq, RANKS["delete", row.kind], row.object_id, {
        "type": row.kind, "id": row.object_id, "op": "delete", "version": row.seq,
        "data": None})
        for row in connection.execute(statements.tombstones, params)]
    # After the tombstones were read: a prune committed before that read is seen
    # here too (PostgreSQL's READ COMMITTED takes a snapshot per statement).
    horizon = connection.scalar(_HORIZON, params)
    needed_from = max(position.seq if position.rank >= UPSERTS_FROM else position.seq - 1,
                      position.floor)
    if horizon and horizon > needed_from:
        raise SyncTokenGone
    merged = list(heapq.merge(deleted, lists, tags, tasks, key=lambda item: item[:3]))
    if len(merged) > limit:
        last = merged[limit - 1]
        return Page([item[3] for item in merged[:limit]],
                    Position(last[0], last[1], last[2], position.floor), True)
    return Page([item[3] for item in merged], Position(bound, END, 0, 0), False)


def prune_tombstones(days: int | None = None) -> int:
    """Delete tombstones older than ``days`` (default ``SYNC_TOMBSTONE_DAYS``) and
    move each affected user's ``sync_horizon`` to the greatest sequence pruned,
    so that a token that needed them is a 410 instead of silently missing a
    deletion. Returns how many were deleted; the caller commits."""
    days = current_app.config["SYNC_TOMBSTONE_DAYS"] if days is None else days
    cutoff = utcnow() - timedelta(days=days)
    old = TOMBSTONES.c.deleted_at < cutoff
    pruned = (sa.select(sa.func.max(TOMBSTONES.c.seq))
              .where(TOMBSTONES.c.user_id == USERS.c.id, old).scalar_subquery())
    db.session.execute(
        sa.update(USERS)
        .where(USERS.c.id.in_(sa.select(TOMBSTONES.c.user_id).where(old)))
        .values(sync_horizon=sa.func.max(USERS.c.sync_horizon, pruned)
                if db.engine.dialect.name == "sqlite"
                else sa.func.greatest(USERS.c.sync_horizon, pruned)))
    return db.session.execute(sa.delete(TOMBSTONES).where(old)).rowcount
