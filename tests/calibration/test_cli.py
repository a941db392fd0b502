"""`rig calibrate` driven through its prompts and `rig check`, on the simulator and a synthetic plate."""
import json
import time

import numpy as np
import pytest
from click.testing import CliRunner

from calibration import fileformat as ff
from rig.cli.calibrate import Session
from calibration.flow import nominal_model
from tests.synthetic.plate import SyntheticPlate
from rig.cli import main


@pytest.fixture
def cfg_path(tmp_path):
    p = tmp_path / "rig.toml"
    p.write_text(f'[paths]\ndata_dir = "{tmp_path}"\n[gpio]\nbackend = "sim"\n')
    return p


def synthetic_factory(plates):
    def factory(config):
        plate = SyntheticPlate.imperfect(config.geometry(), nominal_model(config).n_per_count[0], seed=11,
                                         noise_counts=20.0)
        plates.append(plate)
        return Session(plate, place=plate.place, clear=plate.clear)
    return factory


def invoke(args, cfg_path, input=None, obj=None):
    return CliRunner().invoke(main, ["--config", str(cfg_path), *args], input=input, obj=obj or {})


def test_calibrate_on_the_simulator_through_the_prompts(cfg_path, tmp_path):
    # the simulated operator moves the mass at each prompt; the test presses Enter 2 + 5 + 8 times
    res = invoke(["calibrate", "--grid", "3"], cfg_path, input="20\n" + "\n" * 15)
    assert res.exit_code == 0, res.output
    assert "Known mass you will use (kg)" in res.output
    assert res.output.count("Press Enter when ready") == 15
    assert "RESULT: PASS" in res.output
    cal = ff.load(tmp_path / "calibration.json")
    assert cal["operator_masses_kg"] == [20.0]
    assert cal["heldout"]["cop_rms_mm"] < 1.0 and cal["heldout"]["fz_rms_pct"] < 0.5

    # then the one-minute check at a grid mark on the same (simulated) plate
    res = invoke(["check", "--mass-kg", "20", "--at", "A3", "--yes", "--json"], cfg_path)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["passed"] and abs(out["fz_err_pct"]) < 0.5 and out["cop_err_mm"] < 1.0
    assert (out["x_mm"], out["y_mm"]) == (160.0, 120.0)
    assert (tmp_path / "calibration-checks.jsonl").read_text().count("\n") == 1


def test_interrupted_calibration_leaves_the_previous_in_force(cfg_path, tmp_path):
    plates = []
    obj = {"calibration_session": synthetic_factory(plates)}
    res = invoke(["calibrate", "--mass-kg", "20", "--grid", "none", "--yes"], cfg_path, obj=obj)
    assert res.exit_code == 0, res.output
    path = tmp_path / "calibration.json"
    before = path.read_bytes()
    # second run: the operator gives up after three steps (input runs out at the prompt)
    res = invoke(["calibrate", "--mass-kg", "20", "--grid", "3"], cfg_path, input="\n\n\n", obj=obj)
    assert res.exit_code == 1
    assert "Nothing was written; the previous calibration stays in force" in res.output
    assert path.read_bytes() == before
    assert not (tmp_path / ff.PREV_FILENAME).exists()


def test_failed_step_can_be_retried(cfg_path, tmp_path):
    plates = []
    state = {"n": 0}

    def factory(config):
        s = synthetic_factory(plates)(config)
        real = s.place

        def clumsy(mass, x, y):                     # first placement: wrong (half) mass
            state["n"] += 1
            real(mass / 2 if state["n"] == 1 else mass, x, y)
        s.place = clumsy
        return s

    res = invoke(["calibrate", "--mass-kg", "20", "--grid", "none"], cfg_path,
                 input="\n\n" + "y\n\n" + "\n" * 5, obj={"calibration_session": factory})
    assert res.exit_code == 0, res.output
    assert "weighs" in res.output and "Try this step again?" in res.output
    assert "RESULT: PASS" in res.output


def test_failed_result_not_saved_with_yes(cfg_path, tmp_path, monkeypatch):
    from calibration import flow
    monkeypatch.setitem(flow.LIMITS, "cop_rms_mm", 1e-9)
    res = invoke(["calibrate", "--mass-kg", "20", "--grid", "none", "--yes"], cfg_path,
                 obj={"calibration_session": synthetic_factory([])})
    assert res.exit_code == 1
    assert "RESULT: FAIL" in res.output and "Not saved" in res.output
    assert not (tmp_path / "calibration.json").exists()


def test_check_fails_when_the_plate_changed(cfg_path, tmp_path):
    plates = []
    obj = {"calibration_session": synthetic_factory(plates)}
    assert invoke(["calibrate", "--mass-kg", "20", "--grid", "3", "--yes"], cfg_path, obj=obj).exit_code == 0

    def damaged(config):
        s = synthetic_factory(plates)(config)
        s.sampler.n_per_count = s.sampler.n_per_count * np.array([1.05, 1, 1, 1])   # a cell lost 5 % gain
        return s

    res = invoke(["check", "--mass-kg", "20", "--at", "FL", "--yes"], cfg_path, obj={"calibration_session": damaged})
    assert res.exit_code == 1
    assert "CHECK FAILED" in res.output


def test_check_without_calibration_and_bad_spot(cfg_path):
    res = invoke(["check", "--mass-kg", "20", "--yes"], cfg_path)
    assert res.exit_code == 1 and "rig calibrate" in res.output


# --- with the acquisition service running (it owns the pins) --------------------------------

@pytest.fixture
def service(tmp_path):
    """An acquisition service in this process on the simulator (realistic plate, a simulated
    operator as its load source), serving on the data folder's socket; the config's GPIO
    backend is lgpio, so `rig calibrate` could not read any pins itself here."""
    from calibration.simsession import operated_rig
    from rig.acquire.loop import Acquisition
    from rig.acquire.service import AcquisitionService
    from rig.acquire.service import default_force_model
    from rig.config import load
    p = tmp_path / "rig.toml"
    p.write_text(f'[paths]\ndata_dir = "{tmp_path}"\n[gpio]\nbackend = "lgpio"\n')
    config = load(p)
    rig, op = operated_rig(config, seed=0)
    acq = Acquisition(rig.driver(), default_force_model(config), rate_hz=config.hx711.rate_sps, zero_tracking=True)
    svc = AcquisitionService(acq, config.socket_path, config=config, force_model_factory=default_force_model).start()
    try:
        yield p, op, acq
    finally:
        svc.close()


def test_calibrate_and_check_through_the_running_acquisition_service(service, tmp_path):
    cfg_path, op, acq = service
    res = invoke(["calibrate", "--mass-kg", "20", "--grid", "none", "--yes"], cfg_path,
                 obj={"calibration_operator": op})
    assert res.exit_code == 0, res.output
    assert "Reading the running acquisition service" in res.output
    assert "RESULT: PASS" in res.output
    cal = ff.load(tmp_path / "calibration.json")
    assert cal["heldout"]["cop_rms_mm"] < 1.0 and cal["heldout"]["fz_rms_pct"] < 0.5
    # the counts came from the service's batches: every placement after the operator moved
    loads = [t for t, kind, d in op.events if d["fz_n"] > 0]
    assert len(loads) == 5 and all(p["t_s"] > t for p, t in zip(cal["placements"], loads))
    # and the service uses the new calibration straight away
    assert f"now uses calibration {cal['created_utc']}" in res.output
    end = time.monotonic() + 5
    while acq.force_model.source != f"calibration {cal['created_utc']}" and time.monotonic() < end:
        time.sleep(0.05)
    assert acq.force_model.source == f"calibration {cal['created_utc']}"

    res = invoke(["check", "--mass-kg", "20", "--at", "FR", "--yes", "--json"], cfg_path,
                 obj={"calibration_operator": op})
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["passed"] and abs(out["fz_err_pct"]) < 0.5 and out["cop_err_mm"] < 1.0


def test_service_without_samples_gives_a_clear_message(tmp_path, monkeypatch):
    """A service that answers but sends no batches (never tared: someone on the plate)."""
    from rig.acquire.ipc import Server
    p = tmp_path / "rig.toml"
    p.write_text(f'[paths]\ndata_dir = "{tmp_path}"\n[gpio]\nbackend = "lgpio"\n')
    srv = Server(tmp_path / "acquire.sock", {"rate_hz": 80.0, "backend": "lgpio"},
                 on_command=lambda cmd: {"ok": True}).start()
    from rig.cli import calibrate as cli
    monkeypatch.setattr(cli, "SERVICE_TIMEOUT_S", 0.5)     # don't wait 10 s for nothing
    try:
        res = invoke(["calibrate", "--mass-kg", "20", "--grid", "none", "--yes"], p)
    finally:
        srv.close()
    assert res.exit_code == 1
    assert "sent no samples" in res.output and "systemctl stop stepplate-acquire" in res.output
    assert "Nothing was written" in res.output and not (tmp_path / "calibration.json").exists()


# --- calibration age from [calibration] max_age_days ------------------------------------------

def test_age_limit_from_the_config_in_check_calibrate_and_doctor(tmp_path):
    from datetime import datetime, timedelta, timezone

    from calibration.flow import CalibrationFlow
    from rig.config import load
    p = tmp_path / "rig.toml"
    p.write_text(f'[paths]\ndata_dir = "{tmp_path}"\n[gpio]\nbackend = "sim"\n[calibration]\nmax_age_days = 7\n')
    config = load(p)
    plate = SyntheticPlate.imperfect(config.geometry(), nominal_model(config).n_per_count[0], seed=11, noise_counts=20.0)
    flow = CalibrationFlow(config, plate, mass_kg=20, grid="none")
    cal = flow.run(place=lambda s: plate.place(20, s.x_m, s.y_m), clear=lambda s: plate.clear())
    # finish() dates it now: re-date it 10 days back
    cal = flow.finish(now=datetime.now(timezone.utc) - timedelta(days=10))
    ff.save(cal, tmp_path / "calibration.json")
    obj = {"calibration_session": lambda cfg: Session(plate, place=plate.place, clear=plate.clear)}
    msg = "calibration is 10 days old (limit 7 days)"

    res = invoke(["check", "--mass-kg", "20", "--yes", "--json"], p, obj=obj)
    assert any(msg in w for w in json.loads(res.stdout)["warnings"])
    res = invoke(["doctor", "--json", "--seconds", "0.5"], p)
    assert any(msg in w for w in json.loads(res.stdout)["warnings"])
    res = invoke(["calibrate", "--mass-kg", "20", "--grid", "none", "--yes"], p, obj=obj)
    assert res.exit_code == 0 and f"The {msg}: this run replaces it." in res.output

    # under the default limit (30 days) a 10-day-old calibration draws no warning
    p.write_text(f'[paths]\ndata_dir = "{tmp_path}"\n[gpio]\nbackend = "sim"\n')
    ff.save(cal, tmp_path / "calibration.json")
    res = invoke(["check", "--mass-kg", "20", "--yes", "--json"], p, obj=obj)
    assert json.loads(res.stdout)["warnings"] == []
