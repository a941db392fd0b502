"""Session summary and session comparison on synthetic trial results (expected numbers are
computed here with the statistics module, independently of rig.analysis.protocols.session)."""
from __future__ import annotations

import math
import statistics as stats

import pytest

from rig.analysis.protocols.analysis import TrialResult
from rig.analysis.protocols.session import compare_sessions, summarise_session

VEL_L = [24.0, 27.0, 30.0]          # single-leg stance ML sway velocity, mm/s
VEL_R = [15.0, 16.0, 20.0]
SD_L, SD_R = [6.0, 7.0, 8.0], [5.0, 5.5, 6.5]
EXC_L, EXC_R = [25.0, 29.0], [20.0, 22.0]      # step-down ML excursion, mm


def sls(side, vel, sd, **kw):
    return TrialResult("single_leg_stance", "single_leg_stance", side, 80.0, condition="eyes_open",
                       measures={"mean_velocity_ml_mm_s": vel, "sd_ml_mm": sd, "stance_side": side,
                                 "foot_lift_t_s": 4.2, "touch_down_censored": True,
                                 "sway_window_s": [5.0, 24.0]}, **kw)


def step(side, exc):
    return TrialResult("lateral_step_down", "lateral_step_down", side, 80.0,
                       measures={"mean_ml_excursion_mm": exc, "repetition_count": 5, "repetitions": []})


def session(vel_l=VEL_L, vel_r=VEL_R):
    rs = [sls(s, v, d) for s, vs, ds in (("left", vel_l, SD_L), ("right", vel_r, SD_R)) for v, d in zip(vs, ds)]
    rs += [step("left", x) for x in EXC_L] + [step("right", x) for x in EXC_R]
    # not scored: a practice trial and a faulted trial with absurd values must not count
    rs.append(sls("left", 500.0, 90.0, practice=True))
    rs.append(sls("right", 400.0, 80.0, faults=["balance_lost"]))
    return rs


def test_summary_statistics_and_typical_error():
    s = summarise_session(session())
    assert s["excluded_trials"] == 2
    g = s["protocols"]["single_leg_stance/eyes_open"]
    m = g["sides"]["left"]["measures"]["mean_velocity_ml_mm_s"]
    assert m["k"] == 3 and m["mean"] == pytest.approx(stats.mean(VEL_L))
    assert m["sd"] == pytest.approx(stats.stdev(VEL_L)) == pytest.approx(m["typical_error"])
    assert m["sem"] == pytest.approx(stats.stdev(VEL_L) / math.sqrt(3))
    assert set(g["sides"]["left"]["measures"]) == {"mean_velocity_ml_mm_s", "sd_ml_mm"}   # no bookkeeping
    lsi = g["lsi"]["mean_velocity_ml_mm_s"]
    assert lsi["lsi_pct"] == pytest.approx(100 * stats.mean(VEL_L) / stats.mean(VEL_R))
    assert lsi["worse_side"] == "left"
    sd_ = s["protocols"]["lateral_step_down"]["sides"]["right"]["measures"]["mean_ml_excursion_mm"]
    assert sd_["k"] == 2 and sd_["typical_error"] == pytest.approx(stats.stdev(EXC_R))
    assert s["protocols"]["lateral_step_down"]["sides"]["right"]["measures"]["repetition_count"]["sd"] == 0.0


def test_frontal_plane_line():
    line = summarise_session(session())["frontal_plane"]
    pct = round(100 * (stats.mean(VEL_L) - stats.mean(VEL_R)) / stats.mean(VEL_R))
    assert line.startswith("Frontal-plane control: LEFT worse on 3 of 3 measures")
    assert f"stance ML sway velocity L +{pct}%" in line


def test_accepts_dicts_like_the_dashboard_stores_them():
    a = summarise_session(session())
    b = summarise_session([r.to_dict() for r in session()])
    assert a == b


def test_compare_labels_follow_mdc95_and_direction():
    prev = summarise_session(session())
    better = summarise_session(session(vel_l=[14.0, 17.0, 20.0]))      # 10 mm/s less sway: better
    c = compare_sessions(prev, better)["single_leg_stance/eyes_open"]["mean_velocity_ml_mm_s"]["left"]
    te = math.sqrt((stats.stdev(VEL_L) ** 2 + stats.stdev([14.0, 17.0, 20.0]) ** 2) / 2)
    mdc = 1.96 * math.sqrt(2) * te / math.sqrt(3)
    assert c["change"] == pytest.approx(-10.0) and c["mdc95"] == pytest.approx(mdc)
    assert 10.0 > mdc and c["label"] == "real improvement"
    worse = summarise_session(session(vel_r=[25.0, 26.0, 30.0]))
    c = compare_sessions(prev, worse)["single_leg_stance/eyes_open"]["mean_velocity_ml_mm_s"]["right"]
    assert c["label"] == "real decline" and c["change"] == pytest.approx(10.0)
    small = summarise_session(session(vel_l=[25.0, 28.0, 31.0]))       # +1 mm/s, MDC95 ≈ 6.8
    c = compare_sessions(prev, small)["single_leg_stance/eyes_open"]["mean_velocity_ml_mm_s"]["left"]
    assert c["label"] == "within noise"
    # a published SEM larger than the within-session one makes the comparison stricter
    c = compare_sessions(prev, better, published_sem={"mean_velocity_ml_mm_s": 5.0})
    c = c["single_leg_stance/eyes_open"]["mean_velocity_ml_mm_s"]["left"]
    assert c["mdc_source"] == "published SEM" and c["mdc95"] == pytest.approx(1.96 * math.sqrt(2) * 5.0)
    assert c["label"] == "within noise"


def test_direction_aware_for_higher_is_better_and_no_direction():
    def res(side, v, key):
        return TrialResult("p", "single_leg_stance", side, 80.0, measures={key: v})
    key = "time_to_first_touch_down_s"                              # longer is better
    a = summarise_session([res(s, v, key) for s in ("left", "right") for v in (8.0, 9.0, 10.0)])
    b = summarise_session([res(s, v, key) for s in ("left", "right") for v in (15.0, 16.0, 17.0)])
    assert compare_sessions(a, b)["p"][key]["left"]["label"] == "real improvement"
    assert compare_sessions(b, a)["p"][key]["left"]["label"] == "real decline"
    key = "mean_descent_s"                                          # no better or worse
    a = summarise_session([res(s, v, key) for s in ("left", "right") for v in (1.0, 1.1, 1.2)])
    b = summarise_session([res(s, v, key) for s in ("left", "right") for v in (2.0, 2.1, 2.2)])
    assert compare_sessions(a, b)["p"][key]["right"]["label"] == "real change"
    one = summarise_session([res("left", 1.0, key)])
    assert compare_sessions(one, one)["p"][key]["left"]["label"] == "insufficient data"
