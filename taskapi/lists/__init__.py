"""Lists blueprint: a user's task lists (projects) under /api/v1/lists."""

from taskapi.lists.routes import blp

__all__ = ["blp"]
