"""HX711 driver on the simulated bus: CPU per frame, split between driver and emulator.

The emulator's share is measured by recording every bus operation of a run (edge or sample,
with its virtual time) and replaying the same sequence on fresh chips without the driver;
the driver's share is the rest. Also prints simulated seconds per CPU second.
"""
from __future__ import annotations

import time

from rig.hw.gpio.base import VirtualClock
from rig.sim.gpio import SimBus
from rig.hw.hx711 import HX711Array
from rig.sim.chip import EmulatedHX711, volts_for_code

FRAMES = 3000


def _chips():
    return [EmulatedHX711(lambda t, v=volts_for_code(c): v, skew_ppm=s, phase_ns=p, seed=i)
            for i, (c, s, p) in enumerate(zip((-3_000_000, -1, 0, 2_500_000), (200, -200, 120, -80),
                                              (0, 3_100_000, 7_300_000, 11_900_000)))]


class _RecordingBus(SimBus):
    def __init__(self, chips, clock):
        super().__init__(chips, clock)
        self.ops: list[tuple[int, int]] = []     # (time, level 0/1 for an edge, 2 for a sample)

    def set_clock(self, high):
        super().set_clock(high)
        self.ops.append((self.clock.now_ns(), 1 if high else 0))

    def read_data(self):
        r = super().read_data()
        self.ops.append((self.clock.now_ns(), 2))
        return r


def main() -> None:
    clock = VirtualClock()
    bus = SimBus(_chips(), clock)
    drv = HX711Array(bus)
    drv.read_frame()
    c0, t0 = time.process_time(), clock.now_ns()
    for _ in range(FRAMES):
        drv.read_frame()
    cpu = time.process_time() - c0
    sim_s = (clock.now_ns() - t0) / 1e9
    h = drv.health()

    rclock = VirtualClock()
    rbus = _RecordingBus(_chips(), rclock)
    rdrv = HX711Array(rbus)
    for _ in range(FRAMES + 1):
        rdrv.read_frame()
    chips = _chips()
    last = 0
    c0 = time.process_time()
    for t, op in rbus.ops:
        if op == 2:
            for c in chips:
                c.dout(t)
        elif op != last:
            last = op
            for c in chips:
                c.clock_edge(t, bool(op))
    emu = time.process_time() - c0
    per = cpu / FRAMES * 1e6
    print(f"frames: {FRAMES} (4 chips, ±200 ppm skew, datasheet noise), invalid {h['invalid_frames']}, "
          f"gaps {h['gap_frames']}, achieved {h['achieved_sps']} SPS")
    print(f"CPU per frame (driver + simulated bus + 4 emulated chips): {per:.0f} µs")
    print(f"  emulated chips alone (replayed {len(rbus.ops)} bus ops): {emu / FRAMES * 1e6:.0f} µs "
          f"({100 * emu / cpu:.0f} %)")
    print(f"  driver + bus: {(cpu - emu) / FRAMES * 1e6:.0f} µs ({100 * (cpu - emu) / cpu:.0f} %)")
    print(f"bus ops per frame: {len(rbus.ops) / (FRAMES + 1):.0f}")
    print(f"simulated seconds per CPU second: {sim_s / cpu:.1f} (real time at 80 SPS = 1.0)")
