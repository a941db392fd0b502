"""Public entry to the kernels: the compiled core when it is built, else the NumPy reference.

``COMPILED`` says which one is loaded (``rig doctor`` reports it); ``IMPORT_ERROR`` says why
the compiled one is missing. Set ``RIG_PURE_PYTHON=1`` to force the reference.
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from rig.signal import reference

COMPILED = False
IMPORT_ERROR: str | None = None
_impl = reference

if os.environ.get("RIG_PURE_PYTHON", "") not in ("", "0"):
    IMPORT_ERROR = "RIG_PURE_PYTHON is set"
else:
    try:
        from rig.signal import _core as _impl  # type: ignore[no-redef]
        COMPILED = True
    except ImportError as exc:  # pragma: no cover - exercised only on a broken install
        IMPORT_ERROR = str(exc)
        warnings.warn(
            f"rig: compiled core not available ({exc}); using the NumPy reference. "
            "Rebuild with `make build` (or `pip install -e .`).",
            RuntimeWarning,
            stacklevel=2,
        )


def implementation() -> str:
    """'compiled' or 'reference'."""
    return "compiled" if COMPILED else "reference"


def counts_to_cop(counts, offsets, scales, matrix, min_fz: float):
    """See rig.signal.reference.counts_to_cop; arrays are coerced to the kernel's dtypes."""
    return _impl.counts_to_cop(
        np.ascontiguousarray(counts, dtype=np.int32),
        np.ascontiguousarray(offsets, dtype=np.float64),
        np.ascontiguousarray(scales, dtype=np.float64),
        np.ascontiguousarray(matrix, dtype=np.float64),
        float(min_fz),
    )


# --- sway metrics kernels (rig.analysis.metrics calls these) -----------------------------------------

SWAY_SUMMARY_FIELDS = reference.SWAY_SUMMARY_FIELDS


def _f64(a):
    return np.ascontiguousarray(a, dtype=np.float64)


def sway_summary(x, y) -> dict[str, float]:
    """Fused positional/dynamic summary of a COP trajectory, as a dict (see reference)."""
    vals = _impl.sway_summary(_f64(x), _f64(y))
    return dict(zip(SWAY_SUMMARY_FIELDS, (float(v) for v in vals)))


def sample_entropy_counts(x, m: int, r: float) -> tuple[int, int]:
    """(B, A) template-match counts for sample entropy (see reference)."""
    b, a = _impl.sample_entropy_counts(_f64(x), int(m), float(r))
    return int(b), int(a)


def sway_density_counts(x, y, radius: float) -> np.ndarray:
    """Per-sample neighbour counts for sway density (see reference)."""
    return _impl.sway_density_counts(_f64(x), _f64(y), float(radius))


def mean_square_displacement(x, lags) -> np.ndarray:
    """Mean square displacement at the given integer lags (see reference)."""
    return _impl.mean_square_displacement(_f64(x), np.ascontiguousarray(lags, dtype=np.intp))


def dfa_fluctuations(profile, sizes) -> np.ndarray:
    """DFA fluctuation F(n) of a profile for each box size (see reference)."""
    return _impl.dfa_fluctuations(_f64(profile), np.ascontiguousarray(sizes, dtype=np.intp))
