"""`rig simulate` + `rig analyze --protocol`: a virtual person performs the chosen test on the
simulated plate (chips, driver, acquisition loop, recording writer), and the analysis scores
it as the clinic's would; faults the person makes are the analysis's faults."""
from __future__ import annotations

import json

import pytest

from rig.analysis.protocols import default_protocols


def simulate_and_score(rig_cli, tmp_path, protocol, *opts):
    out = tmp_path / f"{protocol}-{len(list(tmp_path.glob('*.csv')))}.csv"
    rig_cli("simulate", "--protocol", protocol, *opts, "-o", out)
    d = json.loads(rig_cli("analyze", out, "--json").output)
    return d["trial_result"], d, out


@pytest.mark.parametrize("protocol, side, condition", [
    ("single_leg_stance", "left", None),
    ("single_leg_stance", "right", "eyes_closed"),
    ("lateral_step_down", "right", None),
    ("single_leg_squat", "left", None),
    ("step_down_landing", "right", None),
    ("quiet_stance_mctsib", None, "foam_eyes_closed"),
    # the other side of each one-legged test, and the other conditions: in the soak run (time)
    pytest.param("lateral_step_down", "left", None, marks=pytest.mark.soak),
    pytest.param("single_leg_squat", "right", None, marks=pytest.mark.soak),
    pytest.param("step_down_landing", "left", None, marks=pytest.mark.soak),
    pytest.param("single_leg_stance", "left", "eyes_closed", marks=pytest.mark.soak),
    pytest.param("single_leg_stance", "right", "eyes_open", marks=pytest.mark.soak),
    pytest.param("quiet_stance_mctsib", None, "firm_eyes_open", marks=pytest.mark.soak),
    pytest.param("quiet_stance_mctsib", None, "firm_eyes_closed", marks=pytest.mark.soak),
    pytest.param("quiet_stance_mctsib", None, "foam_eyes_open", marks=pytest.mark.soak),
])
def test_every_protocol_simulated_is_scored(rig_cli, tmp_path, protocol, side, condition):
    opts = (["--side", side] if side else []) + (["--condition", condition] if condition else [])
    tr, d, out = simulate_and_score(rig_cli, tmp_path, protocol, *opts)
    proto = default_protocols()[protocol]
    assert tr["scored"] and tr["faults"] == [], tr["faults"]
    assert tr["protocol"] == protocol and tr["side"] == side
    m = tr["measures"]
    # the recording starts at Start and lasts the protocol's timeline
    t = [float(line.split(",")[0]) for line in out.read_text().splitlines() if line[:1].isdigit()]
    assert t[0] == pytest.approx(0.0, abs=0.02) and t[-1] == pytest.approx(proto.record_s, abs=0.05)
    if protocol == "single_leg_stance":
        assert m["stance_side"] == side and m["touch_down_count"] == 0
        assert 2.0 < m["foot_lift_t_s"] < 2.0 + proto.params["lift_within_s"]
        assert 15 < m["mean_velocity_mm_s"] < 80                     # single-leg sway, eyes open or closed
    elif protocol == "lateral_step_down":
        assert m["repetition_count"] == proto.params["repetitions"] and m["cue_guided"]
        assert m["not_performed_count"] == 0 and m["uncued_movement_count"] == 0
    elif protocol == "single_leg_squat":
        assert m["repetition_count"] == proto.params["repetitions"] and m["touch_down_count"] == 0
    elif protocol == "step_down_landing":
        # 2-4 body weights from a 30 cm step-down, weighed on the plate first
        assert 2.0 <= m["peak_force_bw"] <= 4.0 and m["box_height_cm"] == 30.0
        assert m["body_weight_n"] == pytest.approx(72 * 9.80665, rel=0.02)
    elif protocol == "quiet_stance_mctsib":
        assert 6 < m["mean_velocity_mm_s"] < 60                      # about 10 mm/s firm, eyes open; more otherwise
    assert any("scored window" in n for n in d["notes"])             # COP metrics of the scored part


def test_conditions_change_the_sway_as_they_do_in_people():
    """Same person, same seed: foam with eyes closed sways far more than firm with eyes open (the
    quick truth sampler, rig.sim.protocols.sample_performance, scored by the same analysis)."""
    from rig.analysis.protocols.analysis import analyse_trial
    from rig.sim.protocols import perform, person_for, sample_performance
    proto = default_protocols()["quiet_stance_mctsib"]
    v = {}
    for cond in ("firm_eyes_open", "foam_eyes_closed"):
        perf = perform(proto, None, cond, seed=4)
        s = sample_performance(perf, person_for(perf, seed=4), seed=4)
        r = analyse_trial(proto, s[:, 0], s[:, 5], s[:, 6], s[:, 7], s[:, 8], rate_hz=80.0, condition=cond)
        assert r.scored
        v[cond] = r.measures["mean_velocity_mm_s"]
    assert 6 < v["firm_eyes_open"] < 15                                 # quiet stance, about 10 mm/s
    assert v["foam_eyes_closed"] > 2 * v["firm_eyes_open"]


@pytest.mark.parametrize("protocol, fault, expected", [
    ("single_leg_stance", "touch_down", "balance_lost"),
    ("lateral_step_down", "missed_repetition", "incomplete_repetitions"),
])
def test_a_fault_of_the_person_is_a_fault_of_the_trial(rig_cli, tmp_path, protocol, fault, expected):
    tr, _, _ = simulate_and_score(rig_cli, tmp_path, protocol, "--side", "left", "--fault", fault)
    assert not tr["scored"] and expected in tr["faults"], tr["faults"]


def test_bad_options_are_clean_errors(rig_cli, tmp_path):
    r = rig_cli("simulate", "--protocol", "hopscotch", "-o", tmp_path / "x.csv", ok=False)
    assert r.exit_code == 2 and "no protocol 'hopscotch'" in r.output and "single_leg_stance" in r.output
    r = rig_cli("simulate", "--protocol", "single_leg_stance", "--condition", "upside_down", "-o",
                tmp_path / "x.csv", ok=False)
    assert r.exit_code == 2 and "eyes_closed" in r.output
    r = rig_cli("simulate", "--protocol", "quiet_stance_mctsib", "--side", "left", "-o", tmp_path / "x.csv", ok=False)
    assert r.exit_code == 2 and "both" in r.output
    (tmp_path / "kept.csv").write_text("precious\n")
    r = rig_cli("simulate", "--protocol", "single_leg_stance", "-o", tmp_path / "kept.csv", ok=False)
    assert r.exit_code == 1 and "not overwriting" in r.output
    assert (tmp_path / "kept.csv").read_text() == "precious\n"
    r = rig_cli("analyze", tmp_path / "kept.csv", "--protocol", "hopscotch", ok=False)
    assert r.exit_code != 0


def test_every_protocol_records_long_enough_for_its_own_analysis():
    """The recording a trial gets (the run page's and rig simulate's) holds the whole test: the
    stillness the analysis needs first, the task, and a spare second."""
    ps = default_protocols()
    sls = ps["single_leg_stance"]
    assert sls.record_s >= sls.params["settle_s"] + sls.params["lift_within_s"] + sls.duration_s
    qs = ps["quiet_stance_mctsib"]
    assert qs.record_s >= qs.params["settle_s"] + qs.duration_s
    land = ps["step_down_landing"]
    assert land.record_s > land.params["hold_s"] + 5
    sd = ps["lateral_step_down"]
    plan = sd.metronome()
    assert sd.record_s == plan["seconds"] >= plan["lead_s"] + plan["repetitions"] * plan["period_s"]
    for p in ps.values():
        assert p.duration_s <= p.record_s <= 120
