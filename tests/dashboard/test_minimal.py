"""Minimal dashboard: factory, live page, status JSON and the SSE stream."""
import json
import threading

import pytest

from dashboard import create_app
from rig.acquire.loop import Acquisition
from rig.acquire.ipc import FakeLiveSource, InProcessLiveSource
from rig.signal.plate import ForceModel
from tests import ROOT
from tests.dashboard_support import parse_sse
from tests.fake_frames import GEOM, FakeReader

HELLO = {"rate_hz": 80, "columns": [], "plate": "stepplate-1", "backend": "sim",
         "geometry": {"cell_x_m": [-0.22, 0.22, -0.22, 0.22], "cell_y_m": [0.17, 0.17, -0.17, -0.17]}}


@pytest.fixture
def fake():
    return FakeLiveSource(HELLO)


@pytest.fixture
def bare_app(tmp_path, fake):
    """The live view alone (CLINIC off: no database, no login), as a plate without the clinic runs."""
    return create_app({"TESTING": True, "LIVE_SOURCE": fake, "INSTANCE_PATH": str(tmp_path), "CLINIC": False,
                       "LIVE_SSE_MAX_SECONDS": 1.0, "LIVE_SSE_INTERVAL_S": 0.05})


def test_factory_uses_the_instance_folder_for_its_secret(tmp_path, fake):
    a = create_app({"LIVE_SOURCE": fake, "INSTANCE_PATH": str(tmp_path), "CLINIC": False})
    b = create_app({"LIVE_SOURCE": fake, "INSTANCE_PATH": str(tmp_path), "CLINIC": False})
    assert a.config["SECRET_KEY"] == b.config["SECRET_KEY"] == (tmp_path / "secret_key").read_text()
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_live_page_is_self_contained_with_the_shared_status_bar(bare_app):
    r = bare_app.test_client().get("/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "<canvas" in html and "live/live.js" in html
    assert 'id="statusbar"' in html and "statusbar.js" in html and "clinic.css" in html   # base.html
    assert "http://" not in html and "https://" not in html     # no CDN
    js = bare_app.test_client().get("/static/live/live.js").get_data(as_text=True)
    assert "EventSource(\"/api/live/stream\")" in js


def test_live_page_in_the_clinic_has_the_status_bar_and_nav(tmp_path, fake):
    from tests.dashboard_support import make_app
    from dashboard.db import create_clinician, get_db
    app = make_app(tmp_path, fake)
    with app.app_context():
        create_clinician(get_db(), "admin", "pw-123456789", is_admin=True)
    c = app.test_client()
    assert c.get("/").status_code == 302                          # login first
    c.post("/auth/login", data={"username": "admin", "password": "pw-123456789"})
    html = c.get("/").get_data(as_text=True)
    assert 'id="statusbar"' in html and 'name="csrf-token"' in html and "Patients" in html and 'id="plate"' in html


def test_status_bar_says_plate_reconnecting(bare_app, fake):
    fake.publish({"type": "disconnected"})        # the acquisition went away after its hello
    st = bare_app.test_client().get("/api/status").get_json()
    assert st["state"] == "reconnecting" and st["messages"][0].startswith("plate reconnecting")
    js = bare_app.test_client().get("/static/statusbar.js").get_data(as_text=True)
    assert "plate reconnecting" in js


def test_status_json(bare_app, fake):
    fake.publish({"type": "health", "achieved_sps": 79.9, "ok": True, "invalid_frames": 2, "chips": [
        {"name": "br", "corner": "back-right", "ready": False, "message": "back-right load cell not responding — check its cable"}],
        "messages": ["back-right load cell not responding — check its cable"]})
    st = bare_app.test_client().get("/api/status").get_json()
    assert st["connected"] and st["backend"] == "sim" and st["rate_hz"] == 80
    assert st["achieved_sps"] == 79.9 and st["invalid_frames"] == 2
    assert st["chips"][0]["ready"] is False and "back-right" in st["messages"][0]


def test_tare_command_goes_to_the_live_source(bare_app, fake):
    assert bare_app.test_client().post("/api/live/tare").status_code == 200
    assert fake.commands == ["tare"]


def test_sse_stream_batches_samples(bare_app, fake):
    client = bare_app.test_client()
    resp = client.get("/api/live/stream", buffered=False)
    assert resp.mimetype == "text/event-stream"
    # the view subscribed: publish 3 batches of 8 samples and a health report
    for seq in range(3):
        fake.publish({"type": "batch", "seq": seq, "samples": [
            [seq * 0.1 + i / 80, 1, 2, 3, 4, 700.0 + seq, 5.0, None, 0] for i in range(8)]})
    fake.publish({"type": "health", "achieved_sps": 80.0, "ok": True})
    text = b"".join(resp.response).decode()
    resp.close()
    assert text.startswith("retry: 2000")
    events = parse_sse(text)
    assert events[0][0] == "status" and events[0][1]["backend"] == "sim"
    data = [d for name, d in events if name == "message"]
    assert data and sum(len(d["t_s"]) for d in data) == 24
    assert data[0]["fz_n"][0] == 700.0 and data[0]["cop_ap_mm"][0] is None
    # how long the oldest sample of each message waited in the web process (the live page's
    # diagnostics line adds its own drawing delay): at most the rate limit, here 1 s of stream
    assert all(0 <= d["server_wait_ms"] <= 1000 for d in data)
    assert any(name == "health" for name, _ in events)
    assert fake.subscriber_count == 0          # the stream unsubscribed when it ended


def test_sse_from_an_in_process_acquisition(tmp_path):
    acq = Acquisition(FakeReader(step_on_s=1.5), ForceModel.nominal(GEOM, 50, 2.0))
    live = InProcessLiveSource(acq)
    app = create_app({"TESTING": True, "LIVE_SOURCE": live, "SECRET_KEY": "t", "LIVE_SSE_MAX_SECONDS": 1.5,
                      "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"})
    assert "auth" in app.blueprints          # the full factory: clinic wired in too
    resp = app.test_client().get("/api/live/stream", buffered=False)
    t = threading.Thread(target=acq.run, kwargs={"max_seconds": 4.0})
    t.start()
    text = b"".join(resp.response).decode()
    t.join()
    events = parse_sse(text)
    data = [d for name, d in events if name == "message"]
    fz = [v for d in data for v in d["fz_n"]]
    assert len(fz) > 80 and max(fz) == pytest.approx(700, abs=1)
    assert app.test_client().get("/api/status").get_json()["achieved_sps"] == pytest.approx(80, abs=1)


def test_web_process_imports_no_gpio_code(tmp_path):
    """create_app with the production (IPC) live source pulls in no GPIO or driver module."""
    import subprocess
    import sys
    code = (
        "import sys, json\n"
        "from dashboard import create_app\n"
        f"app = create_app(settings={{'RIG_SOCKET': {str(tmp_path / 'none.sock')!r}, 'SECRET_KEY': 'x'}})\n"
        "app.test_client().get('/api/status')\n"
        "bad = [m for m in sys.modules if m in ('lgpio', 'RPi', 'RPi.GPIO', 'rig.hw.hx711', 'rig.hw.gpio', 'rig.hw.gpio.select', 'rig.sim')]\n"
        "print(json.dumps(bad))\n"
    )
    env = dict(__import__("os").environ, STEPPLATE_INSTANCE=str(tmp_path / "inst"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
                         cwd=ROOT)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
