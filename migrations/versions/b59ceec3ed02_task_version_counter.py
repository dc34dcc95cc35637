"""task version counter (ETag source), index for sort=due_at

Revision ID: b59ceec3ed02
Revises: d3d386adcd03
Create Date: 2026-11-21 11:24:57.103754

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b59ceec3ed02'
down_revision = 'd3d386adcd03'
branch_labels = None
depends_on = None


def upgrade():
    # Existing tasks start at version 1.
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    # ORDER BY due_at IS NULL, due_at, id (tasks without a due date last).
    op.create_index('ix_tasks_user_id_due_order', 'tasks',
                    ['user_id', sa.text('(due_at IS NULL)'), 'due_at', 'id'])


def downgrade():
    op.drop_index('ix_tasks_user_id_due_order', table_name='tasks')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('version')
