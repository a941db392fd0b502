"""Plate geometry and the counts -> forces -> Fz/COP conversion.

Axes (as seen by a person standing on the plate facing forward): x = medio-lateral, right
positive; y = antero-posterior, forward positive; origin at the plate's geometric centre.
Corners are always in the order front-left, front-right, back-left, back-right.
Everything here is SI (m, N); columns that leave the rig carry their unit in the name.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rig.signal import core
from rig.hw.flags import Flag
from rig.constants import CORNERS, G, SAMPLE_COLUMNS

FULL_SCALE_CODE = 2 ** 23


@dataclass(frozen=True)
class PlateGeometry:
    """Where the four load cells sit, in metres from the plate centre (CORNERS order)."""

    cell_x_m: tuple[float, float, float, float]
    cell_y_m: tuple[float, float, float, float]

    @classmethod
    def rectangular(cls, spacing_ml_m: float, spacing_ap_m: float) -> "PlateGeometry":
        """Cells on a rectangle: `spacing_ml_m` apart left-right, `spacing_ap_m` front-back."""
        if spacing_ml_m <= 0 or spacing_ap_m <= 0:
            raise ValueError("cell spacings must be positive")
        a, b = spacing_ml_m / 2, spacing_ap_m / 2
        return cls(cell_x_m=(-a, a, -a, a), cell_y_m=(b, b, -b, -b))

    @property
    def half_ml_m(self) -> float:
        return max(abs(x) for x in self.cell_x_m)

    @property
    def half_ap_m(self) -> float:
        return max(abs(y) for y in self.cell_y_m)

    def model_matrix(self) -> np.ndarray:
        """The ideal 3x4 matrix mapping corner forces to [Fz, Fz·x, Fz·y]."""
        return np.array([[1.0, 1.0, 1.0, 1.0], list(self.cell_x_m), list(self.cell_y_m)])

    def distribute(self, fz_n, x_m, y_m) -> np.ndarray:
        """Corner forces (…, 4) that a point load fz at (x, y) puts on a rigid rectangular plate.

        A rigid plate on four equally stiff cells deflects as a plane, so each corner takes
        fz/4·(1 + sx·x/a + sy·y/b): the unique distribution with the right sum and moments and
        no twist (fl + br == fr + bl). Near a corner the opposite cell goes into tension
        (negative), as a bolted cell does. Used by the simulator and tests as ground truth.
        """
        fz = np.asarray(fz_n, dtype=float)
        u = np.asarray(x_m, dtype=float) / self.half_ml_m
        v = np.asarray(y_m, dtype=float) / self.half_ap_m
        sx = np.sign(np.array(self.cell_x_m))
        sy = np.sign(np.array(self.cell_y_m))
        w = (1 + sx * u[..., None] + sy * v[..., None]) / 4
        return fz[..., None] * w


@dataclass
class ForceModel:
    """counts -> newtons per corner -> Fz and COP.

    ``offsets_counts`` is the tare, ``n_per_count`` each cell's gain, ``matrix`` the 3x4 map
    from corner forces to [Fz, Fz·x, Fz·y] (the plate geometry, or a fitted calibration).
    ``correction``, if given, is called as ``correction(fz, x, y) -> (fz, x, y)`` after the
    linear model (the calibration's non-linear term).
    """

    offsets_counts: np.ndarray
    n_per_count: np.ndarray
    matrix: np.ndarray
    min_fz_n: float = 20.0
    correction: object = field(default=None, repr=False)
    source: str = "nominal"

    @classmethod
    def nominal(cls, geometry: PlateGeometry, capacity_kg: float, sensitivity_mv_v: float,
                gain: int = 128, min_fz_n: float = 20.0) -> "ForceModel":
        """The datasheet model, before any calibration: code = 2·S·gain·(F/F_cap)·2^23."""
        n_per_count = capacity_kg * G / (2 * sensitivity_mv_v / 1000 * gain * FULL_SCALE_CODE)
        return cls(offsets_counts=np.zeros(4), n_per_count=np.full(4, n_per_count),
                   matrix=geometry.model_matrix(), min_fz_n=min_fz_n, source="nominal")

    def convert(self, counts) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """counts (n, 4) -> forces (n, 4) N, fz (n,) N, cop_x (n,) m, cop_y (n,) m."""
        forces, fz, cx, cy = core.counts_to_cop(counts, self.offsets_counts, self.n_per_count,
                                                self.matrix, self.min_fz_n)
        if self.correction is not None:
            fz, cx, cy = self.correction(fz, cx, cy)
        return forces, fz, cx, cy

    def samples(self, t_s, counts, flags) -> np.ndarray:
        """Rows of SAMPLE_COLUMNS (float array; COP in mm; flags gain UNLOADED where Fz is low)."""
        forces, fz, cx, cy = self.convert(counts)
        flags = np.asarray(flags, dtype=np.int64).copy()
        flags[~np.isfinite(cx)] |= int(Flag.UNLOADED)
        out = np.empty((len(fz), len(SAMPLE_COLUMNS)))
        out[:, 0] = t_s
        out[:, 1:5] = forces
        out[:, 5] = fz
        out[:, 6] = cx * 1000.0
        out[:, 7] = cy * 1000.0
        out[:, 8] = flags
        return out


def cop_from_forces(forces_n, cell_x_m, cell_y_m, min_fz_n: float = 20.0):
    """Fz = Σ f_j; COP = Σ f_j (x_j, y_j) / Fz; NaN where Fz <= min_fz_n (plate unloaded).

    For corner forces already in newtons (another plate's export, a recording without raw
    counts); counts go through `ForceModel.convert`, the compiled core's path.
    """
    f = np.asarray(forces_n, dtype=np.float64)
    fz = f.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ml = np.where(fz > min_fz_n, f @ np.asarray(cell_x_m, float) / fz, np.nan)
        ap = np.where(fz > min_fz_n, f @ np.asarray(cell_y_m, float) / fz, np.nan)
    return fz, ml, ap


def nominal_force_model(config) -> ForceModel:
    """The datasheet model from ``[plate]``: what we use until a calibration is loaded."""
    p = config.plate
    return ForceModel.nominal(config.geometry(), capacity_kg=p.cell_capacity_kg,
                              sensitivity_mv_v=p.cell_sensitivity_mv_v, gain=config.hx711.gain,
                              min_fz_n=p.min_fz_n)


__all__ = ["CORNERS", "G", "SAMPLE_COLUMNS", "PlateGeometry", "ForceModel", "cop_from_forces", "nominal_force_model"]
