"""Zero tracking inside the acquisition loop: re-tare only while the plate is unloaded and still,
drift events and warnings in health; the calibration watch (age advisory, reload)."""
import dataclasses
import re
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from calibration import fileformat as ff
from calibration.flow import CalibrationFlow, nominal_model
from calibration.loader import CalibrationWatch, load_force_model
from tests.synthetic.plate import SyntheticPlate
from rig.acquire.loop import Acquisition
from rig.acquire.service import AcquisitionService
from rig.config import Config, from_dict
from rig.signal.plate import ForceModel
from rig.sim.person import DoubleStance, Off, StepOff, StepOn, VirtualPerson
from rig.sim.plate import AVDD_V, SimPlate
from rig.sim.rig import make_sim_rig
from tests.fake_frames import GEOM, N_PER_COUNT, FakeReader

# --- on the simulator, in virtual time ------------------------------------------------------
# 10 SPS keeps ten simulated minutes at ~15 s of wall time; the tracker's logic is per sample
# and rate independent. The realistic plate's own warm-up moves the zero by only ~10 mN in five
# minutes, too little to see against the other errors, so its thermal zero is set to
# 0.5 % FS/10 °C on every cell, same sign (a cheap cell, 10x the datasheet sigma), and it warms
# by 6 °C with a 5-minute time constant (brought in from a cold car): 0.98 N of Fz per °C,
# 2.7 N over the first 3 minutes. Every other imperfection is the realistic draw (seed 4).
SIM_CFG = from_dict({"hx711": {"rate_sps": 10}})
GAIN = SIM_CFG.hx711.gain
FS_V = SIM_CFG.plate.cell_sensitivity_mv_v / 1000 * AVDD_V
WARMING = dict(zero_tc_v_per_c=np.full(4, 0.0005 * FS_V), warmup_dc=6.0, warmup_tau_s=300.0)
EMPTY_S, STAND_S = 180.0, 150.0          # empty plate, then someone stands still on it


def warming_plate():
    return SimPlate.realistic(seed=4, config=SIM_CFG, **WARMING)


def true_zero(t_s):
    """Noise-free codes of the empty warming plate at t_s (dead weight, bridge offsets, thermal zero)."""
    return warming_plate().expected_counts(t_s, GAIN)


def run_sim(tracking: bool, seconds: float):
    plate = warming_plate()
    person = VirtualPerson(seed=1, script=[Off(EMPTY_S), StepOn(), DoubleStance(STAND_S), StepOff(), Off(60)])
    rig = make_sim_rig(SIM_CFG, person=person, plate=plate, seed=4)
    g = plate.true_n_per_count(GAIN)
    # a perfect calibration made at t = 0: true gains and geometry, zero of that moment
    model = ForceModel(offsets_counts=plate.expected_counts(0.0, GAIN), n_per_count=g,
                       matrix=plate.true_geometry.model_matrix(), min_fz_n=20.0, source="calibration (truth)")
    acq = Acquisition(rig.driver(), model, rate_hz=SIM_CFG.hx711.rate_sps, zero_tracking=tracking)
    rows, offsets, health = [], [], []

    def on(ev):
        if ev.type == "batch":
            rows.append(ev.samples)
            offsets.append((float(ev.samples[-1, 0]), acq.force_model.offsets_counts.copy()))
        else:
            health.append(ev.data)
    acq.subscribe(on)
    acq.run(max_seconds=seconds)
    r = np.vstack(rows)
    fz_true = rig.truth_at(acq._t0_ns + r[:, 0] * 1e9)[0]
    return acq, r, fz_true, offsets, health, g


@pytest.fixture(scope="module")
def tracked():
    return run_sim(True, EMPTY_S + STAND_S + 45)


@pytest.fixture(scope="module")
def untracked():
    return run_sim(False, EMPTY_S + 25)


def stance_error(r, fz_true):
    """Mean Fz error over 20 s of quiet stance right after stepping on."""
    on = (r[:, 0] > EMPTY_S + 2) & (r[:, 0] < EMPTY_S + 22)
    return float(np.mean(r[on, 5] - fz_true[on]))


def zero_error_n(offsets, g, t_s):
    """Fz error of the zero in use at t_s against the plate's true zero then."""
    off = next(o for t, o in offsets if t >= t_s)
    return float(np.sum((off - true_zero(t_s)) * g))


def test_drifting_empty_plate_is_retared_and_the_next_step_on_reads_closer(tracked, untracked):
    acq, r, fz_true, offsets, health, g = tracked
    acq0, r0, fz_true0, offsets0, _, _ = untracked
    drift = float(np.sum((true_zero(EMPTY_S) - true_zero(0.0)) * g))
    assert 2.4 < drift < 3.0                                   # what the warming plate did (2.7 N)
    # re-tares while empty: the start-up tare, then every 30 s once still for 2 s
    empty_events = [e for e in acq.zero_tracker.events if e.t_s < EMPTY_S]
    assert len(empty_events) >= 6
    # the zero in use when the person steps on: 2.7 N off without tracking, < 0.5 N with it
    assert zero_error_n(offsets0, g, EMPTY_S) == pytest.approx(-drift, abs=0.15)   # the zero lags behind
    assert abs(zero_error_n(offsets, g, EMPTY_S)) < 0.5
    # and the measured Fz of the step-on (vs the person's truth, 20 s of stance): measured
    # 3.4 N off without tracking, 1.0 N with it (0.7 N of that is the cells' non-linearity and
    # span drift, common to both); tracking removes the drift up to the last re-tare
    err, err0 = stance_error(r, fz_true), stance_error(r0, fz_true0)
    assert err0 > 3.0
    assert abs(err) < 1.3
    assert err0 - err > 2.0


def test_standing_still_for_minutes_never_retares(tracked):
    acq, r, fz_true, offsets, health, g = tracked
    on_s, off_s = EMPTY_S, EMPTY_S + 0.5 + STAND_S + 0.8
    events = acq.zero_tracker.events
    assert not [e for e in events if on_s - 0.5 < e.t_s < off_s]
    during = [o for t, o in offsets if on_s + 1 < t < off_s - 1]
    assert len(during) > 500 and all(np.array_equal(o, during[0]) for o in during)
    # the person was there all along: Fz within 3 % of body weight the whole stance
    st = (r[:, 0] > on_s + 2) & (r[:, 0] < off_s - 2)
    assert np.all(np.abs(r[st, 5] - fz_true[st]) < 0.03 * 72 * 9.81)
    # once they step off, the zero is found again within a few seconds; the zero moved by the
    # warm-up during the stance is not taken for creep
    after = [e for e in events if e.t_s > off_s]
    assert after and after[0].t_s < off_s + 4.0 and after[0].after_load_n == pytest.approx(72 * 9.81, rel=0.15)
    assert acq.zero_tracker.warnings == []


def test_drift_events_are_in_health(tracked):
    acq, r, fz_true, offsets, health, g = tracked
    zt = health[-1]["zero_tracking"]
    assert zt["retares"] == len(acq.zero_tracker.events) and len(zt["events"]) == 5
    ev = zt["events"][-1]
    assert ev["t_s"] > EMPTY_S + STAND_S
    assert {f"drift_{c}_n" for c in ("fl", "fr", "bl", "br")} <= set(ev)
    # the per-cell total since the calibration follows the plate's own warm-up
    t_last = ev["t_s"]
    true_total = (true_zero(t_last) - true_zero(0.0)) * g
    np.testing.assert_allclose(zt["total_drift_n"], true_total, atol=0.12)
    assert zt["limits"]["drift_n"] == 5.0 and health[-1]["warnings"] == []


# --- warnings at their limits reach the health messages (fake frames, fast) -----------------

class DriftingReader(FakeReader):
    """FakeReader whose cells' zero moves: ``drift_n_s`` per cell (N/s), plus ``shift_n`` per cell
    from ``shift_at_s`` on (what a creeping cell leaves after a load); ``off_s`` ends the load."""

    def __init__(self, drift_n_s=(0, 0, 0, 0), shift_n=(0, 0, 0, 0), shift_at_s=None, off_s=None, **kw):
        super().__init__(**kw)
        self.drift = np.asarray(drift_n_s, float) / N_PER_COUNT
        self.shift = np.asarray(shift_n, float) / N_PER_COUNT
        self.shift_at_s, self.off_s = shift_at_s, off_s

    def truth(self, t_s):
        fz, x, y = super().truth(t_s)
        return (0.0 if self.off_s is not None and t_s >= self.off_s else fz), x, y

    def read_frame(self):
        t_s = (self.t - self.t0) / 1e9
        fr = super().read_frame()
        c = np.array(fr.counts, float) + self.drift * t_s
        if self.shift_at_s is not None and t_s >= self.shift_at_s:
            c = c + self.shift
        return dataclasses.replace(fr, counts=tuple(int(round(v)) for v in c))


def fake_model():
    return ForceModel.nominal(GEOM, capacity_kg=50, sensitivity_mv_v=2.0)


def test_drift_past_its_limit_is_a_health_message():
    reader = DriftingReader(drift_n_s=(0.2, 0, 0, 0), step_on_s=1e9)   # front-left: 0.2 N/s
    acq = Acquisition(reader, fake_model(), zero_tracking=True)
    health = []
    acq.subscribe(lambda ev: health.append(ev.data) if ev.type == "health" else None)
    acq.run(max_seconds=40.0)
    first = next(h for h in health if h["warnings"])
    assert 31.0 <= first["t_s"] <= 33.0                    # the re-tare at 31 s found 6 N (> 5 N)
    msg = first["warnings"][0]
    drifted = float(re.search(r"cell fl has drifted \+([0-9.]+) N since calibration", msg).group(1))
    assert drifted == pytest.approx(6.0, abs=0.2) and "limit 5.0 N" in msg and "rig calibrate" in msg
    assert msg in first["messages"] and first["ok"]          # advice, not a hardware fault
    assert [h["warnings"] for h in health if h["t_s"] < 31.0] == [[]] * len([h for h in health if h["t_s"] < 31.0])
    assert health[-1]["zero_tracking"]["total_drift_n"][0] == pytest.approx(6.0, abs=0.2)


def test_creep_after_a_load_is_a_health_message_and_tracking_off_has_none():
    # 700 N from 2 s to 30 s; afterwards the zero sits 0.5 % of that load higher (1.75 N on two cells)
    kw = dict(shift_n=(1.75, 1.75, 0, 0), shift_at_s=30.0, off_s=30.0, step_on_s=2.0)
    acq = Acquisition(DriftingReader(**kw), fake_model(), zero_tracking=True)
    acq.run(max_seconds=36.0)
    h = acq.latest_health
    assert any("creeping" in m and "0.50 % of the 700 N load" in m and "limit 0.2 %" in m for m in h["messages"])
    assert h["zero_tracking"]["events"][-1]["after_load_n"] == pytest.approx(700, abs=5)
    off = Acquisition(DriftingReader(**kw), fake_model())
    off.run(max_seconds=36.0)
    assert off.latest_health["zero_tracking"] is None and off.latest_health["warnings"] == []
    assert off.force_model.offsets_counts[0] == pytest.approx(12_000, abs=10)   # nobody moved the zero


# --- calibration age and reload through the service ------------------------------------------

def make_calibration(cfg, created):
    plate = SyntheticPlate.imperfect(cfg.geometry(), nominal_model(cfg).n_per_count[0], seed=3, noise_counts=10)
    flow = CalibrationFlow(cfg, plate, mass_kg=20, grid="none", measure_s=1.0, tare_s=1.0)
    for step in flow.steps:
        plate.place(20, step.x_m, step.y_m) if step.needs_mass else plate.clear()
        flow.run_step(step)
    return flow.finish(now=created)


def calibration_factory(config):
    return load_force_model(config=config)


def test_calibration_age_limit_from_the_config_reaches_health(tmp_path):
    cfg = from_dict({"paths": {"data_dir": str(tmp_path)}, "calibration": {"max_age_days": 7}})
    now = datetime.now(timezone.utc)
    ff.save(make_calibration(cfg, now - timedelta(days=10)), ff.default_path(cfg))
    acq = Acquisition(FakeReader(), calibration_factory(cfg), zero_tracking=True)
    watch = CalibrationWatch(acq, cfg, calibration_factory)
    acq.run(max_seconds=2.0)
    msg = "calibration is 10 days old (limit 7 days): run `rig calibrate`"
    assert msg in acq.latest_health["messages"] and msg in acq.latest_health["warnings"]
    # the same file under the default limit (30 days) is fine
    cfg30 = dataclasses.replace(cfg, calibration=Config().calibration)
    acq2 = Acquisition(FakeReader(), calibration_factory(cfg30), zero_tracking=True)
    CalibrationWatch(acq2, cfg30, calibration_factory)
    acq2.run(max_seconds=2.0)
    assert acq2.latest_health["warnings"] == []
    # ... and a day later than checked, still stale; within the limit once "now" is early enough
    assert watch.advise(now=now - timedelta(days=5)) is None and watch.advise(now=now) == msg


class PacedReader(FakeReader):
    def read_frame(self):
        time.sleep(0.001)          # ~12x real time: leaves the CPU to the test
        return super().read_frame()


def wait_for(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_running_service_picks_up_a_new_calibration(tmp_path):
    from rig.acquire.ipc import Client
    cfg = from_dict({"paths": {"data_dir": str(tmp_path)}})
    old = make_calibration(cfg, datetime(2026, 1, 5, tzinfo=timezone.utc))
    ff.save(old, ff.default_path(cfg))
    acq = Acquisition(PacedReader(), calibration_factory(cfg), zero_tracking=True)
    service = AcquisitionService(acq, cfg.socket_path, config=cfg, force_model_factory=calibration_factory).start()
    try:
        assert wait_for(lambda: acq.tared)
        live = acq.force_model.offsets_counts.copy()
        # 1. the command: `rig calibrate` sends it after saving
        new = make_calibration(cfg, datetime(2026, 2, 1, tzinfo=timezone.utc))
        new["gains"]["n_per_count"] = [g * 1.01 for g in new["gains"]["n_per_count"]]   # visibly different
        ff.save(new, ff.default_path(cfg))
        client = Client(cfg.socket_path, reconnect=False)
        reply, batch_after = None, None
        for msg in client.messages(timeout=5):
            if msg["type"] == "hello":
                client.command("reload_calibration", id=1)
            elif msg["type"] == "reply":
                reply = msg
            elif msg["type"] == "batch" and reply is not None and acq.force_model.source == reply["calibration"]:
                batch_after = msg
                break
        client.close()
        assert reply["ok"] and reply["calibration"] == "calibration 2026-02-01T00:00:00Z"
        np.testing.assert_allclose(acq.force_model.n_per_count, new["gains"]["n_per_count"])
        np.testing.assert_allclose(acq.force_model.offsets_counts, live, atol=30)   # the live zero is kept
        assert batch_after is not None
        assert wait_for(lambda: acq.latest_health.get("calibration") == reply["calibration"])
        assert acq.zero_tracker.model is acq.force_model                   # tracking the new model
        # a new subscriber's hello names the calibration in force
        c2 = Client(cfg.socket_path, reconnect=False)
        hello = next(c2.messages(timeout=5))
        c2.close()
        assert hello["calibration"] == reply["calibration"]
        # 2. the watch: restoring the previous file (undo) is noticed by poll() with no command
        ff.default_path(cfg).write_bytes((tmp_path / ff.PREV_FILENAME).read_bytes())
        service.poll()
        assert wait_for(lambda: acq.force_model.source == "calibration 2026-01-05T00:00:00Z")
        np.testing.assert_allclose(acq.force_model.n_per_count, old["gains"]["n_per_count"])
        service.poll()                                                      # unchanged: no reload
        assert service.watch.reloads == 2
    finally:
        service.close()
