"""Causal spike filter: replaces single-sample glitches on one channel, nothing else.

An HX711 that misses a clock edge, or a bit flipped on a long cable, produces one wild code
on one chip while the other three read normally. Real loading never looks like that: a rigid
plate on four cells spreads every force change over at least two cells (a load on an edge
between two cells), usually all four, and a real change persists or rises and falls over
several samples. The filter therefore replaces a sample on a channel only when

1. it sticks out from *both* neighbours: ``|x[n-1] - median(x[n-2], x[n-1], x[n])|`` is above
   the channel's threshold (median of three with one sample of delay, so the output is
   causal and always one frame late);
2. the threshold is the larger of a floor (``k_noise`` times the noise measured at tare) and
   ``k_local`` times the channel's recent typical step ``median(|Δx|)`` over the last
   ``window`` output samples: fast sway moves every sample a lot, so its turning points never
   stick out relative to its own steps;
3. no other channel moves in that same sample by more than its own noise floor (a landing
   impact raises all four channels together, even for a single 12.5 ms sample at 80 Hz:
   that peak is real and must survive);
4. the sample is not SATURATED (an overloaded cell is a real, flagged event).

A step change is never touched: median(a, b, b) == b. A replaced value is the median of the
three (the nearer neighbour) and the sample gains Flag.SPIKE.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from rig.hw.flags import Flag

DEFAULT_FLOOR_COUNTS = 2000.0
"""Threshold floor before a tare has measured the noise (~0.2 N with a 50 kg cell at gain 128)."""


class SpikeFilter:
    """Per-channel causal median-of-3 spike filter with one sample of delay.

    ``push(t_ns, counts, flags)`` takes one frame and returns the previous one (filtered) or
    ``None`` for the very first frame; ``flush()`` returns the last held frame unchanged.
    """

    def __init__(self, n_channels: int = 4, *, k_noise: float = 10.0, k_local: float = 6.0,
                 window: int = 16, min_floor_counts: float = 200.0,
                 floor_counts: float | None = None):
        self.n = int(n_channels)
        self.k_noise = float(k_noise)
        self.k_local = float(k_local)
        self.min_floor_counts = float(min_floor_counts)
        self.floor = np.full(self.n, DEFAULT_FLOOR_COUNTS if floor_counts is None else float(floor_counts))
        self._steps = [deque(maxlen=int(window)) for _ in range(self.n)]
        self._prev: np.ndarray | None = None       # x[n-2] (already output)
        self._held: tuple | None = None            # (t_ns, counts, flags) of x[n-1]
        self.replacements = 0
        self.replacements_per_channel = [0] * self.n

    def set_noise(self, sigma_counts) -> None:
        """Set the threshold floor from the per-channel noise (std, counts) measured at tare."""
        sigma = np.asarray(sigma_counts, dtype=float)
        if sigma.shape != (self.n,):
            raise ValueError(f"need {self.n} noise values, got shape {sigma.shape}")
        self.floor = np.maximum(self.k_noise * sigma, self.min_floor_counts)

    def reset(self) -> None:
        """Forget the signal history (after a resync the next frame starts a new run)."""
        self._prev = None
        self._held = None
        for s in self._steps:
            s.clear()

    def _threshold(self, ch: int) -> float:
        steps = self._steps[ch]
        local = self.k_local * float(np.median(steps)) if len(steps) >= 4 else 0.0
        return max(float(self.floor[ch]), local)

    def push(self, t_ns: int, counts, flags: int = 0):
        """Feed frame n; returns frame n-1 as (t_ns, counts ndarray, flags) or None."""
        x = np.asarray(counts, dtype=np.int64)
        held = self._held
        self._held = (t_ns, x.copy(), int(flags))
        if held is None:
            return None
        t_mid, mid, f_mid = held
        prev = self._prev
        out = mid
        if prev is not None and not (f_mid & Flag.SATURATED):
            med = np.median(np.stack([prev, mid, x]), axis=0)
            stick = np.abs(mid - med)
            suspects = [c for c in range(self.n) if stick[c] > self._threshold(c)]
            moving = [c for c in range(self.n) if stick[c] > self.floor[c]]
            if len(suspects) == 1 and len(moving) == 1:
                c = suspects[0]
                out = mid.copy()
                out[c] = int(med[c])
                f_mid |= int(Flag.SPIKE)
                self.replacements += 1
                self.replacements_per_channel[c] += 1
        if prev is not None:
            for c in range(self.n):
                self._steps[c].append(abs(int(out[c]) - int(prev[c])))
        self._prev = out
        return t_mid, out, f_mid

    def flush(self):
        """The held last frame, unfiltered (it has no right-hand neighbour), or None."""
        held, self._held = self._held, None
        return held
