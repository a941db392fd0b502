"""Trials' raw samples, stored durably as files beside the database.

Decision: one StepPlate recording (CSV, header names columns with units, see
``rig.plate.SAMPLE_COLUMNS``) per trial under ``<data folder>/recordings/YYYY/MM/``; the
database keeps the relative path, the SHA-256 and the size. Why files and not a samples
table: a 30 s trial at 80 Hz is 2 400 rows × 9 columns; years of trials would make the
database large and slow to back up, while a recording file is the same format ``rig
record`` writes and ``rig analyze`` reads, so any trial can be re-analysed with the CLI or
opened in a spreadsheet. Durability: written to a temporary file, fsynced, renamed into
place and the folder fsynced before the database row is committed; the checksum is checked
on every read, so a corrupted or swapped file is an error, never silently wrong data.

The file is a StepPlate recording (docs/recording-format.md, version 1: what ``rig.io``
reads and ``rig analyze`` analyses): ``# key: value`` metadata (``stepplate-recording``,
``plate``, ``rate_hz``, geometry, protocol, side, …), then the calibrated ``SAMPLE_COLUMNS``,
optionally followed by the raw ADC codes ``c_fl, c_fr, c_bl, c_br`` (``RAW_COLUMNS``).
"""
from __future__ import annotations

import hashlib
import io
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rig.plate import SAMPLE_COLUMNS

RAW_COLUMNS = ("c_fl", "c_fr", "c_bl", "c_br")
FORMAT_KEY, FORMAT_VERSION = "stepplate-recording", "1"
FORMAT = "stepplate-recording/1"  #: older "# format:" header value, still read; write with header()


def header(meta: dict) -> str:
    """The metadata lines of a recording (``# stepplate-recording: 1`` first), without columns."""
    return f"# {FORMAT_KEY}: {FORMAT_VERSION}\n" + "".join(f"# {k}: {v}\n" for k, v in meta.items())


class RecordingError(RuntimeError):
    """A trial's recording is missing, unreadable or fails its checksum."""


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def encode(samples: np.ndarray, columns: tuple[str, ...], meta: dict) -> bytes:
    """The CSV bytes: ``# key: value`` metadata lines, a header row, one row per sample."""
    buf = io.StringIO()
    buf.write(header(meta))
    buf.write(",".join(columns) + "\n")
    fmts = ["int" if (c == "flags" or c in RAW_COLUMNS) else ("{:.6f}" if c == "t_s" else "{:.6g}")
            for c in columns]
    for row in samples:
        buf.write(",".join(
            ("" if not np.isfinite(v) else (str(int(v)) if f == "int" else f.format(v)))
            for f, v in zip(fmts, row)) + "\n")
    return buf.getvalue().encode("utf-8")


def decode(data: bytes) -> tuple[tuple[str, ...], np.ndarray, dict]:
    meta: dict[str, str] = {}
    lines = data.decode("utf-8").splitlines()
    i = 0
    while i < len(lines) and lines[i].startswith("#"):
        k, _, v = lines[i][1:].partition(":")
        meta[k.strip()] = v.strip()
        i += 1
    if i >= len(lines):
        raise RecordingError("recording has no header row")
    columns = tuple(c.strip() for c in lines[i].split(","))
    missing = [c for c in SAMPLE_COLUMNS if c not in columns]
    if missing:
        raise RecordingError(f"recording lacks columns {missing}")
    rows = [[float(x) if x != "" else np.nan for x in line.split(",")] for line in lines[i + 1:] if line]
    arr = np.array(rows, dtype=float).reshape(-1, len(columns))
    return columns, arr, meta


def write(data_dir: str | os.PathLike, samples: np.ndarray, columns=SAMPLE_COLUMNS,
          meta: dict | None = None) -> tuple[str, str, int]:
    """Store a recording durably; returns (path relative to data_dir, sha256 hex, size)."""
    samples = np.asarray(samples, dtype=float)
    columns = tuple(columns)
    if samples.ndim != 2 or samples.shape[1] != len(columns):
        raise ValueError(f"samples must be (n, {len(columns)}) for columns {columns}")
    now = datetime.now(timezone.utc)
    rel = Path("recordings") / f"{now:%Y}" / f"{now:%m}" / f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}.csv"
    dest = Path(data_dir) / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    blob = encode(samples, columns, meta or {})
    tmp = dest.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(blob)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, dest)
    _fsync_dir(dest.parent)
    return rel.as_posix(), hashlib.sha256(blob).hexdigest(), len(blob)


def read_bytes(data_dir: str | os.PathLike, rel: str, sha256: str) -> bytes:
    path = Path(data_dir) / rel
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise RecordingError(f"recording {rel} is missing from {data_dir}") from None
    if hashlib.sha256(blob).hexdigest() != sha256:
        raise RecordingError(f"recording {rel} fails its SHA-256 check (changed or corrupted)")
    return blob


def read(data_dir, rel: str, sha256: str) -> tuple[tuple[str, ...], np.ndarray, dict]:
    return decode(read_bytes(data_dir, rel, sha256))
