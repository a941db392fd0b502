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
minimum, with the UNLOADED flag), ``flags`` the rig.flags.Flag bits as an integer, ``c_*``
the raw (tared-before, spike-filtered) ADC codes. Extra metadata keys may follow the ones
above; readers must ignore keys they do not know.

Durability: rows go to ``<name>.partial``; every second (of sample time, or of wall time,
whichever comes first) the file is flushed and ``os.fsync``-ed, so a power cut loses at most
the last second and leaves a readable file (at worst a truncated last line, which readers
drop). ``close()`` fsyncs, renames ``<name>.partial`` to ``<name>`` atomically and fsyncs the
folder. ``recover(path)`` finishes an interrupted ``.partial`` the same way.
"""
from __future__ import annotations

import math
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rig.plate import SAMPLE_COLUMNS

FORMAT_VERSION = 1
RAW_COLUMNS = ("c_fl", "c_fr", "c_bl", "c_br")
HEADER = ",".join(SAMPLE_COLUMNS + RAW_COLUMNS)
REQUIRED_KEYS = ("plate", "rate_hz", "geometry_cell_x_m", "geometry_cell_y_m", "calibration")
KEY_ORDER = ("stepplate-recording", "plate", "rate_hz", "geometry_cell_x_m", "geometry_cell_y_m",
             "started_utc", "calibration", "protocol", "side")
PARTIAL = ".partial"


def _fmt_meta(value) -> str:
    if isinstance(value, (list, tuple, np.ndarray)):
        value = ",".join(f"{float(v):g}" for v in value)
    text = str(value)
    if "\n" in text or "\r" in text:
        raise ValueError(f"metadata values must be one line, got {text!r}")
    return text


def _num(v: float, digits: int) -> str:
    return "nan" if math.isnan(v) else f"{v:.{digits}f}"


def metadata_from_hello(hello: dict, **extra) -> dict:
    """Recording metadata from the acquisition's ``hello`` message (plus protocol, side, …)."""
    g = hello.get("geometry") or {}
    return {"plate": hello.get("plate", ""), "rate_hz": hello.get("rate_hz", ""),
            "geometry_cell_x_m": g.get("cell_x_m", ()), "geometry_cell_y_m": g.get("cell_y_m", ()),
            "calibration": hello.get("calibration", "nominal"), **extra}


class TrialRecorder:
    """Write one trial. ``write(samples, counts)`` or use it as a subscriber (``on_event``)."""

    def __init__(self, path, metadata: dict, *, sync_every_s: float = 1.0):
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + PARTIAL)
        missing = [k for k in REQUIRED_KEYS if k not in metadata]
        if missing:
            raise ValueError(f"recording metadata lacks {', '.join(missing)}")
        meta = dict(metadata)
        meta.setdefault("started_utc", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        meta["stepplate-recording"] = FORMAT_VERSION
        for k in meta:
            if not k or ":" in k or "\n" in k or k.strip() != k:
                raise ValueError(f"bad metadata key {k!r}")
        ordered = [k for k in KEY_ORDER if k in meta] + [k for k in meta if k not in KEY_ORDER]
        self.metadata = {k: meta[k] for k in ordered}
        self.sync_every_s = sync_every_s
        self.rows = 0
        self.syncs = 0
        self._t0: float | None = None
        self._last_sync_t: float | None = None
        self._last_sync_wall = time.monotonic()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.partial, "x", encoding="utf-8", newline="\n")
        for k, v in self.metadata.items():
            self._f.write(f"# {k}: {_fmt_meta(v)}\n")
        self._f.write(HEADER + "\n")
        self._sync()
        self.closed = False

    def write(self, samples, counts=None) -> None:
        """Append rows: ``samples`` (n, 9) in SAMPLE_COLUMNS order, ``counts`` (n, 4) raw codes."""
        if self.closed:
            raise ValueError("recording is closed")
        samples = np.asarray(samples, dtype=float)
        if samples.ndim != 2 or samples.shape[1] != len(SAMPLE_COLUMNS):
            raise ValueError(f"samples must have {len(SAMPLE_COLUMNS)} columns, got {samples.shape}")
        if counts is None:
            counts = np.zeros((len(samples), 4), dtype=np.int64)
        counts = np.asarray(counts)
        if len(samples) == 0:
            return
        if self._t0 is None:
            self._t0 = float(samples[0, 0])
            self._last_sync_t = self._t0
        lines = []
        for r, c in zip(samples, counts):
            t = float(r[0]) - self._t0
            lines.append(",".join((f"{t:.4f}", *(f"{float(v):.3f}" for v in r[1:6]),
                                   _num(float(r[6]), 2), _num(float(r[7]), 2), str(int(r[8])),
                                   *(str(int(v)) for v in c))))
        self._f.write("\n".join(lines) + "\n")
        self.rows += len(lines)
        t_last = float(samples[-1, 0])
        if (t_last - self._last_sync_t >= self.sync_every_s
                or time.monotonic() - self._last_sync_wall >= self.sync_every_s):
            self._sync()
            self._last_sync_t = t_last

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
        self.syncs += 1

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
    fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
