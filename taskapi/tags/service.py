"""Tag writes: names resolved to rows (an upsert), the tag quota, unused tags
removed, and a tag deleted in batches.

Concurrency. Every write that reads or changes a user's tags first moves the
user's ``data_version`` (:func:`taskapi.data_version.bump`, idempotent within a
transaction). On PostgreSQL that ``UPDATE users`` takes the user's row lock
until commit, so the tag writes of one user run one at a time, and each of the
statements that follow it sees what the previous writer committed (READ
COMMITTED takes a snapshot per statement): a tag that another request just
created is found, not inserted twice; a tag just linked to a task is not
removed as unused; the quota counts every committed tag. Lock order: task
rows, then the user row (as in :mod:`taskapi.data_version`), then tag rows. On
SQLite writes are serialised by the database lock anyway.

The insert of new tags is ``INSERT ... ON CONFLICT DO NOTHING`` followed by a
select, so a writer that does not follow the order above (raw SQL, a future
code path) still cannot turn a concurrent create of the same tag into a
unique-constraint error (a 409).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import current_app
from flask_smorest import abort
from sqlalchemy.dialects import postgresql, sqlite

from taskapi.data_version import bump
from taskapi.database import end_batch
from taskapi.extensions import db
from taskapi.models import Tag, Task, task_tags, utcnow
from taskapi.quotas import count_up_to
from taskapi.tags.queries import tag_key

log = logging.getLogger("taskapi.tasks")

TAGS, TASKS = Tag.__table__, Task.__table__
#: Tasks handled per transaction when a tag is deleted: other writers wait for
#: one batch at most, not for the whole tag.
BATCH_SIZE = 1000
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def resolve_tags(user_id: int, names: list[str]) -> list[Tag]:
    """The user's :class:`~taskapi.models.Tag` rows for ``names`` (validated
    ``TagName`` values), creating the missing ones; in the order of ``names``,
    duplicates collapsed.

    Names match case-insensitively (:func:`~taskapi.tags.queries.tag_key`); a
    new tag keeps the case given here, an existing one the case it was first
    used with. Missing tags are inserted with ``INSERT ... ON CONFLICT (user_id,
    name_key) DO NOTHING`` and then read back, so concurrent requests creating
    the same new tag all succeed and share one row (see the module doc).

    Raises a 422 naming ``tags`` when the new tags would take the user past
    ``MAX_TAGS_PER_USER`` (:func:`check_tag_quota`). Runs in the caller's
    transaction; commits nothing.
    """
    wanted: dict[str, str] = {}
    for name in names:
        wanted.setdefault(tag_key(name), name)
    if not wanted:
        return []
    bump(db.session, [user_id])  # the user's row lock before any tag is read
    found = _tags_by_key(user_id, list(wanted))
    missing = [key for key in wanted if key not in found]
    if missing:
        check_tag_quota(user_id, len(missing))
        insert = _INSERTS[db.session.get_bind().dialect.name]
        db.session.execute(
            insert(TAGS)
            .values([{"user_id": user_id, "name": wanted[key], "name_key": key}
                     for key in missing])
            .on_conflict_do_nothing(index_elements=["user_id", "name_key"])
        )
        found.update(_tags_by_key(user_id, missing))
    return [found[key] for key in wanted]


def _tags_by_key(user_id: int, keys: list[str]) -> dict[str, Tag]:
    rows = db.session.scalars(
        sa.select(Tag).where(Tag.user_id == user_id, Tag.name_key.in_(keys)))
    return {tag.name_key: tag for tag in rows}


def check_tag_quota(user_id: int, new: int) -> None:
    """422 (``errors.json.tags``) unless the user can have ``new`` more tags
    within ``MAX_TAGS_PER_USER``; existing tags can always be reused.

    The count stops at the quota (``SELECT count(*) FROM (SELECT 1 FROM tags
    WHERE user_id = ? LIMIT quota)``): a few index entries for a normal user, at
    most ``MAX_TAGS_PER_USER`` for one at the limit. Tags that the same write
    frees (dropped from their last task) still count: swapping a task's only tag
    for a new one at the limit is a 422. Exact under concurrency when
    the caller holds the user's row lock (:func:`resolve_tags` takes it); on
    SQLite writes are serialised anyway.
    """
    quota = current_app.config["MAX_TAGS_PER_USER"]
    count = count_up_to(TAGS, user_id, quota)
    if count + new <= quota:
        return
    if count >= quota:
        message = (f"You already have the maximum of {quota:,} tags; use existing tags "
                   "or delete some.")
    else:
        message = (f"This would create {new} new tags; you have {count:,} of at most "
                   f"{quota:,}.")
    abort(422, message="Too many tags.", errors={"json": {"tags": [message]}})


def remove_unused_tags(user_id: int, tag_ids: set[int] | list[int]) -> int:
    """Delete those of the user's tags ``tag_ids`` that no task carries any more
    (the tags a task just dropped or had when it was deleted); the number deleted.

    One statement restricted to those ids: ``DELETE FROM tags WHERE user_id = ?
    AND id IN (...) AND NOT EXISTS (SELECT 1 FROM task_tags WHERE tag_id =
    tags.id)``. Call it after the flush that removed the task's links; it runs
    in the caller's transaction, after the user's row lock (bumped here if the
    flush has not), so a tag another request is linking is never removed.
    """
    ids = sorted(set(tag_ids))
    if not ids:
        return 0
    bump(db.session, [user_id])
    result = db.session.execute(
        sa.delete(TAGS).where(
            TAGS.c.user_id == user_id,
            TAGS.c.id.in_(ids),
            ~sa.exists().where(task_tags.c.tag_id == TAGS.c.id),
        )
    )
    return result.rowcount


def delete_tag_or_404(user_id: int, name: str, *, batch_size: int | None = None) -> int:
    """Remove the user's tag ``name`` (case-insensitive) from all their tasks and
    delete it; returns how many tasks lost it. 404 when the user has no such tag.

    Large tags go in batches of ``batch_size`` tasks (default :data:`BATCH_SIZE`),
    whichever the ``task_tags.tag_id`` index gives first, one transaction each:
    remove the batch's ``task_tags`` rows, move those tasks' ``updated_at`` and
    ``version`` (their ETags change), bump the user's ``data_version``, commit
    and pause (:func:`taskapi.database.end_batch`) so that other writers, on
    SQLite every other writer, get the lock between batches. The tag row is
    deleted in the last batch, once (under the user's row lock) no task carries
    it, including tasks given the tag while the deletion ran.

    Meanwhile a reader sees the tag on fewer tasks after each batch, ``GET
    /api/v1/tags`` lists it with a falling ``task_count``, and each batch moves
    the user's list ETags. If the request dies halfway, the batches already
    committed stay done (those tasks no longer carry the tag, their versions
    moved) and the tag is still there: deleting it again finishes the job.
    """
    size = batch_size or BATCH_SIZE
    tag_id = db.session.scalar(
        sa.select(TAGS.c.id).where(TAGS.c.user_id == user_id,
                                   TAGS.c.name_key == tag_key(name.strip())))
    if tag_id is None:
        abort(404, message="Tag not found.")
    lost = 0
    while True:
        # The user row first, the lock order of every write path; then any
        # `size` links (the tag_id index stops there: no sort of all the tag's
        # links), their task rows locked in id order.
        bump(db.session, [user_id])  # a bulk UPDATE bypasses the flush listener too
        links = sa.select(task_tags.c.task_id).where(task_tags.c.tag_id == tag_id).limit(size)
        task_ids = list(db.session.scalars(
            sa.select(TASKS.c.id).where(TASKS.c.id.in_(links))
            .order_by(TASKS.c.id).with_for_update()
        ))
        if task_ids:
            db.session.execute(
                sa.delete(task_tags).where(task_tags.c.tag_id == tag_id,
                                           task_tags.c.task_id.in_(task_ids)))
            db.session.execute(
                sa.update(TASKS).where(TASKS.c.id.in_(task_ids))
                .values(updated_at=utcnow(), version=TASKS.c.version + 1))
            lost += len(task_ids)
        if len(task_ids) < size and not _carried(tag_id):
            db.session.execute(sa.delete(TAGS).where(TAGS.c.id == tag_id))
            db.session.commit()
            log.info("tag deleted: user_id=%s tasks=%s", user_id, lost)
            return lost
        end_batch()


def _carried(tag_id: int) -> bool:
    """Whether any task carries the tag; a statement of its own, so on PostgreSQL
    it sees every link committed before the user's row lock was taken."""
    return db.session.scalar(
        sa.select(sa.exists().where(task_tags.c.tag_id == tag_id))) or False
