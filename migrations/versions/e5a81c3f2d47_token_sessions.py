"""token sessions: issued_tokens.session_id (the token family of one login)

Revision ID: e5a81c3f2d47
Revises: 7c1f0e5a9b21
Create Date: 2026-12-02 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e5a81c3f2d47'
down_revision = '7c1f0e5a9b21'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('issued_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_id', sa.String(length=36), nullable=True))
    # Tokens issued before sessions existed: each is a session of its own, so
    # logging out with one revokes just that token, as it did before.
    op.execute("UPDATE issued_tokens SET session_id = jti WHERE session_id IS NULL")
    with op.batch_alter_table('issued_tokens', schema=None) as batch_op:
        batch_op.alter_column('session_id', existing_type=sa.String(length=36),
                              nullable=False)
        batch_op.create_index(batch_op.f('ix_issued_tokens_session_id'), ['session_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('issued_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issued_tokens_session_id'))
        batch_op.drop_column('session_id')
