"""lists.task_count and lists.open_count, kept by triggers on tasks

Revision ID: f4b7e2a9c1d6
Revises: c8d2f4a6b1e3
Create Date: 2026-12-03 09:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f4b7e2a9c1d6'
down_revision = 'c8d2f4a6b1e3'
branch_labels = None
depends_on = None

# Frozen copies of taskapi.models.LIST_COUNT_DDL.
TRIGGERS = {
    "sqlite": (
        "CREATE TRIGGER IF NOT EXISTS tasks_list_count_insert AFTER INSERT ON tasks BEGIN "
        "UPDATE lists SET task_count = task_count + 1, "
        "open_count = open_count + (NOT new.completed) WHERE id = new.list_id; END",
        "CREATE TRIGGER IF NOT EXISTS tasks_list_count_delete AFTER DELETE ON tasks BEGIN "
        "UPDATE lists SET task_count = task_count - 1, "
        "open_count = open_count - (NOT old.completed) WHERE id = old.list_id; END",
        "CREATE TRIGGER IF NOT EXISTS tasks_list_count_update "
        "AFTER UPDATE OF list_id, completed ON tasks "
        "WHEN old.list_id IS NOT new.list_id OR old.completed IS NOT new.completed BEGIN "
        "UPDATE lists SET task_count = task_count - 1, "
        "open_count = open_count - (NOT old.completed) WHERE id = old.list_id; "
        "UPDATE lists SET task_count = task_count + 1, "
        "open_count = open_count + (NOT new.completed) WHERE id = new.list_id; END",
    ),
    "postgresql": (
        # Inserts and deletes: one UPDATE per statement and list, from the
        # statement's transition table (a bulk insert or a batch deletion moves
        # each list row once, not once per task).
        "CREATE OR REPLACE FUNCTION tasks_list_count_insert() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "UPDATE lists SET task_count = lists.task_count + c.n, "
        "open_count = lists.open_count + c.open FROM (SELECT list_id, count(*) AS n, "
        "count(*) FILTER (WHERE NOT completed) AS open FROM new_rows GROUP BY list_id) AS c "
        "WHERE lists.id = c.list_id; RETURN NULL; END $$",
        "CREATE OR REPLACE FUNCTION tasks_list_count_delete() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "UPDATE lists SET task_count = lists.task_count - c.n, "
        "open_count = lists.open_count - c.open FROM (SELECT list_id, count(*) AS n, "
        "count(*) FILTER (WHERE NOT completed) AS open FROM old_rows GROUP BY list_id) AS c "
        "WHERE lists.id = c.list_id; RETURN NULL; END $$",
        "CREATE OR REPLACE FUNCTION tasks_list_count_update() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "UPDATE lists SET task_count = task_count - 1, "
        "open_count = open_count - (NOT OLD.completed)::int WHERE id = OLD.list_id; "
        "UPDATE lists SET task_count = task_count + 1, "
        "open_count = open_count + (NOT NEW.completed)::int WHERE id = NEW.list_id; "
        "RETURN NULL; END $$",
        "CREATE TRIGGER tasks_list_count_insert AFTER INSERT ON tasks "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION tasks_list_count_insert()",
        "CREATE TRIGGER tasks_list_count_delete AFTER DELETE ON tasks "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION tasks_list_count_delete()",
        # Moves and (re)openings: per row, and only when list_id or completed
        # changed (a transition table cannot go with a column list).
        "CREATE TRIGGER tasks_list_count_update AFTER UPDATE OF list_id, completed ON tasks "
        "FOR EACH ROW WHEN (OLD.list_id IS DISTINCT FROM NEW.list_id "
        "OR OLD.completed IS DISTINCT FROM NEW.completed) "
        "EXECUTE FUNCTION tasks_list_count_update()",
    ),
}
DROPS = {
    "sqlite": ("DROP TRIGGER IF EXISTS tasks_list_count_insert",
               "DROP TRIGGER IF EXISTS tasks_list_count_delete",
               "DROP TRIGGER IF EXISTS tasks_list_count_update"),
    "postgresql": ("DROP TRIGGER IF EXISTS tasks_list_count_insert ON tasks",
                   "DROP TRIGGER IF EXISTS tasks_list_count_delete ON tasks",
                   "DROP TRIGGER IF EXISTS tasks_list_count_update ON tasks",
                   "DROP FUNCTION IF EXISTS tasks_list_count_insert()",
                   "DROP FUNCTION IF EXISTS tasks_list_count_delete()",
                   "DROP FUNCTION IF EXISTS tasks_list_count_update()"),
}


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect != "sqlite":
        op.execute("SET LOCAL statement_timeout = 0")
    op.add_column('lists', sa.Column('task_count', sa.Integer(), server_default='0',
                                     nullable=False))
    op.add_column('lists', sa.Column('open_count', sa.Integer(), server_default='0',
                                     nullable=False))
    # Triggers first: on PostgreSQL, CREATE TRIGGER locks tasks against writes
    # until this transaction commits, so no task written meanwhile is missed by
    # the counts below.
    for statement in TRIGGERS[dialect]:
        op.execute(statement)
    op.execute(
        "UPDATE lists SET "
        "task_count = (SELECT count(*) FROM tasks WHERE tasks.list_id = lists.id), "
        "open_count = (SELECT count(*) FROM tasks WHERE tasks.list_id = lists.id "
        "AND NOT tasks.completed)")


def downgrade():
    for statement in DROPS[op.get_bind().dialect.name]:
        op.execute(statement)
    with op.batch_alter_table('lists', schema=None) as batch_op:
        batch_op.drop_column('open_count')
        batch_op.drop_column('task_count')
