"""programme: exercise programmes (blocks), home/clinic session logs, training sets, share links,
clinic exercises (dashboard/programme_models.py)

Revision ID: 0004_programme
Revises: 0003_security
Create Date: 2025-01-04
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_programme'
down_revision = '0003_security'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('programmes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('clinician_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('plan', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('baseline_session_id', sa.Integer(), nullable=True),
    sa.Column('retest_session_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['clinician_id'], ['clinicians.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['baseline_session_id'], ['sessions.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['retest_session_id'], ['sessions.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programmes_patient_id'), ['patient_id'], unique=False)

    op.create_table('programme_logs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('performed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('clinician_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['clinician_id'], ['clinicians.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('programme_logs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programme_logs_programme_id'), ['programme_id'], unique=False)

    op.create_table('programme_training_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('exercise_id', sa.String(length=60), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('time_in_target_pct', sa.Float(), nullable=True),
    sa.Column('measures', sa.JSON(), nullable=False),
    sa.Column('clinician_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['clinician_id'], ['clinicians.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('programme_training_sets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programme_training_sets_programme_id'), ['programme_id'], unique=False)

    op.create_table('programme_share_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_sha256')
    )
    with op.batch_alter_table('programme_share_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programme_share_links_programme_id'), ['programme_id'], unique=False)

    op.create_table('programme_exercises',
    sa.Column('exercise_id', sa.String(length=60), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('clinician_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['clinician_id'], ['clinicians.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('exercise_id')
    )


def downgrade() -> None:
    op.drop_table('programme_exercises')
    with op.batch_alter_table('programme_share_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_programme_share_links_programme_id'))
    op.drop_table('programme_share_links')
    with op.batch_alter_table('programme_training_sets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_programme_training_sets_programme_id'))
    op.drop_table('programme_training_sets')
    with op.batch_alter_table('programme_logs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_programme_logs_programme_id'))
    op.drop_table('programme_logs')
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_programmes_patient_id'))
    op.drop_table('programmes')
