"""Helpers for tests that run a virtual person through the whole simulated chain."""
from __future__ import annotations

import numpy as np

DT = 1 / 80                  # the HX711's 80 SPS conversion period


def through_chips(person, seed: int) -> np.ndarray:
    """SAMPLE_COLUMNS rows of ``person`` read by the HX711 driver off the simulated plate,
    converted with the nominal model tared on the first 1.5 s (the plate is empty then)."""
    from rig.config import Config
    from rig.sim.rig import make_sim_rig
    rig = make_sim_rig(Config(), person=person, seed=seed)
    hx = rig.driver()
    frames = []
    while rig.clock.now_ns() < (person.duration_s - 0.05) * 1e9:
        frames.append(hx.read_frame())
    t = np.array([f.t_ns for f in frames]) / 1e9
    counts = np.array([f.counts for f in frames], dtype=float)
    flags = np.array([f.flags for f in frames])
    model = rig.nominal_model()
    model.offsets_counts = counts[t < 1.5].mean(axis=0)
    return model.samples(t, counts, flags)


def sample_person(person, seed=0, fz_noise_n=0.6, cop_noise_mm=0.7):
    """A virtual person's truth sampled as the HX711 does, without the chip simulator: 80 Hz
    samples, each the mean over its 12.5 ms conversion, plus sensor noise."""
    rng = np.random.default_rng(seed)
    tk = np.arange(DT + rng.uniform(0, DT), person.duration_s, DT)
    fine = np.arange(0.0, person.duration_s, 0.0005)
    fz, x, y = person.truth(fine)
    cum = [np.concatenate([[0.0], np.cumsum(v)]) for v in (fz, fz * x, fz * y)]
    hi, lo = np.searchsorted(fine, tk), np.searchsorted(fine, tk - DT)
    f, mx, my = ((c[hi] - c[lo]) / (hi - lo) for c in cum)
    with np.errstate(all="ignore"):
        ml, ap = mx / f * 1000, my / f * 1000
    f = f + rng.normal(0, fz_noise_n, len(tk))
    ml = np.where(f > 20, ml + rng.normal(0, cop_noise_mm, len(tk)), np.nan)
    ap = np.where(f > 20, ap + rng.normal(0, cop_noise_mm, len(tk)), np.nan)
    return {"t_s": tk, "fz_n": f, "cop_ml_mm": ml, "cop_ap_mm": ap, "flags": np.where(f < 20, 16, 0)}


def sd_person(seed, share=0.15, dur=3.0, pause=1.0, nopause_at=None, wobble_at=None, skip_at=None):
    """A person doing five lateral step-downs off the left leg (``share`` of the weight touches the
    floor), with optional faults: no still beat after rep ``nopause_at``, an uncued dip after
    ``wobble_at``, rep ``skip_at`` left out."""
    from rig.sim.person import (DoubleStance, LateralStepDown, LiftFoot, SingleLeg, SingleLegSquat, StepOn,
                                VirtualPerson)
    sc = [StepOn(0.5, lead="left"), DoubleStance(3.0), LiftFoot("right"), SingleLeg("left", 3.0)]
    for i in range(5):
        sc.append(SingleLeg("left", dur) if i == skip_at else
                  LateralStepDown("left", duration=dur, floor_share=share))
        sc.append(SingleLeg("left", 0.01 if i == nopause_at else pause))
        if i == wobble_at:              # a dip nobody asked for: no cue
            sc += [SingleLegSquat("left", duration=1.5, depth_m=0.04), SingleLeg("left", 1.0)]
    sc[-1] = SingleLeg("left", 2.0)
    return VirtualPerson(72, seed=seed, script=sc)


def sd_cues(person, seed):
    """The metronome's cues: each repetition's start minus a reaction delay of 150-350 ms."""
    rng = np.random.default_rng(1000 + seed)
    starts = [e[0] for e in person.events if e[1] == "lateral_step_down"]
    return [s - rng.uniform(0.15, 0.35) for s in starts]
