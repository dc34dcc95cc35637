"""Alembic environment for taskapi (Flask-Migrate).

- ``render_as_batch=True`` (set by ``create_app``) so SQLite can ALTER tables;
- the models' MetaData carries a naming convention, so constraints have names;
- ``UTCDateTime`` columns render as ``sa.DateTime(timezone=True)``;
- on SQLite, foreign keys are switched off while a migration runs (a batch
  table rebuild would otherwise cascade-delete child rows, SQLite docs
  "Making Other Kinds Of Table Schema Changes") and checked afterwards.
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

from taskapi.models import UTCDateTime, is_search_table

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db


def render_item(type_, obj, autogen_context):
    """Render project column types as plain SQLAlchemy types."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def include_name(name, type_, _parent_names):
    """Leave SQLite's FTS5 search table and its shadow tables out of autogenerate:
    they are not models (taskapi.models.TASK_SEARCH_DDL)."""
    return not (type_ == "table" and is_search_table(name))


def process_revision_directives(context_, revision, directives):
    """Do not write an empty revision when autogenerate finds no change."""
    if getattr(config.cmd_opts, "autogenerate", False):
        script = directives[0]
        if script.upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")


def run_migrations_offline():
    url = target_db.engine.url.render_as_string(hide_password=False)
    context.configure(
        url=url,
        target_metadata=target_db.metadata,
        literal_binds=True,
        render_item=render_item,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    conf_args.setdefault("render_item", render_item)
    conf_args.setdefault("compare_type", True)
    conf_args.setdefault("include_name", include_name)

    with target_db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Outside any transaction, or SQLite ignores it.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            context.configure(
                connection=connection, target_metadata=target_db.metadata, **conf_args
            )
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                connection.commit()
                if problems:
                    raise RuntimeError(f"foreign key violations after migration: {problems}")
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
