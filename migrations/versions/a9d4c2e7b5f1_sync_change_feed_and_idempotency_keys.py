"""sync change feed and idempotency keys: sync_seq stamped by triggers, tombstones

Frozen copies of taskapi.sync.models.SYNC_DDL and SYNC_DROPS. Existing rows get
sync_seq 0: a full sync (no token) hands them out, and there are no tokens yet.

Revision ID: a9d4c2e7b5f1
Revises: f4b7e2a9c1d6
Create Date: 2026-12-03 16:44:01.431489

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a9d4c2e7b5f1'
down_revision = 'f4b7e2a9c1d6'
branch_labels = None
depends_on = None


TRIGGERS = {
    'sqlite': (
        'CREATE TRIGGER IF NOT EXISTS tasks_sync_insert AFTER INSERT ON tasks BEGIN UPDATE tasks SET sync_seq = COALESCE((SELECT data_version FROM users WHERE users.id = new.user_id), sync_seq) WHERE id = new.id; END',
        'CREATE TRIGGER IF NOT EXISTS tasks_sync_update AFTER UPDATE ON tasks WHEN new.sync_seq IS old.sync_seq BEGIN UPDATE tasks SET sync_seq = COALESCE((SELECT data_version FROM users WHERE users.id = new.user_id), sync_seq) WHERE id = new.id AND sync_seq IS NOT COALESCE((SELECT data_version FROM users WHERE users.id = new.user_id), sync_seq); END',
        "CREATE TRIGGER IF NOT EXISTS tasks_sync_delete AFTER DELETE ON tasks BEGIN INSERT OR IGNORE INTO sync_tombstones (user_id, seq, kind, object_id, deleted_at) SELECT id, data_version, 'task', old.id, strftime('%Y-%m-%d %H:%M:%f', 'now') FROM users WHERE id = old.user_id; END",
        'CREATE TRIGGER IF NOT EXISTS lists_sync_insert AFTER INSERT ON lists BEGIN UPDATE lists SET sync_seq = COALESCE((SELECT data_version FROM users WHERE users.id = new.user_id), sync_seq) WHERE id = new.id; END',
        'CREATE TRIGGER IF NOT EXISTS lists_sync_update AFTER UPDATE ON lists WHEN new.sync_seq IS old.sync_seq BEGIN UPDATE lists SET sync_seq = COALESCE((SELECT data_version FROM users WHERE users.id = new.user_id), sync_seq) WHERE id = new.id AND sync_seq IS NOT COALESCE((SELECT data_version FROM users WHERE users.id = new.user_id), sync_seq); END',
        "CREATE TRIGGER IF NOT EXISTS lists_sync_delete AFTER DELETE ON lists BEGIN INSERT OR IGNORE INTO sync_tombstones (user_id, seq, kind, object_id, deleted_at) SELECT id, data_version, 'list', old.id, strftime('%Y-%m-%d %H:%M:%f', 'now') FROM users WHERE id = old.user_id; END",
        'CREATE TRIGGER IF NOT EXISTS tags_sync_insert AFTER INSERT ON tags BEGIN UPDATE tags SET sync_seq = COALESCE((SELECT data_version FROM users WHERE users.id = new.user_id), sync_seq) WHERE id = new.id; END',
        'CREATE TRIGGER IF NOT EXISTS tags_sync_update AFTER UPDATE ON tags WHEN new.sync_seq IS old.sync_seq BEGIN UPDATE tags SET sync_seq = COALESCE((SELECT data_version FROM users WHERE users.id = new.user_id), sync_seq) WHERE id = new.id AND sync_seq IS NOT COALESCE((SELECT data_version FROM users WHERE users.id = new.user_id), sync_seq); END',
        "CREATE TRIGGER IF NOT EXISTS tags_sync_delete AFTER DELETE ON tags BEGIN INSERT OR IGNORE INTO sync_tombstones (user_id, seq, kind, object_id, deleted_at) SELECT id, data_version, 'tag', old.id, strftime('%Y-%m-%d %H:%M:%f', 'now') FROM users WHERE id = old.user_id; END",
        'CREATE TRIGGER IF NOT EXISTS task_tags_sync_insert AFTER INSERT ON task_tags BEGIN UPDATE tags SET sync_seq = sync_seq WHERE id = new.tag_id; END',
        'CREATE TRIGGER IF NOT EXISTS task_tags_sync_delete AFTER DELETE ON task_tags BEGIN UPDATE tags SET sync_seq = sync_seq WHERE id = old.tag_id; END',
    ),
    'postgresql': (
        'CREATE OR REPLACE FUNCTION sync_stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.sync_seq := COALESCE((SELECT data_version FROM users WHERE id = NEW.user_id), NEW.sync_seq); RETURN NEW; END $$',
        'CREATE OR REPLACE FUNCTION sync_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO sync_tombstones (user_id, seq, kind, object_id, deleted_at) SELECT o.user_id, u.data_version, TG_ARGV[0], o.id, now() FROM old_rows AS o JOIN users AS u ON u.id = o.user_id ON CONFLICT DO NOTHING; RETURN NULL; END $$',
        'CREATE OR REPLACE FUNCTION sync_touch_tags() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE tags SET sync_seq = tags.sync_seq WHERE tags.id IN (SELECT tag_id FROM changed_rows); RETURN NULL; END $$',
        'DROP TRIGGER IF EXISTS tasks_sync_stamp ON tasks',
        'DROP TRIGGER IF EXISTS tasks_sync_delete ON tasks',
        'CREATE TRIGGER tasks_sync_stamp BEFORE INSERT OR UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION sync_stamp()',
        "CREATE TRIGGER tasks_sync_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sync_tombstone('task')",
        'DROP TRIGGER IF EXISTS lists_sync_stamp ON lists',
        'DROP TRIGGER IF EXISTS lists_sync_delete ON lists',
        'CREATE TRIGGER lists_sync_stamp BEFORE INSERT OR UPDATE ON lists FOR EACH ROW EXECUTE FUNCTION sync_stamp()',
        "CREATE TRIGGER lists_sync_delete AFTER DELETE ON lists REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sync_tombstone('list')",
        'DROP TRIGGER IF EXISTS tags_sync_stamp ON tags',
        'DROP TRIGGER IF EXISTS tags_sync_delete ON tags',
        'CREATE TRIGGER tags_sync_stamp BEFORE INSERT OR UPDATE ON tags FOR EACH ROW EXECUTE FUNCTION sync_stamp()',
        "CREATE TRIGGER tags_sync_delete AFTER DELETE ON tags REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sync_tombstone('tag')",
        'DROP TRIGGER IF EXISTS task_tags_sync_insert ON task_tags',
        'DROP TRIGGER IF EXISTS task_tags_sync_delete ON task_tags',
        'CREATE TRIGGER task_tags_sync_insert AFTER INSERT ON task_tags REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION sync_touch_tags()',
        'CREATE TRIGGER task_tags_sync_delete AFTER DELETE ON task_tags REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION sync_touch_tags()',
    ),
}
DROPS = {
    'sqlite': (
        'DROP TRIGGER IF EXISTS tasks_sync_insert',
        'DROP TRIGGER IF EXISTS tasks_sync_update',
        'DROP TRIGGER IF EXISTS tasks_sync_delete',
        'DROP TRIGGER IF EXISTS lists_sync_insert',
        'DROP TRIGGER IF EXISTS lists_sync_update',
        'DROP TRIGGER IF EXISTS lists_sync_delete',
        'DROP TRIGGER IF EXISTS tags_sync_insert',
        'DROP TRIGGER IF EXISTS tags_sync_update',
        'DROP TRIGGER IF EXISTS tags_sync_delete',
        'DROP TRIGGER IF EXISTS task_tags_sync_insert',
        'DROP TRIGGER IF EXISTS task_tags_sync_delete',
    ),
    'postgresql': (
        'DROP TRIGGER IF EXISTS tasks_sync_stamp ON tasks',
        'DROP TRIGGER IF EXISTS tasks_sync_delete ON tasks',
        'DROP TRIGGER IF EXISTS lists_sync_stamp ON lists',
        'DROP TRIGGER IF EXISTS lists_sync_delete ON lists',
        'DROP TRIGGER IF EXISTS tags_sync_stamp ON tags',
        'DROP TRIGGER IF EXISTS tags_sync_delete ON tags',
        'DROP TRIGGER IF EXISTS task_tags_sync_insert ON task_tags',
        'DROP TRIGGER IF EXISTS task_tags_sync_delete ON task_tags',
        'DROP FUNCTION IF EXISTS sync_stamp()',
        'DROP FUNCTION IF EXISTS sync_tombstone()',
        'DROP FUNCTION IF EXISTS sync_touch_tags()',
    ),
}
SEQ = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect != "sqlite":
        op.execute("SET LOCAL statement_timeout = 0")
    op.create_table(
        'idempotency_keys',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('method', sa.String(length=7), nullable=False),
        sa.Column('path', sa.String(length=2048), nullable=False),
        sa.Column('status', sa.Integer(), nullable=True),
        sa.Column('headers', sa.Text(), nullable=True),
        sa.Column('body', sa.LargeBinary(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_idempotency_keys_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'key', name=op.f('pk_idempotency_keys')),
    )
    op.create_index(op.f('ix_idempotency_keys_expires_at'), 'idempotency_keys',
                    ['expires_at'], unique=False)
    op.create_table(
        'sync_tombstones',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('seq', SEQ, autoincrement=False, nullable=False),
        sa.Column('kind', sa.String(length=4), nullable=False),
        sa.Column('object_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('list', 'tag', 'task')",
                           name=op.f('ck_sync_tombstones_sync_tombstone_kind_valid')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_sync_tombstones_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'seq', 'kind', 'object_id',
                                name=op.f('pk_sync_tombstones')),
    )
    op.create_index(op.f('ix_sync_tombstones_deleted_at'), 'sync_tombstones',
                    ['deleted_at'], unique=False)
    # Plain ALTER TABLE ADD COLUMN (no batch): a SQLite table rebuild would drop
    # the text search and list count triggers of tasks.
    for table in ('lists', 'tags', 'tasks'):
        op.add_column(table, sa.Column('sync_seq', SEQ, server_default='0', nullable=False))
        op.create_index(f'ix_{table}_user_id_sync_seq', table, ['user_id', 'sync_seq', 'id'],
                        unique=False)
    op.add_column('users', sa.Column('sync_horizon', sa.Integer(), server_default='0',
                                     nullable=False))
    for statement in TRIGGERS[dialect]:
        op.execute(statement)


def downgrade():
    for statement in DROPS[op.get_bind().dialect.name]:
        op.execute(statement)
    # ALTER TABLE DROP COLUMN (SQLite 3.35+), again without a table rebuild.
    op.drop_column('users', 'sync_horizon')
    for table in ('tasks', 'tags', 'lists'):
        op.drop_index(f'ix_{table}_user_id_sync_seq', table_name=table)
        op.drop_column(table, 'sync_seq')
    op.drop_index(op.f('ix_sync_tombstones_deleted_at'), table_name='sync_tombstones')
    op.drop_table('sync_tombstones')
    op.drop_index(op.f('ix_idempotency_keys_expires_at'), table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
