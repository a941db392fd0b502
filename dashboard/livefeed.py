"""How the clinic pages reach the live source (the acquisition's batches; see rig.ipc).

The app factory injects the live source object; this module only finds it and records a
trial from its ``batch`` messages (docs/live-stream.md): rows of SAMPLE_COLUMNS plus the
raw ``counts``. The web process never touches GPIO.
"""
from __future__ import annotations

import threading
import time

import numpy as np
from flask import Flask

from dashboard.recordings import RAW_COLUMNS
from rig.plate import SAMPLE_COLUMNS


class NoLiveSource(RuntimeError):
    pass


def live_source(app: Flask):
    src = app.extensions.get("stepplate_live") or app.config.get("LIVE_SOURCE")
    if src is None:
        raise NoLiveSource("no live source: is the acquisition process running (rig serve / rig demo)?")
    return src


def record(app: Flask, seconds: float, timeout_s: float | None = None) -> tuple[tuple[str, ...], np.ndarray]:
    """Collect ``seconds`` of stream time from the live source's batches.

    Returns (columns, samples); columns are SAMPLE_COLUMNS plus RAW_COLUMNS when every
    batch carried raw counts. Raises NoLiveSource when no batch arrives in time.
    """
    src = live_source(app)
    rows: list[list] = []
    counts: list[list] = []
    have_counts = True
    done = threading.Event()
    lock = threading.Lock()

    def on_msg(msg: dict) -> None:
        nonlocal have_counts
        if msg.get("type") != "batch" or done.is_set():
            return
        with lock:
            rows.extend(msg.get("samples") or [])
            c = msg.get("counts")
            if c is None or len(c) != len(msg.get("samples") or []):
                have_counts = False
            else:
                counts.extend(c)
            if rows and rows[-1][0] - rows[0][0] >= seconds:
                done.set()

    unsubscribe = src.subscribe(on_msg)
    try:
        done.wait(timeout_s if timeout_s is not None else seconds + 3.0)
    finally:
        unsubscribe()
    with lock:
        if not rows:
            raise NoLiveSource("no samples from the live source (acquisition stopped or plate disconnected)")
        arr = np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=float)
        t0 = arr[0, 0]
        keep = arr[:, 0] - t0 <= seconds
        arr = arr[keep]
        if have_counts and len(counts) == len(rows):
            arr = np.hstack([arr, np.array(counts, dtype=float)[keep]])
            return SAMPLE_COLUMNS + RAW_COLUMNS, arr
        return SAMPLE_COLUMNS, arr


