"""Tag queries, always scoped to one user."""

from __future__ import annotations

import sqlalchemy as sa
from flask_smorest import abort

from taskapi.data_version import bump
from taskapi.extensions import db
from taskapi.models import Tag, Task, task_tags, utcnow


def tag_key(name: str) -> str:
    """The case-insensitive identity of a tag name."""
    return name.lower()


def resolve_tags(user_id: int, names: list[str]) -> list[Tag]:
    """The user's tags for ``names`` (validated), creating the missing ones.

    Names match case-insensitively; a new tag keeps the case given here, an
    existing one keeps the case it was first used with. Duplicates collapse.
    """
    wanted: dict[str, str] = {}
    for name in names:
        wanted.setdefault(tag_key(name), name)
    if not wanted:
        return []
    existing = {
        tag.name_key: tag
        for tag in db.session.scalars(
            sa.select(Tag).where(Tag.user_id == user_id, Tag.name_key.in_(wanted))
        )
    }
    tags = []
    for key, name in wanted.items():
        tag = existing.get(key)
        if tag is None:
            tag = Tag(user_id=user_id, name=name, name_key=key)
            db.session.add(tag)
        tags.append(tag)
    return tags


def tag_counts(user_id: int) -> list[dict]:
    """``[{"name", "task_count"}]`` for every tag of the user, by name."""
    rows = db.session.execute(
        sa.select(Tag.name, sa.func.count(task_tags.c.task_id))
        .outerjoin(task_tags, task_tags.c.tag_id == Tag.id)
        .where(Tag.user_id == user_id)
        .group_by(Tag.id, Tag.name, Tag.name_key)
        .order_by(Tag.name_key)
    )
    return [{"name": name, "task_count": count} for name, count in rows]


def delete_tag_or_404(user_id: int, name: str) -> None:
    """Remove the tag from all the user's tasks and delete it; 404 if unknown."""
    tag = db.session.scalars(
        sa.select(Tag).where(Tag.user_id == user_id, Tag.name_key == tag_key(name.strip()))
    ).first()
    if tag is None:
        abort(404, message="Tag not found.")
    task_ids = sa.select(task_tags.c.task_id).where(task_tags.c.tag_id == tag.id)
    # Losing a tag is a modification of each task: updated_at and the ETag move.
    db.session.execute(
        sa.update(Task)
        .where(Task.id.in_(task_ids))
        .values(updated_at=utcnow(), version=Task.version + 1),
        execution_options={"synchronize_session": False},
    )
    bump(db.session, [user_id])  # a bulk UPDATE bypasses the flush listener
    db.session.delete(tag)
    db.session.commit()
