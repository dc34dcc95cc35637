"""Password hashing with argon2id (argon2-cffi).

Parameters come from the config (``PASSWORD_HASH_*``); OWASP's Password Storage
Cheat Sheet recommends argon2id. Hashes made with older parameters are
re-hashed at the next successful login (``check_needs_rehash``).
"""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

_EXTENSION_KEY = "taskapi.password_hasher"


def _hasher() -> PasswordHasher:
    state = current_app.extensions.get(_EXTENSION_KEY)
    if state is None:
        config = current_app.config
        hasher = PasswordHasher(
            time_cost=config["PASSWORD_HASH_TIME_COST"],
            memory_cost=config["PASSWORD_HASH_MEMORY_COST"],
            parallelism=config["PASSWORD_HASH_PARALLELISM"],
            type=Type.ID,
        )
        # Verified against for unknown emails, so that a miss costs as much as a
        # wrong password (no account enumeration by timing).
        state = (hasher, hasher.hash("taskapi dummy password"))
        current_app.extensions[_EXTENSION_KEY] = state
    return state[0]


def hash_password(password: str) -> str:
    """Return the argon2id PHC string for ``password``."""
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``password_hash``.

    ``password_hash=None`` (unknown account) verifies against a dummy hash and
    returns False, taking the same time as a wrong password.
    """
    hasher = _hasher()
    if password_hash is None:
        dummy = current_app.extensions[_EXTENSION_KEY][1]
        with contextlib.suppress(VerificationError):
            hasher.verify(dummy, password + "\x00not-it")
        return False
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than the configured ones."""
    return _hasher().check_needs_rehash(password_hash)
