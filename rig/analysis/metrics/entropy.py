"""Complexity: sample entropy and multiscale sample entropy.

References: Richman JS, Moorman JR (2000) Am J Physiol Heart Circ Physiol 278:H2039
(sample entropy); Costa M, Goldberger AL, Peng C-K (2002) Phys Rev Lett 89:068102 (MSE).
"""
from __future__ import annotations

import math

import numpy as np

from rig.signal import core
from rig.analysis.metrics._checks import MetricsInputError, as_series

#: Default scales for multiscale entropy.
MSE_SCALES = tuple(range(1, 11))
#: Shortest coarse-grained series MSE will use.
MSE_MIN_LENGTH = 200


def sample_entropy(x, m: int = 2, r: float | None = None, *, r_factor: float = 0.2) -> float:
    """SampEn(m, r) = −ln(A/B) (Richman & Moorman 2000).

    Templates u_i = (x_i … x_{i+m−1}), i = 1 … N−m (the same N−m templates for m and m+1);
    B = number of pairs i < j with max_k |x_{i+k} − x_{j+k}| ≤ r (Chebyshev), A = the same
    for length m+1. r defaults to `r_factor` · SD(x) with ddof 0 (as antropy and nolds).
    Undefined (error) when A = 0 or B = 0. Counting is the compiled exact kernel (bitset
    range count for long windows, sorted-window sweep for short ones; docs/metrics.md).
    """
    a = as_series(x, "sample entropy input", min_samples=m + 3)
    if r is None:
        r = r_factor * float(a.std())
    if not r > 0:
        raise MetricsInputError(f"sample entropy tolerance r must be positive, got {r}")
    b, aa = core.sample_entropy_counts(a, m, r)
    if b == 0 or aa == 0:
        raise MetricsInputError(f"sample entropy undefined: no template matches (B={b}, A={aa})")
    return -math.log(aa / b)


def coarse_grain(x, scale: int) -> np.ndarray:
    """Means of consecutive non-overlapping blocks of `scale` samples (Costa 2002)."""
    a = np.asarray(x, dtype=np.float64)
    k = a.size // scale
    return a[: k * scale].reshape(k, scale).mean(axis=1)


def multiscale_entropy(x, scales=MSE_SCALES, m: int = 2, r_factor: float = 0.2) -> dict:
    """Sample entropy of the coarse-grained series at each scale, with r fixed at
    r_factor · SD of the original series (Costa 2002). Scales whose coarse series would be
    shorter than MSE_MIN_LENGTH are left out. Returns {"scales": [...], "sampen": [...],
    "complexity_index": Σ sampen}."""
    a = as_series(x, "multiscale entropy input")
    r = r_factor * float(a.std())
    used, vals = [], []
    for s in scales:
        if a.size // s < MSE_MIN_LENGTH:
            break
        used.append(int(s))
        vals.append(sample_entropy(coarse_grain(a, s), m, r) if s > 1 else sample_entropy(a, m, r))
    if not used:
        raise MetricsInputError(f"multiscale entropy: series of {a.size} samples too short "
                                f"(need {MSE_MIN_LENGTH} per scale)")
    return {"scales": used, "sampen": vals, "complexity_index": float(sum(vals))}
