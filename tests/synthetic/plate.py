"""A synthetic plate: counts from known truth, without the simulator.

Used by the calibration tests (and usable for dashboard demos) to check the maths against
known gains, positions, offsets and imperfections. The corner forces of a rigid plate on four
equally stiff cells at arbitrary positions are the minimum-norm solution of the three
equilibrium equations (sum and two moments), which for a rectangle is exactly
``PlateGeometry.distribute``.
"""
from __future__ import annotations

import numpy as np

from rig.signal.plate import G


def rigid_shares(cell_x_m, cell_y_m, fz_n, x_m, y_m) -> np.ndarray:
    a = np.vstack([np.ones(4), cell_x_m, cell_y_m])
    rhs = np.array([fz_n, fz_n * x_m, fz_n * y_m], float)
    return np.linalg.pinv(a) @ rhs


class SyntheticPlate:
    """Four cells with true gains, positions, zero offsets, noise, quadratic non-linearity,
    creep and linear zero drift; a list of static point loads. Time is virtual."""

    def __init__(self, cell_x_m, cell_y_m, n_per_count, offsets_counts, noise_counts=2.0,
                 nonlin_per_n=0.0, creep_frac=0.0, creep_tau_s=60.0, drift_counts_s=0.0,
                 dead_weight_n=0.0, rate_sps=80.0, seed=0):
        self.cell_x = np.asarray(cell_x_m, float)
        self.cell_y = np.asarray(cell_y_m, float)
        self.n_per_count = np.asarray(n_per_count, float)
        self.offsets = np.asarray(offsets_counts, float)
        self.noise = np.broadcast_to(np.asarray(noise_counts, float), (4,))
        self.nonlin = np.broadcast_to(np.asarray(nonlin_per_n, float), (4,))
        self.creep_frac = creep_frac
        self.creep_tau = creep_tau_s
        self.drift = np.broadcast_to(np.asarray(drift_counts_s, float), (4,))
        self.dead_weight = dead_weight_n
        self.rate_sps = float(rate_sps)
        self.rng = np.random.default_rng(seed)
        self.t = 0.0
        self.loads: list[tuple[float, float, float]] = []
        self.t_loaded = 0.0

    @classmethod
    def imperfect(cls, geometry, nominal_n_per_count: float, seed=0, gain_err=0.04, pos_err_m=0.004,
                  **kw) -> "SyntheticPlate":
        rng = np.random.default_rng(seed)
        return cls(np.array(geometry.cell_x_m) + rng.normal(0, pos_err_m, 4),
                   np.array(geometry.cell_y_m) + rng.normal(0, pos_err_m, 4),
                   nominal_n_per_count * (1 + rng.normal(0, gain_err, 4)),
                   rng.normal(0, 20000, 4), seed=seed + 1, **kw)

    # --- the operator ---
    def place(self, mass_kg: float, x_m: float, y_m: float) -> None:
        self.loads = [(mass_kg * G, x_m, y_m)]
        self.t_loaded = self.t

    def clear(self) -> None:
        self.loads = []
        self.t_loaded = self.t

    def cell_forces(self) -> np.ndarray:
        f = rigid_shares(self.cell_x, self.cell_y, self.dead_weight, 0.0, 0.0)
        for fz, x, y in self.loads:
            f = f + rigid_shares(self.cell_x, self.cell_y, fz, x, y)
        return f

    # --- the Sampler interface ---
    def read(self, seconds: float):
        n = max(1, int(round(seconds * self.rate_sps)))
        t = self.t + np.arange(1, n + 1) / self.rate_sps
        self.t = float(t[-1])
        f = self.cell_forces()
        f = f * (1 + self.nonlin * f)
        if self.loads and self.creep_frac:
            f = f[None, :] * (1 + self.creep_frac * (1 - np.exp(-(t - self.t_loaded) / self.creep_tau)))[:, None]
        else:
            f = np.broadcast_to(f, (n, 4))
        counts = self.offsets + f / self.n_per_count + self.drift * t[:, None]
        counts = counts + self.rng.normal(0, 1, (n, 4)) * self.noise
        return t, np.round(counts)
