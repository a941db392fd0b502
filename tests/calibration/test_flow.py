"""The guided flow on a synthetic plate (known truth, no simulator), its refusals, and zero tracking."""
import numpy as np
import pytest

from calibration.flow import CalibrationFlow, StepError, nominal_model, report_lines
from calibration.grid import grid_positions
from calibration.loader import force_model_from_dict
from calibration.model import LinearFit
from tests.synthetic.plate import SyntheticPlate
from calibration.zero import ZeroTracker
from rig.config import Config
from rig.signal.plate import G

CFG = Config()
G_NOM = nominal_model(CFG).n_per_count[0]


def make_plate(seed=0, **kw):
    kw.setdefault("noise_counts", 20.0)
    return SyntheticPlate.imperfect(CFG.geometry(), G_NOM, seed=seed, dead_weight_n=150.0, **kw)


def run(plate, grid="3", mass=20.0, **kw):
    flow = CalibrationFlow(CFG, plate, mass_kg=mass, grid=grid, **kw)
    return flow, flow.run(place=lambda s: plate.place(mass, s.x_m, s.y_m), clear=lambda s: plate.clear())


def fresh_errors(plate, cal, n=20, seed=9, masses=(20.0,)):
    """COP/Fz errors at random positions never used in the fit (true held-out)."""
    fm = force_model_from_dict(cal, CFG)
    fit = LinearFit(fm.matrix, fm.correction)
    plate.clear()
    t, c = plate.read(2)
    zero = c.mean(0)
    rng = np.random.default_rng(seed)
    cop, fz_pct = [], []
    for _ in range(n):
        x, y, m = rng.uniform(-0.16, 0.16), rng.uniform(-0.12, 0.12), rng.choice(masses)
        plate.place(m, x, y)
        t, c = plate.read(2)
        fz, px, py = fit.predict(((c.mean(0) - zero) * fm.n_per_count)[None])
        cop.append(np.hypot(px[0] - x, py[0] - y) * 1000)
        fz_pct.append((fz[0] / (m * G) - 1) * 100)
    return np.sqrt(np.mean(np.square(cop))), np.sqrt(np.mean(np.square(fz_pct)))


def test_plan_uses_the_printed_grid_and_skips_the_repeated_centre():
    flow = CalibrationFlow(CFG, make_plate(), mass_kg=20, grid="5")
    labels = [s.label for s in flow.steps]
    assert labels[:6] == ["empty", "FL", "FR", "BL", "BR", "C"]
    assert labels[-1] == "empty-end"
    assert "C3" not in labels and len(labels) == 2 + 5 + 24
    spots = {lab: (x, y) for lab, x, y in grid_positions(5)}
    assert spots["A1"] == (-160.0, 120.0)            # front-left, as on hardware/calibration-grid.csv


@pytest.mark.parametrize("grid", ["none", "3", "5"])
def test_flow_reaches_the_targets_on_an_imperfect_plate(grid):
    plate = make_plate(seed=4, nonlin_per_n=1e-6, creep_frac=5e-4, drift_counts_s=3.0)
    flow, cal = run(plate, grid)
    assert cal["result"]["passed"], cal["result"]
    assert cal["heldout"]["cop_rms_mm"] < 1.0
    assert cal["heldout"]["fz_rms_pct"] < 0.5
    cop, fz = fresh_errors(plate, cal)
    assert cop < 1.0 and fz < 0.5
    # uncalibrated, the same plate is several mm and % off: the flow did the work
    nom = {**cal, "gains": {**cal["gains"], "n_per_count": [G_NOM] * 4},
           "model": {**cal["model"], "matrix": CFG.geometry().model_matrix().tolist(), "correction": None}}
    cop0, fz0 = fresh_errors(plate, nom)
    assert cop0 > 3 * cop and fz0 > 1.0


def test_gains_recovered_within_a_percent():
    plate = make_plate(seed=7)
    _, cal = run(plate, "3")
    err = np.array(cal["gains"]["n_per_count"]) / plate.n_per_count - 1
    assert np.max(np.abs(err)) < 0.01
    np.testing.assert_allclose(cal["gains"]["vs_nominal_pct"], (plate.n_per_count / G_NOM - 1) * 100, atol=1.0)


def test_zero_drift_during_session_is_measured_and_removed():
    plate = make_plate(seed=2, drift_counts_s=300.0)      # ~3.4 N per cell per 100 s
    flow, cal = run(plate, "3")
    per_s = 300.0 * np.array(cal["gains"]["n_per_count"])
    dur = flow.end_tare.t_s - flow.tare.t_s
    np.testing.assert_allclose(cal["tare"]["drift_n"], per_s * dur, rtol=0.05)
    assert cal["heldout"]["fz_rms_pct"] < 0.1
    assert any("zero drifted" in w for w in cal["result"]["warnings"])


def test_report_speaks_clinic_numbers():
    _, cal = run(make_plate(seed=1), "3")
    text = "\n".join(report_lines(cal))
    for s in ("Vertical force error", " N)", "Centre-of-pressure error", " mm", "Cell gains vs datasheet", "PASS"):
        assert s in text


def test_wrong_mass_refused():
    plate = make_plate()
    flow = CalibrationFlow(CFG, plate, mass_kg=20, grid="none")
    flow.run_step(flow.steps[0])
    plate.place(10, 0, 0)                                # operator used the 10 kg mass
    with pytest.raises(StepError, match="weighs"):
        flow.run_step(flow.steps[1])


def test_forgot_to_place_refused():
    plate = make_plate()
    flow = CalibrationFlow(CFG, plate, mass_kg=20, grid="none")
    flow.run_step(flow.steps[0])
    with pytest.raises(StepError, match="is the mass"):
        flow.run_step(flow.steps[1])


def test_shaking_plate_refused():
    plate = make_plate(noise_counts=20000.0)             # ~2 N per cell: someone leaning on it
    flow = CalibrationFlow(CFG, plate, mass_kg=20, grid="none", settle_max_s=3.0)
    with pytest.raises(StepError, match="not still"):
        flow.run_step(flow.steps[0])


def test_loaded_plate_at_tare_refused_when_a_previous_calibration_exists():
    plate = make_plate(seed=3)
    _, cal = run(plate, "none")
    prev = force_model_from_dict(cal, CFG)
    plate.place(20, 0, 0)                                # the mass was left on the plate
    flow = CalibrationFlow(CFG, plate, mass_kg=20, grid="none", previous=prev)
    with pytest.raises(StepError, match="does not look empty"):
        flow.run_step(flow.steps[0])


def test_finish_without_all_placements_refused():
    plate = make_plate()
    flow = CalibrationFlow(CFG, plate, mass_kg=20, grid="3")
    flow.run_step(flow.steps[0])
    with pytest.raises(StepError, match="only 0 of the 5"):
        flow.finish()


# --- zero tracking ------------------------------------------------------------------------

def stream(plate, tracker, seconds, chunk=0.5):
    for _ in range(int(seconds / chunk)):
        t, c = plate.read(chunk)
        tracker.update(t, c)


def tracked(seed=0, **kw):
    plate = make_plate(seed=seed, noise_counts=20.0, **kw)
    _, cal = run(plate, "none")
    fm = force_model_from_dict(cal, CFG)
    return plate, fm


def test_zero_tracker_follows_drift_only_when_unloaded_and_still():
    plate, fm = tracked(drift_counts_s=20.0)             # ~2.3 mN/s per cell
    tr = ZeroTracker(fm, rate_sps=plate.rate_sps, min_interval_s=10.0)
    plate.place(70, 0.02, 0.01)                          # a person stands for 60 s: no re-tare
    stream(plate, tr, 60)
    assert tr.events == []
    plate.clear()
    stream(plate, tr, 30)
    assert len(tr.events) >= 1
    ev = tr.events[0]
    # the zero now matches the plate's true drifted zero
    t, c = plate.read(1)
    f = (c.mean(0) - fm.offsets_counts) * fm.n_per_count
    assert np.max(np.abs(f)) < 0.05
    assert ev.after_load_n == pytest.approx(70 * G, rel=0.02)
    total = sum(np.array(e.drift_n) for e in tr.events)
    np.testing.assert_allclose(tr.events[-1].total_n, total, atol=1e-9)


def test_zero_tracker_ignores_a_wobbling_plate():
    plate, fm = tracked()
    plate.noise = np.full(4, 5000.0)                     # ~0.6 N sd per cell
    tr = ZeroTracker(fm, rate_sps=plate.rate_sps, min_interval_s=1.0)
    stream(plate, tr, 20)
    assert tr.events == []


def test_zero_tracker_warns_on_drift_and_creep():
    plate, fm = tracked(drift_counts_s=400.0)            # ~45 mN/s: fast thermal drift
    tr = ZeroTracker(fm, rate_sps=plate.rate_sps, min_interval_s=5.0, drift_warn_n=2.0)
    stream(plate, tr, 120)
    assert any("drifted" in w and "recalibrate" in w for w in tr.warnings)
    assert len([w for w in tr.warnings if "drifted" in w]) == 1  # said once, not every re-tare

    plate2, fm2 = tracked(seed=1)
    tr2 = ZeroTracker(fm2, rate_sps=plate2.rate_sps, min_interval_s=1.0)
    plate2.place(70, 0, 0)
    stream(plate2, tr2, 10)
    plate2.clear()
    plate2.offsets = plate2.offsets + 2.0 / fm2.n_per_count  # 2 N per cell stays after unloading
    stream(plate2, tr2, 5)
    assert any("creeping" in w for w in tr2.warnings)
