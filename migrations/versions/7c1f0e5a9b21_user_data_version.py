"""per-user data version (list ETags, cached list pages)

Revision ID: 7c1f0e5a9b21
Revises: b59ceec3ed02
Create Date: 2026-12-02 06:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '7c1f0e5a9b21'
down_revision = 'b59ceec3ed02'
branch_labels = None
depends_on = None


def upgrade():
    # Existing users start at 0; any write moves it on.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data_version', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('data_version')
