"""rig.analysis.smoothing.moving_mean: the analysis' one moving mean, with the edges each
user was tuned with; its values equal the formulas the three users had before, bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

from rig.analysis.smoothing import moving_mean


@pytest.mark.parametrize("n", [2, 3, 8, 20, 21])
def test_each_edge_mode_is_the_formula_it_replaced(n):
    x = np.random.default_rng(n).normal(700, 30, 300)
    k = np.ones(n) / n
    assert np.array_equal(moving_mean(x, n, "valid"), np.convolve(x, k, mode="valid"))
    assert np.array_equal(moving_mean(x, n, "same"), np.convolve(x, k, mode="same"))
    pad = np.concatenate([np.full(n // 2, x[0]), x, np.full(n - 1 - n // 2, x[-1])])
    assert np.array_equal(moving_mean(x, n, "nearest"), np.convolve(pad, k, mode="valid"))


def test_lengths_edges_and_a_window_of_one():
    x = np.arange(10.0)
    assert len(moving_mean(x, 4, "valid")) == 7 and len(moving_mean(x, 4, "same")) == 10
    assert moving_mean(x, 3, "nearest")[0] == pytest.approx((0 + 0 + 1) / 3)     # end value repeated
    assert moving_mean(x, 3, "same")[0] == pytest.approx((0 + 1) / 3)            # zero-padded
    assert np.array_equal(moving_mean(x, 1, "nearest"), x)
    with pytest.raises(ValueError, match="edges must be one of"):
        moving_mean(x, 3, "reflect")
