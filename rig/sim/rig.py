"""The whole simulated rig: virtual person -> simulated plate -> four emulated HX711s -> SimBus.

``make_sim_rig`` assembles it (seeded, on a VirtualClock); ``make_sim_backend`` is what the
GPIO backend selector calls for ``sim`` (it returns the SimBus, with the rig attached as
``bus.sim_rig`` so that tools can reach the ground truth). Everything downstream (the HX711
driver, acquisition, calibration) sees an ordinary GPIOBackend.

Example::

    from rig.sim.rig import make_sim_rig
    from rig.hw.hx711 import HX711Array
    rig = make_sim_rig(seed=3)
    hx = HX711Array(rig.bus)
    frame = hx.read_frame()
    fz, x, y = rig.truth_at(frame.t_ns)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from rig.constants import CORNERS
from rig.hw.gpio.base import VirtualClock
from rig.sim.person import VirtualPerson, demo_script
from rig.sim.plate import SimPlate

MAX_SKEW_PPM = 300.0
"""Default per-chip oscillator skew is drawn uniformly in ±this (HX711 internal oscillator)."""


@dataclass
class SimRig:
    """The assembled simulator. ``person`` is the load source on ``plate`` (any object with
    ``truth(t_s)`` works); ``chips`` are in CORNERS order on ``bus``; ``clock`` is shared."""

    config: object
    person: object
    plate: SimPlate
    chips: list
    bus: object
    clock: VirtualClock
    skew_ppm: tuple[float, ...] = field(default=())

    def truth_at(self, t_ns):
        """(fz_n, x_m, y_m) of the person at clock time(s) ``t_ns`` (no platform dead weight)."""
        return self.person.truth(np.asarray(t_ns, dtype=float) / 1e9)

    def true_corner_forces_at(self, t_ns) -> np.ndarray:
        """(…, 4) true mechanical forces on the cells (person + dead weight), N."""
        return self.plate.true_corner_forces(np.asarray(t_ns, dtype=float) / 1e9)

    def events_between(self, t0_ns: int, t1_ns: int) -> list[tuple[float, str, dict]]:
        """Ground-truth events (t in s) in [t0, t1)."""
        src = self.person
        if hasattr(src, "events_between"):
            return src.events_between(t0_ns / 1e9, t1_ns / 1e9)
        return [e for e in getattr(src, "events", []) if t0_ns / 1e9 <= e[0] < t1_ns / 1e9]

    def driver(self, **kw):
        """An HX711Array on this rig's bus, set up from the config."""
        from rig.hw.hx711 import HX711Array
        hx = self.config.hx711
        kw.setdefault("rate_sps", hx.rate_sps)
        kw.setdefault("gain", hx.gain)
        kw.setdefault("max_clock_high_us", hx.max_clock_high_us)
        return HX711Array(self.bus, **kw)

    def nominal_model(self):
        """The datasheet ForceModel for this rig's config (tare it before use)."""
        from rig.signal.plate import nominal_force_model
        return nominal_force_model(self.config)


def demo_person(seed: int = 0, mass_kg: float = 72.0) -> VirtualPerson:
    """The default person: the demo script (off, step on, stance, single-leg L with some hip
    drop, stance, single-leg R, step off), looping forever."""
    return VirtualPerson(mass_kg=mass_kg, seed=seed, script=demo_script(hip_drop_left=0.5), loop=True)


def make_sim_rig(config=None, *, person=None, plate: SimPlate | str | None = None, seed: int = 0,
                 realtime: bool = False, skew_ppm: Sequence[float] | None = None,
                 noise_nv_rms: float | None = None, clock: VirtualClock | None = None,
                 op_cost_ns: int = 1000) -> SimRig:
    """Assemble a simulated rig.

    ``person``: a load source (default: `demo_person(seed)` inside a FollowingPerson, which
    performs a test when asked); ``plate``: a SimPlate,
    ``"ideal"`` (default) or ``"realistic"`` (drawn with ``seed``); ``skew_ppm``: per-chip
    oscillator skew (default: seeded, uniform in ±300 ppm); ``noise_nv_rms``: chip input noise
    (None: datasheet, 90 nV at 80 SPS; 0: noiseless). Chip conversion phases are seeded.
    """
    from rig.sim.gpio import SimBus
    from rig.sim.chip import EmulatedHX711

    if config is None:
        from rig.config import Config
        config = Config()
    rng = np.random.default_rng([int(seed), 0x5E1F])
    if person is None:        # the demo routine, until someone asks for a test (rig.sim.protocols)
        from rig.sim.protocols import FollowingPerson
        person = FollowingPerson(demo_person(seed))
    if plate is None or plate == "ideal":
        plate = SimPlate.from_config(config)
    elif plate == "realistic":
        plate = SimPlate.realistic(seed=seed, config=config)
    elif not isinstance(plate, SimPlate):
        raise ValueError(f"plate must be a SimPlate, 'ideal' or 'realistic', got {plate!r}")
    plate.load = person
    n = len(config.gpio.data_pins)
    if skew_ppm is None:
        skew = tuple(float(s) for s in rng.uniform(-MAX_SKEW_PPM, MAX_SKEW_PPM, n))
    else:
        skew = tuple(float(s) for s in skew_ppm)
        if len(skew) != n:
            raise ValueError(f"skew_ppm: need {n} values, got {len(skew)}")
    rate = config.hx711.rate_sps
    period_ns = 1_000_000_000 // rate
    phases = rng.integers(0, period_ns, n)
    chip_seeds = rng.integers(0, 2 ** 31, n)
    clock = clock if clock is not None else VirtualClock(realtime=realtime)
    chips = [EmulatedHX711(plate.analog(i), avdd_v=plate.avdd_v, rate_sps=rate, skew_ppm=skew[i],
                           noise_nv_rms=noise_nv_rms, phase_ns=int(clock.now_ns() + phases[i]),
                           seed=int(chip_seeds[i]), name=CORNERS[i] if i < 4 else f"chip{i}")
             for i in range(n)]
    bus = SimBus(chips, clock, clock_pin=config.gpio.clock_pin, data_pins=config.gpio.data_pins,
                 op_cost_ns=op_cost_ns)
    rig = SimRig(config=config, person=person, plate=plate, chips=chips, bus=bus, clock=clock, skew_ppm=skew)
    bus.sim_rig = rig
    return rig


def make_sim_backend(config=None, **kw):
    """The SimBus of a fresh `make_sim_rig(config, **kw)` (the ``sim`` GPIO backend)."""
    return make_sim_rig(config, **kw).bus


__all__ = ["SimRig", "make_sim_rig", "make_sim_backend", "demo_person", "MAX_SKEW_PPM"]
