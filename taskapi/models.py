"""SQLAlchemy 2 typed models: users, their tasks, and issued JWT records.

All datetimes are timezone-aware UTC in Python and stored as UTC
(:class:`UTCDateTime`), whatever the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from taskapi.extensions import db

PRIORITIES = ("low", "medium", "high")
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

    tasks: Mapped[list[Task]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email!r}>"


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
    __table_args__ = (sa.UniqueConstraint("user_id", "name_key", name="uq_tags_user_id_name_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(50))
    name_key: Mapped[str] = mapped_column(sa.String(50))

    def __repr__(self) -> str:
        return f"<Tag {self.name!r} of user {self.user_id}>"


class Task(db.Model):
    """A user's task. ``completed_at`` follows ``completed`` (see :meth:`apply`)."""

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
sa.event.listen(Task.__table__, "before_drop",
                sa.DDL("DROP TABLE IF EXISTS tasks_fts").execute_if(dialect="sqlite"))
# gin_trgm_ops comes with the extension; trusted since PostgreSQL 13, so the
# database owner may create it.
sa.event.listen(Task.__table__, "before_create",
                sa.DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(
                    dialect="postgresql"))


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
