"""NumPy reference implementation of every kernel in rig/_core.pyx.

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
