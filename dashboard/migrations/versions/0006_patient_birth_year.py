"""a patient's year of birth (nullable: only the year, for the reference values' age band)

Revision ID: 0006_birth_year
Revises: 0005_involved_side
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_birth_year'
down_revision = '0005_involved_side'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('patients', sa.Column('birth_year', sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column('patients', 'birth_year')
