"""Fast seeding of a benchmark data set: bulk inserts, not the API.

:func:`seed` fills an empty, migrated taskapi database with ``users`` users of
``tasks_per_user`` tasks each, plus optionally one big user with
``big_user_tasks`` tasks: bulk inserts, compiled once by SQLAlchemy Core and sent
by the driver's ``executemany`` in batches of :data:`BATCH` rows (PostgreSQL:
``COPY``). Ids are assigned here (the database is empty), so tags can be linked
without reading anything back:

- users have ids ``1..users``; the big user is ``users + 1``;
- regular tasks are created round-robin over the users, oldest first, as a live
  service would store them: task id ``n + 1`` belongs to user ``n % users + 1``,
  so user ``u`` owns ids ``u, u + users, u + 2 * users, ...``; the big user's
  tasks follow as one block;
- each user has one list, the Inbox, whose id is the user's; every task is in
  it, top level, in creation order (fractional-indexing keys, as the API gives);
- each user has the tags of :data:`TAG_NAMES`; a task carries one or two of them;
- optionally a "noisy neighbour" (id ``users + 2``) with ``neighbour_tasks``
  tasks built for the most expensive requests an account can send: titles and
  half the descriptions of repeated ``a`` (the pathological substring search),
  and :data:`NEIGHBOUR_TAGS` tags, two per task (every one of the 20 exists,
  no task carries all of them: the widest tag filter scans every task).

Every task gets a priority (or none), a due date (or none; some overdue), and a
third are completed. ``created_at`` spreads over the last :data:`HISTORY` with
one distinct instant per task. All users share one password, :data:`PASSWORD`,
hashed once with the app's configured argon2id parameters. Every function here
runs inside an application context.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from fractional_indexing import generate_n_keys_between

from taskapi.auth.passwords import hash_password
from taskapi.auth.tokens import issue_tokens
from taskapi.extensions import db
from taskapi.models import INBOX_NAME, Tag, Task, TaskList, User, task_tags, utcnow
from taskapi.tasks import cursors, queries
from taskapi.tasks.filters import parse_sort

BATCH = 10_000  # rows per executemany call
SQLITE_CACHE_KIB = 512 * 1024  # page cache of the seeding connection, KiB
HISTORY = timedelta(days=400)  # created_at of the oldest task, before now
TAG_NAMES = ("Work", "Home", "Errands", "Urgent", "Someday")
PRIORITIES = (None, "low", "medium", "high")
PASSWORD = "correct horse battery staple"  # noqa: S105 (a benchmark fixture)
BIG_USER_EMAIL = "big@bench.example"
NEIGHBOUR_EMAIL = "neighbour@bench.example"
NEIGHBOUR_TAGS = tuple(f"n{j}" for j in range(20))
NEIGHBOUR_TITLE = "a" * 100
NEIGHBOUR_DESCRIPTION = "a" * 300


@dataclass(frozen=True)
class Sizes:
    """How much to seed: ``users`` x ``tasks_per_user`` tasks, plus one user with
    ``big_user_tasks`` tasks when that is above 0."""

    users: int
    tasks_per_user: int
    big_user_tasks: int = 0
    neighbour_tasks: int = 0

    @property
    def tasks(self) -> int:
        """Task rows in all."""
        return self.users * self.tasks_per_user + self.big_user_tasks + self.neighbour_tasks

    @property
    def big_user_id(self) -> int | None:
        return self.users + 1 if self.big_user_tasks else None

    @property
    def neighbour_id(self) -> int | None:
        return self.users + 2 if self.neighbour_tasks else None

    def task_ids(self, user_id: int, count: int) -> list[int]:
        """Up to ``count`` ids of tasks that regular user ``user_id`` owns, spread
        over the user's list."""
        step = max(self.tasks_per_user // max(count, 1), 1)
        return [user_id + k * self.users for k in range(0, self.tasks_per_user, step)][:count]


def email(user_id: int) -> str:
    """The email of seeded regular user ``user_id``."""
    return f"user{user_id}@bench.example"


def seed(sizes: Sizes) -> None:
    """Insert the data set described by ``sizes`` into the (empty) database and
    refresh the planner's statistics. About a minute per million tasks."""
    now = utcnow()
    if db.engine.dialect.name == "sqlite":
        # This connection only: room for the indexes being filled (default 2 MiB).
        db.session.execute(sa.text(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}"))
    else:
        # The app's statement_timeout (DB_STATEMENT_TIMEOUT_MS) is for requests,
        # not for a COPY of a million rows.
        db.session.execute(sa.text("SET LOCAL statement_timeout = 0"))
    password_hash = hash_password(PASSWORD)
    owners = [(user_id, email(user_id)) for user_id in range(1, sizes.users + 1)]
    if sizes.big_user_id or sizes.neighbour_id:
        owners.append((sizes.users + 1, BIG_USER_EMAIL))
    if sizes.neighbour_id:
        owners.append((sizes.neighbour_id, NEIGHBOUR_EMAIL))
    _insert(User.__table__, ({
        "id": user_id, "email": address, "name": f"Bench user {user_id}",
        "password_hash": password_hash, "is_active": True, "is_admin": False,
        "timezone": "UTC", "created_at": now - HISTORY, "updated_at": now - HISTORY,
        "data_version": 0, "sync_horizon": 0,
    } for user_id, address in owners))
    _insert(TaskList.__table__, ({
        "id": user_id, "user_id": user_id, "name": INBOX_NAME, "name_key": INBOX_NAME.lower(),
        "color": None, "position": "a0", "archived": False, "is_inbox": True,
        "created_at": now - HISTORY, "updated_at": now - HISTORY, "version": 1,
        "task_count": 0, "open_count": 0,  # counted by the triggers as the tasks go in
        "sync_seq": 0,  # stamped by the change feed's triggers (taskapi.sync.models)
    } for user_id, _ in owners))
    _insert(Tag.__table__, ({
        "id": _tag_id(user_id, j), "user_id": user_id, "name": name, "name_key": name.lower(),
        "sync_seq": 0,
    } for user_id, _ in owners for j, name in enumerate(_tag_names(user_id, sizes))))
    step = HISTORY / max(sizes.tasks, 1)
    start = now - HISTORY
    keys = generate_n_keys_between(None, None, max(
        sizes.tasks_per_user, sizes.big_user_tasks, sizes.neighbour_tasks, 1))
    _insert(Task.__table__, (_task(task_id, user_id, k, start + (task_id - 1) * step,
                                   keys[k], user_id == sizes.neighbour_id)
                             for task_id, user_id, k in _layout(sizes)))
    _insert(task_tags, ({"task_id": task_id, "tag_id": _tag_id(user_id, j)}
                        for task_id, user_id, k in _layout(sizes)
                        for j in _tag_indexes(k, user_id == sizes.neighbour_id)))
    db.session.commit()
    _after_bulk_load()


def _layout(sizes: Sizes) -> Iterator[tuple[int, int, int]]:
    """``(task_id, user_id, k)`` of every task, ``k`` its index in its owner's list."""
    for n in range(sizes.users * sizes.tasks_per_user):
        yield n + 1, n % sizes.users + 1, n // sizes.users
    first = sizes.users * sizes.tasks_per_user + 1
    for k in range(sizes.big_user_tasks):
        yield first + k, sizes.big_user_id, k
    first += sizes.big_user_tasks
    for k in range(sizes.neighbour_tasks):
        yield first + k, sizes.neighbour_id, k


def _tag_names(user_id: int, sizes: Sizes) -> tuple[str, ...]:
    return NEIGHBOUR_TAGS if user_id == sizes.neighbour_id else TAG_NAMES


def _task(task_id: int, user_id: int, k: int, created, position: str,
          neighbour: bool = False) -> dict:
    completed = k % 3 == 0
    if neighbour:
        title, description = NEIGHBOUR_TITLE, None if k % 2 else NEIGHBOUR_DESCRIPTION
    else:
        title = f"Task {k} of user {user_id}"
        description = None if k % 2 else "Seeded by the benchmark."
    return {
        "id": task_id, "user_id": user_id, "title": title, "description": description,
        "completed": completed,
        "completed_at": created + timedelta(hours=k % 48 + 1) if completed else None,
        "priority": PRIORITIES[k % 4],
        "due_at": None if k % 5 == 0 else created + timedelta(days=k % 97 - 30),
        "created_at": created, "updated_at": created, "version": 1,
        "list_id": user_id, "parent_id": None, "position": position,
        "subtask_count": 0, "open_subtask_count": 0, "sync_seq": 0,
        "recurrence_rule": None, "recurrence_from": None, "recurrence_occurrence": None,
        "next_due_at": None,
    }


def _tag_indexes(k: int, neighbour: bool = False) -> tuple[int, ...]:
    """Indexes in :data:`TAG_NAMES` (the neighbour's: :data:`NEIGHBOUR_TAGS`) of the
    tags of a user's ``k``-th task."""
    if neighbour:
        return (k % 20, (k + 1) % 20)
    return (k % 5, (k + 2) % 5) if k % 2 == 0 else (k % 5,)


def _tag_id(user_id: int, j: int) -> int:
    return (user_id - 1) * len(TAG_NAMES) + j + 1


def _insert(table: sa.Table, rows: Iterator[dict]) -> None:
    """``INSERT`` every row, :data:`BATCH` at a time, by the driver's executemany
    (PostgreSQL: ``COPY``, the same rows about five times faster than executemany).

    The statement is compiled once and each value goes through its column's own
    bind processor (so :class:`~taskapi.models.UTCDateTime` stores what the app
    would), skipping SQLAlchemy's per-row parameter machinery.
    """
    connection = db.session.connection()
    dialect = connection.dialect
    if dialect.name == "postgresql":
        _copy(connection, table, rows)
        return
    compiled = table.insert().compile(dialect=dialect,
                                      column_keys=[column.key for column in table.columns])
    # dialect_impl: the type as this dialect stores it (SQLite: datetime text).
    processors = [(column.key, column.type.dialect_impl(dialect).bind_processor(dialect))
                  for column in table.columns]
    processors = [(key, process) for key, process in processors if process]
    order = compiled.positiontup

    def convert(row: dict):
        for key, process in processors:
            if row[key] is not None:
                row[key] = process(row[key])
        return tuple(row[key] for key in order) if order else row

    batch = []
    for row in rows:
        batch.append(convert(row))
        if len(batch) == BATCH:
            connection.exec_driver_sql(str(compiled), batch)
            batch = []
    if batch:
        connection.exec_driver_sql(str(compiled), batch)


def _copy(connection: sa.Connection, table: sa.Table, rows: Iterator[dict]) -> None:
    """``COPY table FROM STDIN`` on the session's own connection and transaction
    (psycopg 3); values are what UTCDateTime would bind (aware UTC datetimes)."""
    from psycopg import sql

    keys = [column.key for column in table.columns]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, keys)))
    with connection.connection.driver_connection.cursor() as cursor, \
            cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(tuple(row[key] for key in keys))


def _after_bulk_load() -> None:
    """Move PostgreSQL's id sequences past the ids given here, then refresh the
    planner's statistics (PostgreSQL's autovacuum would do it within minutes)."""
    if db.engine.dialect.name == "postgresql":
        for table in (User.__table__, TaskList.__table__, Tag.__table__, Task.__table__):
            db.session.execute(sa.select(sa.func.setval(
                sa.func.pg_get_serial_sequence(table.name, "id"),
                sa.select(sa.func.max(table.c.id)).scalar_subquery())))
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("SET statement_timeout = 0")
            connection.exec_driver_sql("VACUUM ANALYZE")
            connection.exec_driver_sql("RESET statement_timeout")
    else:
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()


def issue_access_tokens(user_ids: list[int]) -> dict[int, str]:
    """``{user_id: access_token}``, each issued by the app's ``issue_tokens`` (so
    each has its ``issued_tokens`` row, and a refresh token is recorded too)."""
    tokens = {}
    for start in range(0, len(user_ids), 1000):
        chunk = user_ids[start:start + 1000]
        for user in db.session.scalars(sa.select(User).where(User.id.in_(chunk))):
            tokens[user.id] = issue_tokens(user)["access_token"]
        db.session.commit()
    return tokens


def inbox_id(user_id: int) -> int:
    """The id of seeded user ``user_id``'s Inbox (the only list: the user's id)."""
    return user_id


#: Changes in the delta of the ``sync`` scenario (the feed's page at limit=1000).
SYNC_DELTA = 1000


def sync_delta(user_id: int, changes: int = SYNC_DELTA) -> tuple[str, str]:
    """Two sync tokens of the user: one from before a delta of ``changes`` task
    changes (the user's first ``changes`` tasks rewritten in one transaction, as
    an offline client's batch would leave them) and one from after it (nothing
    changed since). Call after :func:`seed`; the caller's app gives the secret."""
    from taskapi.data_version import bump
    from taskapi.sync import feed

    users, tasks = User.__table__, Task.__table__
    bound = db.session.scalar(sa.select(users.c.data_version).where(users.c.id == user_id))
    bump(db.session, [user_id])
    ids = sa.select(tasks.c.id).where(tasks.c.user_id == user_id).order_by(tasks.c.id)
    db.session.execute(sa.update(tasks).where(tasks.c.id.in_(ids.limit(changes).scalar_subquery()))
                       .values(version=tasks.c.version + 1))
    db.session.commit()
    return (feed.encode_token(user_id, feed.Position(bound, feed.END, 0, 0)),
            feed.encode_token(user_id, feed.Position(bound + 1, feed.END, 0, 0)))


def cursor_at(user_id: int, sort_text: str, position: int, list_id: int | None = None) -> str:
    """The cursor of the page that starts after the first ``position`` tasks of the
    user's tasks (of list ``list_id`` when given) in the order ``sort_text``
    (``position`` >= 1), as the API would put in ``X-Next-Cursor``."""
    sort = parse_sort(sort_text)
    args = {"sort": sort} if list_id is None else {"sort": sort, "list_id": list_id}
    page = queries.list_tasks(user_id, args, zone="UTC", limit=1, offset=position - 1)
    return cursors.encode_cursor(user_id, sort, page.next_values)
