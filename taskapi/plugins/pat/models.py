"""The personal access tokens' table (in taskapi's metadata and migrations:
a built-in plugin's tables are the core's)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from taskapi.extensions import db
from taskapi.models import UTCDateTime, utcnow


class PersonalAccessToken(db.Model):
    """A long-lived, scoped bearer token of a user (``tapi_...``). Only its
    SHA-256 (``token_hash``, hex) is stored, with its first characters
    (``prefix``) for listings; ``scopes`` is space-separated. Deleted when
    revoked, or with the user."""

    __tablename__ = "personal_access_tokens"
    __table_args__ = (sa.Index("ix_personal_access_tokens_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(100))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    scopes: Mapped[str] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<PersonalAccessToken {self.id} {self.prefix} of user {self.user_id}>"
