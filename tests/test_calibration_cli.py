"""`rig calibrate` driven through its prompts and `rig check`, on the simulator and a synthetic plate."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from calibration import fileformat as ff
from calibration.cli import Session
from calibration.flow import nominal_model
from calibration.synthetic import SyntheticPlate
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
