"""Trials' raw samples, stored durably as files beside the database.

Decision: one StepPlate recording per trial under ``<data folder>/recordings/YYYY/MM/``; the
database keeps the relative path, the SHA-256 and the size. Why files and not a samples
table: a 30 s trial at 80 Hz is 2 400 rows × 13 columns; years of trials would make the
database large and slow to back up, while a recording file is what the rig writes
and ``rig analyze`` reads, so any trial can be re-analysed with the CLI or opened in a
spreadsheet.

The format (docs/recording-format.md) has one writer and one reader: ``rig.recording.writer``
(``TrialRecorder``: ``.partial``, fsync, atomic rename, folder fsync, SHA-256 of what it
wrote) and ``rig.recording.reader.read_table`` / ``rig.recording.reader``. This module only places the file, fills
the required header fields and checks the checksum on every read, so a corrupted or
swapped file is an error, never silently wrong data. Stream time is kept as recorded
(``t0_s=0``), so a stored trial's times match the live stream's.
"""
from __future__ import annotations

import hashlib
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rig.recording.format import RAW_COLUMNS, REQUIRED_KEYS, RecordingError
from rig.recording.reader import read_table
from rig.signal.plate import SAMPLE_COLUMNS
from rig.recording.writer import write_recording

__all__ = ["RAW_COLUMNS", "RecordingError", "new_path", "write", "read_bytes", "read", "decode",
           "complete_meta"]


def new_path() -> str:
    """A fresh relative path ``recordings/YYYY/MM/<time>-<random>.csv``."""
    now = datetime.now(timezone.utc)
    return (Path("recordings") / f"{now:%Y}" / f"{now:%m}" /
            f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}.csv").as_posix()


def complete_meta(meta: dict) -> dict:
    """``meta`` with every header field the format requires ("unknown" where not known)."""
    return {**{k: "unknown" for k in REQUIRED_KEYS}, **{k: v for k, v in meta.items() if v is not None}}


def write(data_dir: str | os.PathLike, samples: np.ndarray, columns=SAMPLE_COLUMNS,
          meta: dict | None = None) -> tuple[str, str, int]:
    """Store a recording durably; returns (path relative to data_dir, sha256 hex, size)."""
    samples = np.asarray(samples, dtype=float)
    columns = tuple(columns)
    if samples.ndim != 2 or samples.shape[1] != len(columns):
        raise ValueError(f"samples must be (n, {len(columns)}) for columns {columns}")
    ix = {c: i for i, c in enumerate(columns)}
    missing = [c for c in SAMPLE_COLUMNS if c not in ix]
    if missing:
        raise ValueError(f"samples lack columns {missing}")
    calibrated = samples[:, [ix[c] for c in SAMPLE_COLUMNS]]
    counts = samples[:, [ix[c] for c in RAW_COLUMNS]] if all(c in ix for c in RAW_COLUMNS) else None
    rel = new_path()
    rec = write_recording(Path(data_dir) / rel, complete_meta(meta or {}), calibrated, counts, t0_s=0.0)
    return rel, rec.sha256, rec.bytes


def read_bytes(data_dir: str | os.PathLike, rel: str, sha256: str) -> bytes:
    path = Path(data_dir) / rel
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise RecordingError(f"recording {rel} is missing from {data_dir}") from None
    if hashlib.sha256(blob).hexdigest() != sha256:
        raise RecordingError(f"recording {rel} fails its SHA-256 check (changed or corrupted)")
    return blob


def decode(data: bytes, source: str = "<recording>") -> tuple[tuple[str, ...], np.ndarray, dict]:
    """(columns, samples, metadata) of a recording's bytes (rig.recording.reader.read_table)."""
    return read_table(data, source)


def read(data_dir, rel: str, sha256: str) -> tuple[tuple[str, ...], np.ndarray, dict]:
    return read_table(read_bytes(data_dir, rel, sha256), rel)
