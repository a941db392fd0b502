"""Zero tracking: re-tare only when the plate is unloaded and still, log the drift, warn.

Load-cell zeros wander with temperature (and after a long load, creep back slowly). The
:class:`ZeroTracker` watches the stream of corner counts between trials. When the plate has
read below ``unloaded_n`` with every cell still (sd below ``stable_sd_n``) for ``stable_s``
seconds, it takes the window's mean as the new zero, updates the ForceModel's offsets in place
and logs a :class:`DriftEvent` (time, per-cell change in N, total drift since calibration).

Warnings (``tracker.warnings``, also returned by ``update``):

* cumulative drift of any cell since the calibration above ``drift_warn_n`` (default 5 N):
  the zero has moved more than a calibration's tare should allow; recalibrate;
* creep: the first re-tare after a load changes the total zero by more than
  ``creep_warn_pct`` (default 0.2 %) of that load: a cell is creeping (overloaded, damaged).
  The zero's drift rate measured between the last two re-tares before the load (at most
  ``RATE_MAX_GAP_S`` apart) is extrapolated over the time since and taken off first, so a
  plate warming up under a long stance is not taken for a creeping cell;

A zero that has drifted beyond ``unloaded_n`` is never re-tared (it cannot be told apart from
a light object left on the plate); the drift warning fires long before that.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from rig.constants import CORNERS

log = logging.getLogger(__name__)

UNLOADED_N = 15.0         #: |Fz| below this is "nobody on the plate"
STABLE_S = 2.0            #: how long it must stay unloaded and still before a re-tare
STABLE_SD_N = 0.3         #: per-cell sd (N) allowed in that window
MIN_INTERVAL_S = 30.0     #: at most one re-tare per this many seconds
DRIFT_WARN_N = 5.0        #: cumulative drift limit per cell since calibration
CREEP_WARN_PCT = 0.2      #: zero change after unloading, as % of the load that was on
LOADED_MIN_S = 2.0        #: a load must have been on this long to count for the creep check
RATE_MAX_GAP_S = 300.0    #: a drift rate is only learned from re-tares at most this far apart


@dataclass(frozen=True)
class DriftEvent:
    t_s: float
    drift_n: tuple[float, ...]        #: change of each cell's zero at this re-tare, N
    total_n: tuple[float, ...]        #: each cell's drift since the calibration's zero, N
    after_load_n: float | None = None #: the load that was on just before (creep check)

    def as_dict(self) -> dict:
        return {"t_s": self.t_s, **{f"drift_{c}_n": d for c, d in zip(CORNERS, self.drift_n)},
                **{f"total_{c}_n": d for c, d in zip(CORNERS, self.total_n)}, "after_load_n": self.after_load_n}


@dataclass
class ZeroTracker:
    model: object                     #: rig.signal.plate.ForceModel (offsets updated in place)
    rate_sps: float = 80.0
    unloaded_n: float = UNLOADED_N
    stable_s: float = STABLE_S
    stable_sd_n: float = STABLE_SD_N
    min_interval_s: float = MIN_INTERVAL_S
    drift_warn_n: float = DRIFT_WARN_N
    creep_warn_pct: float = CREEP_WARN_PCT
    events: list[DriftEvent] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.reference = np.array(self.model.offsets_counts, float)   # the calibration's zero
        self._n_window = max(3, int(round(self.stable_s * self.rate_sps)))
        self._buf: deque = deque(maxlen=self._n_window)
        self._last_retare = -np.inf
        self._load_max = 0.0
        self._load_start: float | None = None
        self._pending_load: float | None = None
        self._rate: np.ndarray | None = None      # per-cell zero drift, N/s, between unloaded re-tares
        self._warned: set[str] = set()

    @property
    def total_drift_n(self) -> np.ndarray:
        return (np.asarray(self.model.offsets_counts, float) - self.reference) * np.asarray(self.model.n_per_count)

    def _warn(self, key: str, msg: str, new: list[str]) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.warnings.append(msg)
            new.append(msg)
            log.warning(msg)

    def update(self, t_s, counts) -> list[str]:
        """Feed frames (t_s (n,), counts (n, 4)); returns warnings raised by this batch."""
        t = np.atleast_1d(np.asarray(t_s, float))
        c = np.atleast_2d(np.asarray(counts, float))
        g = np.asarray(self.model.n_per_count, float)
        w0 = np.asarray(self.model.matrix, float)[0]
        new: list[str] = []
        for ti, ci in zip(t, c):
            fz = float(w0 @ ((ci - self.model.offsets_counts) * g))
            if abs(fz) > self.unloaded_n:
                self._buf.clear()
                if self._load_start is None:
                    self._load_start = ti
                self._load_max = max(self._load_max, fz)
                continue
            if self._load_start is not None:             # a load just came off
                if ti - self._load_start >= LOADED_MIN_S and self._load_max > 0:
                    self._pending_load = self._load_max
                self._load_start, self._load_max = None, 0.0
            self._buf.append(ci)
            if len(self._buf) < self._n_window or ti - self._last_retare < self.min_interval_s:
                continue
            win = np.array(self._buf)
            if np.any(win.std(axis=0, ddof=1) * np.abs(g) > self.stable_sd_n):
                continue
            self._retare(ti, win.mean(axis=0), g, new)
        return new

    def retare(self, t_s: float, zero) -> list[str]:
        """The owner tared (its start-up tare, a requested tare): set the zero to ``zero``
        counts, logged and checked like an automatic re-tare. Returns new warnings."""
        new: list[str] = []
        self._load_start, self._load_max = None, 0.0
        self._retare(float(t_s), np.asarray(zero, float), np.asarray(self.model.n_per_count, float), new)
        return new

    def rebase(self, t_s: float) -> None:
        """There is no calibration zero to compare with (a datasheet model): measure drift from
        the model's current offsets on, which the owner has just measured at ``t_s``."""
        self.reference = np.array(self.model.offsets_counts, float)
        self._last_retare = float(t_s)
        self._buf.clear()

    def summary(self, last: int = 5) -> dict:
        """JSON-ready state for a health report: re-tares, the last few drift events (stream
        time, per-cell change and total since calibration, N), total drift, warnings, limits."""
        return {"retares": len(self.events),
                "total_drift_n": [round(float(v), 3) for v in self.total_drift_n],
                "events": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in e.as_dict().items()}
                           for e in self.events[-last:]],
                "warnings": list(self.warnings),
                "limits": {"drift_n": self.drift_warn_n, "creep_pct": self.creep_warn_pct,
                           "unloaded_n": self.unloaded_n, "stable_sd_n": self.stable_sd_n}}

    def _retare(self, t: float, zero, g, new: list[str]) -> None:
        drift = (zero - np.asarray(self.model.offsets_counts, float)) * g
        self.model.offsets_counts = np.asarray(zero, float)
        gap, self._last_retare = t - self._last_retare, t
        self._buf.clear()
        load, self._pending_load = self._pending_load, None
        expected = self._rate * gap if (load is not None and self._rate is not None) else 0.0
        if load is None:
            self._rate = drift / gap if 0 < gap <= RATE_MAX_GAP_S else None
        ev = DriftEvent(float(t), tuple(map(float, drift)), tuple(map(float, self.total_drift_n)), load)
        self.events.append(ev)
        log.info("re-tare at %.1f s: drift %s N", t, np.round(drift, 3))
        total = np.abs(self.total_drift_n)
        if np.max(total) > self.drift_warn_n:
            i = int(np.argmax(total))
            self._warn("drift", f"zero of cell {CORNERS[i]} has drifted {self.total_drift_n[i]:+.1f} N since "
                       f"calibration (limit {self.drift_warn_n} N): recalibrate (`rig calibrate`)", new)
        if load is not None:
            pct = abs(float(np.sum(drift - expected))) / load * 100
            if pct > self.creep_warn_pct:
                self._warn("creep", f"zero moved {pct:.2f} % of the {load:.0f} N load after it came off "
                           f"(limit {self.creep_warn_pct} %): a cell is creeping; run `rig check`", new)
