"""lists, subtasks and manual order: lists table with one Inbox per user;
tasks.list_id, parent_id, position, subtask counts; existing tasks go to
their user's Inbox in creation order

Revision ID: c8d2f4a6b1e3
Revises: a7c3e9f1b2d4
Create Date: 2026-12-02 19:30:00.000000

"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from fractional_indexing import generate_key_between, generate_n_keys_between

# revision identifiers, used by Alembic.
revision = 'c8d2f4a6b1e3'
down_revision = 'a7c3e9f1b2d4'
branch_labels = None
depends_on = None

POSITION = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")
#: Rows updated per statement batch while positions are handed out.
CHUNK = 5000
# Frozen copies of the SQLite text index triggers (migration a7c3e9f1b2d4): the
# table rebuild below drops the triggers of the old table.
SQLITE_TRIGGERS = (
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
)


def _due_order_index():
    # Alembic cannot reflect this expression index, so a SQLite table rebuild
    # loses it: built again (migration b59ceec3ed02).
    op.execute("DROP INDEX IF EXISTS ix_tasks_user_id_due_order")
    op.create_index('ix_tasks_user_id_due_order', 'tasks',
                    ['user_id', sa.text('(due_at IS NULL)'), 'due_at', 'id'])


def upgrade():
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if not sqlite:
        op.execute("SET LOCAL statement_timeout = 0")
    op.create_table(
        'lists',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('name_key', sa.String(length=100), nullable=False),
        sa.Column('color', sa.String(length=7), nullable=True),
        sa.Column('position', POSITION, nullable=False),
        sa.Column('archived', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('is_inbox', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_lists_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_lists')),
        sa.UniqueConstraint('user_id', 'name_key', name='uq_lists_user_id_name_key'),
    )
    with op.batch_alter_table('lists', schema=None) as batch_op:
        batch_op.create_index('ix_lists_user_id_position', ['user_id', 'position', 'id'],
                              unique=False)
        batch_op.create_index('uq_lists_user_id_inbox', ['user_id'], unique=True,
                              sqlite_where=sa.text('is_inbox'),
                              postgresql_where=sa.text('is_inbox'))

    users = sa.table('users', sa.column('id', sa.Integer))
    lists = sa.table('lists', sa.column('id', sa.Integer), sa.column('user_id', sa.Integer),
                     sa.column('name', sa.String), sa.column('name_key', sa.String),
                     sa.column('position', sa.String), sa.column('is_inbox', sa.Boolean),
                     sa.column('created_at', sa.DateTime(timezone=True)),
                     sa.column('updated_at', sa.DateTime(timezone=True)))
    now = datetime.now(UTC)
    if sqlite:
        now = now.replace(tzinfo=None)  # stored as naive UTC text on SQLite
    first = generate_key_between(None, None)
    bind.execute(lists.insert().from_select(
        ['user_id', 'name', 'name_key', 'position', 'is_inbox', 'created_at', 'updated_at'],
        sa.select(users.c.id, sa.literal('Inbox'), sa.literal('inbox'), sa.literal(first),
                  sa.true(), sa.literal(now, sa.DateTime(timezone=True)),
                  sa.literal(now, sa.DateTime(timezone=True)))))

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('list_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('position', POSITION, nullable=True))
        batch_op.add_column(sa.Column('subtask_count', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('open_subtask_count', sa.Integer(), server_default='0',
                                      nullable=False))

    tasks = sa.table('tasks', sa.column('id', sa.Integer), sa.column('user_id', sa.Integer),
                     sa.column('list_id', sa.Integer), sa.column('position', sa.String),
                     sa.column('created_at', sa.DateTime(timezone=True)))
    bind.execute(tasks.update().values(list_id=sa.select(lists.c.id).where(
        lists.c.user_id == tasks.c.user_id, lists.c.is_inbox.is_(True)).scalar_subquery()))
    # Each user's tasks keep their creation order as their manual order.
    update = (tasks.update().where(tasks.c.id == sa.bindparam('task_id'))
              .values(position=sa.bindparam('key')))
    for (user_id,) in bind.execute(sa.select(users.c.id).order_by(users.c.id)).all():
        ids = bind.execute(sa.select(tasks.c.id).where(tasks.c.user_id == user_id)
                           .order_by(tasks.c.created_at, tasks.c.id)).scalars().all()
        if not ids:
            continue
        keys = generate_n_keys_between(None, None, len(ids))
        for start in range(0, len(ids), CHUNK):
            chunk = zip(ids[start:start + CHUNK], keys[start:start + CHUNK], strict=True)
            bind.execute(update, [{'task_id': task_id, 'key': key} for task_id, key in chunk])

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.alter_column('list_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('position', existing_type=POSITION, nullable=False)
        batch_op.create_foreign_key(op.f('fk_tasks_list_id_lists'), 'lists', ['list_id'], ['id'])
        batch_op.create_foreign_key(op.f('fk_tasks_parent_id_tasks'), 'tasks', ['parent_id'],
                                    ['id'], ondelete='CASCADE')
        batch_op.create_index('ix_tasks_user_id_list_id_position',
                              ['user_id', 'list_id', 'position', 'id'], unique=False)
        batch_op.create_index('ix_tasks_parent_id_position', ['parent_id', 'position', 'id'],
                              unique=False)
    if sqlite:
        _due_order_index()
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_parent_id_position')
        batch_op.drop_index('ix_tasks_user_id_list_id_position')
        batch_op.drop_constraint(op.f('fk_tasks_parent_id_tasks'), type_='foreignkey')
        batch_op.drop_constraint(op.f('fk_tasks_list_id_lists'), type_='foreignkey')
        batch_op.drop_column('open_subtask_count')
        batch_op.drop_column('subtask_count')
        batch_op.drop_column('position')
        batch_op.drop_column('parent_id')
        batch_op.drop_column('list_id')
    if sqlite:
        _due_order_index()
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    with op.batch_alter_table('lists', schema=None) as batch_op:
        batch_op.drop_index('uq_lists_user_id_inbox')
        batch_op.drop_index('ix_lists_user_id_position')
    op.drop_table('lists')
