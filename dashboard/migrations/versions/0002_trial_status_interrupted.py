"""trials.status widened to 16 characters: "recording" and "interrupted" (durable live recording)

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('trials') as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=8), type_=sa.String(length=16),
                              existing_nullable=False)


def downgrade() -> None:
    # rows still "recording"/"interrupted" would not fit: set them aside as redo first
    op.execute("UPDATE trials SET status = 'redo' WHERE status IN ('recording', 'interrupted')")
    with op.batch_alter_table('trials') as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=16), type_=sa.String(length=8),
                              existing_nullable=False)
