"""The original (Phase II) contract: /, /health, /docs, /api/auth/*, /api/{user_id}/tasks.

A thin layer over the v1 code: same models, queries, token handling and error
shape; only paths, body shapes and the path ``user_id`` rule differ.
"""

from taskapi.compat.routes import blp

__all__ = ["blp"]
