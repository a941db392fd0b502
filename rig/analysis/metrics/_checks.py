"""Input checks shared by every metric: a clear error naming the problem, never a silent NaN."""
from __future__ import annotations

import numpy as np

from rig.errors import InputError


class MetricsInputError(InputError):
    """The input cannot be analysed (NaN, too short, constant, bad time base, bad units…)."""


#: Fewest samples any metric accepts.
MIN_SAMPLES = 10


def as_vector(x, name: str) -> np.ndarray:
    """`x` as a non-empty 1-D float64 array (values not yet checked), or MetricsInputError."""
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MetricsInputError(f"{name}: not numeric ({exc})") from None
    if a.ndim != 1:
        raise MetricsInputError(f"{name}: expected a 1-D series, got shape {a.shape}")
    if a.size == 0:
        raise MetricsInputError(f"{name}: empty series")
    return a


def as_series(x, name: str, *, min_samples: int = MIN_SAMPLES, allow_constant: bool = False) -> np.ndarray:
    """`x` as a finite 1-D float64 array of at least `min_samples`, or MetricsInputError."""
    a = as_vector(x, name)
    bad = ~np.isfinite(a)
    if bad.any():
        first = int(np.argmax(bad))
        kind = "NaN" if np.isnan(a[first]) else "inf"
        raise MetricsInputError(
            f"{name}: {int(bad.sum())} non-finite sample(s) (first: {kind} at index {first}); "
            "an unloaded plate gives NaN COP: choose a window where the plate is loaded")
    if a.size < min_samples:
        raise MetricsInputError(f"{name}: too short ({a.size} samples, need at least {min_samples})")
    if not allow_constant and np.ptp(a) == 0.0:
        raise MetricsInputError(f"{name}: constant signal (no sway to analyse)")
    return a


def as_pair(ml, ap, *, min_samples: int = MIN_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """Both COP axes checked, and of the same length."""
    x = as_series(ml, "cop_ml", min_samples=min_samples)
    y = as_series(ap, "cop_ap", min_samples=min_samples)
    if x.size != y.size:
        raise MetricsInputError(f"cop_ml and cop_ap differ in length ({x.size} vs {y.size})")
    return x, y


def as_rate(fs) -> float:
    """A positive, finite sampling rate in Hz."""
    try:
        f = float(fs)
    except (TypeError, ValueError):
        raise MetricsInputError(f"sampling rate must be a number, got {fs!r}") from None
    if not np.isfinite(f) or f <= 0:
        raise MetricsInputError(f"sampling rate must be positive and finite, got {fs!r}")
    return f
