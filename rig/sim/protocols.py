"""What a virtual person does for each test a clinician can choose: the phases of one trial,
on the timeline the run page and the analysis share, plus the cues a metronome would give.

A trial's timeline is the protocol's (rig.analysis.protocols.timing): when the clinician
presses Start (after the countdown) the patient is in the starting position, standing still on
the plate (single-leg stance, quiet stance, the landing's weighing) or on the stance leg
(step-down, squat); ``record_s`` later the recording ends. Before that the person steps onto
the empty plate (the acquisition tares on it) and takes the position: the lead-in.

Only duck-typed protocol fields are read (``kind``, ``params``, ``duration_s``, ``record_s``,
``metronome()``, ``conditions``), so the simulator does not import the analysis. Occasional faults a real patient makes (a
touch-down of the lifted foot, a hop, a missed repetition) are drawn with ``fault_rate`` so
"not scored" and "redo" appear in a demo too; ``fault`` forces one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rig.sim.phases import (LEFT, RIGHT, DoubleStance, DropLanding, LateralStepDown, LiftFoot, Off, Phase,
                            SingleLeg, SingleLegSquat, StepOff, StepOn, TouchDown)

#: The empty plate before the patient steps on, so the acquisition can tare (its tare takes 1 s).
EMPTY_S = 2.0
#: Standing still in the starting position before Start is pressed.
READY_S = 2.0
FAULTS = ("touch_down", "hop", "missed_repetition")


@dataclass
class Performance:
    """One trial as the person performs it: ``phases`` from the empty plate on; Start is
    pressed ``record_from_s`` into them and the rig records ``record_s``; ``cues_s`` (a
    step-down's metronome cues) and ``truth`` times are on the recording's clock (0 = Start)."""

    phases: list[Phase]
    record_from_s: float
    record_s: float
    cues_s: list[float] | None = None
    fault: str | None = None
    truth: dict = field(default_factory=dict)


def _other(side: str) -> str:
    return RIGHT if side == LEFT else LEFT


def _stance_side(side: str | None) -> str:
    if side not in (LEFT, RIGHT):
        raise ValueError(f"this test is done on one leg: side must be 'left' or 'right', got {side!r}")
    return side


def _vision_surface(protocol, condition: str | None) -> tuple[str, str]:
    conds = list(getattr(protocol, "conditions", ()) or ())
    if not conds:
        return "open", "firm"
    if condition is None:
        c = conds[0]
    else:
        c = next((c for c in conds if c.id == condition), None)
        if c is None:
            raise ValueError(f"protocol {protocol.id!r} has no condition {condition!r} "
                             f"(known: {', '.join(c.id for c in conds)})")
    return c.vision, c.surface


class _Timeline:
    """Phases appended in order, with the time (s, recording clock) where the next one starts."""

    def __init__(self, lead_in: list[Phase]):
        self.phases = list(lead_in)
        self.t = 0.0
        self.lead_s = sum(ph.total_s(None) for ph in lead_in)      #: where Start is, from the empty plate

    def add(self, *phases: Phase) -> float:
        for ph in phases:
            self.phases.append(ph)
            self.t += ph.total_s(None)
        return self.t

    def fill_to(self, t_end: float, make) -> None:
        if t_end - self.t > 0.02:
            self.add(make(t_end - self.t))


def perform(protocol, side: str | None = None, condition: str | None = None, *, hip_drop: float = 0.0,
            valgus: float = 0.0, seed: int = 0, fault: str | None = None, fault_rate: float = 0.0,
            cues_s: list[float] | None = None) -> Performance:
    """The phases of one ``protocol`` trial on ``side`` under ``condition`` (its id; default
    the first). ``hip_drop`` and ``valgus`` (0-1) are this side's; ``seed`` draws reaction
    times, depths and impacts and, with ``fault_rate``, whether a fault happens. ``cues_s``
    (recording clock): a step-down's metronome as the run page plays it (default: the
    protocol's plan)."""
    rng = np.random.default_rng([int(seed), 0x7E57])
    if fault is None and fault_rate > 0 and rng.uniform() < fault_rate:
        fault = str(rng.choice(FAULTS))
    if fault is not None and fault not in FAULTS:
        raise ValueError(f"fault must be one of {FAULTS}, got {fault!r}")
    builder = _BUILDERS.get(protocol.kind)
    if builder is None:
        raise ValueError(f"no virtual performance for protocol kind {protocol.kind!r} "
                         f"(known: {', '.join(_BUILDERS)})")
    record_s = float(protocol.record_s)
    if cues_s is not None and protocol.kind == "lateral_step_down":
        return _lateral_step_down(protocol, side, condition, rng, record_s, hip_drop, valgus, fault,
                                  cues=[float(c) for c in cues_s])
    return builder(protocol, side, condition, rng, record_s, hip_drop, valgus, fault)


def _standing(lead: str, vision: str = "open", surface: str = "firm") -> list[Phase]:
    return [Off(EMPTY_S), StepOn(0.5, lead=lead), DoubleStance(READY_S, eyes=vision, surface=surface)]


def _on_one_leg(s: str, hip_drop: float) -> list[Phase]:
    return [Off(EMPTY_S), StepOn(0.5, lead=s), DoubleStance(1.5), LiftFoot(_other(s)),
            SingleLeg(s, READY_S, hip_drop=hip_drop)]


def _single_leg_stance(p, side, condition, rng, record_s, hip_drop, valgus, fault):
    s = _stance_side(side)
    vision, _surface = _vision_surface(p, condition)
    lead = _standing(s, vision)
    tl = _Timeline(lead)
    settle = float(p.params.get("settle_s", 2.0))
    lift = settle + float(rng.uniform(0.3, 1.2))          # the "lift" prompt at settle_s, then the reaction
    tl.add(DoubleStance(lift, eyes=vision), LiftFoot(_other(s)))
    hold_end = tl.t + p.duration_s + 1.0
    if fault in ("touch_down", "hop"):
        tl.add(SingleLeg(s, float(rng.uniform(0.3, 0.7)) * p.duration_s, eyes=vision, hip_drop=hip_drop))
        if fault == "touch_down":
            tl.add(TouchDown(_other(s), "plate"), DoubleStance(0.8, eyes=vision), LiftFoot(_other(s)))
        else:                                             # a hop: down and straight back up
            tl.add(TouchDown(_other(s), "plate", duration=0.25), LiftFoot(_other(s), duration=0.5))
    else:
        fault = None
    tl.fill_to(max(hold_end, tl.t + 1.0), lambda d: SingleLeg(s, d, eyes=vision, hip_drop=hip_drop))
    tl.add(TouchDown(_other(s), "plate"))
    tl.fill_to(record_s + 1.0, lambda d: DoubleStance(d, eyes=vision))
    return Performance(tl.phases, tl.lead_s, record_s, None, fault,
                       {"foot_lift_s": lift + 0.65 * 0.6, "vision": vision})


def _quiet_stance(p, side, condition, rng, record_s, hip_drop, valgus, fault):
    vision, surface = _vision_surface(p, condition)
    lead = _standing(LEFT, vision, surface)
    tl = _Timeline(lead)
    if fault in ("hop", "touch_down"):                    # lost balance: a step off the plate mid-trial
        tl.add(DoubleStance(float(rng.uniform(0.4, 0.7)) * record_s, eyes=vision, surface=surface),
               StepOff(0.8, lead=RIGHT))
        tl.fill_to(record_s + 1.0, Off)
        fault = "step_off"
    else:
        tl.add(DoubleStance(record_s + 1.0, eyes=vision, surface=surface))
        fault = None
    return Performance(tl.phases, tl.lead_s, record_s, None, fault, {"vision": vision, "surface": surface})


def _lateral_step_down(p, side, condition, rng, record_s, hip_drop, valgus, fault, cues=None):
    s = _stance_side(side)
    plan = p.metronome()
    lead = _on_one_leg(s, hip_drop)
    tl = _Timeline(lead)
    if cues is None:
        cues = [plan["lead_s"] + k * plan["period_s"] for k in range(plan["repetitions"])]
    cues = [c for c in cues if c >= 0]
    skip = int(rng.integers(0, len(cues))) if fault == "missed_repetition" else None
    move_s = 3.0 * plan["beat_s"]                         # 1.5 beats down, 1.5 beats up
    for k, cue in enumerate(cues):
        if k == skip:
            continue
        tl.fill_to(cue + float(rng.uniform(0.15, 0.35)), lambda d: SingleLeg(s, d, hip_drop=hip_drop))
        tl.add(LateralStepDown(s, duration=move_s, floor_share=float(rng.uniform(0.08, 0.2)), valgus=valgus))
    tl.fill_to(record_s + 1.0, lambda d: SingleLeg(s, d, hip_drop=hip_drop))
    return Performance(tl.phases, tl.lead_s, record_s, cues, fault if skip is not None else None,
                       {"repetitions": len(cues) - (skip is not None)})


def _single_leg_squat(p, side, condition, rng, record_s, hip_drop, valgus, fault):
    s = _stance_side(side)
    beat = 60.0 / float(p.params["cadence_bpm"])
    lead = _on_one_leg(s, hip_drop)
    tl = _Timeline(lead)
    tl.add(SingleLeg(s, float(p.params.get("settle_s", 2.0)), hip_drop=hip_drop))
    depth = float(rng.uniform(0.10, 0.16))
    reps = int(p.params["repetitions"])
    for k in range(reps):
        # a still moment at the top between repetitions (rig.analysis.squat cuts the repetitions
        # there: ones closer than its merge_s, 0.6 s, are counted as one)
        tl.add(SingleLegSquat(s, duration=2 * beat, depth_m=depth, valgus=valgus),
               SingleLeg(s, float(rng.uniform(0.8, 1.2)), hip_drop=hip_drop))
        if fault == "touch_down" and k == reps // 2:
            tl.add(TouchDown(_other(s), "plate"), DoubleStance(0.6), LiftFoot(_other(s)),
                   SingleLeg(s, 0.5, hip_drop=hip_drop))
    # the free foot stays up until the recording ends: a touch-down inside it is a fault
    tl.fill_to(record_s + 1.0, lambda d: SingleLeg(s, d, hip_drop=hip_drop))
    return Performance(tl.phases, tl.lead_s, record_s, None, fault if fault == "touch_down" else None,
                       {"repetitions": reps, "depth_m": depth})


def _step_down_landing(p, side, condition, rng, record_s, hip_drop, valgus, fault):
    s = _stance_side(side)
    box_m = float(p.params["box_height_cm"]) / 100
    # impact peaks of about 2-4 body weights from 20-30 cm step-downs: the higher box, the higher
    peak_bw = float(np.clip(rng.normal(1.9 + 5.0 * box_m, 0.25), 1.6, 4.5))
    lead = _standing(s)
    tl = _Timeline(lead)
    tl.add(DoubleStance(3.0), StepOff(0.8, lead=_other(s)), Off(float(rng.uniform(1.5, 2.5))))
    landing = DropLanding(box_height_m=box_m, peak_bw=peak_bw, settle_s=0.5, side=s)
    contact = tl.t + landing.flight_s()
    tl.add(landing)
    if fault == "touch_down":
        tl.add(SingleLeg(s, 2.0, hip_drop=hip_drop), TouchDown(_other(s), "plate"), DoubleStance(1.0),
               LiftFoot(_other(s)))
    else:
        fault = None
    tl.fill_to(max(record_s + 1.0, contact + float(p.params["hold_s"]) + 1.0),
               lambda d: SingleLeg(s, d, hip_drop=hip_drop))
    return Performance(tl.phases, tl.lead_s, record_s, None, fault, {"contact_s": contact, "peak_bw": peak_bw})


_BUILDERS = {"single_leg_stance": _single_leg_stance, "quiet_stance": _quiet_stance,
             "lateral_step_down": _lateral_step_down, "single_leg_squat": _single_leg_squat,
             "step_down_landing": _step_down_landing}


def person_for(performance: Performance, *, mass_kg: float = 72.0, seed: int = 0, **kw):
    """A VirtualPerson performing ``performance`` once (no loop)."""
    from rig.sim.person import VirtualPerson
    return VirtualPerson(mass_kg=mass_kg, seed=seed, script=performance.phases, **kw)


__all__ = ["Performance", "perform", "person_for", "FAULTS", "EMPTY_S", "READY_S"]


class FollowingPerson:
    """The simulator's default load source: an ``idle`` routine (the looping demo person) until
    a test is asked for (`perform`), then that trial's performance, placed so that its Start is
    the moment it was asked for, then the idle routine again.

    Thread-safe for one writer (the acquisition's command thread) and one reader (the read
    loop): the active performance is swapped in one assignment. Other attributes (``events``,
    ``mass_kg``, …) are the idle person's."""

    def __init__(self, idle):
        self.idle = idle
        self._active: tuple | None = None        # (person, t0_s, t1_s, performance)

    def __getattr__(self, name):
        return getattr(self.idle, name)

    def perform(self, performance: Performance, person, now_s: float) -> None:
        """From ``now_s`` (stream time) on, ``person`` performs ``performance`` from its Start."""
        t0 = now_s - performance.record_from_s
        self._active = (person, t0, t0 + person.duration_s, performance)

    @property
    def performing(self) -> Performance | None:
        """The last performance asked for (it may have ended)."""
        a = self._active
        return a[3] if a is not None else None

    def truth(self, t_s):
        a = self._active
        if a is None:
            return self.idle.truth(t_s)
        person, t0, t1, _ = a
        t = np.asarray(t_s, dtype=float)
        inside = (t >= t0) & (t < t1)
        if not np.any(inside):
            return self.idle.truth(t_s)
        if np.all(inside):          # the read loop's usual case: only the performance is needed
            return person.truth(t_s - t0 if t.ndim == 0 else t - t0)
        fz, x, y = (np.array(v, dtype=float) for v in np.broadcast_arrays(*self.idle.truth(t)))
        pf, px, py = person.truth(np.where(inside, t - t0, 0.0))
        fz, x, y = np.where(inside, pf, fz), np.where(inside, px, x), np.where(inside, py, y)
        if t.ndim == 0:
            return float(fz), float(x), float(y)
        return fz, x, y

    def events_between(self, t0_s: float, t1_s: float) -> list[tuple[float, str, dict]]:
        a = self._active
        if a is None:
            return self.idle.events_between(t0_s, t1_s)
        person, p0, p1, _ = a
        out = [e for e in self.idle.events_between(t0_s, t1_s) if not p0 <= e[0] < p1]
        out += [(e[0] + p0, e[1], e[2]) for e in person.events if t0_s <= e[0] + p0 < t1_s and e[0] + p0 < p1]
        return sorted(out, key=lambda e: e[0])


__all__ += ["FollowingPerson"]


def sample_performance(performance: Performance, person, config=None, *, rate_hz: float = 80.0, seed: int = 0,
                       fz_noise_n: float = 0.02, min_fz_n: float = 20.0):
    """SAMPLE_COLUMNS rows of ``person`` doing ``performance``, from Start for ``record_s``,
    without emulating the chips: each sample is the mean of the truth over its conversion
    period, the corner forces are the (ideal) plate's, plus the converters' noise (``fz_noise_n``:
    90 nV at 80 SPS is about 0.01 N per cell). Quick enough to fill a
    demo patient's weeks of history; `rig simulate` uses the whole chain instead."""
    from rig.hw.flags import Flag
    from rig.signal.plate import cop_from_forces
    from rig.sim.plate import SimPlate
    if config is None:
        from rig.config import Config
        config = Config()
    plate = SimPlate.from_config(config)
    rng = np.random.default_rng([int(seed), 0x5A3F])
    dt = 1.0 / rate_hz
    t_rec = np.arange(rng.uniform(0, dt) + dt, performance.record_s, dt)      # end of each conversion
    fine = np.arange(0.0, 1.0, 0.1)                                         # 10 points per conversion
    tt = performance.record_from_s + t_rec[:, None] - dt * fine[None, :]
    fz, x, y = person.truth(tt.ravel())
    fz, x, y = (v.reshape(tt.shape) for v in (fz, x, y))
    f = fz.mean(axis=1)
    mx, my = (fz * x).mean(axis=1), (fz * y).mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cx, cy = np.where(f > 0, mx / f, 0.0), np.where(f > 0, my / f, 0.0)
    corners = plate.distribute(f, cx, cy) + rng.normal(0, fz_noise_n / 2, (len(f), 4))
    g = config.geometry()
    total, ml_m, ap_m = cop_from_forces(corners, g.cell_x_m, g.cell_y_m, min_fz_n=min_fz_n)
    out = np.zeros((len(t_rec), 9))
    out[:, 0] = t_rec
    out[:, 1:5] = corners
    out[:, 5] = total
    out[:, 6], out[:, 7] = ml_m * 1000, ap_m * 1000
    out[:, 8] = np.where(total < min_fz_n, int(Flag.UNLOADED), 0)
    return out


__all__ += ["sample_performance"]
