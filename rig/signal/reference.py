"""NumPy reference implementation of every kernel in rig/signal/_core.pyx.

These are the test oracle: the compiled kernels must agree with them (to 1e-9 relative),
and they are the fallback when the compiled core cannot be imported. Same names, same
arguments, same results.
"""
from __future__ import annotations

import numpy as np


def counts_to_cop(counts, offsets, scales, matrix, min_fz):
    """Raw counts (n, 4) -> corner forces (n, 4) N, Fz (n,) N, COP x, y (n,) m.

    f_j = (counts_j - offsets_j) * scales_j;  [Fz, Fz·x, Fz·y] = matrix @ f;
    COP is NaN where Fz <= min_fz.
    """
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != 4:
        raise ValueError(f"counts must have 4 columns (fl, fr, bl, br), got shape {counts.shape}")
    offsets = np.asarray(offsets, dtype=np.float64)
    scales = np.asarray(scales, dtype=np.float64)
    matrix = np.asarray(matrix, dtype=np.float64)
    if offsets.shape != (4,) or scales.shape != (4,):
        raise ValueError("offsets and scales must have 4 entries (fl, fr, bl, br)")
    if matrix.shape != (3, 4):
        raise ValueError(f"matrix must be 3x4, got {matrix.shape}")
    forces = (counts - offsets) * scales
    s = forces @ matrix.T
    fz = s[:, 0].copy()
    loaded = fz > min_fz
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = np.where(loaded, s[:, 1] / fz, np.nan)
        cy = np.where(loaded, s[:, 2] / fz, np.nan)
    return forces, fz, cx, cy


# --- sway metrics kernels ------------------------------------------------------------------

SWAY_SUMMARY_FIELDS = (
    "mean_x", "mean_y", "sxx", "syy", "sxy", "min_x", "max_x", "min_y", "max_y",
    "path", "path_x", "path_y", "sum_dist", "max_dist", "sum_dist2", "sum_triangle",
    "sum_vx", "sum_vy", "svx", "svy", "sum_abs_x", "sum_abs_y", "max_abs_x", "max_abs_y",
)


def sway_summary(x, y):
    """Fused O(N) summary of a COP trajectory; see rig.signal._core.sway_summary for the fields."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length ({x.size} vs {y.size})")
    if x.size < 2:
        raise ValueError("need at least 2 samples")
    mx, my = x.mean(), y.mean()
    cx, cy = x - mx, y - my
    dx, dy = np.diff(x), np.diff(y)
    d = np.hypot(cx, cy)
    return np.array([
        mx, my, np.sum(cx * cx), np.sum(cy * cy), np.sum(cx * cy),
        x.min(), x.max(), y.min(), y.max(),
        np.sum(np.hypot(dx, dy)), np.sum(np.abs(dx)), np.sum(np.abs(dy)),
        d.sum(), d.max(), np.sum(cx * cx + cy * cy),
        np.sum(np.abs(cx[:-1] * cy[1:] - cx[1:] * cy[:-1])),
        dx.sum(), dy.sum(), np.sum((dx - dx.mean()) ** 2), np.sum((dy - dy.mean()) ** 2),
        np.abs(cx).sum(), np.abs(cy).sum(), np.abs(cx).max(), np.abs(cy).max(),
    ])


def sample_entropy_counts(x, m, r, stride=0, method=0):
    """Template-match counts (B, A) for SampEn by brute force over all pairs i < j.

    Templates x[i:i+m], i = 0 … N-m-1; Chebyshev distance <= r. See rig.signal._core.
    `stride` and `method` tune the compiled kernel's algorithm; the counts do not depend
    on them, and they are accepted here only to keep the two signatures the same.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    nt = n - m
    if m < 1:
        raise ValueError("m must be >= 1")
    if nt < 2:
        raise ValueError(f"need more than m+1 = {m + 1} samples, got {n}")
    emb = np.lib.stride_tricks.sliding_window_view(x, m + 1)[:nt]
    B = A = 0
    for i in range(nt - 1):
        dist = np.abs(emb[i + 1:] - emb[i])
        dm = dist[:, :m].max(axis=1) <= r
        B += int(dm.sum())
        A += int((dm & (dist[:, m] <= r)).sum())
    return B, A


def sway_density_counts(x, y, radius):
    """Per-sample count of the unbroken run of neighbours within `radius` (i excluded)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length ({x.size} vs {y.size})")
    n = x.size
    out = np.zeros(n, dtype=np.int64)
    r2 = radius * radius
    for i in range(n):
        inside = (x - x[i]) ** 2 + (y - y[i]) ** 2 <= r2
        after = inside[i + 1:]
        before = inside[:i][::-1]
        fa = np.argmin(after) if not after.all() else after.size
        fb = np.argmin(before) if not before.all() else before.size
        out[i] = fa + fb
    return out


def mean_square_displacement(x, lags):
    """msd[j] = mean_i (x[i+k] - x[i])² for k = lags[j]."""
    x = np.asarray(x, dtype=np.float64)
    lags = np.asarray(lags, dtype=np.intp)
    n = x.size
    if np.any(lags < 1) or np.any(lags >= n):
        raise ValueError(f"lags must be in 1 … {n - 1}")
    return np.array([np.mean((x[k:] - x[:-k]) ** 2) for k in lags])


def dfa_fluctuations(profile, sizes):
    """F[j] = RMS residual of per-box least-squares lines, boxes of sizes[j] (see rig.signal._core)."""
    prof = np.asarray(profile, dtype=np.float64)
    sizes = np.asarray(sizes, dtype=np.intp)
    n = prof.size
    if np.any(sizes < 2) or np.any(sizes > n):
        raise ValueError(f"box sizes must be in 2 … {n}")
    F = np.empty(sizes.size)
    for j, m in enumerate(sizes):
        k = n // m
        seg = prof[: k * m].reshape(k, m)
        t = np.arange(m) - (m - 1) / 2
        slope = seg @ t / (t @ t)
        resid = seg - seg.mean(axis=1, keepdims=True) - slope[:, None] * t
        F[j] = np.sqrt(np.mean(resid * resid))
    return F
