"""The compiled sway kernels against their NumPy reference (1e-9 relative; counts exact)."""
import numpy as np
import pytest

from rig.signal import _core, reference


def walks(seed, n=1500):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(0, 1e-4, n)), np.cumsum(rng.normal(0, 1e-4, n)) + 0.05


@pytest.mark.parametrize("seed", range(4))
def test_sway_summary_matches_reference(seed):
    x, y = walks(seed)
    np.testing.assert_allclose(_core.sway_summary(x, y), reference.sway_summary(x, y), rtol=1e-9, atol=1e-15)
    assert _core.SWAY_SUMMARY_FIELDS == reference.SWAY_SUMMARY_FIELDS


@pytest.mark.parametrize("m", [1, 2, 3])
@pytest.mark.parametrize("kind", ["walk", "white", "quantised"])
def test_sample_entropy_counts_match_reference(m, kind):
    rng = np.random.default_rng(m)
    x = {"walk": np.cumsum(rng.normal(size=900)), "white": rng.normal(size=900),
         "quantised": np.round(rng.normal(size=900), 1)}[kind]
    for r in (0.1 * x.std(), 0.2 * x.std(), 0.3):
        ref = reference.sample_entropy_counts(x, m, r)
        assert _core.sample_entropy_counts(x, m, r) == ref
        # both algorithms (window sweep, bitset) and checkpoint strides that put the
        # flips on both sides of a checkpoint, a single checkpoint, or one per rank
        assert _core.sample_entropy_counts(x, m, r, method=1) == ref
        for stride in (1, 3, 16, 64, 5000):
            assert _core.sample_entropy_counts(x, m, r, stride, 2) == ref


@pytest.mark.parametrize("seed", range(3))
def test_sample_entropy_bitset_on_cop_like_series(seed):
    """A smooth COP-like walk of 2 600 samples (long windows: the bitset path) with ties
    at the 1e-5 grid, compared with the brute force; and rounding-edge tolerances r equal
    to a difference of two samples."""
    rng = np.random.default_rng(seed)
    x = np.round(np.cumsum(rng.normal(0, 1e-4, 2600)) + 0.03, 5)
    for r in (0.2 * x.std(), abs(x[10] - x[500]), 1e-5):
        ref = reference.sample_entropy_counts(x, 2, r)
        assert _core.sample_entropy_counts(x, 2, r, method=2) == ref
        assert _core.sample_entropy_counts(x, 2, r, method=1) == ref
        assert _core.sample_entropy_counts(x, 2, r) == ref


def test_sway_density_counts_match_reference():
    x, y = walks(7, 800)
    for radius in (5e-4, 2e-3):
        np.testing.assert_array_equal(_core.sway_density_counts(x, y, radius),
                                      reference.sway_density_counts(x, y, radius))


def test_msd_matches_reference():
    x, _ = walks(3)
    lags = np.array([1, 2, 5, 50, 700], dtype=np.intp)
    np.testing.assert_allclose(_core.mean_square_displacement(x, lags),
                               reference.mean_square_displacement(x, lags), rtol=1e-9)


@pytest.mark.parametrize("impl", [_core, reference], ids=["compiled", "reference"])
def test_kernels_reject_bad_arguments(impl):
    x = np.arange(10.0)
    with pytest.raises(ValueError, match="differ in length"):
        impl.sway_summary(x, x[:5])
    with pytest.raises(ValueError, match="samples"):
        impl.sample_entropy_counts(x[:3], 2, 0.1)
    if impl is _core:
        with pytest.raises(ValueError, match="method"):
            impl.sample_entropy_counts(x, 2, 0.1, method=3)
    with pytest.raises(ValueError, match="lags"):
        impl.mean_square_displacement(x, np.array([10], dtype=np.intp))


def test_compute_all_same_with_reference(monkeypatch):
    """The whole suite gives the same numbers through the NumPy reference."""
    from rig.signal import core
    from rig.analysis import metrics
    x, y = walks(11, 2500)
    a = metrics.compute_all(100.0, x, y)
    monkeypatch.setattr(core, "_impl", reference)
    b = metrics.compute_all(100.0, x, y)
    for k, v in a["metrics"].items():
        if isinstance(v, float):
            np.testing.assert_allclose(b["metrics"][k], v, rtol=1e-9, err_msg=k)
        else:
            assert b["metrics"][k] == pytest.approx(v, rel=1e-9), k


def test_sway_density_counts_long_runs_match_reference():
    """A quiet COP (long runs: whole blocks inside the circle are stepped over) and a
    radius equal to an actual distance between two samples (the rounding edge)."""
    x, y = walks(8, 1300)
    x, y = np.round(x, 6), np.round(y, 6)
    for radius in (2.5e-3, 1e-2, float(np.hypot(x[40] - x[0], y[40] - y[0])), 1.0):
        np.testing.assert_array_equal(_core.sway_density_counts(x, y, radius),
                                      reference.sway_density_counts(x, y, radius))


def test_dfa_fluctuations_match_reference():
    x, _ = walks(5, 2000)
    prof = np.cumsum(x - x.mean())
    sizes = np.array([2, 10, 13, 64, 499, 2000], dtype=np.intp)
    np.testing.assert_allclose(_core.dfa_fluctuations(prof, sizes),
                               reference.dfa_fluctuations(prof, sizes), rtol=1e-9)
    for impl in (_core, reference):
        with pytest.raises(ValueError, match="box sizes"):
            impl.dfa_fluctuations(prof, np.array([1], dtype=np.intp))
