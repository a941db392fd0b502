"""The calibration page: CalibrationFlow driven from the dashboard on the simulated plate
(realistic SimPlate read by the real driver in an in-process Acquisition; the simulated
operator of the calibration tests places the mass), fed by the live source's raw counts."""
import threading

import pytest

from calibration import fileformat
from calibration.simsession import operated_rig
from dashboard.db import create_clinician, get_db
from dashboard.models import Calibration
from rig.acquire.loop import Acquisition
from rig.acquire.service import default_force_model
from rig.config import load
from rig.acquire.ipc import InProcessLiveSource
from tests.dashboard_support import PASSWORD, csrf_from, login, make_app


@pytest.fixture
def plate(tmp_path):
    cfg_path = tmp_path / "rig.toml"
    cfg_path.write_text(f'[paths]\ndata_dir = "{tmp_path}"\n[gpio]\nbackend = "sim"\n')
    config = load(cfg_path)
    rig, op = operated_rig(config, seed=0)
    acq = Acquisition(rig.driver(), default_force_model(config), rate_hz=config.hx711.rate_sps)
    live = InProcessLiveSource(acq, raw=True)            # batches carry the raw counts
    th = threading.Thread(target=acq.run, daemon=True)
    th.start()
    yield cfg_path, config, op, live
    acq.stop()
    th.join(10)


def _app(tmp_path, plate, **cfg):
    cfg_path, config, op, live = plate
    app = make_app(tmp_path, live, RIG_CONFIG=str(cfg_path), **cfg)
    with app.app_context():
        create_clinician(get_db(), "admin", PASSWORD, is_admin=True)
    return app


def test_calibrate_from_the_dashboard_on_the_simulated_plate(tmp_path, plate):
    cfg_path, config, op, live = plate
    app = _app(tmp_path, plate)
    c = app.test_client()
    assert c.get("/calibration/").status_code == 302                # login first
    login(c)
    assert "Start calibration" in c.get("/calibration/").get_data(as_text=True)
    assert c.post("/calibration/start", data={"mass_kg": "20", "grid": "none"}).status_code == 302
    run = app.extensions["stepplate_calibration_run"]
    assert [s.label for s in run.flow.steps][:2] == ["empty", "FL"]
    for i, step in enumerate(run.flow.steps):
        page = c.get("/calibration/").get_data(as_text=True)
        assert f"Step {i + 1} of {len(run.flow.steps)}" in page and step.instruction.split(".")[0] in page
        if step.needs_mass:
            op.place(20.0, step.x_m, step.y_m)                     # the operator puts the mass there
        else:
            op.clear()
        c.post("/calibration/step")
        assert run.error is None, run.error
    page = c.get("/calibration/").get_data(as_text=True)
    assert 'id="cal-result"' in page and "PASS" in page and "Centre-of-pressure error" in page
    path = fileformat.default_path(config)
    assert not path.exists()                                       # nothing written before Save
    assert c.post("/calibration/save").status_code == 302
    cal = fileformat.load(path)
    assert cal["result"]["passed"] and cal["heldout"]["cop_rms_mm"] < 1.0
    with app.app_context():
        rows = get_db().query(Calibration).all()
        assert len(rows) == 1 and rows[0].summary["passed"] and rows[0].source.startswith("calibration ")
        assert rows[0].path == str(path) and len(rows[0].sha256) == 64
    assert "pass" in c.get("/calibration/").get_data(as_text=True)
    assert app.extensions["stepplate_calibration_run"] is None


def test_a_refused_step_says_why_and_can_be_retried(tmp_path, plate):
    cfg_path, config, op, live = plate
    app = _app(tmp_path, plate)
    c = app.test_client()
    login(c)
    c.post("/calibration/start", data={"mass_kg": "20", "grid": "none"})
    run = app.extensions["stepplate_calibration_run"]
    op.clear()
    c.post("/calibration/step")                                    # tare
    op.clear()                                                     # forgot to put the mass on FL
    c.post("/calibration/step")
    page = c.get("/calibration/").get_data(as_text=True)
    assert run.index == 1 and run.error and 'id="cal-error"' in page and "Measure again" in page
    c.post("/calibration/cancel")
    assert app.extensions["stepplate_calibration_run"] is None and live.subscriber_count == 0


def test_calibration_posts_need_the_csrf_token(tmp_path, plate):
    app = _app(tmp_path, plate, WTF_CSRF_ENABLED=True)
    c = app.test_client()
    page = c.get("/auth/login").get_data(as_text=True)
    c.post("/auth/login", data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_from(page)})
    assert c.post("/calibration/start", data={"mass_kg": "20", "grid": "none"}).status_code == 400
    token = csrf_from(c.get("/calibration/").get_data(as_text=True))
    r = c.post("/calibration/start", data={"mass_kg": "20", "grid": "none", "csrf_token": token})
    assert r.status_code == 302 and app.extensions["stepplate_calibration_run"] is not None
    app.extensions["stepplate_calibration_run"].close()
