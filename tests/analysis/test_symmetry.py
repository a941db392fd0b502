"""Limb symmetry index and the frontal-plane summary."""
from __future__ import annotations

import pytest

from rig.analysis.symmetry import frontal_plane_summary, limb_symmetry, symmetry_table


def test_formulas():
    s = limb_symmetry(12.0, 10.0, measure="mean_velocity_ml_mm_s")
    assert s["lsi_pct"] == pytest.approx(120.0)                       # 100·L/R
    assert s["si_pct"] == pytest.approx(100 * 2 / 11)                 # 100·(L−R)/mean
    assert s["worse_side"] == "left" and s["worse_by_pct"] == pytest.approx(20.0)
    s = limb_symmetry(12.0, 10.0, measure="mean_velocity_ml_mm_s", involved="right")
    assert s["lsi_pct"] == pytest.approx(100 * 10 / 12)               # involved / uninvolved
    s = limb_symmetry(8.0, 10.0, measure="time_to_first_touch_down_s")  # larger is better
    assert s["worse_side"] == "left" and s["worse_by_pct"] == pytest.approx(20.0)
    s = limb_symmetry(1.1, 1.0, measure="mean_descent_s")                # no direction
    assert s["worse_side"] is None and s["si_pct"] == pytest.approx(100 * 0.1 / 1.05)
    assert limb_symmetry(None, 3.0)["lsi_pct"] is None
    assert limb_symmetry(1.0, 0.0)["lsi_pct"] is None


def test_table_covers_every_shared_numeric_measure():
    t = symmetry_table({"a_mm": 1.0, "b": "x", "c_s": 2.0}, {"a_mm": 2.0, "c_s": 2.0, "d": 1.0})
    assert set(t) == {"a_mm", "c_s"}


def test_one_line_summary():
    data = {"single_leg_stance": {"left": {"mean_velocity_ml_mm_s": 18.0, "sd_ml_mm": 5.0},
                                  "right": {"mean_velocity_ml_mm_s": 12.0, "sd_ml_mm": 4.0}},
            "lateral_step_down": {"left": {"mean_ml_excursion_mm": 25.0}, "right": {"mean_ml_excursion_mm": 20.0}}}
    line = frontal_plane_summary(data)
    assert "\n" not in line and line.startswith("Frontal-plane control: LEFT worse on 3 of 3")
    assert "stance ML sway velocity L +50%" in line
    data["lateral_step_down"] = {"left": {"mean_ml_excursion_mm": 10.0}, "right": {"mean_ml_excursion_mm": 20.0}}
    data["single_leg_stance"]["left"]["sd_ml_mm"] = 3.0
    assert "RIGHT worse on 2 of 3" in frontal_plane_summary(data)
    assert "not enough" in frontal_plane_summary({})


def test_symmetry_table_takes_a_measure_list_in_its_order_and_numpy_numbers():
    import numpy as np
    left = {"b_mm": np.float64(2.0), "a_mm": 4, "n": np.int64(3), "flag": True, "text": "x"}
    right = {"b_mm": 1.0, "a_mm": 2.0, "n": np.int64(6), "flag": False, "text": "y", "only_right": 1.0}
    assert list(symmetry_table(left, right)) == ["a_mm", "b_mm", "n"]          # all numeric, sorted
    t = symmetry_table(left, right, measures=["n", "b_mm", "missing", "text"])
    assert list(t) == ["n", "b_mm"] and t["n"]["lsi_pct"] == 50.0 and t["b_mm"]["si_pct"] == pytest.approx(200 / 3)


def test_positions_get_no_index_and_a_small_difference_names_no_worse_side():
    """A mean COP under the left foot (−9.5 mm) and under the right (+9.6 mm) is a position, not
    an amount: no LSI (it was −99 %). An 8 % difference is within the 90 % symmetry criterion:
    no side is called worse; at 25 % one is."""
    from rig.analysis.symmetry import WORSE_MIN_PCT, comparable, limb_symmetry, symmetry_table
    t = symmetry_table({"mean_ml_mm": -9.52, "foot_lift_t_s": 3.1, "ellipse95_angle_deg": 80.0, "sd_ml_mm": 6.0},
                       {"mean_ml_mm": 9.57, "foot_lift_t_s": 2.9, "ellipse95_angle_deg": -70.0, "sd_ml_mm": 6.0})
    assert list(t) == ["sd_ml_mm"] and not comparable("post_sway_mean_ml_mm")
    assert WORSE_MIN_PCT == 10.0
    small = limb_symmetry(10.8, 10.0, measure="mean_velocity_mm_s")
    assert small["worse_by_pct"] == pytest.approx(8.0) and small["worse_side"] is None
    big = limb_symmetry(12.5, 10.0, measure="mean_velocity_mm_s")
    assert big["worse_by_pct"] == pytest.approx(25.0) and big["worse_side"] == "left"
