"""text search indexes: SQLite FTS5 trigram table, PostgreSQL pg_trgm GIN indexes;
task_tags (tag_id, task_id) index; unused tags removed

Revision ID: a7c3e9f1b2d4
Revises: e5a81c3f2d47
Create Date: 2026-12-02 14:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a7c3e9f1b2d4'
down_revision = 'e5a81c3f2d47'
branch_labels = None
depends_on = None

SQLITE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS tasks_fts USING fts5("
    "title, description, content='tasks', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS tasks_fts_insert AFTER INSERT ON tasks BEGIN "
    "INSERT INTO tasks_fts(rowid, title, description) "
    "VALUES (new.id, new.title, new.description); END",
    "CREATE TRIGGER IF NOT EXISTS tasks_fts_delete AFTER DELETE ON tasks BEGIN "
    "INSERT INTO tasks_fts(tasks_fts, rowid, title, description) "
    "VALUES ('delete', old.id, old.title, old.description); END",
    "CREATE TRIGGER IF NOT EXISTS tasks_fts_update AFTER UPDATE OF title, description "
    "ON tasks BEGIN "
    "INSERT INTO tasks_fts(tasks_fts, rowid, title, description) "
    "VALUES ('delete', old.id, old.title, old.description); "
    "INSERT INTO tasks_fts(rowid, title, description) "
    "VALUES (new.id, new.title, new.description); END",
    # Index the tasks already there.
    "INSERT INTO tasks_fts(tasks_fts) VALUES ('rebuild')",
)


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE:
            op.execute(statement)
    else:
        # Building the indexes of a large table may outlast the app's
        # statement_timeout; this transaction has none.
        op.execute("SET LOCAL statement_timeout = 0")
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_tasks_title_trgm ON tasks "
                   "USING gin (lower(title) gin_trgm_ops)")
        op.execute("CREATE INDEX ix_tasks_description_trgm ON tasks "
                   "USING gin (lower(description) gin_trgm_ops)")
    # The tag filter's GROUP BY task_id and tag deletion read this index alone.
    with op.batch_alter_table('task_tags', schema=None) as batch_op:
        batch_op.create_index('ix_task_tags_tag_id_task_id', ['tag_id', 'task_id'],
                              unique=False)
        batch_op.drop_index('ix_task_tags_tag_id')
    # Tags no task carries any more are removed from now on; so are those left.
    op.execute("DELETE FROM tags WHERE NOT EXISTS "
               "(SELECT 1 FROM task_tags WHERE task_tags.tag_id = tags.id)")


def downgrade():
    with op.batch_alter_table('task_tags', schema=None) as batch_op:
        batch_op.create_index('ix_task_tags_tag_id', ['tag_id'], unique=False)
        batch_op.drop_index('ix_task_tags_tag_id_task_id')
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("tasks_fts_insert", "tasks_fts_delete", "tasks_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS tasks_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_tasks_description_trgm")
        op.execute("DROP INDEX IF EXISTS ix_tasks_title_trgm")
