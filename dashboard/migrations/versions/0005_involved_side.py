"""involved side: the patient's injured or weaker side, and the session's copy of it

Revision ID: 0005_involved_side
Revises: 0004_programme
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_involved_side'
down_revision = '0004_programme'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('involved_side', sa.String(length=8), server_default='none', nullable=False))
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('involved_side', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('involved_side')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_column('involved_side')
