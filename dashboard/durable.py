"""Durable live recording of a trial, and the start-up recovery of interrupted ones.

Nothing recorded is lost (docs/reliability.md): the order of writes is what makes a crash at any instant recoverable:

1. A ``Trial`` row with ``status="recording"`` is committed *before* any sample is written.
   It names its recording file and the rig that records it (``quality["rig"]``).
2. Samples from the live source's batches are appended to ``<recording>.partial`` (the
   recording format's one writer, rig.recording.writer.TrialRecorder) and flushed + ``fsync``-ed at
   least every ``SYNC_EVERY_S`` of sample time or wall time; with batches of 100 ms no more
   than 1 s of samples is ever written-but-not-synced.
3. At the end: fsync, atomic rename ``.partial`` -> final name, fsync the folder, then the row
   is updated (checksum, size, measures, ``status="ok"``) in one commit.
4. If the live source stalls (no samples for ``STALL_S``) or disconnects mid-trial (acquisition
   crashed, or a load cell stopped answering until the end), the samples so far are finished
   the same way and the row becomes ``status="interrupted"``.

A trial recorded during a fault is flagged: every problem the acquisition's health reports
while the trial records (a load cell not responding, stuck, saturated, noisy; rate too low) is
kept in ``quality["faults_during_recording"]`` (committed at once, so recovery keeps it too),
shown as a warning "recorded during a fault: <message>", and the analysis lists the fault
``recorded_during_fault`` (the trial is not scored, so comparisons and history leave it out).

``recover(app)`` runs when the web process starts: every ``.partial`` of this data folder is
finished (a torn last line dropped, renamed) and its row marked ``interrupted``; rows of this
rig still ``recording`` without any file get an empty recording. Interrupted trials stay
viewable (samples, export) and are left out of comparisons and history like a redo.
"""
from __future__ import annotations

import logging
import queue
import socket
import time
from pathlib import Path

import numpy as np
from flask import Flask

from dashboard import recordings
from dashboard.models import INTERRUPTED, OK, RECORDING, ClinicSession, Trial
from dashboard.store import (FAULT, FAULTS_KEY, SYNC_EVERY_S, PartialWriter, TrialStore,  # noqa: F401  (the recorder's API)
                             flag_faults)
from rig.acquire import health
from rig.recording.format import PARTIAL, RecordingError

log = logging.getLogger(__name__)

STALL_S = 3.0           # no batch for this long during a trial: the acquisition is gone
MAX_FAULTS = 10


def _add_faults(known: list[str], seen: set, report: dict) -> bool:
    """Add the faults of a health report that are new (a fault is its code and chip: the same
    fault with another count in its wording is not new); True if any was added."""
    added = False
    for p in health.faults(report):
        key = (p.get("code"), p.get("chip"))
        if key not in seen and len(known) < MAX_FAULTS:
            known.append(str(p.get("message", "")))
            seen.add(key)
            added = True
    return added


def rig_id(app: Flask) -> str:
    """Which rig records (several rigs may share one PostgreSQL database)."""
    return str(app.config.get("RIG_ID") or socket.gethostname())


def _from(msg: dict, t_s: float) -> dict:
    """The batch ``msg`` without its samples (and their counts) before ``t_s``."""
    rows = msg["samples"]
    keep = [i for i, r in enumerate(rows) if r and r[0] is not None and float(r[0]) >= t_s - 1e-9]
    counts = msg.get("counts")
    out = dict(msg, samples=[rows[i] for i in keep])
    if counts is not None and len(counts) == len(rows):
        out["counts"] = [counts[i] for i in keep]
    return out


def record_trial(app: Flask, session: ClinicSession, side: str, seconds: float, *,
                 first_batch_s: float = 3.0, stall_s: float = STALL_S, on_sync=None, on_write=None,
                 meta: dict | None = None, cues=None, start=None) -> Trial:
    """Record ``seconds`` of stream time from the live source durably; returns the Trial
    (``status`` ``ok``, or ``interrupted`` when the acquisition went away mid-trial).
    Raises livefeed.NoLiveSource when no batch arrives within ``first_batch_s``.

    ``cues``: a lateral step-down metronome's cue times (stream time, sent by the run page).
    The header is written once the first batch says where the recording starts: the cues
    within [first sample, first sample + seconds] become its ``# cues_s:`` line, the others are
    dropped and counted in ``# cues_note:`` (shown as a quality warning).

    ``start``: called once the recording listens (so no sample after it can be missed); it
    may return a dict whose ``start_t_s`` is where the trial starts on the stream's clock (the
    simulator's person starts the test then): samples before it are not part of the trial."""
    from dashboard import livefeed
    from dashboard.db import get_db
    src = livefeed.live_source(app)
    q: queue.Queue = queue.Queue()          # unbounded: a recording must not drop samples
    unsubscribe = src.subscribe(q.put)
    data_dir = Path(app.config["STEPPLATE_DATA_DIR"])
    db = get_db()
    writer = trial = None
    reason = None
    try:
        told = start() if start is not None else None
        from_t = (told or {}).get("start_t_s")
        deadline = time.monotonic() + first_batch_s
        msg = None
        while True:
            try:
                msg = q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise livefeed.NoLiveSource(
                    "no samples from the live source (acquisition stopped or plate disconnected)") from None
            if msg.get("type") == "batch" and msg.get("samples") and from_t is not None:
                msg = _from(msg, float(from_t))
            if msg.get("type") == "batch" and msg.get("samples"):
                break
        hello = getattr(src, "hello", None) or {}
        meta = dict(meta or {})
        start = float(msg["samples"][0][0])              # the trial's clock starts here (stream time)
        if cues is not None:
            meta.update(_cue_meta(cues, start, seconds))
        store = TrialStore(db, data_dir, rig_id(app))
        trial, writer = store.begin_live(session, side, hello, meta, on_sync=on_sync, t0_s=start)   # 1. the row first
        t0 = None
        faults: list[str] = []                           # what the health reported during the trial
        fault_keys: set = set()                          # (code, chip) of each of them
        last_samples = time.monotonic()
        while True:                                      # 2. samples, fsynced every <= 0.9 s
            if msg.get("type") == "disconnected":
                reason = "acquisition disconnected"
                break
            if msg.get("type") == "health" and _add_faults(faults, fault_keys, msg):
                trial.quality = {**(trial.quality or {}), FAULTS_KEY: list(faults)}
                db.commit()                              # kept even if the web process dies
            if msg.get("type") == "batch":
                rows = [[np.nan if v is None else v for v in r] for r in msg.get("samples") or []]
                counts = msg.get("counts")
                if counts is None or len(counts) != len(rows):
                    counts = [[0, 0, 0, 0]] * len(rows)
                if rows:
                    last_samples = time.monotonic()
                    if t0 is None:
                        t0 = float(rows[0][0])
                    keep = [i for i, r in enumerate(rows) if float(r[0]) - t0 <= seconds + 1e-9]
                    writer.write([rows[i] for i in keep], [counts[i] for i in keep])
                    if on_write is not None:
                        on_write(writer)
                    if len(keep) < len(rows) or float(rows[-1][0]) - t0 >= seconds - 1e-9:
                        break
            try:                                         # health alone does not keep a trial alive
                msg = q.get(timeout=max(0.0, last_samples + stall_s - time.monotonic()))
            except queue.Empty:
                reason = f"no samples for {stall_s:g} s" + (f": {faults[-1]}" if faults else "")
                break
    except Exception as exc:
        if writer is not None:                           # keep what was recorded, then re-raise
            writer.finish()
            store.finish(trial, INTERRUPTED, f"error: {exc}")
        raise
    finally:
        unsubscribe()
    writer.finish()                                      # 3. fsync + atomic rename
    return store.finish(trial, INTERRUPTED if reason else OK, reason)


def _cue_meta(cues, t0: float, seconds: float) -> dict:
    """``cues_s`` (and ``cues_note`` when some fall outside the recording) for the header, on
    the recording's clock (stream time − ``t0``, the trial's first sample)."""
    from rig.analysis.protocols.analysis import cues_metadata
    keep = [float(c) for c in cues if t0 - 1e-9 <= c <= t0 + seconds + 1e-9]
    out = cues_metadata([c - t0 for c in keep]) if keep else {}   # none left: the blind detector
    if len(keep) < len(cues):
        out["cues_note"] = (f"{len(cues) - len(keep)} of {len(cues)} metronome cues outside the recorded "
                            f"samples ({t0:.3f} to {t0 + seconds:.3f} s) dropped")
    return out


def _empty_recording(path: Path, trial: Trial) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    w = PartialWriter(path, {"trial": trial.id, "note": "interrupted before the first sample"})
    w.finish()


def _readable_or_empty(path: Path, trial: Trial) -> None:
    """A recording killed before its header reached the disk (an empty or torn header) is
    replaced by an empty one, so the trial stays viewable as interrupted with no samples and
    start-up recovery never fails on it."""
    try:
        recordings.decode(path.read_bytes())
    except RecordingError as exc:
        log.warning("recording %s of trial %s has no readable header (%s): kept as an empty recording",
                    path.name, trial.id, exc)
        _empty_recording(path, trial)


def recover(app: Flask) -> list[int]:
    """Finish this rig's interrupted recordings; returns the ids of the trials marked interrupted."""
    from rig.recording.writer import recover as finish_partial
    from dashboard.db import database
    data_dir = Path(app.config["STEPPLATE_DATA_DIR"])
    me = rig_id(app)
    done: list[int] = []
    with database(app).sessionmaker() as db:
        store = TrialStore(db, data_dir, me)
        for partial in sorted((data_dir / "recordings").glob(f"**/*{PARTIAL}")):
            rel = partial.relative_to(data_dir).as_posix()[: -len(PARTIAL)]
            trial = db.query(Trial).filter(Trial.recording_path == rel).one_or_none()
            finish_partial(partial)                      # drop a torn last line, rename, fsync
            if trial is None:
                log.warning("recording %s has no trial row; kept as a file", rel)
                continue
            if trial.status == RECORDING:
                _readable_or_empty(data_dir / rel, trial)
                store.finish(trial, INTERRUPTED, "web process stopped during the trial")
                done.append(trial.id)
        for trial in db.query(Trial).filter(Trial.status == RECORDING).all():
            path = data_dir / trial.recording_path
            if path.exists():                            # renamed, but the final commit was lost
                _readable_or_empty(path, trial)
                store.finish(trial, INTERRUPTED, "web process stopped while finishing")
            elif (trial.quality or {}).get("rig") == me:  # row committed, no sample written yet
                _empty_recording(path, trial)
                store.finish(trial, INTERRUPTED, "web process stopped before the first sample")
            else:
                continue                                 # another rig's trial, still recording
            done.append(trial.id)
    if done:
        log.warning("marked %d interrupted trial(s): %s", len(done), done)
    return done


def init_app(app: Flask) -> None:
    app.config.setdefault("RECOVER_ON_START", True)
    if app.config["RECOVER_ON_START"]:
        recover(app)
