"""Where counts come from: a small "measure" abstraction so the calibration flow runs the same
on the HX711 driver, the simulator, a synthetic plate or a recorded file.

A sampler has ``rate_sps`` and ``read(seconds) -> (t_s (n,), counts (n, 4))`` returning the
next valid frames covering ``seconds`` (invalid frames already skipped). The helpers here
average a window, wait for the plate to settle, and estimate creep.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np


class Sampler(Protocol):
    rate_sps: float

    def read(self, seconds: float) -> tuple[np.ndarray, np.ndarray]: ...


class NotStable(RuntimeError):
    """The plate did not settle within the time allowed (someone touching it, a mass rocking)."""


@dataclass(frozen=True)
class Measurement:
    mean_counts: np.ndarray   #: (4,)
    sd_counts: np.ndarray     #: (4,)
    n: int
    t_s: float                #: middle of the window
    slope_counts_s: np.ndarray  #: (4,) linear trend over the window (creep, drift)


def summarise(t_s, counts) -> Measurement:
    t = np.asarray(t_s, float)
    c = np.asarray(counts, float)
    if len(t) < 3:
        raise NotStable(f"only {len(t)} valid frames in the window")
    tc = t - t.mean()
    den = float(np.sum(tc ** 2)) or 1.0
    slope = (tc @ (c - c.mean(axis=0))) / den
    return Measurement(mean_counts=c.mean(axis=0), sd_counts=c.std(axis=0, ddof=1), n=len(t),
                       t_s=float(t.mean()), slope_counts_s=slope)


def measure(sampler: Sampler, seconds: float) -> Measurement:
    return summarise(*sampler.read(seconds))


def settle(sampler: Sampler, n_per_count, tol_n: float, window_s: float = 0.5,
           max_s: float = 15.0, windows: int = 3) -> float:
    """Read windows until ``windows`` consecutive ones agree: the total force of each within
    ``tol_n`` of the previous and its in-window sd below ``tol_n``. Returns the time it took.
    Raises NotStable after ``max_s``.
    """
    g = np.asarray(n_per_count, float)
    history: list[float] = []
    waited = 0.0
    while waited < max_s:
        t, c = sampler.read(window_s)
        waited += window_s
        if len(t) < 3:
            history.clear()
            continue
        total = np.asarray(c, float) @ g
        if np.std(total, ddof=1) > tol_n:
            history.clear()
            continue
        history.append(float(np.mean(total)))
        if len(history) >= windows and np.ptp(history[-windows:]) <= tol_n:
            return waited
    raise NotStable(f"plate not still after {max_s:.0f} s (force varying by more than {tol_n:.2f} N)")


class FrameSampler:
    """Adapter for anything with ``read_frame() -> Frame`` (rig.hw.hx711.HX711Array)."""

    def __init__(self, read_frame: Callable, rate_sps: float = 80.0, max_invalid: int = 1000):
        self._read_frame = read_frame
        self.rate_sps = float(rate_sps)
        self.max_invalid = max_invalid

    def read(self, seconds: float):
        n_want = max(1, int(round(seconds * self.rate_sps)))
        t, c, bad = [], [], 0
        while len(t) < n_want:
            fr = self._read_frame()
            if not fr.valid:
                bad += 1
                if bad > self.max_invalid:
                    raise RuntimeError(f"{bad} invalid frames in a row: check the wiring (rig doctor)")
                continue
            t.append(fr.t_ns / 1e9)
            c.append(fr.counts)
        return np.array(t), np.array(c, dtype=float)


class ArraySampler:
    """Replays recorded (t_s, counts) in order: calibration from a file."""

    def __init__(self, t_s, counts, rate_sps: float | None = None):
        self.t = np.asarray(t_s, float)
        self.c = np.asarray(counts, float)
        self.rate_sps = rate_sps or (len(self.t) - 1) / max(self.t[-1] - self.t[0], 1e-9)
        self.i = 0

    def read(self, seconds: float):
        n = max(1, int(round(seconds * self.rate_sps)))
        sl = slice(self.i, min(self.i + n, len(self.t)))
        self.i = sl.stop
        if sl.start >= len(self.t):
            raise EOFError("recording exhausted")
        return self.t[sl], self.c[sl]


class ChunkSampler:
    """Pulls chunks ``next_chunk() -> (t_s, counts)`` (e.g. the acquisition's batches, whose
    ``counts`` are the raw counts) until ``seconds`` are covered: how the dashboard drives the
    flow without touching the pins."""

    def __init__(self, next_chunk: Callable, rate_sps: float = 80.0):
        self._next = next_chunk
        self.rate_sps = float(rate_sps)
        self._t = np.empty(0)
        self._c = np.empty((0, 4))

    def read(self, seconds: float):
        n = max(1, int(round(seconds * self.rate_sps)))
        while len(self._t) < n:
            t, c = self._next()
            self._t = np.concatenate([self._t, np.asarray(t, float)])
            self._c = np.vstack([self._c, np.asarray(c, float).reshape(-1, 4)])
        t, c = self._t[:n], self._c[:n]
        self._t, self._c = self._t[n:], self._c[n:]
        return t, c

    def discard(self) -> None:
        """Forget what was pulled but not read yet (it predates a change on the plate)."""
        self._t = np.empty(0)
        self._c = np.empty((0, 4))


@dataclass
class Session:
    """Where a calibration's counts come from, and (for the simulator) who moves the mass."""

    sampler: Sampler
    place: Callable | None = None       #: place(mass_kg, x_m, y_m): the simulated operator
    clear: Callable | None = None       #: clear(): take everything off
    close: Callable | None = None
    description: str = ""
    sync: Callable | None = None        #: sync(): drop counts read before now (the plate just changed)
