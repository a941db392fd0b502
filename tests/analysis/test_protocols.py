"""Protocol definitions: defaults, clinic files, validation, schedules, trial results."""
from __future__ import annotations

import numpy as np
import pytest

from rig.analysis.protocols import ProtocolError, default_protocols, from_dict, load_protocols
from tests.synthetic import trials as S
from rig.analysis.protocols.analysis import TrialResult, analyse_trial


def test_defaults_follow_the_literature():
    p = default_protocols()
    sls = p["single_leg_stance"]
    assert (sls.duration_s, sls.practice_trials, sls.scored_trials) == (20.0, 1, 3)
    assert {c.vision for c in sls.conditions} == {"open", "closed"}
    q = p["quiet_stance_mctsib"]
    assert q.duration_s == 30.0
    assert {(c.surface, c.vision) for c in q.conditions} == {(s, v) for s in ("firm", "foam") for v in ("open", "closed")}
    sd = p["lateral_step_down"]
    assert sd.params["repetitions"] == 5 and sd.params["cadence_bpm"] > 0
    ld = p["step_down_landing"]
    assert 3 <= ld.scored_trials <= ld.params["max_landings"] <= 5 and ld.params["box_height_cm"] > 0
    assert "touch_down" in sls.end_early_on


def test_schedule_alternates_or_blocks_sides():
    sls = default_protocols()["single_leg_stance"]
    sched = [s for s in sls.schedule() if s["condition"] == "eyes_open"]
    assert [s["practice"] for s in sched] == [True, True] + [False] * 6
    assert [s["side"] for s in sched] == ["left", "right"] * 4
    blocked = from_dict({**_minimal(), "alternate_sides": False, "scored_trials": 3})
    assert [s["side"] for s in blocked.schedule()] == ["left"] * 3 + ["right"] * 3


def _minimal(**kw):
    return {"id": "x", "name": "X", "kind": "single_leg_stance", "instructions": "Stand on {side}.",
            "duration_s": 10, **kw}


def test_clinic_file_adds_and_extends(tmp_path):
    f = tmp_path / "clinic.toml"
    f.write_text('''
[[protocol]]
id = "sls_30s"
extends = "single_leg_stance"
name = "Single-leg stance 30 s"
duration_s = 30
scored_trials = 2

[[protocol]]
id = "hop_landing"
name = "Landing from 40 cm"
kind = "step_down_landing"
instructions = "Step off the {box_height_cm} cm box onto the {side} leg."
duration_s = 25
params = { box_height_cm = 40 }
''')
    p = load_protocols(f)
    assert p["sls_30s"].duration_s == 30 and p["sls_30s"].scored_trials == 2
    assert p["sls_30s"].practice_trials == 1                      # inherited
    assert p["sls_30s"].params["scored_window_start_s"] == 1.0    # inherited params
    assert p["hop_landing"].params["box_height_cm"] == 40.0
    assert p["hop_landing"].params["tts_window_s"] == 10.0       # kind default
    assert "40 cm" in p["hop_landing"].instructions_for("left")
    assert "single_leg_stance" in p                              # defaults stay


@pytest.mark.parametrize("bad, key", [
    ({"duration_s": "long"}, "duration_s"),
    ({"kind": "yoga"}, "kind"),
    ({"sides": ["up"]}, "sides"),
    ({"end_early_on": ["sneeze"]}, "end_early_on"),
    ({"params": {"repetitions": 5}}, "params.repetitions"),
    ({"params": {"settle_s": 0.01}}, "params.settle_s"),
    ({"colour": "red"}, "colour"),
    ({"scored_trials": 0}, "scored_trials"),
    ({"conditions": [{"id": "a", "vision": "blurred"}]}, "conditions[0].vision"),
])
def test_errors_name_the_key(bad, key):
    with pytest.raises(ProtocolError, match=key.replace("[", r"\[").replace("]", r"\]")):
        from_dict(_minimal(**bad), "clinic.toml")


def test_bad_files(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text("[[protocol]]\nid = 'y'\nextends = 'nope'\n")
    with pytest.raises(ProtocolError, match="extends"):
        load_protocols(f)
    f.write_text("protocol = [ oops")
    with pytest.raises(ProtocolError, match="not valid TOML"):
        load_protocols(f)
    with pytest.raises(ProtocolError, match="does not exist"):
        load_protocols(tmp_path / "missing.toml")


def test_trial_faults_are_flagged_not_hidden():
    p = default_protocols()["single_leg_stance"]
    ok = S.single_leg_stance(11, stance="right")
    r = analyse_trial(p, ok["t_s"], ok["fz_n"], ok["cop_ml_mm"], ok["cop_ap_mm"], ok["flags"], side="right")
    assert r.scored and r.faults == []
    assert r.measures["touch_down_censored"] and r.measures["time_to_first_touch_down_s"] == 20.0
    assert next(iter(r.measures.keys() - {"stance_side", "foot_lift_t_s", "touch_down_count",
                                          "time_to_first_touch_down_s", "touch_down_censored", "sway_window_s"}))
    keys = [k for k in r.measures if k.endswith("_mm") or k.endswith("_mm_s")]
    assert "_ml" in keys[0]                                        # ML measures up front
    bad = S.single_leg_stance(12, stance="right", touch_t=12.0)
    r = analyse_trial(p, bad["t_s"], bad["fz_n"], bad["cop_ml_mm"], bad["cop_ap_mm"], bad["flags"], side="right")
    assert "balance_lost" in r.faults and not r.scored
    assert abs(r.measures["time_to_first_touch_down_s"] - (12.0 - 4.0)) < 0.12
    r = analyse_trial(p, ok["t_s"], ok["fz_n"], ok["cop_ml_mm"], ok["cop_ap_mm"], ok["flags"], side="left")
    assert "wrong_side" in r.faults
    early = S.single_leg_stance(13, step_off_t=10.0)
    r = analyse_trial(p, early["t_s"], early["fz_n"], early["cop_ml_mm"], early["cop_ap_mm"], early["flags"], side="left")
    assert "stepped_off_early" in r.faults


def test_landing_trial_needs_a_weighed_patient():
    p = default_protocols()["step_down_landing"]
    d = S.landing(5, hold_s=21)
    r = analyse_trial(p, d["t_s"], d["fz_n"], d["cop_ml_mm"], d["cop_ap_mm"], d["flags"])
    assert r.faults == ["no_contact"] and not r.scored     # load onset without a weighed patient: a step-on
    r = analyse_trial(p, d["t_s"], d["fz_n"], d["cop_ml_mm"], d["cop_ap_mm"], d["flags"], body_weight_n=700.0)
    assert r.scored and r.measures["sample_rate_hz"] == 80.0 and r.measures["box_height_cm"] == 30.0
    assert r.measures["post_sway_window_s"] == [5.0, 20.0]


def test_trial_result_round_trips_through_the_recording_format(tmp_path):
    from rig.recording.reader import read_recording
    from rig.recording.writer import TrialRecorder
    proto = default_protocols()["step_down_landing"]
    d = S.landing(6, hold_s=21)
    res = analyse_trial(proto, d["t_s"], d["fz_n"], d["cop_ml_mm"], d["cop_ap_mm"], d["flags"],
                        side="left", body_weight_n=700.0, trial=2)
    meta = {"plate": "test", "rate_hz": 80, "geometry_cell_x_m": [-0.22, 0.22, -0.22, 0.22],
            "geometry_cell_y_m": [0.17, 0.17, -0.17, -0.17], "calibration": "nominal",
            "protocol": proto.id, "side": "left", **res.metadata()}
    samples = np.column_stack([d["t_s"], np.tile(d["fz_n"][:, None] / 4, 4), d["fz_n"],
                               d["cop_ml_mm"], d["cop_ap_mm"], d["flags"]])
    path = tmp_path / "landing.csv"
    with TrialRecorder(path, meta) as rec:
        rec.write(samples)
    back = TrialResult.from_metadata(read_recording(path).meta)
    assert back.to_dict() == res.to_dict()
    assert back.measures["sample_rate_hz"] == 80.0 and back.events == res.events
    res.write_sidecar(path)
    assert TrialResult.read_sidecar(path).to_dict() == res.to_dict()
    # re-running the analysis on the recorded file gives the same result (times re-based to 0)
    rec2 = read_recording(path)
    again = analyse_trial(proto, rec2.t_s, rec2.fz_n, rec2.ml_m * 1000, rec2.ap_m * 1000, rec2.flags,
                          side="left", body_weight_n=700.0, trial=2)
    assert abs(again.measures["peak_force_n"] - res.measures["peak_force_n"]) < 0.01


def test_cli_lists_and_shows(tmp_path):
    from click.testing import CliRunner
    from rig.cli import main
    f = tmp_path / "c.toml"
    f.write_text('[[protocol]]\nid = "sls_eo"\nextends = "single_leg_stance"\nconditions = [{ id = "eo" }]\n')
    r = CliRunner().invoke(main, ["protocols", "--file", str(f), "list"])
    assert r.exit_code == 0 and "sls_eo" in r.output and "lateral_step_down" in r.output
    r = CliRunner().invoke(main, ["protocols", "show", "step_down_landing", "--side", "right"])
    assert r.exit_code == 0 and "land on the right leg" in r.output
    r = CliRunner().invoke(main, ["protocols", "show", "nope"])
    assert r.exit_code != 0 and "no protocol" in r.output
