"""GET /ready: readiness for load balancers and orchestrators.

200 ``{"status": "ready", "revision": ...}`` when the database answers and its
schema is at the newest migration; 503 with the error shape otherwise, the
reason in ``message`` and a ``Retry-After``. Liveness (no I/O) is GET /health.
"""

from __future__ import annotations

import logging
from functools import cache

import marshmallow as ma
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
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
        required=True, metadata={"description": "Migration revision of the schema"}
    )


@cache
def head_revision(directory: str) -> str:
    """The newest migration revision in ``directory`` (read from the files once)."""
    config = migrate.get_config(directory)
    return ScriptDirectory.from_config(config).get_current_head()


def _unready(message: str):
    abort(503, message=message,
          headers={"Retry-After": str(current_app.config["DB_RETRY_AFTER"])})


@blp.route("/ready")
class Ready(MethodView):
    @blp.response(200, ReadySchema)
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def get(self):
        """Is this instance ready to serve?

        503 while the database is unreachable or its schema is not at the
        newest migration (run `flask db upgrade`).
        """
        head = head_revision(current_app.extensions["migrate"].directory)
        try:
            with db.engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
        except SQLAlchemyError as error:
            log.warning("not ready: database unreachable (%s)", type(error).__name__)
            _unready("The database is unreachable.")
        if current != head:
            _unready(f"The database schema is at revision {current or 'none'}, not at "
                     f"{head}: run the migrations (flask db upgrade).")
        return {"status": "ready", "revision": current}
