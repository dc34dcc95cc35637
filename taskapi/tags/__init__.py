"""Tags blueprint: a user's labels under /api/v1/tags."""

from taskapi.tags.routes import blp

__all__ = ["blp"]
