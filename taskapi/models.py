"""SQLAlchemy 2 typed models: users, their lists and tasks, and issued JWT records.

All datetimes are timezone-aware UTC in Python and stored as UTC
(:class:`UTCDateTime`), whatever the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fractional_indexing import generate_key_between
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session, relationship

from taskapi.extensions import db

PRIORITIES = ("low", "medium", "high")
#: Levels of tasks: a top-level task, its subtasks and theirs.
MAX_DEPTH = 3
TOKEN_TYPES = ("access", "refresh")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """``DateTime(timezone=True)`` that always stores and returns aware UTC.

    SQLite keeps no offset, so values are converted to UTC on the way in and the
    UTC zone is attached on the way out. Naive datetimes are refused: they are a
    programming error, never a user input (schemas reject them with a 422).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class User(db.Model):
    """An account. ``email`` is stored trimmed and lower-cased."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(255), unique=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC", server_default="UTC")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    #: Incremented in the same transaction as every write to the user's tasks or
    #: tags (:mod:`taskapi.data_version`): the source of list ETags and the key of
    #: cached list pages. Never decreases.
    data_version: Mapped[int] = mapped_column(default=0, server_default="0")
    #: The change feed holds no tombstone of this user's at or below this
    #: sequence any more (pruned, :mod:`taskapi.sync.feed`): an older sync token
    #: is answered 410 Gone.
    sync_horizon: Mapped[int] = mapped_column(default=0, server_default="0")

    tasks: Mapped[list[Task]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email!r}>"


def SYNC_SEQ() -> Mapped[int]:  # noqa: N802 (a column factory, read like a type)
    """The ``sync_seq`` column: the ``data_version`` of the transaction that last
    wrote the row, set by the database's triggers (:mod:`taskapi.sync.models`),
    never by this code; the row's place in the change feed."""
    return mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                         server_default="0")


task_tags = sa.Table(
    "task_tags",
    db.Model.metadata,
    sa.Column("task_id", sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag_id", sa.ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    # A tag's tasks in task order, covering: the tag filter's GROUP BY and tag
    # deletion's batches read the index alone.
    sa.Index("ix_task_tags_tag_id_task_id", "tag_id", "task_id"),
)


class Tag(db.Model):
    """A user's label. Unique per user case-insensitively (``name_key``).

    ``name`` keeps the case first used; ``name_key`` is ``name.lower()``,
    computed in Python so SQLite and PostgreSQL agree on non-ASCII letters.
    """

    __tablename__ = "tags"
    __table_args__ = (sa.UniqueConstraint("user_id", "name_key", name="uq_tags_user_id_name_key"),
                      sa.Index("ix_tags_user_id_sync_seq", "user_id", "sync_seq", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(50))
    name_key: Mapped[str] = mapped_column(sa.String(50))
    sync_seq: Mapped[int] = SYNC_SEQ()

    def __repr__(self) -> str:
        return f"<Tag {self.name!r} of user {self.user_id}>"


#: Manual order keys (fractional-indexing strings) compare byte by byte: base-62
#: digits in ASCII order. PostgreSQL compares text by the column's collation,
#: which in most locales is not byte order ("a" < "B"), so the column says "C";
#: SQLite's default BINARY collation is byte order already.
POSITION_LENGTH = 255
Position = sa.String(POSITION_LENGTH).with_variant(
    sa.String(POSITION_LENGTH, collation="C"), "postgresql")
INBOX_NAME = "Inbox"


class TaskList(db.Model):
    """A user's list of tasks (a project). Unique per user by ``name_key``
    (``name.lower()``, as for tags). Exactly one list per user is the Inbox
    (``is_inbox``; a partial unique index), created with the user
    (:func:`_create_inbox`); new tasks go there unless they name a list."""

    __tablename__ = "lists"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "name_key", name="uq_lists_user_id_name_key"),
        sa.Index("ix_lists_user_id_position", "user_id", "position", "id"),
        sa.Index("ix_lists_user_id_sync_seq", "user_id", "sync_seq", "id"),
        sa.Index("uq_lists_user_id_inbox", "user_id", unique=True,
                 sqlite_where=sa.text("is_inbox"), postgresql_where=sa.text("is_inbox")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(100))
    name_key: Mapped[str] = mapped_column(sa.String(100))
    color: Mapped[str | None] = mapped_column(sa.String(7))
    position: Mapped[str] = mapped_column(Position)
    archived: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    is_inbox: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    #: The list's tasks (subtasks included) and the open ones among them, kept
    #: by the database's triggers (:data:`LIST_COUNT_DDL`), whatever writes the
    #: tasks: the ORM, bulk statements or SQL typed in a shell. Read-only here.
    task_count: Mapped[int] = mapped_column(default=0, server_default="0")
    open_count: Mapped[int] = mapped_column(default=0, server_default="0")
    #: The ETag's source, as for tasks.
    version: Mapped[int] = mapped_column(server_default="1")
    sync_seq: Mapped[int] = SYNC_SEQ()
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy API)

    def __repr__(self) -> str:
        return f"<TaskList {self.id} {self.name!r} of user {self.user_id}>"


class Task(db.Model):
    """A user's task. ``completed_at`` follows ``completed`` (see :meth:`apply`).

    Every task is in one of its user's lists (``list_id``) and, when it is a
    subtask, under a parent task of the same user and list (``parent_id``, at
    most :data:`MAX_DEPTH` levels). ``position`` orders it among its siblings
    (same list, same parent). ``subtask_count`` and ``open_subtask_count`` count
    its direct children; :mod:`taskapi.tasks.placement` keeps them current.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        sa.Index("ix_tasks_user_id_id", "user_id", "id"),
        # The default order (newest first) and the common filters, per user.
        sa.Index("ix_tasks_user_id_created_at_id", "user_id", "created_at", "id"),
        sa.Index("ix_tasks_user_id_completed_created_at", "user_id", "completed", "created_at"),
        sa.Index("ix_tasks_user_id_due_at", "user_id", "due_at"),
        # sort=due_at: tasks without a due date last (taskapi.tasks.filters.DUE_MISSING).
        sa.Index("ix_tasks_user_id_due_order", "user_id", sa.text("(due_at IS NULL)"),
                 "due_at", "id"),
        # A list in its manual order (list_id=...&sort=position, cursors included).
        sa.Index("ix_tasks_user_id_list_id_position", "user_id", "list_id", "position", "id"),
        # A task's children in order (parent_id=..., the counts, the cascade of
        # the parent_id foreign key); top-level tasks of a list (parent_id IS
        # NULL) are read from the index above.
        sa.Index("ix_tasks_parent_id_position", "parent_id", "position", "id"),
        # The change feed (taskapi.sync.feed): a user's rows in sequence order.
        sa.Index("ix_tasks_user_id_sync_seq", "user_id", "sync_seq", "id"),
        sa.CheckConstraint(
            "priority IN ('low', 'medium', 'high')", name="priority_valid"
        ),
        # Text search (q) on PostgreSQL: pg_trgm GIN indexes that answer
        # lower(column) LIKE '%text%' (https://www.postgresql.org/docs/current/pgtrgm.html).
        # SQLite has the FTS5 table of TASK_SEARCH_DDL instead.
        sa.Index("ix_tasks_title_trgm", sa.text("lower(title) gin_trgm_ops"),
                 postgresql_using="gin").ddl_if(dialect="postgresql"),
        sa.Index("ix_tasks_description_trgm", sa.text("lower(description) gin_trgm_ops"),
                 postgresql_using="gin").ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    list_id: Mapped[int] = mapped_column(sa.ForeignKey("lists.id"))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tasks.id", ondelete="CASCADE"))
    position: Mapped[str] = mapped_column(Position)
    subtask_count: Mapped[int] = mapped_column(default=0, server_default="0")
    open_subtask_count: Mapped[int] = mapped_column(default=0, server_default="0")
    title: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str | None] = mapped_column(sa.String(1000))
    completed: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    priority: Mapped[str | None] = mapped_column(sa.String(6))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    #: Incremented by every UPDATE (SQLAlchemy's version counter): the ETag's
    #: source, and an UPDATE of a stale copy fails instead of overwriting.
    version: Mapped[int] = mapped_column(server_default="1")
    sync_seq: Mapped[int] = SYNC_SEQ()
    #: An RFC 5545 RRULE value (:mod:`taskapi.tasks.recurrence`), None for a task
    #: that does not recur; ``recurrence_from`` is ``due`` or ``completion``,
    #: ``recurrence_occurrence`` which occurrence ``due_at`` is (1-based, for
    #: ``COUNT``), and ``next_due_at`` the occurrence after ``due_at`` in the
    #: user's time zone (None when the rule ends there), kept by
    #: :mod:`taskapi.tasks.service`.
    recurrence_rule: Mapped[str | None] = mapped_column(sa.String(500))
    recurrence_from: Mapped[str | None] = mapped_column(sa.String(10))
    recurrence_occurrence: Mapped[int | None] = mapped_column()
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy API)

    user: Mapped[User] = relationship(back_populates="tasks")
    tags: Mapped[list[Tag]] = relationship(
        secondary=task_tags, lazy="selectin", order_by=Tag.name_key
    )

    def apply(self, changes: dict[str, Any], now: datetime | None = None) -> None:
        """Set the writable fields present in ``changes`` (already validated).

        ``completed_at`` is set when ``completed`` becomes true and cleared when it
        becomes false; ``updated_at`` becomes ``now`` (default: the current UTC
        time) on every call, even a no-op one.
        """
        now = now or utcnow()
        for name in ("title", "description", "priority", "due_at"):
            if name in changes:
                setattr(self, name, changes[name])
        if "completed" in changes:
            self.set_completed(changes["completed"], now)
        if "tags" in changes:
            # Same order as a load from the database (relationship order_by).
            self.tags = sorted(changes["tags"], key=lambda tag: tag.name_key)
        self.updated_at = now

    @property
    def recurrence(self) -> dict | None:
        """``{rule, from_, text}`` for the task's JSON, None when it does not recur."""
        from taskapi.tasks.recurrence import as_json

        return as_json(self.recurrence_rule, self.recurrence_from)

    @property
    def tag_names(self) -> list[str]:
        """The task's tag names, in the case each tag was first used."""
        return [tag.name for tag in self.tags]

    def set_completed(self, completed: bool, now: datetime | None = None) -> None:
        """Mark done or not done, keeping ``completed_at`` consistent."""
        if completed and not self.completed:
            self.completed_at = now or utcnow()
        elif not completed:
            self.completed_at = None
        self.completed = completed

    def __repr__(self) -> str:
        return f"<Task {self.id} of user {self.user_id}>"


_LISTS = TaskList.__table__
_NEW_POSITIONS = "taskapi.models.new_positions"


@sa.event.listens_for(User, "after_insert")
def _create_inbox(_mapper, connection: sa.Connection, user: User) -> None:
    """Every account has its Inbox from the start (whatever creates the account:
    registration, ``flask users create``, ``flask shell``)."""
    now = utcnow()
    connection.execute(_LISTS.insert().values(
        user_id=user.id, name=INBOX_NAME, name_key=INBOX_NAME.lower(),
        position=generate_key_between(None, None), is_inbox=True,
        created_at=now, updated_at=now))


def inbox_id(connection: sa.Connection, user_id: int) -> int | None:
    """The id of the user's Inbox list (None only for a user being deleted)."""
    return connection.scalar(sa.select(_LISTS.c.id).where(
        _LISTS.c.user_id == user_id, _LISTS.c.is_inbox.is_(True)))


def sibling_filter(user_id: int | sa.ColumnElement[int], list_id: int | sa.ColumnElement[int],
                   parent_id: int | None) -> sa.ColumnElement[bool]:
    """The ``WHERE`` of the user's tasks of ``list_id`` under ``parent_id`` (None:
    the top level; the ids may be bind parameters or columns). ``user_id`` leads
    the index ``(user_id, list_id, position, id)`` that serves the top level;
    without it, ``parent_id IS NULL`` would read every user's top-level tasks.
    Children are found by ``(parent_id, position, id)``."""
    tasks = Task.__table__
    if parent_id is None:
        return sa.and_(tasks.c.user_id == user_id, tasks.c.list_id == list_id,
                       tasks.c.parent_id.is_(None))
    return sa.and_(tasks.c.parent_id == parent_id, tasks.c.user_id == user_id)


def last_sibling_position(connection: sa.Connection, user_id: int, list_id: int,
                          parent_id: int | None) -> str | None:
    """The greatest ``position`` among the user's tasks of ``list_id`` under
    ``parent_id`` (None: top-level), or None when there are none."""
    return connection.scalar(sa.select(sa.func.max(Task.__table__.c.position))
                             .where(sibling_filter(user_id, list_id, parent_id)))


@sa.event.listens_for(Task, "before_insert")
def _place_new_task(_mapper, connection: sa.Connection, task: Task) -> None:
    """A task inserted without a list goes to its user's Inbox, and one without a
    position goes last among its siblings. Positions handed out within one flush
    are remembered (the rows of a flush are inserted together, after this runs
    for all of them), so tasks added together keep the order they were added in."""
    if task.list_id is None:
        task.list_id = inbox_id(connection, task.user_id)
    if task.position is None:
        session = object_session(task)
        given = session.info.setdefault(_NEW_POSITIONS, {}) if session is not None else {}
        group = (task.list_id, task.parent_id)
        last = given[group] if group in given else last_sibling_position(
            connection, task.user_id, task.list_id, task.parent_id)
        task.position = given[group] = generate_key_between(last, None)


@sa.event.listens_for(Session, "after_flush")
@sa.event.listens_for(Session, "after_soft_rollback")
def _forget_new_positions(session: Session, *_args) -> None:
    session.info.pop(_NEW_POSITIONS, None)


#: SQLite's text index of task titles and descriptions: an FTS5 table with the
#: trigram tokenizer (case-insensitive substrings of 3 or more characters;
#: https://www.sqlite.org/fts5.html#the_trigram_tokenizer), an external-content
#: table over ``tasks`` kept in sync by triggers. The same statements are in the
#: migration that introduced it (a migration is a frozen copy).
TASK_SEARCH_TABLE = "tasks_fts"
TASK_SEARCH_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS tasks_fts USING fts5("
    "title, description, content='tasks', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS tasks_fts_insert AFTER INSERT ON tasks BEGIN "
    "INSERT INTO tasks_fts(rowid, title, description) "
    "VALUES (new.id, new.title, new.description); END",
    "CREATE TRIGGER IF NOT EXISTS tasks_fts_delete AFTER DELETE ON tasks BEGIN "
    "INSERT INTO tasks_fts(tasks_fts, rowid, title, description) "
    "VALUES ('delete', old.id, old.title, old.description); END",
    "CREATE TRIGGER IF NOT EXISTS tasks_fts_update AFTER UPDATE OF title, description "
    "ON tasks BEGIN "
    "INSERT INTO tasks_fts(tasks_fts, rowid, title, description) "
    "VALUES ('delete', old.id, old.title, old.description); "
    "INSERT INTO tasks_fts(rowid, title, description) "
    "VALUES (new.id, new.title, new.description); END",
)


def is_search_table(name: str) -> bool:
    """Whether ``name`` is the FTS5 table or one of its shadow tables (not models:
    schema comparisons skip them)."""
    return name == TASK_SEARCH_TABLE or name.startswith(TASK_SEARCH_TABLE + "_")


for _statement in TASK_SEARCH_DDL:
    sa.event.listen(Task.__table__, "after_create",
                    sa.DDL(_statement).execute_if(dialect="sqlite"))
# The triggers first: with the parent_id foreign key, SQLite's DROP TABLE tasks
# compiles a cascading delete on tasks, which would still name tasks_fts.
for _statement in ("DROP TRIGGER IF EXISTS tasks_fts_insert",
                   "DROP TRIGGER IF EXISTS tasks_fts_delete",
                   "DROP TRIGGER IF EXISTS tasks_fts_update", "DROP TABLE IF EXISTS tasks_fts",
                   "DROP TRIGGER IF EXISTS tasks_list_count_insert",
                   "DROP TRIGGER IF EXISTS tasks_list_count_delete",
                   "DROP TRIGGER IF EXISTS tasks_list_count_update"):
    sa.event.listen(Task.__table__, "before_drop",
                    sa.DDL(_statement).execute_if(dialect="sqlite"))
#: Triggers that keep ``lists.task_count`` and ``lists.open_count`` equal to the
#: count of the list's tasks and of its open ones, updated in the writing
#: transaction for every task inserted, deleted, moved to another list or
#: (re)opened (SQLite: one row update per task; PostgreSQL: one per statement
#: and list for inserts and deletes, from the transition tables, one per task
#: for moves and completions), so that a list page's total and ``GET /lists`` read one row
#: instead of counting the list's tasks. Every write path of a user's tasks
#: already holds the user's row lock (:mod:`taskapi.data_version`), so the list
#: row adds no contention. The migration that introduced them has frozen copies;
#: a migration that rebuilds ``tasks`` on SQLite (``batch_alter_table``) drops
#: them and must create them again.
LIST_COUNT_DDL = {
    "sqlite": (
        "CREATE TRIGGER IF NOT EXISTS tasks_list_count_insert AFTER INSERT ON tasks BEGIN "
        "UPDATE lists SET task_count = task_count + 1, "
        "open_count = open_count + (NOT new.completed) WHERE id = new.list_id; END",
        "CREATE TRIGGER IF NOT EXISTS tasks_list_count_delete AFTER DELETE ON tasks BEGIN "
        "UPDATE lists SET task_count = task_count - 1, "
        "open_count = open_count - (NOT old.completed) WHERE id = old.list_id; END",
        "CREATE TRIGGER IF NOT EXISTS tasks_list_count_update "
        "AFTER UPDATE OF list_id, completed ON tasks "
        "WHEN old.list_id IS NOT new.list_id OR old.completed IS NOT new.completed BEGIN "
        "UPDATE lists SET task_count = task_count - 1, "
        "open_count = open_count - (NOT old.completed) WHERE id = old.list_id; "
        "UPDATE lists SET task_count = task_count + 1, "
        "open_count = open_count + (NOT new.completed) WHERE id = new.list_id; END",
    ),
    "postgresql": (
        # Inserts and deletes: one UPDATE per statement and list, from the
        # statement's transition table (a bulk insert or a batch deletion moves
        # each list row once, not once per task).
        "CREATE OR REPLACE FUNCTION tasks_list_count_insert() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "UPDATE lists SET task_count = lists.task_count + c.n, "
        "open_count = lists.open_count + c.open FROM (SELECT list_id, count(*) AS n, "
        "count(*) FILTER (WHERE NOT completed) AS open FROM new_rows GROUP BY list_id) AS c "
        "WHERE lists.id = c.list_id; RETURN NULL; END $$",
        "CREATE OR REPLACE FUNCTION tasks_list_count_delete() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "UPDATE lists SET task_count = lists.task_count - c.n, "
        "open_count = lists.open_count - c.open FROM (SELECT list_id, count(*) AS n, "
        "count(*) FILTER (WHERE NOT completed) AS open FROM old_rows GROUP BY list_id) AS c "
        "WHERE lists.id = c.list_id; RETURN NULL; END $$",
        "CREATE OR REPLACE FUNCTION tasks_list_count_update() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "UPDATE lists SET task_count = task_count - 1, "
        "open_count = open_count - (NOT OLD.completed)::int WHERE id = OLD.list_id; "
        "UPDATE lists SET task_count = task_count + 1, "
        "open_count = open_count + (NOT NEW.completed)::int WHERE id = NEW.list_id; "
        "RETURN NULL; END $$",
        "CREATE TRIGGER tasks_list_count_insert AFTER INSERT ON tasks "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION tasks_list_count_insert()",
        "CREATE TRIGGER tasks_list_count_delete AFTER DELETE ON tasks "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION tasks_list_count_delete()",
        # Moves and (re)openings: per row, and only when list_id or completed
        # changed (a transition table cannot go with a column list).
        "CREATE TRIGGER tasks_list_count_update AFTER UPDATE OF list_id, completed ON tasks "
        "FOR EACH ROW WHEN (OLD.list_id IS DISTINCT FROM NEW.list_id "
        "OR OLD.completed IS DISTINCT FROM NEW.completed) "
        "EXECUTE FUNCTION tasks_list_count_update()",
    ),
}
for _dialect, _statements in LIST_COUNT_DDL.items():
    for _statement in _statements:
        sa.event.listen(Task.__table__, "after_create",
                        sa.DDL(_statement).execute_if(dialect=_dialect))
# gin_trgm_ops comes with the extension; trusted since PostgreSQL 13, so the
# database owner may create it.
sa.event.listen(Task.__table__, "before_create",
                sa.DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(
                    dialect="postgresql"))


class TaskCompletion(db.Model):
    """One completion of a recurring task: the occurrence ``due_at`` was completed
    at ``completed_at``; the task moved on to ``next_due_at`` (None: the rule had
    no more occurrences and the task stayed completed). Deleted with the task."""

    __tablename__ = "task_completions"
    __table_args__ = (
        sa.Index("ix_task_completions_task_id_completed_at", "task_id", "completed_at", "id"),
        sa.Index("ix_task_completions_user_id_completed_at", "user_id", "completed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(sa.ForeignKey("tasks.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<TaskCompletion {self.id} of task {self.task_id}>"


class IssuedToken(db.Model):
    """One JWT issued to a user, by ``jti``; checked on every authenticated request.

    ``revoked_at`` is set on logout, rotation (``revoke_reason = "rotated"``),
    reuse detection and account changes. Tokens issued together, and those
    refreshed from them, share a ``session_id``. Rows are pruned once ``expires_at``
    has passed: the JWT ``exp`` check rejects such tokens by itself.
    """

    __tablename__ = "issued_tokens"
    __table_args__ = (
        sa.CheckConstraint("token_type IN ('access', 'refresh')", name="token_type_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    jti: Mapped[str] = mapped_column(sa.String(36), unique=True)
    token_type: Mapped[str] = mapped_column(sa.String(7))
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoke_reason: Mapped[str | None] = mapped_column(sa.String(20))
    #: The session (token family) the token belongs to: one login or registration
    #: and every pair refreshed from it. Logout ends the whole session.
    session_id: Mapped[str] = mapped_column(sa.String(36), index=True)

    def __repr__(self) -> str:
        return f"<IssuedToken {self.token_type} {self.jti} user {self.user_id}>"


# The change feed's and idempotency's tables and triggers, and the built-in
# plugin pat's table (after the tables they name, on the same metadata).
from taskapi.plugins.pat import models as _pat_models  # noqa: E402, F401
from taskapi.sync import models as _sync_models  # noqa: E402, F401
