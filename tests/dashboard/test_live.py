"""Live stream: protocol events detected in the web process and sent over SSE, the rate
limit (~30 messages/s, sent as soon as a batch arrives), and the viewer cap."""
import threading
import time

import numpy as np
import pytest

from dashboard import create_app
from rig.acquire.ipc import FakeLiveSource
from tests.dashboard_support import HELLO, parse_sse
from tests.synthetic import trials as synthetic


@pytest.fixture
def fake():
    return FakeLiveSource(HELLO)


def make(tmp_path, fake, **cfg):
    return create_app({"TESTING": True, "LIVE_SOURCE": fake, "INSTANCE_PATH": str(tmp_path), "CLINIC": False,
                       "LIVE_SSE_MAX_SECONDS": 1.0, **cfg})


def batches(d, n=16):
    """The acquisition's batch messages for a scripted trace (rows of SAMPLE_COLUMNS)."""
    t, fz, ml, ap, fl = d["t_s"], d["fz_n"], d["cop_ml_mm"], d["cop_ap_mm"], d["flags"]
    for seq, i in enumerate(range(0, len(t), n)):
        rows = [[float(t[j]), fz[j] / 4, fz[j] / 4, fz[j] / 4, fz[j] / 4, float(fz[j]),
                 None if np.isnan(ml[j]) else float(ml[j]), None if np.isnan(ap[j]) else float(ap[j]), int(fl[j])]
                for j in range(i, min(i + n, len(t)))]
        yield {"type": "batch", "seq": seq, "t_ns": int(t[i] * 1e9), "samples": rows}


def test_single_leg_trial_emits_a_foot_lift_event_over_sse(tmp_path, fake):
    app = make(tmp_path, fake, LIVE_SSE_MAX_SECONDS=1.5)
    d = synthetic.single_leg_stance(3, stance="left", lift_t=4.0, duration_s=10.0)
    c = app.test_client()
    run = c.get("/api/live/stream?protocol=single_leg_stance", buffered=False)       # the run page's stream
    plain = c.get("/api/live/stream", buffered=False)                                # the live page's: no detector
    for msg in batches(d):
        fake.publish(msg)
    events = parse_sse(b"".join(run.response).decode())
    plain_events = parse_sse(b"".join(plain.response).decode())
    run.close()
    plain.close()
    found = [e for name, m in events if name == "message" for e in m.get("events", [])]
    names = [e["name"] for e in found]
    assert "step_on" in names and "weight_settled" in names and "foot_lift" in names
    lift = next(e for e in found if e["name"] == "foot_lift")
    assert lift["t_s"] == pytest.approx(4.0, abs=0.3) and lift["details"]["stance_side"] == "left"
    assert lift["detected_t_s"] >= lift["t_s"] and 0 <= lift["confidence"] <= 1
    # the samples still all arrive, and the plain stream carries no events
    assert sum(len(m["t_s"]) for name, m in events if name == "message") == len(d["t_s"])
    assert not any("events" in m for name, m in plain_events if name == "message")
    assert fake.subscriber_count == 0 and app.extensions["stepplate_event_hub"].runs == {}   # all unsubscribed


def test_every_protocol_kind_has_a_live_view_with_events(tmp_path, fake):
    """Each default protocol's run page stream answers (a single-leg squat's was a 500: its kind
    had no event detector), and a single-leg squat's events are those of a single-leg stance."""
    from rig.analysis.protocols import default_protocols
    app = make(tmp_path, fake, LIVE_SSE_MAX_SECONDS=0.3)
    c = app.test_client()
    for pid in default_protocols():
        r = c.get(f"/api/live/stream?protocol={pid}", buffered=False)
        assert r.status_code == 200, pid
        r.close()
    app = make(tmp_path, fake, LIVE_SSE_MAX_SECONDS=1.5)
    d = synthetic.single_leg_stance(3, stance="right", lift_t=4.0, duration_s=10.0)
    run = app.test_client().get("/api/live/stream?protocol=single_leg_squat", buffered=False)
    for msg in batches(d):
        fake.publish(msg)
    events = parse_sse(b"".join(run.response).decode())
    run.close()
    lifts = [e for name, m in events if name == "message" for e in m.get("events", []) if e["name"] == "foot_lift"]
    assert len(lifts) == 1 and lifts[0]["details"]["stance_side"] == "right"


def test_unknown_protocol_is_404(tmp_path, fake):
    assert make(tmp_path, fake).test_client().get("/api/live/stream?protocol=nope").status_code == 404
    assert fake.subscriber_count == 0


def test_batches_go_out_as_they_arrive_but_at_most_every_interval(tmp_path, fake):
    app = make(tmp_path, fake, LIVE_SSE_INTERVAL_S=0.05, LIVE_SSE_MAX_SECONDS=1.2)
    resp = app.test_client().get("/api/live/stream", buffered=False)
    arrivals = []
    out = []

    def read():
        for chunk in resp.response:
            arrivals.append(time.monotonic())
            out.append(chunk)
    th = threading.Thread(target=read)
    th.start()
    time.sleep(0.1)
    sent = []
    for k in range(20):                           # a batch every 10 ms: faster than the limit
        sent.append(time.monotonic())
        fake.publish({"type": "batch", "seq": k, "samples": [[k / 100, 1, 1, 1, 1, 4.0, 1.0, 2.0, 0]]})
        time.sleep(0.01)
    time.sleep(0.3)
    fake.publish({"type": "batch", "seq": 99, "samples": [[9.0, 1, 1, 1, 1, 4.0, 1.0, 2.0, 0]]})
    t_single = time.monotonic()
    th.join()
    resp.close()
    msgs = [(a, c) for a, c in zip(arrivals, out) if c.startswith(b"data: {\"t_s\"")]
    assert sum(c.count(b",") for _, c in msgs) and len(msgs) <= 8          # 20 batches in ~0.2 s: rate-limited
    gaps = np.diff([a for a, _ in msgs[:-1]])
    assert gaps.min() >= 0.045
    assert msgs[-1][0] - t_single < 0.03                # a lone batch after a quiet spell goes at once


def test_viewers_beyond_the_cap_get_503_and_pages_keep_threads(tmp_path, fake):
    from dashboard.live import waitress_threads
    app = make(tmp_path, fake, LIVE_SSE_MAX_VIEWERS=2)
    c = app.test_client()
    a = c.get("/api/live/stream", buffered=False)
    b = c.get("/api/live/stream", buffered=False)
    r = c.get("/api/live/stream", buffered=False)
    assert r.status_code == 503 and "too many live viewers" in r.get_json()["error"]
    a.close()                                         # closed before reading: the slot is freed anyway
    c2 = c.get("/api/live/stream", buffered=False)
    assert c2.status_code == 200
    b.close()
    c2.close()
    assert fake.subscriber_count == 0
    assert waitress_threads(app) == 2 + 16
    assert waitress_threads(make(tmp_path, fake)) >= 20 + 16          # 20 tablets + pages by default
