"""Tables of the change feed and of idempotent writes, and the triggers that feed them.

**The change sequence.** ``users.data_version`` (:mod:`taskapi.data_version`)
is the user's change sequence: every write transaction takes the user's row
lock first by incrementing it, once, so a user's write transactions hold
consecutive values and commit in that order. Triggers stamp every task, list
and tag row written with the writer's value (``sync_seq``), and every deleted
one leaves a :class:`SyncTombstone` with it, in the writing transaction,
whatever issued the statement: an API route, a bulk statement, a CLI command
or SQL typed in ``flask shell`` (which must bump ``data_version`` first, as
for list ETags). A tag's ``task_count`` is part of the tag, so linking or
unlinking a task re-stamps the tag.

**The visibility rule** (why no committed change can be skipped, on
PostgreSQL's MVCC and SQLite alike): a reader that has seen ``data_version =
N`` committed has seen, in the same or any later snapshot, every write with a
sequence of at most ``N``, because the write holding ``N`` committed only after
every writer before it (they held the user row lock in turn), and no write with
a sequence of at most ``N`` can still commit later (its value was taken under
that lock). So a feed page reads rows with ``sync_seq <= N`` for the ``N`` its
request read first (the token check); a change committed meanwhile gets a
greater sequence and is in the next page. A row written again is re-stamped
with a greater sequence: it moves later in the feed, never earlier, so a
cursor never passes over it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from taskapi.extensions import db
from taskapi.models import UTCDateTime, utcnow

#: The resource kinds of the feed, in the order their tombstones sort within one
#: sequence (alphabetical: the order of the ``kind`` column).
KINDS = ("list", "tag", "task")


class SyncTombstone(db.Model):
    """A deleted task, list or tag: ``(user_id, seq, kind, object_id)``, with the
    sequence of the transaction that deleted it and when (UTC). Kept
    ``SYNC_TOMBSTONE_DAYS``; pruning moves ``users.sync_horizon``."""

    __tablename__ = "sync_tombstones"
    __table_args__ = (sa.CheckConstraint("kind IN ('list', 'tag', 'task')",
                                         name="sync_tombstone_kind_valid"),)

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                                     primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    object_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class IdempotencyKey(db.Model):
    """A request made with an ``Idempotency-Key`` (draft-ietf-httpapi-idempotency-key-header):
    claimed in the transaction of the write it guards, so it commits with it (or
    not at all), then completed with the response (``status`` not null) for
    replays until ``expires_at``."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    #: SHA-256 (hex) of the method, path, query string and body.
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    method: Mapped[str] = mapped_column(sa.String(7))
    path: Mapped[str] = mapped_column(sa.String(2048))
    status: Mapped[int | None] = mapped_column()
    #: The response headers that matter for a replay (JSON object).
    headers: Mapped[str | None] = mapped_column(sa.Text)
    body: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


def _sqlite_stamp(table: str) -> tuple[str, ...]:
    # While a cascade from a deleted user deletes the user's rows (and the list
    # counters are updated meanwhile), the user's row is gone: the stamp stays.
    version = ("COALESCE((SELECT data_version FROM users WHERE users.id = new.user_id), "
               "sync_seq)")
    stamp = f"UPDATE {table} SET sync_seq = {version} WHERE id = new.id"  # noqa: S608
    return (
        f"CREATE TRIGGER IF NOT EXISTS {table}_sync_insert AFTER INSERT ON {table} "
        f"BEGIN {stamp}; END",
        # Not when the statement set sync_seq itself (this trigger's own UPDATE).
        f"CREATE TRIGGER IF NOT EXISTS {table}_sync_update AFTER UPDATE ON {table} "
        f"WHEN new.sync_seq IS old.sync_seq BEGIN {stamp} AND sync_seq IS NOT {version}; END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_sync_delete AFTER DELETE ON {table} BEGIN "  # noqa: S608
        f"INSERT OR IGNORE INTO sync_tombstones (user_id, seq, kind, object_id, deleted_at) "
        f"SELECT id, data_version, '{table.rstrip('s')}', old.id, "
        f"strftime('%Y-%m-%d %H:%M:%f', 'now') FROM users WHERE id = old.user_id; END",
    )


def _postgresql_stamp(table: str) -> tuple[str, ...]:
    # Dropped first: create_all() runs the metadata's DDL on existing tables too.
    return (
        f"DROP TRIGGER IF EXISTS {table}_sync_stamp ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_sync_delete ON {table}",
        f"CREATE TRIGGER {table}_sync_stamp BEFORE INSERT OR UPDATE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION sync_stamp()",
        f"CREATE TRIGGER {table}_sync_delete AFTER DELETE ON {table} "
        f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        f"EXECUTE FUNCTION sync_tombstone('{table.rstrip('s')}')",
    )


#: The triggers of the change feed, per dialect (SQLite: row triggers; PostgreSQL:
#: a BEFORE row trigger stamps, statement triggers write tombstones and touch
#: tags from transition tables). The migration that introduced them has frozen
#: copies; a migration that rebuilds one of these tables on SQLite
#: (``batch_alter_table``) drops them and must create them again.
SYNC_DDL = {
    "sqlite": (
        *_sqlite_stamp("tasks"), *_sqlite_stamp("lists"), *_sqlite_stamp("tags"),
        "CREATE TRIGGER IF NOT EXISTS task_tags_sync_insert AFTER INSERT ON task_tags BEGIN "
        "UPDATE tags SET sync_seq = sync_seq WHERE id = new.tag_id; END",
        "CREATE TRIGGER IF NOT EXISTS task_tags_sync_delete AFTER DELETE ON task_tags BEGIN "
        "UPDATE tags SET sync_seq = sync_seq WHERE id = old.tag_id; END",
    ),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION sync_stamp() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN NEW.sync_seq := COALESCE((SELECT data_version FROM users "
        "WHERE id = NEW.user_id), NEW.sync_seq); RETURN NEW; END $$",
        "CREATE OR REPLACE FUNCTION sync_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN INSERT INTO sync_tombstones (user_id, seq, kind, object_id, deleted_at) "
        "SELECT o.user_id, u.data_version, TG_ARGV[0], o.id, now() "
        "FROM old_rows AS o JOIN users AS u ON u.id = o.user_id "
        "ON CONFLICT DO NOTHING; RETURN NULL; END $$",
        "CREATE OR REPLACE FUNCTION sync_touch_tags() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN UPDATE tags SET sync_seq = tags.sync_seq "
        "WHERE tags.id IN (SELECT tag_id FROM changed_rows); RETURN NULL; END $$",
        *_postgresql_stamp("tasks"), *_postgresql_stamp("lists"), *_postgresql_stamp("tags"),
        "DROP TRIGGER IF EXISTS task_tags_sync_insert ON task_tags",
        "DROP TRIGGER IF EXISTS task_tags_sync_delete ON task_tags",
        "CREATE TRIGGER task_tags_sync_insert AFTER INSERT ON task_tags "
        "REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION sync_touch_tags()",
        "CREATE TRIGGER task_tags_sync_delete AFTER DELETE ON task_tags "
        "REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION sync_touch_tags()",
    ),
}
#: Dropped before the tables (SQLite compiles a table's triggers into the
#: implicit DELETE of DROP TABLE; a dropped ``sync_tombstones`` would break it).
SYNC_DROPS = {
    "sqlite": tuple(f"DROP TRIGGER IF EXISTS {table}_sync_{what}"
                    for table in ("tasks", "lists", "tags")
                    for what in ("insert", "update", "delete"))
    + ("DROP TRIGGER IF EXISTS task_tags_sync_insert",
       "DROP TRIGGER IF EXISTS task_tags_sync_delete"),
    "postgresql": tuple(f"DROP TRIGGER IF EXISTS {table}_sync_{what} ON {table}"
                        for table in ("tasks", "lists", "tags") for what in ("stamp", "delete"))
    + ("DROP TRIGGER IF EXISTS task_tags_sync_insert ON task_tags",
       "DROP TRIGGER IF EXISTS task_tags_sync_delete ON task_tags",
       "DROP FUNCTION IF EXISTS sync_stamp()", "DROP FUNCTION IF EXISTS sync_tombstone()",
       "DROP FUNCTION IF EXISTS sync_touch_tags()"),
}
for _dialect, _statements in SYNC_DDL.items():
    for _statement in _statements:
        # DDL formats its text with %: strftime's are escaped.
        sa.event.listen(db.Model.metadata, "after_create",
                        sa.DDL(_statement.replace("%", "%%")).execute_if(dialect=_dialect))
    for _statement in SYNC_DROPS[_dialect]:
        sa.event.listen(db.Model.metadata, "before_drop",
                        sa.DDL(_statement).execute_if(dialect=_dialect))
