"""GET /ready: readiness for load balancers and orchestrators.

200 ``{"status": "ready", "revision": ...}`` when the database answers and its
schema is at this code's newest migration (or at a revision this code does not
know: a newer release migrated it, as in a rolling deploy); 503 with the error
shape otherwise (unreachable, not migrated, behind, or several heads), the
reason in ``message`` and a ``Retry-After``. Liveness (no I/O) is GET /health.
"""

from __future__ import annotations

import logging
from functools import cache

import marshmallow as ma
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import current_app
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy.exc import SQLAlchemyError

from taskapi.extensions import db, migrate
from taskapi.smorest import Blueprint

log = logging.getLogger("taskapi.readiness")

blp = Blueprint("health", __name__, description="Readiness probe.")


class ReadySchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"example": "ready"})
    revision = ma.fields.String(
        required=True,
        metadata={"description": "Migration revision of the schema", "example": "c3d4e5f6a7b8"},
    )


@cache
def migration_scripts(directory: str) -> ScriptDirectory:
    """The migration scripts in ``directory`` (read from the files once)."""
    return ScriptDirectory.from_config(migrate.get_config(directory))


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def _unready(message: str):
    abort(503, message=message,
          headers={"Retry-After": str(current_app.config["DB_RETRY_AFTER"])})


@blp.route("/ready")
class Ready(MethodView):
    @blp.doc(operationId="getReadiness", security=[])
    @blp.response(200, ReadySchema)
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def get(self):
        """Is this instance ready to serve?

        503 while the database is unreachable or its schema is not at the
        newest migration (run `flask db upgrade`).
        """
        script = migration_scripts(current_app.extensions["migrate"].directory)
        head = script.get_current_head()
        try:
            with db.engine.connect() as connection:
                heads = MigrationContext.configure(connection).get_current_heads()
        except SQLAlchemyError as error:
            log.warning("not ready: database unreachable (%s)", type(error).__name__)
            _unready("The database is unreachable.")
        current = heads[0] if len(heads) == 1 else None
        if current != head:
            if current is not None and not _known(script, current):
                # Migrated by a newer release (rolling deploy): keep serving.
                log.warning("schema revision %s is newer than this code's %s", current, head)
            else:
                _unready(f"The database schema is at revision {', '.join(heads) or 'none'}, "
                         f"not at {head}: run the migrations (flask db upgrade).")
        return {"status": "ready", "revision": current}
