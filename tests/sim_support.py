"""Helpers for tests that run a virtual person through the whole simulated chain."""
from __future__ import annotations

import numpy as np


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
