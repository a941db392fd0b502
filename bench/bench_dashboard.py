"""Dashboard benchmarks (python -m bench dashboard).

1. Patient page server time with two years of weekly sessions (104 sessions × left/right ×
   3 trials, every trial with its results), through the Flask test client: median and p95
   of the full request (queries + trend SVGs + template).
2. Sample-to-browser latency of the live stream with 1, 5 and 20 connected viewers: the
   simulated plate (real Acquisition on the sim backend, realtime) feeds the real app on
   waitress (same thread count as `rig serve`); each viewer is an HTTP client reading
   /api/live/stream?protocol=single_leg_stance (the run page's stream: the event detector
   runs per viewer). Latency = arrival time at the viewer − acquisition time of the sample
   (the acquisition's monotonic clock), so it includes the acquisition batches
   (``acquisition.batch_ms``) and the SSE rate limit. Browser rendering
   (requestAnimationFrame) adds at most one frame. Run with the shipped defaults and with the
   previous ones (100 ms batches, SSE every 100 ms, 16 threads) for comparison.
"""
from __future__ import annotations

import http.client
import logging
import json
import statistics
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np


def _pct(xs, q):
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def seed_two_years(app, weeks=104, trials_per_side=3):
    from dashboard.db import create_clinician, get_db
    from dashboard.models import ClinicSession, Patient, Result, Trial
    rng = np.random.default_rng(1)
    with app.app_context():
        db = get_db()
        create_clinician(db, "bench", "bench-password", is_admin=True)
        p = Patient(code="BENCH-1", body_mass_kg=70.0, dominant_leg="right")
        db.add(p)
        db.commit()
        start = datetime(2023, 1, 2, 9, tzinfo=timezone.utc)
        for w in range(weeks):
            s = ClinicSession(patient_id=p.id, protocol="single_leg_stance", started_at=start + timedelta(weeks=w))
            db.add(s)
            for side in ("left", "right"):
                for _ in range(trials_per_side):
                    t = Trial(session=s, protocol=s.protocol, side=side, started_at=s.started_at, duration_s=20,
                              sample_rate_hz=80, n_samples=1600, body_mass_kg=70, recording_path="none",
                              recording_sha256="0" * 64, recording_bytes=0, quality={"ok": True, "warnings": []})
                    base = 25 - 8 * w / weeks
                    vals = {"mean_velocity_mm_s": base, "path_length_mm": base * 20, "ellipse_area_95_mm2": 300 - w,
                            "rms_ml_mm": 4.0, "rms_ap_mm": 5.0, "mean_fz_n": 686.0, "peak_fz_n": 720.0,
                            "duration_s": 20.0, "sway_area_mm2_s": 40.0, "mean_frequency_hz": 0.4}
                    t.results = [Result(key=k, value=float(v * (1 + 0.08 * rng.standard_normal())))
                                 for k, v in vals.items()]
                    db.add(t)
        db.commit()
        return p.id


def bench_patient_page(tmp: Path) -> dict:
    from rig.acquire.ipc import FakeLiveSource
    from dashboard import create_app
    app = create_app({"SECRET_KEY": "b", "LIVE_SOURCE": FakeLiveSource({}), "INSTANCE_PATH": str(tmp / "inst"),
                      "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}", "WTF_CSRF_ENABLED": False})
    pid = seed_two_years(app)
    c = app.test_client()
    c.post("/auth/login", data={"username": "bench", "password": "bench-password"})
    assert c.get(f"/patients/{pid}").status_code == 200          # warm-up (template compile)
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        r = c.get(f"/patients/{pid}")
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200
    size = len(r.data)
    return {"median_ms": statistics.median(times), "p95_ms": _pct(times, 95), "html_kb": size / 1024}


def _viewer(port, stop, out, clock, ready):
    """An SSE client: for every sample in an unnamed (batch) message, arrival − acquisition time."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/api/live/stream?protocol=single_leg_stance")
    resp = conn.getresponse()
    ready.release()
    event = "message"
    while not stop.is_set():
        line = resp.fp.readline()
        if not line:
            break
        now = time.monotonic()
        if line.startswith(b"event: "):
            event = line[7:].strip().decode()
        elif line.startswith(b"data: ") and event == "message" and clock.offset is not None:
            msg = json.loads(line[6:])
            for t_s in msg.get("t_s") or []:
                out.append((now - (t_s + clock.offset)) * 1000)
        elif line in (b"\n", b"\r\n"):
            event = "message"
    conn.close()


class _StreamClock:
    """Maps stream time (t_s) to this process's monotonic clock. The simulated plate runs in
    real time, so a sample was taken (t_last − t_s) before its batch was published; the
    smallest (publish time − t_last) seen is the offset (the batch with no publish delay)."""

    def __init__(self, live):
        self.offset = None
        self.unsubscribe = live.subscribe(self._on)

    def _on(self, msg):
        if msg.get("type") == "batch" and msg.get("samples"):
            off = time.monotonic() - msg["samples"][-1][0]
            if self.offset is None or off < self.offset:
                self.offset = off


def bench_latency(viewers_list=(1, 5, 20), seconds=6.0, threads=None, batch_ms=None, sse_interval_s=None) -> dict:
    """None: the shipped default (rig config, create_app, dashboard.live.waitress_threads)."""
    from waitress.server import create_server
    from dashboard import create_app
    from dashboard.live import waitress_threads
    from rig.acquire.service import build_acquisition
    from rig.config import Config
    from rig.acquire.ipc import InProcessLiveSource
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Config().validate()
        acq, _gpio, _ = build_acquisition(cfg, backend="sim", realtime=True,
                                          batch_ms=batch_ms or cfg.acquisition.batch_ms)
        live = InProcessLiveSource(acq)
        extra = {"LIVE_SSE_INTERVAL_S": sse_interval_s} if sse_interval_s else {}
        app = create_app({"SECRET_KEY": "b", "LIVE_SOURCE": live, "INSTANCE_PATH": tmp,
                          "DATABASE_URL": f"sqlite:///{tmp}/l.db", **extra})
        srv = create_server(app, host="127.0.0.1", port=0, threads=threads or waitress_threads(app))
        th = threading.Thread(target=srv.run, daemon=True)
        th.start()
        acq.start()
        clock = None
        try:
            clock = _StreamClock(live)
            while clock.offset is None:
                time.sleep(0.05)
            time.sleep(1.0)
            for n in viewers_list:
                stop = threading.Event()
                ready = threading.Semaphore(0)
                outs = [[] for _ in range(n)]
                ths = [threading.Thread(target=_viewer, args=(srv.effective_port, stop, outs[i], clock, ready),
                                        daemon=True) for i in range(n)]
                for t in ths:
                    t.start()
                time.sleep(seconds)
                stop.set()
                for t in ths:
                    t.join(12)
                lat = [x for o in outs for x in o[40:]]     # skip the first half second of each viewer
                served = sum(1 for o in outs if o)
                results[n] = {"p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99), "viewers_served": served,
                              "samples": len(lat)}
        finally:
            if clock is not None:
                clock.unsubscribe()
            acq.stop()
            srv.close()
            live.close()
    return results


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        r = bench_patient_page(Path(tmp))
    print(f"patient page, 2 years weekly (104 sessions, 624 trials): median {r['median_ms']:.1f} ms, "
          f"p95 {r['p95_ms']:.1f} ms server time, {r['html_kb']:.0f} KiB HTML (target < 200 ms)")
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)   # starvation shows as viewers served
    from rig.config import Config
    setups = [(f"defaults: {Config().acquisition.batch_ms} ms batches, SSE at most every 33 ms, "
               f"waitress threads = live viewers + 16", {}),
              ("previous defaults: 100 ms batches, SSE every 100 ms, 16 threads",
               {"batch_ms": 100, "sse_interval_s": 0.1, "threads": 16})]
    for title, kw in setups:
        print(f"live latency ({title}):")
        for n, v in bench_latency(**kw).items():
            print(f"  {n:2d} viewer(s): p50 {v['p50_ms']:.0f} ms, p99 {v['p99_ms']:.0f} ms "
                  f"({v['viewers_served']}/{n} viewers got data, {v['samples']} samples)")


if __name__ == "__main__":
    main()
