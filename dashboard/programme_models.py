"""Tables of the exercise programme (dashboard/programme.py), on the dashboard's ``Base``.

Times are stored in UTC (aware); a programme's weeks are counted in the clinic's local dates
(its ``timezone``, copied from the clinic setting when the block was assigned). ``plan`` is a
snapshot: the block (rig.programme.Block.to_dict) and every exercise it uses, so editing
the library later never changes a sheet already handed out. Share links keep only the
SHA-256 of their token. Schema: migration 0003_programme.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dashboard.models import Base, Clinician, ClinicSession, Patient, utcnow

LOG_SOURCES = ("home", "clinic")


class Programme(Base):
    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id", ondelete="SET NULL"), nullable=True)
    title: Mapped[str] = mapped_column(String(120))
    start_date: Mapped[date] = mapped_column(Date)               #: local date of week 1's first day
    timezone: Mapped[str] = mapped_column(String(64))
    plan: Mapped[dict] = mapped_column(JSON)                      #: {"block": ..., "exercises": {id: ...}}
    status: Mapped[str] = mapped_column(String(16), default="active")   # active | ended
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    baseline_session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"), nullable=True)
    retest_session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"), nullable=True)

    patient: Mapped[Patient] = relationship()
    clinician: Mapped[Clinician | None] = relationship()
    baseline_session: Mapped[ClinicSession | None] = relationship(foreign_keys=[baseline_session_id])
    retest_session: Mapped[ClinicSession | None] = relationship(foreign_keys=[retest_session_id])
    logs: Mapped[list["ProgrammeLog"]] = relationship(back_populates="programme", cascade="all, delete-orphan",
                                                      order_by="ProgrammeLog.performed_at")
    training_sets: Mapped[list["TrainingSet"]] = relationship(back_populates="programme", cascade="all, delete-orphan",
                                                              order_by="TrainingSet.started_at")
    links: Mapped[list["ShareLink"]] = relationship(back_populates="programme", cascade="all, delete-orphan",
                                                    order_by="ShareLink.created_at")


class ProgrammeLog(Base):
    """A session ticked by hand: done at home (the patient says so) or at the clinic."""
    __tablename__ = "programme_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    performed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(16), default="home")
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")

    programme: Mapped[Programme] = relationship(back_populates="logs")


class TrainingSet(Base):
    """One guided set on the plate (training mode): logged automatically as a clinic session."""
    __tablename__ = "programme_training_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    exercise_id: Mapped[str] = mapped_column(String(60))
    side: Mapped[str] = mapped_column(String(8), default="both")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    time_in_target_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    measures: Mapped[dict] = mapped_column(JSON, default=dict)
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id", ondelete="SET NULL"), nullable=True)

    programme: Mapped[Programme] = relationship(back_populates="training_sets")


class ShareLink(Base):
    """A read-only link to one programme's sheet: random token, only its hash stored."""
    __tablename__ = "programme_share_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    programme: Mapped[Programme] = relationship(back_populates="links")


class ClinicExercise(Base):
    """An exercise the clinic added, or its edit of a shipped one (same id replaces it)."""
    __tablename__ = "programme_exercises"

    exercise_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    data: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id", ondelete="SET NULL"), nullable=True)
