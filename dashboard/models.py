"""SQLAlchemy models of the clinic dashboard: clinicians, patients, sessions, trials, results,
patient-reported outcomes, calibrations, notes and settings.

Storage is SI (kg, N, m, s; COP in mm as the recordings carry it); result keys carry their
unit in the name (``mean_velocity_mm_s``). The UI converts to clinic units (dashboard.units).

A trial's raw samples are stored durably *beside* the database: one recording file (StepPlate
CSV) per trial under the data folder, referenced by a relative path plus its SHA-256 and
size, checked on every read (dashboard.recordings). The schema is owned by Alembic
(dashboard/migrations); ``Base.metadata`` must match the latest revision (tested).
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask_login import UserMixin
from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, SmallInteger, String,
                        Text, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

SIDES = ("left", "right", "both")
LEGS = ("left", "right", "unknown")
#: a trial's status: scored or kept ("ok"), set aside by the clinician ("redo"), being recorded
#: live ("recording"), or cut short by a lost acquisition ("interrupted", kept and viewable)
OK, REDO, RECORDING, INTERRUPTED = "ok", "redo", "recording", "interrupted"
TRIAL_STATUSES = (OK, REDO, RECORDING, INTERRUPTED)
ROLES = ("admin", "clinician")
#: Password KDF, pinned (docs/security.md): scrypt, N=2^15, r=8, p=1 (about 32 MiB and ~50-100 ms
#: per check on a Raspberry Pi 4), 16-byte random salt. Werkzeug's default today, written out so
#: that a library upgrade cannot silently change it; older hashes are upgraded at the next login.
PASSWORD_HASH_METHOD = "scrypt:32768:8:1"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Clinician(UserMixin, Base):
    __tablename__ = "clinicians"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=PASSWORD_HASH_METHOD, salt_length=16)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def password_needs_rehash(self) -> bool:
        return not self.password_hash.startswith(PASSWORD_HASH_METHOD + "$")

    @property
    def role(self) -> str:
        """``admin`` (clinicians, settings, deleting patients, the audit log) or ``clinician``."""
        return "admin" if self.is_admin else "clinician"

    @property
    def is_active(self) -> bool:  # Flask-Login: a deactivated clinician cannot log in
        return bool(self.active)


class Patient(Base):
    """Pseudonymous: a clinic code, body mass, leg dominance and year of birth; nothing that names a person."""
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    body_mass_kg: Mapped[float] = mapped_column(Float)
    dominant_leg: Mapped[str] = mapped_column(String(8), default="unknown")
    #: the injured or weaker side ("left", "right" or "none"): the LSI's numerator
    involved_side: Mapped[str] = mapped_column(String(8), default="none", server_default="none")
    #: year of birth only (no date: pseudonymous), for the age band of the reference values
    birth_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    sessions: Mapped[list["ClinicSession"]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="ClinicSession.started_at")
    note_entries: Mapped[list["Note"]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="Note.created_at")


class ClinicSession(Base):
    """One visit: a protocol run (several trials) on one day."""
    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_patient_started", "patient_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id", ondelete="SET NULL"), nullable=True)
    protocol: Mapped[str] = mapped_column(String(40))
    #: the patient's involved side when the session was opened (it may change between sessions)
    involved_side: Mapped[str | None] = mapped_column(String(8), nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    notes: Mapped[str] = mapped_column(Text, default="")

    patient: Mapped[Patient] = relationship(back_populates="sessions")
    clinician: Mapped[Clinician | None] = relationship()
    trials: Mapped[list["Trial"]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="Trial.id")
    report: Mapped["PatientReport | None"] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True, uselist=False)


class Calibration(Base):
    """A calibration the plate used: its file (path + SHA-256) and a summary for the UI."""
    __tablename__ = "calibrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    plate_name: Mapped[str] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(String(40), default="nominal")
    path: Mapped[str] = mapped_column(String(400), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    summary: Mapped[dict] = mapped_column(JSON, default=dict)


class Trial(Base):
    __tablename__ = "trials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    protocol: Mapped[str] = mapped_column(String(40))
    side: Mapped[str] = mapped_column(String(8), default="both")
    #: the protocol condition it was recorded under (its id: eyes_closed, foam_eyes_open, …)
    condition: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="ok")  # TRIAL_STATUSES (16 wide: migration 0002)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    sample_rate_hz: Mapped[float] = mapped_column(Float, default=0.0)
    n_samples: Mapped[int] = mapped_column(Integer, default=0)
    body_mass_kg: Mapped[float] = mapped_column(Float)  #: snapshot: % body weight stays right if mass changes
    recording_path: Mapped[str] = mapped_column(String(400))  #: relative to the data folder
    recording_sha256: Mapped[str] = mapped_column(String(64))
    recording_bytes: Mapped[int] = mapped_column(Integer)
    quality: Mapped[dict] = mapped_column(JSON, default=dict)  #: flag counts, warnings
    calibration_id: Mapped[int | None] = mapped_column(ForeignKey("calibrations.id", ondelete="SET NULL"), nullable=True)

    session: Mapped[ClinicSession] = relationship(back_populates="trials")
    calibration: Mapped[Calibration | None] = relationship()
    results: Mapped[list["Result"]] = relationship(back_populates="trial", cascade="all, delete-orphan",
                                                   order_by="Result.key")

    def result_map(self) -> dict[str, float]:
        return {r.key: r.value for r in self.results}


class Result(Base):
    """One measure of one trial, long format so trends are one indexed query."""
    __tablename__ = "results"
    __table_args__ = (UniqueConstraint("trial_id", "key", name="uq_results_trial_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    value: Mapped[float] = mapped_column(Float)

    trial: Mapped[Trial] = relationship(back_populates="results")


class PatientReport(Base):
    """What the patient reported at one session (dashboard.pros): pain on two 0–10 numeric
    rating scales and the 20 LEFS answers (0–4 each, a JSON list of 20, or NULL when not
    asked) with their computed total (0–80). One per session; each part may be left out."""
    __tablename__ = "patient_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), unique=True)
    pain_week_nrs: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)  #: worst pain, past week
    pain_test_nrs: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)  #: pain during the test
    lefs_items: Mapped[list | None] = mapped_column(JSON, nullable=True)            #: 20 answers, item order
    lefs_total: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)     #: sum of lefs_items
    #: who entered it or changed it last (the audit log keeps every change)
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id", ondelete="SET NULL"), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    session: Mapped[ClinicSession] = relationship(back_populates="report")
    clinician: Mapped[Clinician | None] = relationship()


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    text: Mapped[str] = mapped_column(Text)

    patient: Mapped[Patient] = relationship(back_populates="note_entries")
    clinician: Mapped[Clinician | None] = relationship()


class Setting(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict | list | str | int | float | None] = mapped_column(JSON, nullable=True)


# --- security (docs/security.md): audit log and login throttling -----------------------

AUDIT_ACTIONS = ("view", "export", "change", "delete", "login", "login_failed", "lockout", "logout")


class AuditEvent(Base):
    """Who viewed, exported or deleted which patient's data (and logins), when, from where.

    ``patient_id`` is deliberately *not* a foreign key: the record of a deletion must survive
    the deletion. It keeps the number only, never the patient's code or other data.
    """
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_patient_at", "patient_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    clinician_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    username: Mapped[str] = mapped_column(String(80), default="")  #: as typed at login, or the clinician's name
    action: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    target: Mapped[str] = mapped_column(String(200), default="")  #: endpoint and object, e.g. "export.trial_csv trial=4"
    client: Mapped[str] = mapped_column(String(64), default="")   #: client IP address


class LoginThrottle(Base):
    """Failed logins per key (``user:<name>`` or ``ip:<address>``) and the lock they earned."""
    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)     #: locks so far: the next one lasts twice as long
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
