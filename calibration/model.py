"""Calibration maths: tare, per-cell gains, the grid fit and held-out validation.

Pure NumPy, no I/O and no hardware: everything here is testable with synthetic counts.

The chain is the same as :class:`rig.signal.plate.ForceModel`::

    f_j  = (counts_j - offset_j) * n_per_count_j          corner forces, N
    [Fz, Fz·x, Fz·y] = M @ f                               M: 3x4 matrix
    (Fz, x, y) <- correction(Fz, x, y)                     optional low-order polynomial

Identifiability
---------------
* offsets come from the tare (plate empty and still);
* per-cell gains from one known mass at each cell and at the centre: with the cells at their
  nominal positions, the rigid-plate share of each placement on each cell is known
  (``PlateGeometry.distribute``), so each gain is a one-parameter least-squares fit through
  the origin over five placements;
* the 3x4 matrix from a grid of placements: rows are fitted independently, the Fz row on the
  corner forces, the moment rows on the forces divided by the known Fz (so their residuals are
  in metres of COP). The matrix absorbs cell-position errors and what is left of gain errors.
* a polynomial in (x, y) of the remaining residual (non-linearity), only when there are
  enough points, and kept only if it lowers the leave-one-out COP error.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rig.signal.plate import G, PlateGeometry

#: Polynomial terms (powers of u, v) by degree; u = x/a, v = y/b in the plate's half spacings.
POLY_TERMS = {
    1: ((0, 0), (1, 0), (0, 1)),
    2: ((0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2)),
    3: ((0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2), (3, 0), (2, 1), (1, 2), (0, 3)),
}
#: Fewest placements per polynomial coefficient before a correction is even tried.
POINTS_PER_TERM = 3


@dataclass(frozen=True)
class Tare:
    """Unloaded, still plate: per-cell mean and noise floor (counts)."""

    offsets_counts: np.ndarray
    noise_counts: np.ndarray
    n: int
    t_s: float


@dataclass(frozen=True)
class Placement:
    """One known mass at one known spot, measured: mean and sd of counts per cell."""

    label: str
    role: str                 #: "gain" (corners + centre) or "grid"
    x_m: float
    y_m: float
    mass_kg: float
    mean_counts: np.ndarray
    sd_counts: np.ndarray
    n: int
    t_s: float                #: middle of the measurement window (for zero-drift interpolation)
    creep_pct_per_min: float = 0.0

    @property
    def fz_n(self) -> float:
        return self.mass_kg * G


def zero_at(t_s: float, start: Tare, end: Tare | None) -> np.ndarray:
    """Offsets at time t: linear between the tare before and after the placements."""
    if end is None or end.t_s <= start.t_s:
        return np.asarray(start.offsets_counts, float)
    w = np.clip((t_s - start.t_s) / (end.t_s - start.t_s), 0.0, 1.0)
    return (1 - w) * np.asarray(start.offsets_counts, float) + w * np.asarray(end.offsets_counts, float)


def delta_counts(placements, start: Tare, end: Tare | None = None) -> np.ndarray:
    """(n, 4) counts due to the mass alone, zero drift interpolated over the session."""
    return np.array([np.asarray(p.mean_counts, float) - zero_at(p.t_s, start, end) for p in placements])


def fit_gains(placements, dcounts: np.ndarray, geometry: PlateGeometry) -> np.ndarray:
    """Per-cell N/count: least squares through the origin of the expected rigid-plate share.

    Needs each cell loaded in at least one placement (the corner placements ensure it).
    """
    fz = np.array([p.fz_n for p in placements])
    x = np.array([p.x_m for p in placements])
    y = np.array([p.y_m for p in placements])
    expected = geometry.distribute(fz, x, y)            # (n, 4) N
    den = np.sum(dcounts ** 2, axis=0)
    if np.any(den <= 0):
        raise ValueError("a cell saw no load in any placement: its gain cannot be fitted")
    return np.sum(expected * dcounts, axis=0) / den


def poly_design(x_m, y_m, degree: int, half_x_m: float, half_y_m: float) -> np.ndarray:
    u = np.asarray(x_m, float) / half_x_m
    v = np.asarray(y_m, float) / half_y_m
    return np.stack([u ** i * v ** j for i, j in POLY_TERMS[degree]], axis=-1)


@dataclass
class PolyCorrection:
    """Low-order polynomial correction of the linear model's (Fz, x, y).

    ``x += Σ cx_k φ_k(u, v)``, ``y += Σ cy_k φ_k``, ``Fz *= 1 + Σ cf_k φ_k``, with φ the
    monomials of ``POLY_TERMS[degree]`` in u = x/half_x, v = y/half_y. Where the COP is
    undefined (NaN: plate unloaded) Fz passes through unchanged.
    """

    degree: int
    half_x_m: float
    half_y_m: float
    coef_fz: np.ndarray
    coef_x_m: np.ndarray
    coef_y_m: np.ndarray

    def __call__(self, fz, x, y):
        fz = np.asarray(fz, float)
        x = np.asarray(x, float)
        y = np.asarray(y, float)
        ok = np.isfinite(x) & np.isfinite(y)
        phi = poly_design(np.where(ok, x, 0.0), np.where(ok, y, 0.0), self.degree, self.half_x_m, self.half_y_m)
        fz2 = np.where(ok, fz * (1 + phi @ self.coef_fz), fz)
        x2 = np.where(ok, x + phi @ self.coef_x_m, x)
        y2 = np.where(ok, y + phi @ self.coef_y_m, y)
        return fz2, x2, y2

    def to_dict(self) -> dict:
        return {"degree": self.degree, "half_x_mm": self.half_x_m * 1000, "half_y_mm": self.half_y_m * 1000,
                "fz_rel": list(map(float, self.coef_fz)),
                "x_mm": list(map(float, np.asarray(self.coef_x_m) * 1000)),
                "y_mm": list(map(float, np.asarray(self.coef_y_m) * 1000))}

    @classmethod
    def from_dict(cls, d: dict) -> "PolyCorrection":
        return cls(degree=int(d["degree"]), half_x_m=d["half_x_mm"] / 1000, half_y_m=d["half_y_mm"] / 1000,
                   coef_fz=np.array(d["fz_rel"], float), coef_x_m=np.array(d["x_mm"], float) / 1000,
                   coef_y_m=np.array(d["y_mm"], float) / 1000)


@dataclass
class LinearFit:
    matrix: np.ndarray                       #: 3x4
    correction: PolyCorrection | None = None

    def predict(self, forces):
        f = np.atleast_2d(np.asarray(forces, float))
        s = f @ self.matrix.T
        fz = s[:, 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            x, y = s[:, 1] / fz, s[:, 2] / fz
        if self.correction is not None:
            fz, x, y = self.correction(fz, x, y)
        return fz, x, y

    @property
    def kind(self) -> str:
        return "linear" if self.correction is None else f"linear+poly{self.correction.degree}"


#: Ridge weight (relative to the mean squared force) pulling the matrix toward the drawing.
RIDGE = 1e-6


def _ridge(a, target, prior):
    lam = RIDGE * np.trace(a.T @ a) / a.shape[1]
    return np.linalg.solve(a.T @ a + lam * np.eye(a.shape[1]), a.T @ target + lam * prior)


def fit_matrix(forces, fz_n, x_m, y_m, prior=None) -> np.ndarray:
    """Least-squares 3x4 matrix: corner forces -> [Fz, Fz·x, Fz·y].

    The moment rows are fitted on forces/Fz against x and y, so each point weighs as its COP
    error in metres whatever the mass. On a rigid plate every load puts forces in the same
    3-dimensional subspace (no twist), so one direction of each row is not determined by the
    data; a tiny ridge toward ``prior`` (the drawing's matrix) fixes it there and nowhere else.
    """
    f = np.asarray(forces, float)
    fz = np.asarray(fz_n, float)
    if f.shape[0] < 4:
        raise ValueError(f"need at least 4 placements to fit the matrix, got {f.shape[0]}")
    sv = np.linalg.svd(f, compute_uv=False)
    if sv[2] < 1e-3 * sv[0]:
        raise ValueError("placements do not spread the load over the cells (rank < 3): use the grid")
    prior = np.ones((3, 4)) if prior is None else np.asarray(prior, float)
    fw = f / fz[:, None]
    return np.vstack([_ridge(f, fz, prior[0]),
                      _ridge(fw, np.asarray(x_m, float), prior[1]),
                      _ridge(fw, np.asarray(y_m, float), prior[2])])


def fit_model(forces, fz_n, x_m, y_m, geometry: PlateGeometry, degree: int = 0) -> LinearFit:
    """Matrix, then (degree > 0) a polynomial of the residual in the predicted (x, y)."""
    matrix = fit_matrix(forces, fz_n, x_m, y_m, geometry.model_matrix())
    fit = LinearFit(matrix)
    if degree:
        pfz, px, py = fit.predict(forces)
        phi = poly_design(px, py, degree, geometry.half_ml_m, geometry.half_ap_m)
        fz_true = np.asarray(fz_n, float)
        cf = np.linalg.lstsq(phi, fz_true / pfz - 1, rcond=None)[0]
        cx = np.linalg.lstsq(phi, np.asarray(x_m, float) - px, rcond=None)[0]
        cy = np.linalg.lstsq(phi, np.asarray(y_m, float) - py, rcond=None)[0]
        fit.correction = PolyCorrection(degree, geometry.half_ml_m, geometry.half_ap_m, cf, cx, cy)
    return fit


@dataclass
class Errors:
    """Per-point errors of a prediction against the known load."""

    fz_err_n: np.ndarray
    fz_err_pct: np.ndarray
    dx_mm: np.ndarray
    dy_mm: np.ndarray

    @property
    def cop_err_mm(self) -> np.ndarray:
        return np.hypot(self.dx_mm, self.dy_mm)

    def summary(self) -> dict:
        """Numbers a clinician reads: Fz error in % and N, COP error in mm (RMS and max)."""
        def rms(a):
            return float(np.sqrt(np.mean(np.square(a)))) if len(a) else 0.0
        def amax(a):
            return float(np.max(np.abs(a))) if len(a) else 0.0
        return {"n_points": int(len(self.fz_err_n)),
                "fz_rms_pct": rms(self.fz_err_pct), "fz_max_pct": amax(self.fz_err_pct),
                "fz_rms_n": rms(self.fz_err_n), "fz_max_n": amax(self.fz_err_n),
                "cop_rms_mm": rms(self.cop_err_mm), "cop_max_mm": amax(self.cop_err_mm)}


def errors(pred, fz_n, x_m, y_m) -> Errors:
    pfz, px, py = (np.asarray(a, float) for a in pred)
    fz = np.asarray(fz_n, float)
    return Errors(fz_err_n=pfz - fz, fz_err_pct=100 * (pfz - fz) / fz,
                  dx_mm=1000 * (px - np.asarray(x_m, float)), dy_mm=1000 * (py - np.asarray(y_m, float)))


def leave_one_out(forces, fz_n, x_m, y_m, geometry: PlateGeometry, degree: int = 0) -> Errors:
    """Each placement predicted by a model fitted without it (held-out validation)."""
    f = np.asarray(forces, float)
    fz, x, y = (np.asarray(a, float) for a in (fz_n, x_m, y_m))
    n = len(fz)
    out = np.empty((3, n))
    for i in range(n):
        keep = np.arange(n) != i
        fit = fit_model(f[keep], fz[keep], x[keep], y[keep], geometry, degree)
        p = fit.predict(f[i:i + 1])
        out[:, i] = [p[0][0], p[1][0], p[2][0]]
    return errors(out, fz, x, y)


@dataclass
class ModelChoice:
    fit: LinearFit
    residuals: Errors                 #: in-sample
    heldout: Errors                   #: leave-one-out
    candidates: dict = field(default_factory=dict)   #: kind -> held-out summary


def score(summary: dict, cop_mm: float = 1.0, fz_pct: float = 0.5) -> float:
    """One number to compare models: held-out COP RMS and Fz RMS, each against its target."""
    return summary["cop_rms_mm"] / cop_mm + summary["fz_rms_pct"] / fz_pct


def choose_model(forces, fz_n, x_m, y_m, geometry: PlateGeometry, max_degree: int = 3,
                 min_gain: float = 0.9) -> ModelChoice:
    """Fit the linear model and, where enough points, polynomial corrections; keep the one
    with the best leave-one-out score (a correction must beat the simpler model by 10 %)."""
    n = len(fz_n)
    best_deg, best = 0, leave_one_out(forces, fz_n, x_m, y_m, geometry, 0)
    candidates = {"linear": best.summary()}
    for deg in (2, 3):
        if deg > max_degree or n - 1 < POINTS_PER_TERM * len(POLY_TERMS[deg]):
            continue
        ho = leave_one_out(forces, fz_n, x_m, y_m, geometry, deg)
        candidates[f"linear+poly{deg}"] = ho.summary()
        if score(ho.summary()) < min_gain * score(best.summary()):
            best_deg, best = deg, ho
    fit = fit_model(forces, fz_n, x_m, y_m, geometry, best_deg)
    return ModelChoice(fit=fit, residuals=errors(fit.predict(forces), fz_n, x_m, y_m), heldout=best,
                       candidates=candidates)


def canonical(gains, matrix):
    """Move the matrix's Fz row into the gains: gains·m0 and matrix/m0, so that the Fz row is
    all ones, the gains are each cell's effective N/count and the moment rows are the cells'
    effective positions (m). The product, hence every prediction, is unchanged."""
    m0 = np.asarray(matrix, float)[0]
    return np.asarray(gains, float) * m0, np.asarray(matrix, float) / m0
