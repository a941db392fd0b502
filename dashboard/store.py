"""Trial storage, outside Flask: the one path from samples to a stored, analysed trial.

Both ways a trial arrives go through a `TrialStore` (a database session, the data folder and
the rig's id; no request, no app): samples posted whole (`store`, dashboard.trials) and the
durable live recording (`begin_live` … `finish`, dashboard.durable). Either way the recording
file is written first, durably, by the format's one writer; then the *stored* file is read back
and analysed by the protocol's analysis (`rig analyze` reads the same file the same way); then
the row is committed with its checksum, quality and measures. A failed analysis is stored and
shown, never raised: the samples are never lost.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from dashboard import measures, recordings
from dashboard.models import INTERRUPTED, RECORDING, SIDES, ClinicSession, Result, Trial
from rig.constants import SAMPLE_COLUMNS
from rig.recording.writer import TrialRecorder, metadata_from_hello

SYNC_EVERY_S = 0.9      # + one batch (100 ms) = at most 1 s of samples not yet on the disk
FAULTS_KEY = "faults_during_recording"
FAULT = "recorded_during_fault"     #: the analysis fault of a trial recorded during a fault


def flag_faults(q: dict, faults) -> dict:
    """Mark a trial's quality (and its analysis) as recorded during these faults."""
    if not faults:
        return q
    q[FAULTS_KEY] = list(faults)
    q["warnings"] = [*(f"recorded during a fault: {m}" for m in faults), *q.get("warnings", [])]
    q["ok"] = False
    a = q.get("analysis")
    if isinstance(a, dict) and a.get("ok"):
        a["faults"] = [*a.get("faults", []), FAULT]
        a["scored"] = False
    return q


class PartialWriter(TrialRecorder):
    """The live trial's ``<final>.partial``: rig.recording.writer's writer (one format), its
    times counted from the trial's start (``t0_s``, stream time; the header keeps it as
    ``stream_t0_s``; 0 keeps the stream time), fsynced at least every ``sync_every_s`` (sample
    time or wall time). ``synced_rows``/``synced_bytes``: what the last fsync made durable (the
    kill test reads them through ``on_sync``)."""

    def __init__(self, final: Path, meta: dict, *, sync_every_s: float = SYNC_EVERY_S, on_sync=None,
                 t0_s: float = 0.0):
        super().__init__(final, recordings.complete_meta(meta), sync_every_s=sync_every_s, t0_s=t0_s,
                         on_sync=on_sync)

    @property
    def final(self) -> Path:
        return self.path

    def finish(self) -> Path:
        """fsync, rename atomically to the final name, fsync the folder."""
        return self.close()


class TrialStore:
    """Stores trials in ``db`` (an ORM session) with their recordings under ``data_dir``."""

    def __init__(self, db, data_dir, rig: str = ""):
        self.db = db
        self.data_dir = Path(data_dir)
        self.rig = rig

    def _analyse(self, trial: Trial, columns, arr, meta, body_mass_kg) -> dict:
        """Quality and measures of the stored recording onto ``trial`` (rows replaced)."""
        q, results = measures.evaluate(arr, columns, trial.protocol, trial.side, body_mass_kg, meta=meta)
        trial.results = [Result(key=k, value=v) for k, v in sorted(results.items())
                         if v is not None and np.isfinite(v)]
        return q

    def store(self, session: ClinicSession, side: str, samples, columns=SAMPLE_COLUMNS, *,
              meta: dict, started_at: datetime | None = None) -> Trial:
        """A whole trial's samples: the recording first (durable), then its analysis, one commit.
        ``meta``: the recording's header (plate, geometry, calibration, …); without ``rate_hz``
        the rate is the samples' own (they come whole, with their times)."""
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}")
        columns = tuple(columns)
        missing = [c for c in SAMPLE_COLUMNS if c not in columns]
        if missing:
            raise ValueError(f"samples lack columns {missing}")
        samples = np.asarray(samples, dtype=float).reshape(-1, len(columns))
        if len(samples) < 2:
            raise ValueError("a trial needs at least 2 samples")
        patient = session.patient
        t = samples[:, columns.index("t_s")]
        duration = float(t[-1] - t[0])
        meta = {"rate_hz": f"{(len(t) - 1) / duration if duration > 0 else 0.0:g}", **meta}
        started_at = started_at or datetime.now(timezone.utc)
        rel, sha, size = recordings.write(self.data_dir, samples, columns, {
            **meta, "started_utc": started_at.isoformat(), "patient": patient.code, "session": session.id,
            "protocol": session.protocol, "side": side, "body_mass_kg": f"{patient.body_mass_kg:g}"})
        trial = Trial(session_id=session.id, protocol=session.protocol, side=side, started_at=started_at,
                      condition=meta.get("condition"), duration_s=duration, sample_rate_hz=float(meta["rate_hz"]),
                      n_samples=len(samples), body_mass_kg=patient.body_mass_kg,
                      recording_path=rel, recording_sha256=sha, recording_bytes=size)
        stored_columns, stored, stored_meta = recordings.read(self.data_dir, rel, sha)
        trial.quality = self._analyse(trial, stored_columns, stored, stored_meta, patient.body_mass_kg)
        self.db.add(trial)
        self.db.commit()
        return trial

    def begin_live(self, session: ClinicSession, side: str, hello: dict, meta: dict, *,
                   on_sync=None, t0_s: float = 0.0) -> tuple[Trial, PartialWriter]:
        """A live trial: its row is committed (status "recording") before any sample is written,
        then the writer of its ``.partial`` recording is opened; ``t0_s``: the stream time of
        its first sample, where the recording's clock starts (kept as ``stream_t0_s``)."""
        patient = session.patient
        trial = Trial(session_id=session.id, protocol=session.protocol, side=side, status=RECORDING,
                      condition=meta.get("condition"),
                      started_at=datetime.now(timezone.utc), duration_s=0.0,
                      sample_rate_hz=float(hello.get("rate_hz") or 0.0), n_samples=0,
                      body_mass_kg=patient.body_mass_kg, recording_path=recordings.new_path(), recording_sha256="",
                      recording_bytes=0, quality={"rig": self.rig, "recording": True})
        self.db.add(trial)
        self.db.commit()
        writer = PartialWriter(self.data_dir / trial.recording_path, metadata_from_hello(
            hello, protocol=session.protocol, side=side, patient=patient.code, session=session.id, trial=trial.id,
            body_mass_kg=f"{patient.body_mass_kg:g}", rig=self.rig, source="live",
            **({"stream_t0_s": f"{t0_s:.6f}"} if t0_s else {}), **meta), on_sync=on_sync, t0_s=t0_s)
        return trial, writer

    def finish(self, trial: Trial, status: str, reason: str | None = None) -> Trial:
        """A finished live recording (``status`` ok or interrupted): checksum the file, analyse
        it, flag the faults recorded during it, commit the row."""
        path = self.data_dir / trial.recording_path
        blob = path.read_bytes()
        columns, arr, meta = recordings.decode(blob)
        n = len(arr)
        t = arr[:, 0] if n else np.zeros(0)
        duration = float(t[-1] - t[0]) if n >= 2 else 0.0
        trial.status = status
        trial.n_samples = n
        trial.duration_s = duration
        trial.recording_sha256 = hashlib.sha256(blob).hexdigest()
        trial.recording_bytes = len(blob)
        q = self._analyse(trial, columns, arr, meta, trial.body_mass_kg or trial.session.patient.body_mass_kg)
        q["rig"] = (trial.quality or {}).get("rig")
        flag_faults(q, (trial.quality or {}).get(FAULTS_KEY))
        if status == INTERRUPTED:
            q["interrupted"] = {"reason": reason or "", "at": datetime.now(timezone.utc).isoformat()}
            q["warnings"] = [f"recording interrupted ({reason}): {n} samples kept", *q.get("warnings", [])]
            q["ok"] = False
        trial.quality = q
        self.db.commit()
        return trial
