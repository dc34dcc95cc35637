"""taskapi: a self-hosted per-user task REST API.

``create_app(config=None)`` is the application factory; see README.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from flask import Flask

try:
    __version__ = version("taskapi")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create and configure the Flask application.

    ``config`` overrides every other source (tests). Raises
    :class:`taskapi.config.ConfigurationError` when the configuration is unusable
    (for instance production without strong secrets). Touches no database.
    """
    from taskapi.bodies import init_body_checks
    from taskapi.config import load_config
    from taskapi.hosts import init_hosts
    from taskapi.logging import configure_logging, init_request_logging
    from taskapi.security import init_security

    instance_path = os.environ.get("TASKAPI_INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_path=os.path.abspath(instance_path) if instance_path else None,
        instance_relative_config=True,
    )
    load_config(app, config)
    configure_logging(app)
    init_request_logging(app)
    init_security(app)
    init_hosts(app)
    register_extensions(app)
    # After the rate limiter's hooks (register_extensions): a request over its
    # limit is answered before its body is read or parsed.
    init_body_checks(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:
    from taskapi.auth.tokens import init_jwt
    from taskapi.database import init_database
    from taskapi.docs import BEARER_SCHEME, init_docs
    from taskapi.extensions import api, cache, db, migrate
    from taskapi.jsonprovider import init_json
    from taskapi.ratelimits import init_rate_limits

    init_json(app)
    init_database(app)
    cache.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    init_jwt(app)
    init_rate_limits(app)
    init_docs(app)
    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", BEARER_SCHEME)


def register_blueprints(app: Flask) -> None:
    from taskapi.auth import blp as auth_blp
    from taskapi.compat import blp as compat_blp
    from taskapi.compat.routes import TAG as compat_tag
    from taskapi.extensions import api
    from taskapi.lists import blp as lists_blp
    from taskapi.plugins import finalize_plugins, init_plugins
    from taskapi.readiness import blp as health_blp
    from taskapi.sync.idempotency import document, init_idempotency
    from taskapi.sync.routes import blp as sync_blp
    from taskapi.tags import blp as tags_blp
    from taskapi.tasks import blp as tasks_blp

    api.register_blueprint(auth_blp)
    api.register_blueprint(tasks_blp)
    api.register_blueprint(tags_blp)
    api.register_blueprint(lists_blp)
    api.register_blueprint(sync_blp)
    api.register_blueprint(compat_blp)
    api.register_blueprint(health_blp)
    api.spec.tag({"name": compat_tag, "description": "The original backend's URL contract, "
                  "kept unchanged for existing clients: /api/auth/* and /api/{user_id}/tasks."})
    # Plugins after the core blueprints (taskapi.plugins; a failure stops start-up).
    init_plugins(app, api)
    # After every blueprint, plugins' too: Idempotency-Key wraps each unsafe
    # /api/v1 route.
    init_idempotency(app)
    document(api.spec)
    finalize_plugins(app, api)


def register_error_handlers(app: Flask) -> None:
    from taskapi.errors import register_error_handlers as register

    register(app)


def register_cli(app: Flask) -> None:
    from taskapi.cli import register_cli as register

    register(app)
