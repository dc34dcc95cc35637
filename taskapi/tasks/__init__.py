"""Tasks blueprint: a user's own tasks under /api/v1/tasks."""

from taskapi.tasks.routes import blp

__all__ = ["blp"]
