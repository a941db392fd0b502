"""involved side (the patient's injured or weaker side, and the session's copy of it) and the
condition a trial was recorded under (eyes open/closed, firm/foam)

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
    # plain ALTER TABLE (SQLite >= 3.35 and PostgreSQL both have ADD/DROP COLUMN): a batch
    # copy-and-rename of ``sessions`` on SQLite would cascade-delete every trial
    op.add_column('patients', sa.Column('involved_side', sa.String(length=8), server_default='none', nullable=False))
    op.add_column('sessions', sa.Column('involved_side', sa.String(length=8), nullable=True))
    op.add_column('trials', sa.Column('condition', sa.String(length=40), nullable=True))


def downgrade() -> None:
    op.drop_column('trials', 'condition')
    op.drop_column('sessions', 'involved_side')
    op.drop_column('patients', 'involved_side')
