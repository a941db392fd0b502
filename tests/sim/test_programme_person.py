"""Training mode on the simulated rig: a virtual person stands in a target zone for a known
time; the samples go through the emulated HX711 chips and the nominal calibration, and the
set's time in target must match the one computed from the person's true COP."""
from __future__ import annotations

import numpy as np
import pytest

from rig.programme import Target, set_measures, time_in_target
from tests.sim_support import through_chips


def test_training_set_time_in_target_matches_the_virtual_person():
    from rig.sim.person import DoubleStance, LiftFoot, Off, SingleLeg, StepOn, TouchDown, VirtualPerson
    # both feet (COP midway: outside), 15 s on the left foot (inside), both feet again
    p = VirtualPerson(72, seed=11, script=[Off(2.0), StepOn(0.5, lead="left"), DoubleStance(6.0), LiftFoot("right"),
                                          SingleLeg("left", 15.0), TouchDown("right", "plate"), DoubleStance(6.0)])
    s = through_chips(p, seed=5)
    t0, t1 = 3.0, p.duration_s - 0.1
    m = (s[:, 0] >= t0) & (s[:, 0] <= t1)
    foot_ml_mm = p.foot_xy("left")[0] * 1000
    tgt = Target("circle", radius_mm=30.0, centre_ml_mm=foot_ml_mm, relative=False)
    got = set_measures(s[m, 0], s[m, 5], s[m, 6], s[m, 7], tgt, plate_kind="balance")
    tf = np.arange(t0, t1, 0.001)
    fz, x, y = p.truth(tf)
    known = time_in_target(tf, x * 1000, y * 1000, tgt, fz)
    a, b = p.segment("single_leg")
    assert known["time_in_target_s"] == pytest.approx(b - a, abs=0.6)        # the stance phase, by construction
    assert got["time_in_target_pct"] == pytest.approx(known["time_in_target_pct"], abs=1.0)
    assert got["time_in_target_s"] == pytest.approx(known["time_in_target_s"], abs=0.3)
    assert got["longest_in_target_s"] == pytest.approx(known["longest_in_target_s"], abs=0.3)
    # a relative target anchored while on one foot, 15 mm: single-leg sway (SD ~6 mm) leaves it sometimes
    on = (s[:, 0] >= a + 1.0) & (s[:, 0] <= b - 0.5)
    tight = Target("circle", radius_mm=15.0, relative=True, anchor_s=1.0)
    g2 = set_measures(s[on, 0], s[on, 5], s[on, 6], s[on, 7], tight)
    tf2 = np.arange(a + 1.0, b - 0.5, 0.001)
    fz2, x2, y2 = p.truth(tf2)
    k2 = time_in_target(tf2, x2 * 1000, y2 * 1000, tight, fz2)
    assert 20.0 < k2["time_in_target_pct"] < 99.5
    assert g2["time_in_target_pct"] == pytest.approx(k2["time_in_target_pct"], abs=2.0)
    assert 10.0 < g2["error_speed_mm_s"] < 80.0                                 # single-leg COP speed ~30 mm/s
