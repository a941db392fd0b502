"""The virtual person: realistic sway magnitudes, scripted events, landing, determinism."""
from __future__ import annotations

import numpy as np
import pytest

from rig.signal.plate import G
from rig.sim.person import (DoubleStance, DropLanding, LateralStepDown, LiftFoot, Off, SingleLeg,
                            SingleLegSquat, StepOff, StepOn, TouchDown, VirtualPerson, WeightSchedule)

FS = 100.0  # Hz: how the metrics will see the COP


def sway_stats(person, t0, t1, trim=1.0):
    """Mean COP speed, ML/AP SD (m) and per-axis mean |velocity|, from truth at 100 Hz."""
    t = np.arange(t0 + trim, t1 - trim, 1 / FS)
    fz, x, y = person.truth(t)
    vx, vy = np.diff(x) * FS, np.diff(y) * FS
    return dict(speed=np.mean(np.hypot(vx, vy)), sd_ml=x.std(), sd_ap=y.std(),
                v_ml=np.mean(np.abs(vx)), v_ap=np.mean(np.abs(vy)), fz=fz, x=x, y=y)


def balance_script(hip_drop=None, eyes="open"):
    return [Off(1.0), StepOn(0.5, lead="left"), DoubleStance(30.0, eyes=eyes), LiftFoot("left"),
            SingleLeg("right", 30.0, hip_drop=hip_drop), TouchDown("left", "plate"),
            DoubleStance(2.0), StepOff(0.8, lead="left"), Off(1.0)]


@pytest.fixture(scope="module")
def person():
    return VirtualPerson(mass_kg=72, seed=1, script=balance_script())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_quiet_stance_sway_is_realistic(seed):
    p = VirtualPerson(mass_kg=72, seed=seed, script=balance_script())
    s = sway_stats(p, *p.segment("double_stance"))
    # healthy young adults, eyes open, firm surface: ~10 mm/s, SD a few mm, AP > ML
    assert 0.006 < s["speed"] < 0.016
    assert 0.001 < s["sd_ml"] < 0.005
    assert 0.002 < s["sd_ap"] < 0.008
    assert s["sd_ap"] > s["sd_ml"]
    # COP between the feet (hip width ±0.10 m) around the centre
    assert abs(np.mean(s["x"])) < 0.01 and abs(np.mean(s["y"])) < 0.01
    # Fz = m·g plus a ripple of a few N
    assert np.mean(s["fz"]) == pytest.approx(72 * G, abs=2.0)
    assert 0.5 < np.std(s["fz"]) < 6.0


def test_quiet_stance_power_is_mostly_below_1hz(person):
    t0, t1 = person.segment("double_stance")
    t = np.arange(t0 + 1, t1 - 1, 1 / FS)
    _, x, y = person.truth(t)
    for sig in (x, y):
        spec = np.abs(np.fft.rfft(sig - sig.mean())) ** 2
        f = np.fft.rfftfreq(len(sig), 1 / FS)
        assert spec[f < 1.0].sum() / spec.sum() > 0.75


def test_single_leg_faster_and_within_the_foot(person):
    dbl = sway_stats(person, *person.segment("double_stance"))
    sgl = sway_stats(person, *person.segment("single_leg"))
    assert 0.02 < sgl["speed"] < 0.05
    assert sgl["speed"] > 2 * dbl["speed"]
    assert sgl["sd_ml"] > 1.5 * dbl["sd_ml"]
    foot_x = person.foot_xy("right")[0]
    assert np.all(np.abs(sgl["x"] - foot_x) < 0.04)
    assert np.all(np.abs(sgl["y"] - person.foot_y_m) < 0.10)


def test_hip_drop_raises_ml_sway():
    base = VirtualPerson(72, seed=5, script=balance_script(hip_drop=0.0), variability=0.0)
    drop = VirtualPerson(72, seed=5, script=balance_script(hip_drop=0.8), variability=0.0)
    b = sway_stats(base, *base.segment("single_leg"))
    d = sway_stats(drop, *drop.segment("single_leg"))
    assert d["sd_ml"] > 1.5 * b["sd_ml"]
    assert d["v_ml"] > 1.5 * b["v_ml"]
    assert d["sd_ap"] == pytest.approx(b["sd_ap"], rel=0.05)   # AP untouched
    # the person-level default applies when the phase does not override it
    default = VirtualPerson(72, seed=5, hip_drop=0.8, script=balance_script(), variability=0.0)
    assert sway_stats(default, *default.segment("single_leg"))["sd_ml"] == pytest.approx(d["sd_ml"])


def test_eyes_closed_sways_more():
    """On firm ground with both feet, closing the eyes adds as little as it does for the young
    adults of the public data (rig.sim.sway.DOUBLE_STANCE_CONDITIONS: SD × 1.06, speed × 1.09)."""
    from rig.sim.sway import DOUBLE_STANCE_CONDITIONS
    sd_f, sp_f = DOUBLE_STANCE_CONDITIONS[("closed", "firm")]
    o = VirtualPerson(72, seed=9, script=balance_script(eyes="open"), variability=0.0)
    c = VirtualPerson(72, seed=9, script=balance_script(eyes="closed"), variability=0.0)
    so, sc = sway_stats(o, *o.segment("double_stance")), sway_stats(c, *c.segment("double_stance"))
    assert sc["speed"] / so["speed"] == pytest.approx(sp_f, rel=0.08)
    assert sc["sd_ap"] / so["sd_ap"] == pytest.approx(sd_f, rel=0.08)


def test_events_at_scripted_times(person):
    names = [(round(t, 3), n) for t, n, _ in person.events]
    # Off 1.0, StepOn 0.5 (second foot at 60 %), stance 30, lift 0.6 (foot off at 65 %) ...
    assert (1.0, "step_on") in names and (1.0, "foot_contact") in names
    assert (1.3, "foot_contact") in names
    assert (1.5, "double_stance") in names
    assert (31.5, "lift_foot") in names and (31.89, "foot_off") in names
    assert (32.1, "single_leg") in names and (62.1, "touch_down") in names
    assert (64.4, "step_off") in names and (65.2, "off") in names
    assert person.duration_s == pytest.approx(66.2)
    d = dict((n, det) for _, n, det in person.events)
    assert d["single_leg"]["side"] == "right" and d["touch_down"]["onto"] == "plate"
    assert person.events == sorted(person.events, key=lambda e: e[0])


def test_step_on_lift_and_step_off_kinematics(person):
    bw = 72 * G
    fz, x, _ = person.truth(np.array([0.5, 1.0, 1.25, 1.5, 31.4, 32.1, 65.3]))
    assert fz[0] == 0 and fz[1] == pytest.approx(0, abs=1)             # before / at contact
    assert 0.8 * bw < fz[2] < 1.15 * bw and x[2] == pytest.approx(-0.10, abs=0.01)  # lead foot
    assert fz[3] == pytest.approx(bw, rel=0.03) and abs(x[3]) < 0.015   # both feet, centre
    assert abs(x[4]) < 0.02                                             # before the lift
    assert x[5] == pytest.approx(0.10, abs=0.02)                        # on the right foot
    assert fz[6] == 0                                                   # stepped off
    # the weight shift takes about 0.3 s: COP at less than a quarter / more than 3/4 of the way
    t = np.arange(31.5, 32.1, 0.001)
    _, xs, _ = person.truth(t)
    frac = (xs - xs[0]) / (0.10 - xs[0])
    t25, t75 = t[np.argmax(frac > 0.25)], t[np.argmax(frac > 0.75)]
    assert 0.05 < t75 - t25 < 0.35
    # the anticipatory shift first goes toward the lifting (left) foot
    assert xs[:200].min() < xs[0] - 0.003


def test_touch_down_onto_the_floor_drops_fz():
    script = [Off(1.0), StepOn(), DoubleStance(5.0), LiftFoot("right"), SingleLeg("left", 5.0),
              TouchDown("right", "floor", floor_share=0.4), SingleLeg("left", 1.0) if False else DoubleStance(1.0)]
    with pytest.raises(ValueError):  # double stance cannot follow a touch-down on the floor
        VirtualPerson(72, seed=1, script=script)
    script = [Off(1.0), StepOn(), DoubleStance(5.0), LiftFoot("right"), SingleLeg("left", 5.0),
              TouchDown("right", "floor", floor_share=0.4), LiftFoot("right"), SingleLeg("left", 3.0),
              StepOff(lead="right"), Off(1.0)]
    p = VirtualPerson(72, seed=1, script=script)
    t_td = next(t for t, n, d in p.events if n == "touch_down")
    fz, x, _ = p.truth(np.array([t_td - 0.1, t_td + 0.3, t_td + 0.5]))
    assert fz[0] == pytest.approx(72 * G, rel=0.03)
    assert fz[1] == pytest.approx(0.6 * 72 * G, rel=0.03)
    assert x[1] == pytest.approx(-0.10, abs=0.03)          # still under the left foot
    t_l, _ = p.segment("single_leg", 1)
    assert p.truth(t_l + 1.0)[0] == pytest.approx(72 * G, rel=0.03)


def test_drop_landing_peak_and_settling():
    m = 72
    p = VirtualPerson(m, seed=3, script=[Off(1.0), DropLanding(box_height_m=0.3), DoubleStance(5.0),
                                         StepOff(), Off(1.0)])
    ev = {n: t for t, n, _ in p.events}
    assert ev["drop_landing"] == pytest.approx(1.0)
    assert ev["landing_contact"] == pytest.approx(1.0 + np.sqrt(2 * 0.3 / G), abs=1e-3)
    t = np.arange(0, p.duration_s, 0.001)
    fz, _, _ = p.truth(t)
    bw, tc = m * G, ev["landing_contact"]
    assert np.all(fz[t < tc - 1e-3] == 0)                       # on the box, then in flight
    i = np.argmax(fz)
    assert 3.0 <= fz[i] / bw <= 5.0
    assert 0.04 <= t[i] - tc <= 0.08
    late = (t > tc + 2.0) & (t < tc + 2.5)
    assert np.all(np.abs(fz[late] - bw) < 0.05 * bw)
    # momentum: the impulse of (Fz − BW) from the drop until settled is ~0 (ends at rest)
    span = (t >= 1.0) & (t < tc + 2.0)
    assert abs(np.sum(fz[span] - bw) * 0.001) < 0.02 * m * np.sqrt(2 * G * 0.3)
    assert ev["landing_settled"] - tc < 2.0


def test_lateral_step_down_dips_and_moves_medially():
    script = [Off(1.0), StepOn(), DoubleStance(3.0), LiftFoot("left"), SingleLeg("right", 3.0),
              LateralStepDown("right", duration=3.0, floor_share=0.15), SingleLeg("right", 2.0),
              TouchDown("left", "plate"), DoubleStance(1.0), StepOff(), Off(1.0)]
    p = VirtualPerson(72, seed=4, script=script, variability=0.0)
    t0, t1 = p.segment("lateral_step_down")
    bw = 72 * G
    tap = next(t for t, n, _ in p.events if n == "heel_tap")
    assert tap == pytest.approx(t0 + 1.5)
    fz, x, _ = p.truth(np.array([t0 - 0.5, tap, t1 + 0.5]))
    # at the bottom: 15 % of the weight on the floor foot, COM decelerating (m·4π²·depth/T²)
    assert fz[1] == pytest.approx(0.85 * bw + 72 * 4 * np.pi ** 2 * 0.12 / 3.0 ** 2, abs=20)
    assert fz[1] < 0.95 * bw
    assert x[1] < x[0] - 0.005                        # right stance: medial is −x
    assert abs(fz[2] - bw) < 0.03 * bw and abs(x[2] - x[0]) < 0.02


def test_single_leg_squat_valgus_moves_cop_medially():
    def run(valgus):
        script = [Off(1.0), StepOn(), DoubleStance(3.0), LiftFoot("right"), SingleLeg("left", 3.0),
                  SingleLegSquat("left", 3.0, valgus=valgus), SingleLeg("left", 2.0),
                  TouchDown("right", "plate"), DoubleStance(1.0), StepOff(), Off(1.0)]
        p = VirtualPerson(72, seed=6, script=script, variability=0.0)
        t0, t1 = p.segment("single_leg_squat")
        fz, x, _ = p.truth(np.arange(t0, t1, 0.01))
        return fz, x - (-0.10)
    fz0, dx0 = run(0.0)
    fz1, dx1 = run(1.0)
    mid = slice(100, 200)                             # the middle second, around the bottom
    assert np.mean(dx1[mid] - dx0[mid]) > 0.015       # left stance: medial is +x
    assert fz0.min() < 72 * G - 20 and fz0.max() > 72 * G + 20   # COM acceleration


def test_deterministic_with_seed_and_different_without():
    t = np.linspace(0, 60, 997)
    a = VirtualPerson(70, seed=11, script=balance_script()).truth(t)
    b = VirtualPerson(70, seed=11, script=balance_script()).truth(t)
    c = VirtualPerson(70, seed=12, script=balance_script()).truth(t)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.allclose(a[1], c[1])


def test_loop_wraps_time_and_unrolls_events():
    p = VirtualPerson(72, seed=1, loop=True)   # the demo script
    d = p.duration_s
    t = np.array([3.0, 7.5, 20.0])
    for u, v in zip(p.truth(t), p.truth(t + 2 * d)):
        np.testing.assert_allclose(u, v)
    # the seam is continuous
    fz, x, y = p.truth(np.array([d - 1e-3, d + 1e-3]))
    assert abs(x[1] - x[0]) < 1e-3 and abs(fz[1] - fz[0]) < 1.0
    ev = p.events_between(0, 2 * d)
    assert len(ev) == 2 * len(p.events)
    assert ev[len(p.events)][0] == pytest.approx(p.events[0][0] + d)


def test_invalid_scripts_are_rejected():
    with pytest.raises(ValueError):
        VirtualPerson(72, script=[Off(1.0), DoubleStance(5.0)])          # never stepped on
    with pytest.raises(ValueError):
        VirtualPerson(72, script=[Off(1.0), StepOn(), SingleLeg("left", 5.0)])  # no lift
    with pytest.raises(ValueError):
        VirtualPerson(72, hip_drop=1.5)


def test_weight_schedule():
    w = WeightSchedule([(1.0, 3.0, 10.0, 0.1, 0.0), (2.0, 4.0, 20.0, -0.05, 0.1)])
    fz, x, y = w.truth(np.array([0.5, 1.5, 2.5, 3.5]))
    np.testing.assert_allclose(fz, [0, 10 * G, 30 * G, 20 * G])
    assert x[2] == pytest.approx((10 * 0.1 + 20 * -0.05) / 30)
    assert y[2] == pytest.approx(20 * 0.1 / 30)
