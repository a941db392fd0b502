"""Helpers for the clinic dashboard tests; the fixtures built on them (app, client, …) are in
tests/conftest.py."""
from __future__ import annotations

import json
import re

import numpy as np

from rig.acquire.ipc import FakeLiveSource
from rig.signal.plate import G, SAMPLE_COLUMNS

HELLO = {"rate_hz": 80, "columns": list(SAMPLE_COLUMNS), "plate": "stepplate-1", "backend": "sim",
         "calibration": "nominal",
         "geometry": {"cell_x_m": [-0.22, 0.22, -0.22, 0.22], "cell_y_m": [0.17, 0.17, -0.17, -0.17]}}
PASSWORD = "correct horse 42"


def make_app(tmp_path, live=None, **extra):
    """The real factory (dashboard.create_app) with a per-test database and data folder."""
    from dashboard import create_app
    cfg = {"TESTING": True, "SECRET_KEY": "test", "LIVE_SOURCE": live or FakeLiveSource(HELLO),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'clinic.db'}", "STEPPLATE_DATA_DIR": str(tmp_path / "data"),
           "WTF_CSRF_ENABLED": False, "LIVE_SSE_MAX_SECONDS": 1.0, "INSTANCE_PATH": str(tmp_path / "instance")}
    cfg.update(extra)
    app = create_app(cfg)
    if "auth" not in app.blueprints:  # until create_app wires the clinic blueprints itself
        from dashboard import clinic
        clinic.init_app(app)
    return app


def circle_samples(n=801, rate=80.0, radius_mm=5.0, turns=2.0, fz_n=700.0, flags=None):
    """COP going round a circle: path length 2·π·r·turns, known ellipse."""
    t = np.arange(n) / rate
    ang = 2 * np.pi * turns * np.arange(n) / (n - 1)
    x, y = radius_mm * np.cos(ang), radius_mm * np.sin(ang)
    out = np.zeros((n, len(SAMPLE_COLUMNS)))
    out[:, 0] = t
    out[:, 1:5] = fz_n / 4
    out[:, 5] = fz_n
    out[:, 6], out[:, 7] = x, y
    if flags is not None:
        out[:, 8] = flags
    return out


def sls_samples(seed=1, **kw):
    """A scripted single-leg stance trial (tests.synthetic.trials: step on, settle, lift a foot,
    stand; known events) as SAMPLE_COLUMNS rows, so the protocol analysis scores it."""
    from tests.synthetic import trials as synthetic
    d = synthetic.single_leg_stance(seed, **kw)
    s = np.zeros((len(d["t_s"]), len(SAMPLE_COLUMNS)))
    s[:, 0], s[:, 5], s[:, 6], s[:, 7], s[:, 8] = d["t_s"], d["fz_n"], d["cop_ml_mm"], d["cop_ap_mm"], d["flags"]
    s[:, 1:5] = d["fz_n"][:, None] / 4
    return s


def login(client, username="admin", password=PASSWORD):
    return client.post("/auth/login", data={"username": username, "password": password})


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def parse_sse(text):
    events = []
    for block in text.split("\n\n"):
        lines = [ln for ln in block.splitlines() if ln and not ln.startswith(":")]
        name = next((ln[7:] for ln in lines if ln.startswith("event: ")), "message")
        data = [ln[6:] for ln in lines if ln.startswith("data: ")]
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def post_trial(client, session_id, side, samples, columns=SAMPLE_COLUMNS, started_at=None):
    body = {"side": side, "columns": list(columns),
            "samples": [[None if not np.isfinite(v) else float(v) for v in r] for r in samples]}
    if started_at:
        body["started_at"] = started_at
    return client.post(f"/api/sessions/{session_id}/trials", json=body)


__all__ = ["HELLO", "PASSWORD", "G", "make_app", "circle_samples", "sls_samples", "login", "csrf_from", "post_trial",
           "parse_sse"]
