"""The compiled core against its NumPy reference, and proof the compiled one is loaded."""
import importlib.machinery

import numpy as np
import pytest

from rig.signal import _core, core, reference
from rig.signal.plate import ForceModel, PlateGeometry


def test_installed_package_uses_compiled_extension():
    assert core.COMPILED, core.IMPORT_ERROR
    assert core.implementation() == "compiled"
    assert core._impl is _core
    # the module really is a compiled extension, not a .py shim
    assert any(_core.__file__.endswith(s) for s in importlib.machinery.EXTENSION_SUFFIXES), _core.__file__


@pytest.mark.parametrize("seed", range(5))
def test_counts_to_cop_matches_reference(seed):
    rng = np.random.default_rng(seed)
    n = 1000
    counts = rng.integers(-2**23, 2**23, size=(n, 4), dtype=np.int32)
    counts[:10] = 0  # some unloaded rows
    offsets = rng.normal(0, 1000, 4)
    scales = rng.uniform(1e-5, 1e-3, 4)
    matrix = np.vstack([np.ones(4), rng.normal(0, 0.2, 4), rng.normal(0, 0.2, 4)])
    min_fz = 5.0
    got = _core.counts_to_cop(counts, offsets, scales, matrix, min_fz)
    want = reference.counts_to_cop(counts, offsets, scales, matrix, min_fz)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12, equal_nan=True)
    # NaN exactly where Fz is at or below the threshold
    assert np.array_equal(np.isnan(got[2]), want[1] <= min_fz)


@pytest.mark.parametrize("impl", [_core, reference], ids=["compiled", "reference"])
def test_counts_to_cop_rejects_bad_shapes(impl):
    ok = dict(offsets=np.zeros(4), scales=np.ones(4), matrix=np.ones((3, 4)), min_fz=1.0)
    with pytest.raises(ValueError, match="4 columns"):
        impl.counts_to_cop(np.zeros((3, 3), np.int32), **ok)
    with pytest.raises(ValueError, match="3x4"):
        impl.counts_to_cop(np.zeros((3, 4), np.int32), ok["offsets"], ok["scales"], np.ones((2, 4)), 1.0)


def test_force_model_recovers_point_load_position():
    geom = PlateGeometry.rectangular(0.44, 0.34)
    model = ForceModel.nominal(geom, capacity_kg=50, sensitivity_mv_v=2.0)
    x = np.array([0.0, 0.1, -0.05, 0.2])
    y = np.array([0.0, -0.1, 0.15, 0.16])
    fz = np.array([700.0, 300.0, 50.0, 1000.0])
    corner = geom.distribute(fz, x, y)
    counts = np.round(corner / model.n_per_count).astype(np.int32)
    forces, fz_out, cx, cy = model.convert(counts)
    np.testing.assert_allclose(fz_out, fz, atol=0.01)
    np.testing.assert_allclose(cx, x, atol=1e-5)
    np.testing.assert_allclose(cy, y, atol=1e-5)
    # the ideal distribution has no twist
    np.testing.assert_allclose(corner[:, 0] + corner[:, 3], corner[:, 1] + corner[:, 2], atol=1e-9)
