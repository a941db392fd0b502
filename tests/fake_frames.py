"""A small frame source for the acquisition tests: the HX711Array interface, no protocol.

It produces Frames at 80 Hz of virtual time from a scripted person (empty plate, then a
700 N person at a known point), with injectable glitches, invalid frames and a dead chip.
"""
from __future__ import annotations

import numpy as np

from rig.hw.flags import Flag
from rig.constants import CORNERS
from rig.hw.frame import Frame
from rig.signal.plate import PlateGeometry

N_PER_COUNT = 50 * 9.80665 / (2 * 0.002 * 128 * 2**23)
GEOM = PlateGeometry.rectangular(0.44, 0.34)
ZERO = np.array([12_000, -8_000, 3_000, 20_000])  # each cell's zero-load code


class FakeReader:
    def __init__(self, *, rate=80, step_on_s=2.0, fz=700.0, x_m=0.05, y_m=-0.03, sigma=30.0, seed=0,
                 invalid_every=0, dead_chip_from_s=None, dead_chip=3, glitches=()):
        self.rate_sps = float(rate)
        self.period = int(1e9 / rate)
        self.t = 1_000_000_000
        self.t0 = self.t
        self.n = 0
        self.rng = np.random.default_rng(seed)
        self.step_on_s, self.fz, self.x, self.y, self.sigma = step_on_s, fz, x_m, y_m, sigma
        self.invalid_every = invalid_every
        self.dead_chip_from_s, self.dead_chip = dead_chip_from_s, dead_chip
        self.glitches = dict(glitches)      # frame index -> (channel, added counts)
        self.invalid_sent = 0
        self.resyncs = 0

    def truth(self, t_s):
        fz = self.fz if t_s >= self.step_on_s else 0.0
        return fz, self.x, self.y

    def read_frame(self) -> Frame:
        t = self.t
        t_s = (t - self.t0) / 1e9
        self.t += self.period
        i = self.n
        self.n += 1
        fz, x, y = self.truth(t_s)
        forces = GEOM.distribute(np.array([fz]), np.array([x]), np.array([y]))[0]
        counts = (ZERO + forces / N_PER_COUNT + self.rng.normal(0, self.sigma, 4)).round().astype(int)
        if i in self.glitches:
            ch, add = self.glitches[i]
            counts[ch] += add
        chip_ok = [True] * 4
        flags = 0
        if self.dead_chip_from_s is not None and t_s >= self.dead_chip_from_s:
            chip_ok[self.dead_chip] = False
            counts[self.dead_chip] = -1
            flags |= Flag.INVALID | Flag.FAULT
        if self.invalid_every and i % self.invalid_every == self.invalid_every - 1:
            flags |= Flag.INVALID
            counts[:] = 2**23 - 1   # garbage that must never become a force
            chip_ok[0] = False
        if flags & Flag.INVALID:
            self.invalid_sent += 1
        return Frame(t_ns=t, counts=tuple(int(c) for c in counts), flags=int(flags),
                     max_clock_high_ns=12_000, chip_ok=tuple(chip_ok))

    def resync(self):
        self.resyncs += 1

    def health(self) -> dict:
        return {"chips": [{"name": n, "ready": True, "state": "ok"} for n in CORNERS],
                "resyncs": self.resyncs, "invalid_frames": self.invalid_sent}
