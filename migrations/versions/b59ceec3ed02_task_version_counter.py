"""task version counter (ETag source, optimistic concurrency)

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


def downgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('version')
