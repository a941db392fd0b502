"""Single-leg squat measures (rig.analysis.squat): segmentation on an analytic squat, and the virtual
person squatting with a known knee-valgus-like medial COP shift, through the simulated chips."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rig.signal.plate import G
from rig.analysis.squat import COMPARED, squat_measures, squat_repetitions
from rig.analysis.symmetry import symmetry_table
from tests.sim_support import through_chips

MASS = 70.0
BW = MASS * G


def analytic_squats(n=4, depth=0.12, dur=2.4, pause=1.5, fs=80.0, bw_error=0.0, touch=None):
    """z = −depth·sin⁴(πτ) per repetition (the simulator's profile), Fz = BW + m·z''."""
    t = np.arange(0, pause + n * (dur + pause), 1 / fs)
    fz = np.full_like(t, BW)
    starts = [pause + i * (dur + pause) for i in range(n)]
    for s0 in starts:
        m = (t >= s0) & (t <= s0 + dur)
        tau = (t[m] - s0) / dur
        s, c = np.sin(np.pi * tau), np.cos(np.pi * tau)
        fz[m] += MASS * -depth * (np.pi / dur) ** 2 * (12 * s * s * c * c - 4 * s ** 4)
        if touch is not None and s0 == starts[touch]:
            fz[m & (np.abs(t - s0 - dur / 2) < 0.2)] -= 0.25 * BW          # free foot takes 25 % BW
    ml = np.zeros_like(t)
    for s0 in starts:
        m = (t >= s0) & (t <= s0 + dur)
        ml[m] += 12.0 * np.sin(np.pi * (t[m] - s0) / dur) ** 2                # 12 mm medial for a left foot
    return t, fz * (1 + bw_error), ml - 100.0, np.zeros_like(t), starts


def test_segmentation_finds_each_squat_with_its_phases():
    dur, depth = 2.4, 0.12
    # where |v| = 0.01 m/s on the sin⁴ profile: v = −4·depth·(π/dur)·sin³·cos
    tau = np.linspace(0, 0.5, 200001)
    v = 4 * depth * np.pi / dur * np.sin(np.pi * tau) ** 3 * np.cos(np.pi * tau)
    tau_edge = tau[np.argmax(v >= 0.01)]
    want_descent = (0.5 - tau_edge) * dur
    for err in (0.0, 0.02, -0.02):                                      # BW 2 % wrong: drift removed
        t, fz, ml, ap, starts = analytic_squats(bw_error=err)
        reps = squat_repetitions(t, fz, BW)                           # the caller's BW is the true one
        assert len(reps) == 4, err
        for r, s0 in zip(reps, starts):
            assert r["depth_m"] == pytest.approx(depth * (1 + err), rel=0.02)
            assert r["lowest_t_s"] == pytest.approx(s0 + dur / 2, abs=0.03)
            assert r["lowest_t_s"] - r["start_t_s"] == pytest.approx(want_descent, abs=0.05)
            assert r["return_t_s"] - r["lowest_t_s"] == pytest.approx(want_descent, abs=0.05)
            assert not r["touch_down"]
    m = squat_measures(t, fz, ml, ap, "left", body_weight_n=BW)
    assert m["repetition_count"] == 4 and m["touch_down_count"] == 0
    med = 12.0 * (1 - math.sin(math.pi * tau_edge) ** 2)               # medial shift after the start
    assert m["mean_ml_medial_mm"] == pytest.approx(med, abs=0.3)
    assert m["mean_ml_lateral_mm"] == pytest.approx(0.0, abs=0.3)
    # right foot: the same COP movement (toward +x) is now lateral, not medial
    r = squat_measures(t, fz, ml, ap, "right", body_weight_n=BW)
    assert r["mean_ml_medial_mm"] == pytest.approx(0.0, abs=0.3) and r["mean_ml_lateral_mm"] > 10
    t, fz, ml, ap, _ = analytic_squats(touch=2)
    tm = squat_measures(t, fz, ml, ap, "left", body_weight_n=BW)
    assert tm["touch_down_count"] == 1 and not tm["repetitions"][0]["touch_down"] and tm["repetitions"][2]["touch_down"]
    with pytest.raises(ValueError):
        squat_measures(t, fz, ml, ap, "both")
    assert squat_repetitions(t[:5], fz[:5], BW) == []


def _both_sides(valgus_left, valgus_right, sway, seed):
    from rig.sim.person import (SINGLE_LEG_STANCE, DoubleStance, LiftFoot, Off, SingleLeg, SingleLegSquat, StepOn,
                                TouchDown, VirtualPerson)
    s = [Off(2.0), StepOn(0.5, lead="left"), DoubleStance(3.0)]
    for side, other, valgus in (("left", "right", valgus_left), ("right", "left", valgus_right)):
        s += [LiftFoot(other), SingleLeg(side, 2.0)]
        for _ in range(5):
            s += [SingleLegSquat(side, 3.0, depth_m=0.15, valgus=valgus), SingleLeg(side, 1.5)]
        s += [TouchDown(other, "plate"), DoubleStance(2.0)]
    p = VirtualPerson(72, seed=seed, script=s, single_leg_stance=SINGLE_LEG_STANCE.scaled(sd=sway, speed=sway))
    d = through_chips(p, seed=seed)
    out = {}
    for side in ("left", "right"):
        a = min(x for x, _y, ph in p.segments if ph.kind == "single_leg" and ph.side == side)
        b = max(y for _x, y, ph in p.segments if ph.kind == "single_leg" and ph.side == side)
        m = (d[:, 0] >= a) & (d[:, 0] <= b)
        out[side] = squat_measures(d[m, 0], d[m, 5], d[m, 6], d[m, 7], side)
    return p, out


def known_medial_mm(valgus, medial_m=0.005):
    """The simulator's programmed medial COP shift of a squat (SingleLegSquat)."""
    return 1000 * (medial_m + 0.02 * valgus)


def test_virtual_person_squat_with_known_valgus_low_sway():
    # sway at a fifth of normal so that the valgus shift itself is measured
    p, m = _both_sides(0.0, 1.0, sway=0.2, seed=3)
    for side, valgus in (("left", 0.0), ("right", 1.0)):
        r = m[side]
        assert r["repetition_count"] == 5 and r["touch_down_count"] == 0, side
        # depth comes from integrating Fz twice; the simulated COM acceleration noise (Fz ripple) makes
        # single repetitions ±2 cm: the mean of five is within 15 %
        assert r["mean_depth_m"] == pytest.approx(0.15, rel=0.15)
        assert r["mean_descent_s"] == pytest.approx(1.26, abs=0.1)      # velocity edges on a 3-s squat
        assert r["mean_return_s"] == pytest.approx(1.26, abs=0.2)
        # the repetition starts once the COP has moved ~6 % of its shift: allow 12 % + 1 mm
        assert r["mean_ml_medial_mm"] == pytest.approx(known_medial_mm(valgus), rel=0.12, abs=1.0), side
    slope = m["right"]["mean_ml_medial_mm"] - m["left"]["mean_ml_medial_mm"]
    assert slope == pytest.approx(20.0, rel=0.15)                          # 20 mm per unit of valgus
    lr = symmetry_table(m["left"], m["right"], measures=COMPARED)
    assert lr["mean_ml_medial_mm"]["worse_side"] == "right"
    assert lr["repetition_count"]["si_pct"] == 0.0


def test_virtual_person_squat_valgus_side_stands_out_with_normal_sway():
    p, m = _both_sides(0.8, 0.0, sway=1.0, seed=7)
    assert m["left"]["repetition_count"] == m["right"]["repetition_count"] == 5
    diff = m["left"]["mean_ml_medial_mm"] - m["right"]["mean_ml_medial_mm"]
    assert diff > 0.5 * (known_medial_mm(0.8) - known_medial_mm(0.0))     # at least half the known 16 mm
    assert symmetry_table(m["left"], m["right"], measures=COMPARED)["mean_ml_medial_mm"]["worse_side"] == "left"


def test_single_leg_squat_protocol_ships_with_the_defaults():
    from rig.analysis.protocols import default_protocols
    p = default_protocols()["single_leg_squat"]
    assert p.sides == ("left", "right") and p.params["repetitions"] == 5
    assert p.kind == "single_leg_squat"                   # stance events, rig.analysis.squat repetitions
    text = p.instructions_for("right")
    assert "mirror" in text and "right leg" in text and "left foot" in text and "5 times" in text


def test_single_leg_squat_protocol_reports_rig_squat_measures():
    """The shipped protocol analyses a squat trial with rig.analysis.squat (not the step-down detector)."""
    from rig.analysis.protocols import default_protocols
    from rig.analysis.protocols.analysis import analyse_trial
    protocol = default_protocols()["single_leg_squat"]
    assert protocol.kind == "single_leg_squat"
    t, fz, ml, ap, starts = analytic_squats(n=5)
    res = analyse_trial(protocol, t, fz, ml, ap, side="left", body_weight_n=BW)
    direct = squat_measures(t, fz, ml, ap, "left", body_weight_n=BW)
    assert res.measures["repetition_count"] == len(starts) == 5
    for key in ("mean_ml_medial_mm", "mean_descent_s", "mean_return_s", "mean_depth_m",
                "mean_fz_smoothness_rms_bw_s"):
        assert res.measures[key] == pytest.approx(direct[key], rel=1e-6), key
    assert "balance_lost" not in res.faults
