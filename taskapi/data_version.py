"""The per-user data version: a counter that moves with every write to a user's data.

``users.data_version`` is incremented in the same transaction as any change to
the user's tasks, tags or lists, so a reader that sees version ``v`` sees at least the
data committed with ``v``. It is read with the token check (one query:
:mod:`taskapi.auth.tokens`), which makes it free on every authenticated request,
and it keys what depends on "nothing of this user changed": list ETags
(``If-None-Match`` answered with a 304 without reading a task) and the rendered
list pages of :mod:`taskapi.tasks.page_cache`.

ORM writes are caught automatically: a ``before_flush`` listener on the session
bumps the version of every user whose :class:`~taskapi.models.Task` or
:class:`~taskapi.models.Tag` rows are new, changed or deleted in the flush, once
per transaction (a reader only ever sees committed versions, so one step per
transaction is enough). Bulk statements (``session.execute(update(Task)...)``)
bypass the flush: their callers call :func:`bump` themselves.

On PostgreSQL the ``UPDATE users`` takes the user's row lock until commit, so
two writes of one user commit one after the other. Every write path takes it
**first**, before it locks or reads any row it will change (a task ``FOR
UPDATE`` through :func:`taskapi.tasks.queries.get_task_or_404`, the parents
and subtasks of :mod:`taskapi.tasks.placement`, a list, the tags), and then
the other rows in id order. A user's data is only ever written by that user's
requests (and by the CLI, which follows the same rule), so the user row is a
per-user mutex: two writers can never hold each other's next lock, and no
deadlock can form however many task rows a write touches (moves, list and tag
deletions, parent completion). The same lock keeps the tag, task and list
quotas exact and stops a tag being linked from being removed as unused at the
same moment. Writes made
outside taskapi (raw SQL in ``flask shell``) must bump the version too, or list
ETags and cached pages miss them.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from taskapi.models import Tag, Task, TaskList, User

_BUMPED = "taskapi.data_version.bumped"
_USERS = User.__table__
#: Built once: SQLAlchemy's compiled cache serves it.
_BUMP = (sa.update(_USERS)
         .where(_USERS.c.id.in_(sa.bindparam("user_ids", expanding=True)))
         .values(data_version=_USERS.c.data_version + 1))


def bump(session: Session, user_ids: Iterable[int]) -> None:
    """Increment ``data_version`` of ``user_ids`` in the session's transaction,
    unless this transaction already did (idempotent until commit or rollback)."""
    done = session.info.setdefault(_BUMPED, set())
    pending = sorted({uid for uid in user_ids if uid is not None} - done)
    if not pending:
        return
    session.connection().execute(_BUMP, {"user_ids": pending})
    done.update(pending)


def _touched_users(session: Session) -> set[int]:
    users: set[int] = set()
    for collection in (session.new, session.dirty, session.deleted):
        for obj in collection:
            if isinstance(obj, (Task, Tag, TaskList)):
                users.add(obj.user_id)
    return users


def _before_flush(session: Session, _context, _instances) -> None:
    users = _touched_users(session)
    if users:
        bump(session, users)


def _forget(session: Session, *_args) -> None:
    session.info.pop(_BUMPED, None)


def init_data_version(session_factory) -> None:
    """Install the listeners on ``session_factory`` (Flask-SQLAlchemy's scoped
    session class or a ``sessionmaker``); called once per process."""
    if event.contains(session_factory, "before_flush", _before_flush):
        return
    event.listen(session_factory, "before_flush", _before_flush)
    for name in ("after_commit", "after_rollback", "after_soft_rollback"):
        event.listen(session_factory, name, _forget)
