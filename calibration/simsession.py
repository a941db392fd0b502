"""The calibration session on the simulator: a realistic simulated plate read through emulated
HX711 chips by the real driver (the one assembly, `rig.sim.rig.make_sim_rig`), and a
simulated operator who puts the known mass where the flow asks.

The operator is a load source (``truth(t_s) -> (fz, x, y)``) that remembers every placement
with its (virtual) time, so the plate's creep history stays right: after each move the plate's
``load`` is set again, which makes it recompute creep from the full history.
"""
from __future__ import annotations

import numpy as np

from rig.signal.plate import G


class SimOperator:
    """Places one mass at a time; ``placement_sd_m`` adds a hand-placement error (seeded)."""

    def __init__(self, plate, clock, placement_sd_m: float = 0.0, seed: int | None = 0):
        self.plate = plate
        self.clock = clock
        self.placement_sd_m = placement_sd_m
        self.rng = np.random.default_rng(seed)
        self.times = [0.0]
        self.loads = [(0.0, 0.0, 0.0)]        # (fz_n, x_m, y_m) from each time on
        self.duration_s = float("inf")
        self.events: list = []
        plate.load = self

    def truth(self, t_s):
        t = np.asarray(t_s, dtype=float)
        i = np.searchsorted(np.array(self.times), t, side="right") - 1
        arr = np.array(self.loads)[np.clip(i, 0, None)]
        return arr[..., 0], arr[..., 1], arr[..., 2]

    def _set(self, fz, x, y) -> None:
        t = self.clock.now_ns() / 1e9
        # new lists, loads before times: an acquisition thread reading ``truth`` meanwhile
        # (the in-process acquisition service) never sees more times than loads
        self.loads = self.loads + [(fz, x, y)]
        self.times = self.times + [t]
        self.events.append((t, "load", {"fz_n": fz, "x_m": x, "y_m": y}))
        self.plate.load = self                 # recompute creep from the whole history

    def place(self, mass_kg: float, x_m: float, y_m: float) -> None:
        dx, dy = self.rng.normal(0, self.placement_sd_m, 2) if self.placement_sd_m else (0.0, 0.0)
        self._set(mass_kg * G, x_m + dx, y_m + dy)

    def clear(self) -> None:
        self._set(0.0, 0.0, 0.0)


def operated_rig(config, seed: int = 0, placement_sd_m: float = 0.0, realtime: bool = False, **plate_overrides):
    """(SimRig, SimOperator): `rig.sim.rig.make_sim_rig` on a realistic seeded SimPlate
    (``plate_overrides`` replace drawn imperfections) whose load source is the operator."""
    from rig.hw.gpio.base import VirtualClock
    from rig.sim.plate import SimPlate
    from rig.sim.rig import make_sim_rig

    clock = VirtualClock(realtime=realtime)
    plate = SimPlate.realistic(seed=seed, config=config, **plate_overrides)
    operator = SimOperator(plate, clock, placement_sd_m=placement_sd_m, seed=seed + 1000)
    return make_sim_rig(config, person=operator, plate=plate, seed=seed, clock=clock), operator


def sim_rig(config, seed: int = 0, placement_sd_m: float = 0.0, **plate_overrides):
    """(sampler, operator, plate, driver) on a realistic seeded SimPlate."""
    from calibration.sampler import FrameSampler

    rig, operator = operated_rig(config, seed=seed, placement_sd_m=placement_sd_m, **plate_overrides)
    driver = rig.driver()
    return FrameSampler(driver.read_frame, config.hx711.rate_sps), operator, rig.plate, driver


def sim_session(config, seed: int = 0, placement_sd_m: float = 0.0):
    from calibration.sampler import Session
    sampler, op, plate, driver = sim_rig(config, seed=seed, placement_sd_m=placement_sd_m)
    return Session(sampler, place=op.place, clear=op.clear, close=driver.close,
                   description=f"simulated plate (seed {seed})")
