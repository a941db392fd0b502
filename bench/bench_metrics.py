"""Sway-metric suite: compiled core vs NumPy reference, and sample entropy vs antropy / nolds.

A 60 s, 100 Hz, two-axis trial (Santos & Duarte BDS00001 when ../shared/validation is
present, else a synthetic random walk). Ratios are measured in this one run.
"""
from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import numpy as np

from rig.signal import core, reference

from rig.analysis import metrics

VALIDATION = Path(__file__).resolve().parent.parent.parent / "shared" / "validation"


def _trial():
    p = VALIDATION / "santos_duarte_2016_bds" / "BDS00001.txt"
    if p.exists():
        d = np.loadtxt(p, skiprows=1)
        return "BDS00001 (real, 6000 samples)", d[:, 8] / 100, d[:, 7] / 100
    rng = np.random.default_rng(0)
    return "synthetic random walk (6000 samples)", *(np.cumsum(rng.normal(0, 1e-4, (2, 6000)), axis=1))


def _best(fn, repeat=7, number=1):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t) / number)
    return min(times)


def _nolds_sampen():
    try:
        import nolds
        return nolds.sampen
    except ImportError:
        return None
    except TypeError:  # nolds 0.6.3 on Python 3.11: load measures.py alone
        spec = importlib.util.find_spec("nolds")
        path = os.path.join(list(spec.submodule_search_locations)[0], "measures.py")
        s = importlib.util.spec_from_file_location("_nolds_measures", path)
        mod = importlib.util.module_from_spec(s)
        s.loader.exec_module(mod)
        return mod.sampen


def main() -> None:
    name, x, y = _trial()
    print(f"trial: {name}; compiled core loaded: {core.COMPILED}; "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs")
    t_c = _best(lambda: metrics.compute_all(100.0, x, y), repeat=15)
    threads = metrics.THREADS
    metrics.THREADS = 2
    try:
        t_c2 = _best(lambda: metrics.compute_all(100.0, x, y), repeat=15)
    finally:
        metrics.THREADS = threads
    impl = core._impl
    core._impl = reference
    try:
        t_r = _best(lambda: metrics.compute_all(100.0, x, y), repeat=2)
    finally:
        core._impl = impl
    print(f"compute_all (whole suite)   compiled {t_c * 1e3:8.2f} ms   reference {t_r * 1e3:9.1f} ms   "
          f"ratio {t_r / t_c:6.1f}x")
    print(f"  with the two axes' DFA + entropy in 2 threads (metrics.THREADS = 2): {t_c2 * 1e3:.2f} ms")
    parts = {
        "positional+dynamic (fused)": lambda: metrics.dynamic(x, y, 100.0),
        "sway density": lambda: metrics.sway_density(x, y, 100.0),
        "spectral (2 axes)": lambda: [metrics.spectral(v, 100.0) for v in (x, y)],
        "diffusion (SDA)": lambda: metrics.diffusion(x, y, 100.0),
        "DFA (2 axes)": lambda: [metrics.dfa(v) for v in (x, y)],
        "sample entropy (2 axes)": lambda: [metrics.sample_entropy(v) for v in (x, y)],
        "multiscale entropy 1-10 (2 axes)": lambda: [metrics.multiscale_entropy(v) for v in (x, y)],
    }
    for label, fn in parts.items():
        print(f"  {label:34s} {_best(fn) * 1e3:8.2f} ms")
    r = 0.2 * float(x.std())
    ours = metrics.sample_entropy(x, 2, r)
    t_s = _best(lambda: metrics.sample_entropy(x, 2, r), repeat=15)
    line = f"sample entropy N={x.size}: ours {t_s * 1e3:.2f} ms (SampEn {ours:.6f})"
    try:
        import antropy
        va = antropy.sample_entropy(x, order=2)
        t_a = _best(lambda: antropy.sample_entropy(x, order=2), repeat=7)
        line += f"; antropy {t_a * 1e3:.1f} ms ({va:.6f}) ratio {t_a / t_s:.1f}x"
    except ImportError:
        line += "; antropy not installed"
    sampen = _nolds_sampen()
    if sampen is not None:
        vn = sampen(x, emb_dim=2, tolerance=r)
        t_n = _best(lambda: sampen(x, emb_dim=2, tolerance=r), repeat=1)
        line += f"; nolds {t_n * 1e3:.0f} ms ({vn:.6f}) ratio {t_n / t_s:.0f}x"
    print(line)
    t_ref = _best(lambda: reference.sample_entropy_counts(x, 2, r), repeat=1)
    print(f"  sample entropy NumPy reference (brute force) {t_ref * 1e3:.0f} ms, ratio {t_ref / t_s:.0f}x")


if __name__ == "__main__":
    main()
