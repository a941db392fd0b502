"""Lateral step-down measures on scripted repetitions with known timing and COP shift."""
from __future__ import annotations

import numpy as np
import pytest

from rig.events import detect
from rig.protocols import default_protocols
from rig.protocols import synthetic as S
from rig.protocols.analysis import analyse_trial
from rig.stepdown import stepdown_measures


def measures(d, side):
    ev = detect(d["t_s"], d["fz_n"], d["cop_ml_mm"], d["cop_ap_mm"], d["flags"], mode="lateral_step_down")
    return stepdown_measures(d["t_s"], d["fz_n"], d["cop_ml_mm"], d["cop_ap_mm"], d["bw_n"], ev, side)


@pytest.mark.parametrize("side", ["left", "right"])
def test_medial_shift_and_timing(side):
    d = S.step_down(3, stance=side, medial_mm=20.0)
    m = measures(d, side)
    assert m["repetition_count"] == 5
    assert m["mean_descent_s"] == pytest.approx(1.0, abs=0.15)        # one beat at 60 bpm
    assert m["mean_return_s"] == pytest.approx(1.0, abs=0.3)          # heel-touch bias (docs/protocols.md)
    assert m["mean_ml_medial_mm"] == pytest.approx(20.0, abs=6.0)     # COP sway (3 mm SD) adds a little
    assert m["mean_ml_lateral_mm"] < 8.0
    assert m["mean_ml_excursion_mm"] >= m["mean_ml_medial_mm"]
    r = m["repetitions"][0]
    assert r["descent_s"] == pytest.approx(r["lowest_t_s"] - r["start_t_s"])


def test_larger_valgus_and_jerkier_reps_are_seen():
    calm = measures(S.step_down(5, medial_mm=10.0), "left")
    worse = measures(S.step_down(5, medial_mm=30.0, jerk_bw=0.05), "left")
    assert worse["mean_ml_medial_mm"] > calm["mean_ml_medial_mm"] + 12
    assert worse["mean_fz_smoothness_rms_bw_s"] > 1.5 * calm["mean_fz_smoothness_rms_bw_s"]
    assert worse["mean_cop_velocity_lowering_mm_s"] > calm["mean_cop_velocity_lowering_mm_s"]


def test_trial_counts_repetitions_against_the_protocol():
    p = default_protocols()["lateral_step_down"]
    d = S.step_down(6, reps=3)
    r = analyse_trial(p, d["t_s"], d["fz_n"], d["cop_ml_mm"], d["cop_ap_mm"], d["flags"], side="left")
    assert r.measures["repetition_count"] == 3 and "incomplete_repetitions" in r.faults
