"""The synthetic live stream the durability and kill tests record: every sample exactly
checkable (values representable in the CSV's %.6g), published in 100 ms batches like the
acquisition does, and the check that a stored recording is that stream, sample by sample."""
from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from dashboard import recordings
from dashboard.db import get_db
from dashboard.models import ClinicSession, Patient, Trial

RATE = 80
BATCH = 8                  # 100 ms batches, as the acquisition publishes them
PACE = 4.0                 # stream time runs 4x faster than wall time


def gen(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample k of the synthetic stream: values exactly representable in the CSV (%.6g)."""
    k = np.asarray(k, dtype=np.int64)
    f = np.stack([150 + k % 50, 160 + k % 30, 170 + k % 20, 180 + k % 10], axis=1).astype(float)
    s = np.zeros((len(k), 9))
    s[:, 0] = k / RATE
    s[:, 1:5] = f
    s[:, 5] = f.sum(axis=1)
    s[:, 6] = k % 21 - 10
    s[:, 7] = k % 13 - 6.5
    counts = np.stack([k, k + 1, k + 2, k + 3], axis=1)
    return s, counts


def batch(k0: int, n: int = BATCH) -> dict:
    s, c = gen(np.arange(k0, k0 + n))
    return {"type": "batch", "seq": k0 // n, "t_ns": int(k0 / RATE * 1e9), "samples": s.tolist(),
            "counts": c.tolist()}


def config(tmp: Path, live, **extra) -> dict:
    return {"TESTING": True, "SECRET_KEY": "t", "LIVE_SOURCE": live, "RIG_ID": "rig-a",
            "DATABASE_URL": f"sqlite:///{tmp / 'clinic.db'}", "STEPPLATE_DATA_DIR": str(tmp / "data"),
            "INSTANCE_PATH": str(tmp / "instance"), "WTF_CSRF_ENABLED": False, **extra}


def ensure_session(app) -> int:
    with app.app_context():
        db = get_db()
        s = db.query(ClinicSession).first()
        if s is None:
            p = Patient(code="P-KILL", body_mass_kg=70.0, dominant_leg="left")
            s = ClinicSession(patient=p, protocol="single_leg_stance")
            db.add_all([p, s])
            db.commit()
        return s.id


class Feeder(threading.Thread):
    """The acquisition side: publishes the synthetic stream in 100 ms batches at PACE."""

    def __init__(self, live, report=None, pace=PACE, stop_after_k=None):
        super().__init__(daemon=True)
        self.live, self.report, self.pace, self.stop_after_k = live, report, pace, stop_after_k
        self.stop = threading.Event()
        self.k = 0

    def run(self):
        period = BATCH / RATE / self.pace
        if self.stop_after_k is not None:     # a bounded stream: start once the recorder listens
            while not self.live.subscriber_count:
                time.sleep(0.001)
        nxt = time.monotonic()
        while not self.stop.is_set() and (self.stop_after_k is None or self.k < self.stop_after_k):
            self.live.publish(batch(self.k))
            self.k += BATCH
            if self.report:
                self.report(f"P {self.k - 1}")
            nxt += period
            time.sleep(max(0.0, nxt - time.monotonic()))



def check_trial_file(data: Path, t: Trial) -> np.ndarray:
    """The recording matches its row (size, SHA-256, count) and every row is the stream's."""
    blob = (data / t.recording_path).read_bytes()
    assert len(blob) == t.recording_bytes and hashlib.sha256(blob).hexdigest() == t.recording_sha256
    columns, arr, meta = recordings.decode(blob)
    assert len(arr) == t.n_samples
    if len(arr):
        ix = {c: i for i, c in enumerate(columns)}
        k = arr[:, ix[recordings.RAW_COLUMNS[0]]].astype(np.int64)
        assert np.array_equal(k, np.arange(k[0], k[0] + len(k))), "gap or duplicate in a recording"
        s, c = gen(k)
        # the recording's clock starts at its first sample; the header keeps where that was
        t0 = float(meta.get("stream_t0_s", 0.0))
        assert arr[0, 0] == 0.0 and t0 == pytest.approx(s[0, 0], abs=1e-6)
        s[:, 0] -= t0
        assert np.allclose(arr[:, :9], s, atol=1e-6, equal_nan=True)
        assert np.array_equal(arr[:, 9:13].astype(np.int64), c)
    return arr
