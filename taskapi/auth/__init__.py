"""Auth blueprint: register, login, refresh, logout, me."""

from taskapi.auth.routes import blp

__all__ = ["blp"]
