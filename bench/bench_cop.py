"""Forces -> COP cost per sample: compiled core vs NumPy reference vs a plain-Python loop.

``python -m bench cop``. Every implementation converts the same counts (n = 100 000 samples,
a plain-Python loop on a 10 000-sample slice), best of several repeats; the ratios are
measured in this one run, on this machine.
"""
from __future__ import annotations

import time

import numpy as np

from rig.signal import _core, reference
from rig.signal.plate import ForceModel, PlateGeometry

N = 100_000
N_PY = 10_000
REPEATS = 7


def python_loop(counts, offsets, scales, matrix, min_fz):
    """The same arithmetic, one sample at a time, in plain Python (lists, no NumPy)."""
    m = matrix.tolist()
    off = offsets.tolist()
    sc = scales.tolist()
    out = []
    for row in counts.tolist():
        f = [(row[j] - off[j]) * sc[j] for j in range(4)]
        fz = f[0] * m[0][0] + f[1] * m[0][1] + f[2] * m[0][2] + f[3] * m[0][3]
        mx = f[0] * m[1][0] + f[1] * m[1][1] + f[2] * m[1][2] + f[3] * m[1][3]
        my = f[0] * m[2][0] + f[1] * m[2][1] + f[2] * m[2][2] + f[3] * m[2][3]
        if fz > min_fz:
            out.append((f, fz, mx / fz, my / fz))
        else:
            out.append((f, fz, float("nan"), float("nan")))
    return out


def best(fn, *args, repeats=REPEATS) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    geom = PlateGeometry.rectangular(0.44, 0.34)
    model = ForceModel.nominal(geom, 50, 2.0)
    rng = np.random.default_rng(0)
    fz = rng.uniform(0, 1500, N)
    x = rng.uniform(-0.2, 0.2, N)
    y = rng.uniform(-0.15, 0.15, N)
    counts = np.round(geom.distribute(fz, x, y) / model.n_per_count).astype(np.int32)
    args = (counts, np.asarray(model.offsets_counts, float), np.asarray(model.n_per_count, float),
            np.ascontiguousarray(model.matrix, float), float(model.min_fz_n))
    # same answers before timing anything
    got, want = _core.counts_to_cop(*args), reference.counts_to_cop(*args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12, equal_nan=True)
    t_core = best(_core.counts_to_cop, *args) / N
    t_ref = best(reference.counts_to_cop, *args) / N
    py_args = (counts[:N_PY],) + args[1:]
    t_py = best(python_loop, *py_args, repeats=3) / N_PY
    print(f"counts -> forces, Fz, COP; n = {N} samples (plain Python: {N_PY}), best of {REPEATS}")
    print(f"  compiled core (rig.signal._core)      {t_core * 1e9:9.1f} ns/sample   1.0x")
    print(f"  NumPy reference (rig.signal.reference){t_ref * 1e9:9.1f} ns/sample   {t_ref / t_core:5.1f}x slower")
    print(f"  plain-Python loop              {t_py * 1e9:9.1f} ns/sample   {t_py / t_core:5.1f}x slower")
    print(f"  one 80 Hz second (80 samples), compiled: {t_core * 80 * 1e6:.1f} µs")


if __name__ == "__main__":
    main()
