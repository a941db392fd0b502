"""The analysis over many virtual patients (rig.sim.protocols, the fast sampler): a trial the
person did right is scored, one the person was set to spoil is flagged. Each seed draws a
different person (mass, reaction times, depths, impacts; a weak left hip), so this is the
detector against the spread a clinic sees, not one textbook trace."""
from __future__ import annotations

import numpy as np
import pytest

from rig.analysis.protocols import default_protocols
from rig.analysis.protocols.analysis import analyse_trial
from rig.signal.plate import SAMPLE_COLUMNS
from rig.sim.protocols import perform, person_for, sample_performance

IX = {c: i for i, c in enumerate(SAMPLE_COLUMNS)}
SEEDS = range(6)          #: twelve people per one-legged test; tests/cli/test_simulate.py runs the chips


def scored_faults(protocol_id: str, fault: str | None) -> list[list[str]]:
    """Each (seed, side) trial's analysis faults."""
    p = default_protocols()[protocol_id]
    sides = ("left", "right") if "left" in p.sides else (None,)
    out = []
    for seed in SEEDS:
        for side in sides:
            perf = perform(p, side, seed=seed, hip_drop=0.6 if side == "left" else 0.05, fault=fault)
            s = sample_performance(perf, person_for(perf, mass_kg=55.0 + 3 * seed, seed=seed), seed=seed)
            r = analyse_trial(p, s[:, IX["t_s"]], s[:, IX["fz_n"]], s[:, IX["cop_ml_mm"]], s[:, IX["cop_ap_mm"]],
                              side=side, rate_hz=80.0, cues=perf.cues_s)
            out.append(list(r.faults))
    return out


@pytest.mark.parametrize("protocol_id", ["single_leg_stance", "single_leg_squat", "lateral_step_down",
                                         "step_down_landing", "quiet_stance_mctsib"])
def test_a_trial_done_right_is_scored(protocol_id):
    # the squat starts on the stance leg and moves the COP towards the free foot (knee in):
    # neither is a foot lift or a touch-down
    faults = scored_faults(protocol_id, None)
    assert all(f == [] for f in faults), faults


SOAK = pytest.mark.soak          # tests/cli/test_simulate.py checks these faults once on the chips


@pytest.mark.parametrize("protocol_id, fault, flagged", [
    pytest.param("single_leg_stance", "touch_down", "balance_lost", marks=SOAK),
    pytest.param("single_leg_stance", "hop", "balance_lost", marks=SOAK),
    pytest.param("single_leg_squat", "touch_down", "balance_lost", marks=SOAK),
    ("step_down_landing", "touch_down", "balance_lost"),     # the free foot down during the hold
    pytest.param("quiet_stance_mctsib", "touch_down", "stepped_off_early", marks=SOAK),
])
def test_a_staged_fault_is_flagged(protocol_id, fault, flagged):
    faults = scored_faults(protocol_id, fault)
    assert all(flagged in f for f in faults), faults


def test_a_squat_trial_knows_its_stance_leg_from_the_start():
    """The squat's recording starts on one leg: the lift is where the weight settled, over the
    chosen leg, and the detector does not wait for (or invent) a later one."""
    from rig.analysis.events import detect
    p = default_protocols()["single_leg_squat"]
    for side in ("left", "right"):
        perf = perform(p, side, seed=3)
        s = sample_performance(perf, person_for(perf, mass_kg=70, seed=3), seed=3)
        ev = detect(s[:, IX["t_s"]], s[:, IX["fz_n"]], s[:, IX["cop_ml_mm"]], s[:, IX["cop_ap_mm"]],
                    mode="single_leg_squat", rate_hz=80.0)              # side not given: from the COP
        lifts = [e for e in ev if e.name == "foot_lift"]
        settled = next(e for e in ev if e.name == "weight_settled")
        assert len(lifts) == 1 and lifts[0].details["already_lifted"] and lifts[0].t_s == settled.t_s
        assert lifts[0].details["stance_side"] == side
        assert np.sign(lifts[0].details["region_ml_mm"]) == (-1 if side == "left" else 1)
