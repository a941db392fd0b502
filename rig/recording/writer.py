"""Durable trial recording: StepPlate's recording format (version 1).

A recording is a UTF-8 CSV file::

    # stepplate-recording: 1
    # plate: stepplate-1
    # rate_hz: 80
    # geometry_cell_x_m: -0.22,0.22,-0.22,0.22
    # geometry_cell_y_m: 0.17,0.17,-0.17,-0.17
    # started_utc: 2026-11-22T09:30:00Z
    # calibration: nominal
    # protocol: single_leg_stance          (optional)
    # side: left                           (optional)
    t_s,f_fl_n,f_fr_n,f_bl_n,f_br_n,fz_n,cop_ml_mm,cop_ap_mm,flags,c_fl,c_fr,c_bl,c_br
    0.0000,171.204,180.331,170.002,178.463,700.000,3.12,-1.07,0,1512034,-802113,330012,2001877

Metadata lines come first, each ``# key: value`` (value without newlines); then exactly the
header above; then one row per sample. ``t_s`` counts from the recording's first sample;
forces in N (3 decimals), COP in mm (2 decimals; ``nan`` when Fz is below the plate's
minimum, with the UNLOADED flag), ``flags`` the rig.hw.flags.Flag bits as an integer, ``c_*``
the raw (tared-before, spike-filtered) ADC codes. Extra metadata keys may follow the ones
above; readers must ignore keys they do not know.

Durability: rows go to ``<name>.partial``; every second (of sample time, or of wall time,
whichever comes first) the file is flushed and ``os.fsync``-ed, so a power cut loses at most
the last second and leaves a readable file (at worst a truncated last line, which readers
drop). ``close()`` fsyncs, renames ``<name>.partial`` to ``<name>`` atomically and fsyncs the
folder. ``recover(path)`` finishes an interrupted ``.partial`` the same way.

This is the one writer of the format: the dashboard's trial store and its durable live
recorder (dashboard.store) write through :class:`TrialRecorder`;
``rig.recording.reader.read_table`` reads every column back and ``read_recording`` reads it for analysis.
The recorder keeps the SHA-256 and size of what it wrote (``sha256``, ``bytes``), so a
caller can store a checksum without reading the file again.
"""
from __future__ import annotations

import hashlib
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rig.constants import SAMPLE_COLUMNS
from rig.fsutil import fsync_dir
from rig.recording.format import (FORMAT_KEY, FORMAT_VERSION, KEY_ORDER, PARTIAL, RAW_COLUMNS, RECORDING_COLUMNS,
                                   REQUIRED_KEYS, format_sample)



def _fmt_meta(value) -> str:
    if isinstance(value, (list, tuple, np.ndarray)):
        value = ",".join(f"{float(v):g}" for v in value)
    text = str(value)
    if "\n" in text or "\r" in text:
        raise ValueError(f"metadata values must be one line, got {text!r}")
    return text


def metadata_from_hello(hello: dict, **extra) -> dict:
    """Recording metadata from the acquisition's ``hello`` message (plus protocol, side, …)."""
    g = hello.get("geometry") or {}
    return {"plate": hello.get("plate", ""), "rate_hz": hello.get("rate_hz", ""),
            "geometry_cell_x_m": g.get("cell_x_m", ()), "geometry_cell_y_m": g.get("cell_y_m", ()),
            "calibration": hello.get("calibration", "nominal"), **extra}


class TrialRecorder:
    """Write one trial. ``write(samples, counts)`` or use it as a subscriber (``on_event``).

    ``t0_s``: subtracted from every ``t_s`` (None: the first sample's time, so the file counts
    from 0; 0.0 keeps the acquisition's stream time). ``on_sync(recorder)`` is called after
    every fsync; ``synced_rows``/``synced_bytes`` say what the last fsync made durable.
    ``raw=False``: no raw-count columns (for samples that come without ADC codes).
    """

    def __init__(self, path, metadata: dict, *, sync_every_s: float = 1.0, t0_s: float | None = None,
                 on_sync=None, raw: bool = True):
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + PARTIAL)
        missing = [k for k in REQUIRED_KEYS if k not in metadata]
        if missing:
            raise ValueError(f"recording metadata lacks {', '.join(missing)}")
        meta = dict(metadata)
        meta.setdefault("started_utc", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        meta[FORMAT_KEY] = FORMAT_VERSION
        for k in meta:
            if not k or ":" in k or "\n" in k or k.strip() != k:
                raise ValueError(f"bad metadata key {k!r}")
        ordered = [k for k in KEY_ORDER if k in meta] + [k for k in meta if k not in KEY_ORDER]
        self.metadata = {k: meta[k] for k in ordered}
        self.sync_every_s = sync_every_s
        self.on_sync = on_sync
        self.rows = self.synced_rows = 0
        self.bytes = self.synced_bytes = 0
        self.syncs = 0
        self.t_first: float | None = None     #: stream time of the first and last sample written
        self.t_last: float | None = None
        self._t0 = t0_s
        self.raw = raw
        self.columns = RECORDING_COLUMNS + (RAW_COLUMNS if raw else ())
        self._hash = hashlib.sha256()
        self._last_sync_t: float | None = None
        self._last_sync_wall = time.monotonic()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.partial, "xb")
        head = "".join(f"# {k}: {_fmt_meta(v)}\n" for k, v in self.metadata.items()) + ",".join(self.columns) + "\n"
        self._append(head.encode("utf-8"))
        fsync_dir(self.partial.parent)       # the .partial's name is durable too
        self._sync()
        self.closed = False

    @property
    def sha256(self) -> str:
        """SHA-256 (hex) of every byte written so far (of the whole file once closed)."""
        return self._hash.hexdigest()

    def _append(self, blob: bytes) -> None:
        self._f.write(blob)
        self._hash.update(blob)
        self.bytes += len(blob)

    def write(self, samples, counts=None) -> None:
        """Append rows: ``samples`` (n, 9) in SAMPLE_COLUMNS order, ``counts`` (n, 4) raw codes."""
        if self.closed:
            raise ValueError("recording is closed")
        samples = np.asarray(samples, dtype=float)
        if len(samples) == 0:
            return
        if samples.ndim != 2 or samples.shape[1] != len(SAMPLE_COLUMNS):
            raise ValueError(f"samples must have {len(SAMPLE_COLUMNS)} columns, got {samples.shape}")
        if counts is None or not self.raw:
            counts = np.zeros((len(samples), 4 if self.raw else 0), dtype=np.int64)
        counts = np.asarray(counts)
        if self.raw and counts.shape != (len(samples), len(RAW_COLUMNS)):
            raise ValueError(f"counts must be ({len(samples)}, {len(RAW_COLUMNS)}), got {counts.shape}")
        if self.t_first is None:
            self.t_first = float(samples[0, 0])
            self._last_sync_t = self.t_first
            if self._t0 is None:
                self._t0 = self.t_first
        lines = []
        for r, c in zip(samples, counts):
            lines.append(",".join((format_sample(r, self._t0), *(str(int(v)) for v in c))))
        self._append(("\n".join(lines) + "\n").encode("utf-8"))
        self.rows += len(lines)
        self.t_last = float(samples[-1, 0])
        if (self.t_last - self._last_sync_t >= self.sync_every_s
                or time.monotonic() - self._last_sync_wall >= self.sync_every_s):
            self._sync()

    def on_event(self, event) -> None:
        """Subscriber callback: records Batch objects (or batch message dicts), ignores health."""
        if getattr(event, "type", None) == "batch":
            self.write(event.samples, event.counts)
        elif isinstance(event, dict) and event.get("type") == "batch":
            rows = [[np.nan if v is None else v for v in r] for r in event["samples"]]
            self.write(rows, event.get("counts"))

    def _sync(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._last_sync_wall = time.monotonic()
        if self.t_last is not None:
            self._last_sync_t = self.t_last
        self.syncs += 1
        self.synced_rows, self.synced_bytes = self.rows, self.bytes
        if self.on_sync is not None:
            self.on_sync(self)

    sync = _sync

    def close(self) -> Path:
        """Finish the recording: fsync, atomic rename to the final name, fsync the folder."""
        if self.closed:
            return self.path
        self._sync()
        self._f.close()
        _finish(self.partial, self.path)
        self.closed = True
        return self.path

    def abort(self) -> None:
        """Stop writing and leave the ``.partial`` file (synced) for inspection or recover()."""
        if not self.closed:
            self._sync()
            self._f.close()
            self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _finish(partial: Path, final: Path) -> None:
    os.replace(partial, final)
    fsync_dir(final.parent)


def recover(partial) -> Path:
    """Finish an interrupted recording: drop a torn last line, rename ``x.partial`` to ``x``."""
    partial = Path(partial)
    if not partial.name.endswith(PARTIAL):
        raise ValueError(f"{partial} is not a .partial recording")
    data = partial.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        with open(partial, "r+b") as f:
            f.truncate(len(data))
            f.flush()
            os.fsync(f.fileno())
    final = partial.with_name(partial.name[: -len(PARTIAL)])
    _finish(partial, final)
    return final


def write_recording(path, metadata: dict, samples, counts=None, *, t0_s: float | None = None) -> TrialRecorder:
    """Write a whole recording at once (durably: ``.partial``, fsync, rename, fsync the folder).
    Returns the closed recorder (``sha256``, ``bytes``, ``rows``)."""
    rec = TrialRecorder(path, metadata, t0_s=t0_s, raw=counts is not None)
    try:
        rec.write(samples, counts)
    except BaseException:
        rec.abort()
        rec.partial.unlink(missing_ok=True)
        raise
    rec.close()
    return rec
