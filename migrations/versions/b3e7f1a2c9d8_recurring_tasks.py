"""recurring tasks: RRULE columns on tasks, next_due_at, task_completions

Plain ADD COLUMNs (no rebuild of tasks on SQLite, so its text index, list
count and sync triggers stay as they are). Existing tasks do not recur.

Revision ID: b3e7f1a2c9d8
Revises: a9d4c2e7b5f1
Create Date: 2026-12-04 02:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b3e7f1a2c9d8'
down_revision = 'a9d4c2e7b5f1'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('tasks', sa.Column('recurrence_rule', sa.String(length=500), nullable=True))
    op.add_column('tasks', sa.Column('recurrence_from', sa.String(length=10), nullable=True))
    op.add_column('tasks', sa.Column('recurrence_occurrence', sa.Integer(), nullable=True))
    op.add_column('tasks', sa.Column('next_due_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'task_completions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('next_due_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_task_completions_task_id_completed_at', 'task_completions',
                    ['task_id', 'completed_at', 'id'])
    op.create_index('ix_task_completions_user_id_completed_at', 'task_completions',
                    ['user_id', 'completed_at'])


def downgrade():
    op.drop_index('ix_task_completions_user_id_completed_at', table_name='task_completions')
    op.drop_index('ix_task_completions_task_id_completed_at', table_name='task_completions')
    op.drop_table('task_completions')
    # SQLite 3.35+ drops columns in place (no rebuild of tasks).
    op.drop_column('tasks', 'next_due_at')
    op.drop_column('tasks', 'recurrence_occurrence')
    op.drop_column('tasks', 'recurrence_from')
    op.drop_column('tasks', 'recurrence_rule')
