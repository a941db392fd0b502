"""patient-reported outcomes: one row per session with the pain ratings (0-10) and the LEFS
answers and total (dashboard/pros.py)

Revision ID: 0007_pros
Revises: 0006_birth_year
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_pros'
down_revision = '0006_birth_year'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('patient_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('pain_week_nrs', sa.SmallInteger(), nullable=True),
    sa.Column('pain_test_nrs', sa.SmallInteger(), nullable=True),
    sa.Column('lefs_items', sa.JSON(), nullable=True),
    sa.Column('lefs_total', sa.SmallInteger(), nullable=True),
    sa.Column('clinician_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['clinician_id'], ['clinicians.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_id')
    )


def downgrade() -> None:
    op.drop_table('patient_reports')
