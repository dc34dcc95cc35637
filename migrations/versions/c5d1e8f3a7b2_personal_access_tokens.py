"""personal access tokens (built-in plugin pat)

Revision ID: c5d1e8f3a7b2
Revises: b3e7f1a2c9d8
Create Date: 2026-12-04 02:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c5d1e8f3a7b2'
down_revision = 'b3e7f1a2c9d8'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'personal_access_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('prefix', sa.String(length=16), nullable=False),
        sa.Column('scopes', sa.String(length=500), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash', name='uq_personal_access_tokens_token_hash'),
    )
    op.create_index('ix_personal_access_tokens_user_id', 'personal_access_tokens', ['user_id'])


def downgrade():
    op.drop_index('ix_personal_access_tokens_user_id', table_name='personal_access_tokens')
    op.drop_table('personal_access_tokens')
