"""Spike filter: single-channel glitches are replaced and flagged; real movement never is."""
import numpy as np
import pytest

from rig.hw.flags import Flag
from rig.signal.plate import PlateGeometry
from rig.signal.spike import SpikeFilter

FS = 80.0
N_PER_COUNT = 50 * 9.80665 / (2 * 0.002 * 128 * 2**23)
GEOM = PlateGeometry.rectangular(0.44, 0.34)


def run(filt, counts, flags=None):
    """Push every row, flush, return (counts out, flags out) aligned with the input."""
    counts = np.asarray(counts, dtype=np.int64)
    flags = np.zeros(len(counts), dtype=np.int64) if flags is None else flags
    out_c, out_f = [], []
    for i, row in enumerate(counts):
        got = filt.push(i, row, int(flags[i]))
        if got is not None:
            assert got[0] == i - 1  # exactly one sample of delay
            out_c.append(got[1])
            out_f.append(got[2])
    last = filt.flush()
    out_c.append(last[1])
    out_f.append(last[2])
    return np.array(out_c), np.array(out_f)


def noisy(n, level, sigma=40.0, seed=0):
    rng = np.random.default_rng(seed)
    return (np.asarray(level, dtype=float) + rng.normal(0, sigma, (n, 4))).round().astype(np.int64)


def person_counts(fz, x, y, sigma=40.0, seed=0):
    forces = GEOM.distribute(np.asarray(fz), np.asarray(x), np.asarray(y))
    rng = np.random.default_rng(seed)
    return (forces / N_PER_COUNT + rng.normal(0, sigma, forces.shape)).round().astype(np.int64)


def tared_filter(sigma=40.0):
    f = SpikeFilter()
    f.set_noise([sigma] * 4)
    return f


def test_single_channel_glitch_is_replaced_and_flagged():
    x = noisy(200, [100_000, 120_000, 90_000, 110_000])
    glitched = x.copy()
    glitched[50, 2] += 2**20          # a high bit flipped on back-left
    glitched[120, 0] = -(2**23)       # a chip answered with garbage
    out, flags = run(tared_filter(), glitched)
    assert flags[50] & Flag.SPIKE and flags[120] & Flag.SPIKE
    assert abs(out[50, 2] - 90_000) < 400 and abs(out[120, 0] - 100_000) < 400
    # the other channels of those samples, and every other sample, are untouched
    untouched = np.ones(len(x), bool)
    untouched[[50, 120]] = False
    assert np.array_equal(out[untouched], x[untouched])
    assert np.array_equal(out[50, [0, 1, 3]], x[50, [0, 1, 3]])
    assert int(np.count_nonzero(flags & Flag.SPIKE)) == 2


def test_step_change_is_kept_exactly():
    # stepping onto the plate within one sample: every value passes through unchanged
    fz = np.where(np.arange(160) < 80, 0.0, 700.0)
    c = person_counts(fz, np.zeros(160), np.zeros(160))
    out, flags = run(tared_filter(), c)
    assert np.array_equal(out, c)
    assert not np.any(flags & Flag.SPIKE)


def test_step_on_a_single_channel_is_kept():
    # a load put right on top of one cell's edge is a step in one or two channels: still real
    x = noisy(160, [0, 0, 0, 0])
    x[80:, 1] += 200_000
    out, flags = run(tared_filter(), x)
    assert np.array_equal(out, x)
    assert not np.any(flags & Flag.SPIKE)


@pytest.mark.parametrize("corner_x, corner_y", [(0.0, 0.0), (0.2, 0.15), (-0.21, -0.16)])
def test_landing_impact_single_sample_peak_survives(corner_x, corner_y):
    # quiet standing, then one 12.5 ms impact peak of 3x body weight, anywhere on the plate
    n = 120
    fz = np.full(n, 700.0)
    fz[60] = 2100.0
    c = person_counts(fz, np.full(n, corner_x), np.full(n, corner_y))
    out, flags = run(tared_filter(), c)
    assert np.array_equal(out, c)
    assert not np.any(flags & Flag.SPIKE)


@pytest.mark.parametrize("freq_hz, amp_m", [(1.0, 0.08), (4.0, 0.05), (8.0, 0.03)])
def test_fast_sway_is_never_altered(freq_hz, amp_m):
    t = np.arange(400) / FS
    x = amp_m * np.sin(2 * np.pi * freq_hz * t)
    y = 0.5 * amp_m * np.cos(2 * np.pi * freq_hz * t * 1.3)
    c = person_counts(np.full_like(t, 700.0), x, y)
    out, flags = run(tared_filter(), c)
    assert np.array_equal(out, c)
    assert not np.any(flags & Flag.SPIKE)


def test_glitch_during_sway_is_still_caught():
    t = np.arange(400) / FS
    c = person_counts(np.full_like(t, 700.0), 0.03 * np.sin(2 * np.pi * 0.5 * t), np.zeros_like(t))
    g = c.copy()
    g[200, 3] += 2**21
    out, flags = run(tared_filter(), g)
    assert flags[200] & Flag.SPIKE
    assert abs(out[200, 3] - c[200, 3]) < 2000
    assert np.count_nonzero(flags & Flag.SPIKE) == 1


def test_saturated_samples_are_left_alone():
    x = noisy(50, [0, 0, 0, 0])
    x[20, 0] = 2**23 - 1
    fl = np.zeros(50, np.int64)
    fl[20] = Flag.SATURATED
    out, flags = run(tared_filter(), x, fl)
    assert out[20, 0] == 2**23 - 1 and not flags[20] & Flag.SPIKE


def test_noise_floor_from_tare_sets_threshold():
    # a 1500-count bump on one channel: above 10 sigma for a quiet chip (sigma=40) but
    # within the noise of a noisy one (sigma=400)
    quiet = noisy(100, [0, 0, 0, 0], sigma=40, seed=3)
    quiet[50, 1] += 1500
    _, flags = run(tared_filter(40), quiet)
    assert flags[50] & Flag.SPIKE
    loud = noisy(100, [0, 0, 0, 0], sigma=40, seed=3)
    loud[50, 1] += 1500
    f = SpikeFilter()
    f.set_noise([400] * 4)
    _, flags = run(f, loud)
    assert not np.any(flags & Flag.SPIKE)
    with pytest.raises(ValueError):
        f.set_noise([1, 2, 3])
