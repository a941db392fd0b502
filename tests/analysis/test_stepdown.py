"""Lateral step-down measures on scripted repetitions with known timing and COP shift."""
from __future__ import annotations

import numpy as np
import pytest

from rig.analysis.events import detect
from rig.analysis.protocols import default_protocols
from tests.sim_support import sample_person, sd_cues, sd_person
from tests.synthetic import trials as S
from rig.analysis.protocols.analysis import analyse_trial
from rig.analysis.stepdown import stepdown_measures


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


# --- cue-guided segmentation on the virtual person (docs/protocols.md) ---------------------
NAMES = ("stepdown_lowering_start", "stepdown_lowest", "stepdown_return")


def sd_run(seed, batch=None, **kw):
    p = sd_person(seed, **kw)
    d = sample_person(p, seed=seed + 100)
    ev = detect(d["t_s"], d["fz_n"], d["cop_ml_mm"], d["cop_ap_mm"], d["flags"], mode="lateral_step_down",
                cues=sd_cues(p, seed), cue_period_s=5.0 if kw.get("dur") == 4.0 else 4.0, batch=batch)
    return p, d, ev


CASES = {"default": {}, "light_3pct": dict(share=0.03), "heavy_30pct": dict(share=0.3),
         "slow_4s": dict(dur=4.0), "no_still_beat": dict(nopause_at=2), "uncued_wobble": dict(wobble_at=1)}


@pytest.mark.parametrize("case", list(CASES))
def test_cued_repetitions_over_seeds(case):
    """10 seeds: every repetition found, none extra; errors against the person's truth events
    within the figures of docs/protocols.md (median / 90th percentile, s)."""
    kw = CASES[case]
    err = {n: [] for n in NAMES}
    dur_err = []
    for seed in range(10):
        p, d, ev = sd_run(seed, **kw)
        got = {n: np.array([e.t_s for e in ev if e.name == n]) for n in NAMES}
        tr = {n: np.array([e[0] for e in p.events if e[1] == n]) for n in NAMES}
        for n in NAMES:
            assert len(got[n]) == len(tr[n]) == 5, (case, seed, n, got[n], tr[n])
            err[n] += list(got[n] - tr[n])
        assert not [e for e in ev if e.name == "stepdown_not_performed"]
        unc = [e for e in ev if e.name == "stepdown_uncued_movement"]
        assert len(unc) == (1 if "wobble_at" in kw else 0), (case, seed, unc)
        if unc:
            wob = [e[0] for e in p.events if e[1] == "single_leg_squat"][0]
            assert wob - 0.2 <= unc[0].t_s <= wob + 1.5
        m = stepdown_measures(d["t_s"], d["fz_n"], d["cop_ml_mm"], d["cop_ap_mm"], p.weight_n, ev, "left")
        assert m["repetition_count"] == 5
        true_desc = tr[NAMES[1]] - tr[NAMES[0]]
        true_ret = tr[NAMES[2]] - tr[NAMES[1]]
        dur_err += [r["descent_s"] - a for r, a in zip(m["repetitions"], true_desc)]
        dur_err += [r["return_s"] - a for r, a in zip(m["repetitions"], true_ret)]
    limits = {"stepdown_lowering_start": (0.15, 0.35), "stepdown_lowest": (0.08, 0.2),
              "stepdown_return": (0.1, 0.25)}
    for n, (med, p90) in limits.items():
        a = np.abs(err[n])
        assert np.median(a) <= med and np.percentile(a, 90) <= p90, (case, n, np.median(a), np.percentile(a, 90))
    a = np.abs(dur_err)
    assert np.median(a) <= 0.15 and np.percentile(a, 90) <= 0.4, (np.median(a), np.percentile(a, 90))


def test_cued_rep_not_performed_is_reported():
    for seed in range(3):
        p = sd_person(seed, skip_at=2)
        d = sample_person(p, seed=seed + 100)
        cues = sd_cues(p, seed)
        skipped = [e[0] for e in p.events if e[1] == "single_leg"][3] - 0.2   # its cue still played
        cues.insert(2, skipped)
        ev = detect(d["t_s"], d["fz_n"], mode="lateral_step_down", cues=cues)
        nope = [e for e in ev if e.name == "stepdown_not_performed"]
        assert len(nope) == 1 and nope[0].t_s == pytest.approx(skipped)
        assert len([e for e in ev if e.name == "stepdown_lowest"]) == 4


def test_cued_batch_size_and_live_cue_feed_give_the_same_events():
    from rig.analysis.events import EventDetector
    p = sd_person(4, nopause_at=1)
    d = sample_person(p, seed=104)
    cues = sd_cues(p, 4)
    whole = detect(d["t_s"], d["fz_n"], mode="lateral_step_down", cues=cues)
    for b in (1, 7, 13):
        assert detect(d["t_s"], d["fz_n"], mode="lateral_step_down", cues=cues, batch=b) == whole
    det = EventDetector("lateral_step_down", cues=[])     # cues fed as the metronome plays them
    pending = list(cues)
    for i in range(0, len(d["t_s"]), 8):
        tb = d["t_s"][i:i + 8]
        while pending and pending[0] <= tb[-1]:
            det.add_cue(pending.pop(0))
        det.feed(tb, d["fz_n"][i:i + 8])
    assert det.events == whole
    for e in whole:
        if e.name.startswith("stepdown_"):
            assert 0.0 <= e.confidence <= 1.0 and e.detected_t_s >= e.t_s


def test_trial_with_cues_from_metadata():
    from rig.analysis.protocols.analysis import cue_period_s, cues_from_metadata
    p = sd_person(2)
    d = sample_person(p, seed=102)
    cues = sd_cues(p, 2)
    meta = {"cues_s": ", ".join(f"{c:.4f}" for c in cues)}
    assert cues_from_metadata(meta) == pytest.approx(cues, abs=1e-4)
    assert cues_from_metadata({}) is None
    proto = default_protocols()["lateral_step_down"]
    assert cue_period_s(proto) == pytest.approx(4.0)
    r = analyse_trial(proto, d["t_s"], d["fz_n"], d["cop_ml_mm"], d["cop_ap_mm"], d["flags"], side="left",
                      cues=cues_from_metadata(meta))
    assert r.measures["repetition_count"] == 5 and r.measures["cue_guided"]
    assert r.measures["not_performed_count"] == 0 and "incomplete_repetitions" not in r.faults
