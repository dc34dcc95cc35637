"""Account deletion: a user's tasks, tags, lists, token records and the user row, in batches.

Used by ``flask users delete``; it works the same inside a request, should the
API offer it one day.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa

from taskapi.data_version import bump
from taskapi.database import end_batch
from taskapi.extensions import db
from taskapi.models import IssuedToken, Tag, Task, TaskList, User
from taskapi.tasks.placement import subtree

log = logging.getLogger("taskapi.auth")

#: Tasks deleted per transaction (their ``task_tags`` rows go with them, by the
#: foreign key's ON DELETE CASCADE): other writers wait for one batch at most.
BATCH_SIZE = 1000

USERS, TASKS, TAGS, LISTS, TOKENS = (User.__table__, Task.__table__, Tag.__table__,
                                     TaskList.__table__, IssuedToken.__table__)


@dataclass(frozen=True)
class DeletedAccount:
    """What :func:`delete_account` removed: row counts."""

    user: int
    tasks: int
    tags: int
    lists: int
    tokens: int


def delete_account(user_id: int, *, batch_size: int | None = None) -> DeletedAccount:
    """Delete the user ``user_id`` and everything it owns; returns the counts
    (``user`` is 0 when there was no such user). Lock order as every write
    path: the user row, then its task rows (:mod:`taskapi.data_version`).

    Call it with no transaction open: it commits as it goes, in this order.

    1. The account is deactivated (``is_active`` false) and committed: from then
       on its tokens are refused (401) and it cannot log in, so none of its
       requests writes while the rest goes.
    2. Its tasks, ``batch_size`` top-level tasks at a time (default
       :data:`BATCH_SIZE`, lowest ids first) with all their subtasks, one
       transaction each, the user's ``data_version`` moved in each; between
       batches :func:`taskapi.database.end_batch` lets other writers have the
       lock (on SQLite, the whole database's). ``tasks`` counts subtasks too.
    3. Once no task is left: its tags, its lists, its token records, the user row.

    Every transaction starts with a write, so on SQLite it waits for the lock
    (``busy_timeout``) instead of failing when another process wrote first. If
    the deletion stops halfway (the process dies, the database goes away), the
    batches done stay done and the account stays deactivated: running it again
    finishes the job.
    """
    size = batch_size or BATCH_SIZE
    found = db.session.execute(
        sa.update(USERS).where(USERS.c.id == user_id).values(is_active=False)).rowcount
    end_batch()
    tasks = 0
    mine = TASKS.c.user_id == user_id
    while True:
        bump(db.session, [user_id])  # the user row first, then its task rows
        roots = list(db.session.scalars(
            sa.select(TASKS.c.id).where(mine, TASKS.c.parent_id.is_(None))
            .order_by(TASKS.c.id).limit(size).with_for_update()))
        ids = [i for level in subtree(roots) for i in level]
        if ids:
            # Naming the subtasks too (the parent_id foreign key's ON DELETE
            # CASCADE would take them) counts them whatever order rows go in.
            db.session.execute(sa.delete(TASKS).where(TASKS.c.id.in_(ids)))
            tasks += len(ids)
        if len(roots) < size:
            break
        end_batch()
    # Subtasks whose parent went missing (taskapi never writes those).
    tasks += db.session.execute(sa.delete(TASKS).where(mine)).rowcount
    tags = db.session.execute(sa.delete(TAGS).where(TAGS.c.user_id == user_id)).rowcount
    lists = db.session.execute(sa.delete(LISTS).where(LISTS.c.user_id == user_id)).rowcount
    tokens = db.session.execute(
        sa.delete(TOKENS).where(TOKENS.c.user_id == user_id)).rowcount
    db.session.execute(sa.delete(USERS).where(USERS.c.id == user_id))
    db.session.commit()
    log.info("account deleted: user_id=%s tasks=%s tags=%s lists=%s tokens=%s",
             user_id, tasks, tags, lists, tokens)
    return DeletedAccount(user=found, tasks=tasks, tags=tags, lists=lists, tokens=tokens)

