"""The phases a virtual person performs (`Off`, `StepOn`, `DoubleStance`, `LiftFoot`,
`SingleLeg`, `TouchDown`, `StepOff`, `SingleLegSquat`, `LateralStepDown`, `DropLanding`):
each renders its share of the deterministic load, foot positions, transients and truth
events on the person's 1 kHz grid (rig.sim.person renders a whole script and adds the sway).
Every ``person`` argument is the rendering `rig.sim.person.VirtualPerson`.
"""
from __future__ import annotations


import math
from dataclasses import dataclass

import numpy as np

from rig.signal.plate import G
from rig.sim.sway import HIP_DROP_SD, HIP_DROP_VEL, NO_SWAY, SwaySpec, _eyes_factor, double_stance_factor

DT_S = 0.001
"""Resolution of the rendered script (s)."""

LEFT, RIGHT = "left", "right"
TOUCH_LOAD_FRAC = 0.025
"""``touch_down_load`` truth event: the touching foot carries this fraction of body weight
(≈ 3 SD of the single-leg stance Fz ripple; the first instants of a smooth contact carry
less and cannot be told from sway on a plate)."""
LIFT_LOAD_FRAC = 0.05
"""``foot_unloaded`` truth event: the lifting foot carries less than this fraction of body
weight (90 % of the weight shift from double stance; what the plate's COP can resolve)."""
STEPDOWN_SPEED_M_S = 0.02
"""Step-down truth events: lowering starts where the COM descends at this speed and the
return ends where the rising COM slows below it (the plate cannot date the smooth onset
itself: the first 0.3 s of a sin⁴ descent move the COM by less than a millimetre)."""
SMOOTH_COEF_S = 0.4
"""Width of the moving average that blends the sway mixing coefficients between phases."""


def _other(side: str) -> str:
    return RIGHT if side == LEFT else LEFT


def _check_side(side: str) -> str:
    if side not in (LEFT, RIGHT):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    return side


def _q(u):
    """Quintic smoothstep 0 -> 1 on u in [0, 1] (zero velocity and acceleration at both ends)."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * u * (10 + u * (-15 + 6 * u))


def _bell(u):
    """sin²(πu) on [0, 1], 0 outside: a smooth bump peaking at u = 0.5."""
    u = np.asarray(u, dtype=float)
    return np.where((u >= 0) & (u <= 1), np.sin(np.pi * np.clip(u, 0, 1)) ** 2, 0.0)


# --- rendering machinery ------------------------------------------------------------------

@dataclass
class _State:
    load: float = 0.0          #: fraction of body weight on the plate (deterministic part)
    x: float = 0.0             #: base COP (no sway)
    y: float = 0.0
    stance: str = "none"       #: none | double | left | right
    floor_foot: str | None = None  #: a foot resting on the floor beside the plate


class _Render:
    """Arrays being written by the phases (deterministic Fz in N, base COP in m)."""

    def __init__(self, person, n: int):
        self.p = person
        self.t = np.arange(n) * DT_S
        self.fz = np.zeros(n)
        self.x = np.zeros(n)
        self.y = np.zeros(n)
        self.events: list[tuple[float, str, dict]] = []

    def event(self, t_s: float, name: str, **details) -> None:
        self.events.append((round(float(t_s), 6), name, details))


class Phase:
    """One part of a script. Subclasses are small frozen dataclasses with a ``duration``."""

    kind = "phase"
    duration: float

    def total_s(self, person) -> float:
        return float(self.duration)

    def sway(self, person, state: _State) -> SwaySpec | None:
        """The sway targets of this phase; None for a transition (coefficients interpolate)."""
        return None

    def render(self, r: _Render, sl: slice, t0: float, st: _State) -> None:  # pragma: no cover
        raise NotImplementedError

    def details(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def _first_event(r: "_Render", sl: slice, cond, name: str, **details) -> None:
    """Emit ``name`` at the first grid time of the phase where ``cond`` holds (if any)."""
    idx = np.nonzero(np.asarray(cond))[0]
    if len(idx):
        r.event(r.t[sl][idx[0]], name, **details)


def _tau(sl: slice) -> np.ndarray:
    n = sl.stop - sl.start
    return np.arange(n) / max(n, 1)


def _blend_to(r: _Render, sl: slice, st: _State, x: float, y: float, blend_s: float = 0.5) -> None:
    """Base COP moves smoothly from the state's position to (x, y) at the phase start."""
    n = sl.stop - sl.start
    k = _q(np.arange(n) * DT_S / blend_s)
    r.x[sl] = st.x + (x - st.x) * k
    r.y[sl] = st.y + (y - st.y) * k
    st.x, st.y = x, y


@dataclass(frozen=True)
class Off(Phase):
    """Nobody on the plate for ``duration`` s."""

    duration: float = 1.0
    kind = "off"

    def sway(self, person, state):
        return NO_SWAY

    def render(self, r, sl, t0, st):
        if st.load > 0:
            raise ValueError("Off must follow StepOff (the plate is still loaded)")
        r.fz[sl] = 0.0
        r.x[sl], r.y[sl] = st.x, st.y
        r.event(t0, self.kind, duration_s=self.duration)


@dataclass(frozen=True)
class StepOn(Phase):
    """Step onto the plate: the ``lead`` foot lands and takes the weight (Fz ramps 0 -> BW with
    a small overshoot over the first 60 % of ``duration``), then the other foot lands and the
    COP moves from the lead foot to between the feet."""

    duration: float = 0.5
    lead: str = LEFT
    kind = "step_on"

    def render(self, r, sl, t0, st):
        _check_side(self.lead)
        if st.load > 0:
            raise ValueError("StepOn needs an unloaded plate (put Off or StepOff before it)")
        p, tau, split = r.p, _tau(sl), 0.6
        bw = p.weight_n
        r.fz[sl] = bw * (_q(tau / split) + 0.06 * _bell(tau))
        xl, yl = p.foot_xy(self.lead)
        xc, yc = p.centre_xy()
        k = _q((tau - split) / (1 - split))
        r.x[sl] = xl + (xc - xl) * k
        r.y[sl] = yl + (yc - yl) * k
        r.event(t0, self.kind, lead=self.lead)
        r.event(t0, "foot_contact", foot=self.lead)
        r.event(t0 + split * self.duration, "foot_contact", foot=_other(self.lead))
        st.load, st.x, st.y, st.stance, st.floor_foot = 1.0, xc, yc, "double", None


@dataclass(frozen=True)
class DoubleStance(Phase):
    """Quiet standing on both feet, ``eyes`` open or closed, on a ``firm`` or ``foam`` surface."""

    duration: float = 20.0
    eyes: str = "open"
    surface: str = "firm"
    kind = "double_stance"

    def sway(self, person, state):
        sd, sp = double_stance_factor(self.eyes, self.surface)
        return person.quiet_stance.scaled(sd=sd, speed=sp)

    def render(self, r, sl, t0, st):
        if st.stance != "double" or st.load != 1.0:
            raise ValueError("DoubleStance must follow StepOn, TouchDown(onto='plate'), DropLanding "
                             "or another double-stance phase")
        r.fz[sl] = r.p.weight_n
        _blend_to(r, sl, st, *r.p.centre_xy())
        r.event(t0, self.kind, eyes=self.eyes, surface=self.surface, duration_s=self.duration)


@dataclass(frozen=True)
class LiftFoot(Phase):
    """Lift ``side`` off the plate (or off the floor, after a TouchDown onto the floor).

    From double stance: a small anticipatory COP shift toward the lifting foot (``apa_m``),
    then the weight shifts to the stance foot (~0.3 s) and the leg lift adds an Fz transient
    of ±``lift_transient_bw``·BW (up as the thigh accelerates upward, down as it stops)."""

    side: str = LEFT
    duration: float = 0.6
    apa_m: float = 0.01
    lift_transient_bw: float = 0.05
    kind = "lift_foot"

    def render(self, r, sl, t0, st):
        side = _check_side(self.side)
        stance = _other(side)
        p, tau = r.p, _tau(sl)
        bw = p.weight_n
        xs, ys = p.foot_xy(stance)
        if st.stance == "double":
            x0, y0 = st.x, st.y
            toward = -1.0 if side == LEFT else 1.0
            shift = _q((tau - 0.15) / 0.5)
            r.x[sl] = x0 + (xs - x0) * shift + toward * self.apa_m * _bell(tau / 0.35) * (1 - shift)
            r.y[sl] = y0 + (ys - y0) * shift
            lift = (tau - 0.6) / 0.4
            swing = np.where(lift > 0, np.sin(2 * np.pi * np.clip(lift, 0, 1)), 0)
            r.fz[sl] = bw * (1 + self.lift_transient_bw * swing)
            r.event(t0, self.kind, foot=side)
            r.event(t0 + 0.65 * self.duration, "foot_off", foot=side)
            # the lifting foot's share of BW is (1 − shift)/2 (APA aside)
            _first_event(r, sl, 0.5 * (1 - shift) <= LIFT_LOAD_FRAC, "foot_unloaded", foot=side,
                         load_frac=LIFT_LOAD_FRAC)
        elif st.stance == stance and st.floor_foot == side:
            l0 = st.load
            r.fz[sl] = bw * (l0 + (1 - l0) * _q(tau / 0.6))
            _blend_to(r, sl, st, xs, ys, 0.4)
            r.event(t0, self.kind, foot=side, source="floor")
            r.event(t0 + 0.6 * self.duration, "foot_off", foot=side, source="floor")
        else:
            raise ValueError(f"LiftFoot({side!r}) needs double stance or the {side} foot on the floor")
        st.load, st.stance, st.floor_foot = 1.0, stance, None
        st.x, st.y = xs, ys


@dataclass(frozen=True)
class SingleLeg(Phase):
    """Single-leg stance on ``side``. ``hip_drop`` (0-1; None: the person's) raises ML sway:
    ML SD × (1 + HIP_DROP_SD·h), ML velocity × (1 + HIP_DROP_VEL·h)."""

    side: str = RIGHT
    duration: float = 20.0
    eyes: str = "open"
    hip_drop: float | None = None
    kind = "single_leg"

    def _h(self, person) -> float:
        h = person.hip_drop if self.hip_drop is None else self.hip_drop
        if not 0.0 <= h <= 1.0:
            raise ValueError(f"hip_drop must be in [0, 1], got {h}")
        return h

    def sway(self, person, state):
        sd, sp = _eyes_factor(self.eyes)
        h = self._h(person)
        return person.single_leg_stance.scaled(sd=sd, speed=sp, ml_sd=1 + HIP_DROP_SD * h,
                                               ml_vel=1 + HIP_DROP_VEL * h)

    def render(self, r, sl, t0, st):
        side = _check_side(self.side)
        if st.stance != side or st.load != 1.0:
            raise ValueError(f"SingleLeg({side!r}) must follow LiftFoot({_other(side)!r})")
        r.fz[sl] = r.p.weight_n
        _blend_to(r, sl, st, *r.p.foot_xy(side), 0.3)
        r.event(t0, self.kind, side=side, eyes=self.eyes, hip_drop=self._h(r.p), duration_s=self.duration)


@dataclass(frozen=True)
class TouchDown(Phase):
    """The lifted foot ``side`` touches down, ``onto`` the plate (COP jumps back toward the
    centre, Fz stays at BW apart from a small contact transient) or the floor beside it (Fz
    drops by ``floor_share``·BW; the COP stays under the stance foot, edging toward ``side``)."""

    side: str = LEFT
    onto: str = "plate"
    duration: float = 0.3
    floor_share: float = 0.4
    kind = "touch_down"

    def render(self, r, sl, t0, st):
        side = _check_side(self.side)
        stance = _other(side)
        if st.stance != stance or st.floor_foot is not None:
            raise ValueError(f"TouchDown({side!r}) needs single-leg stance on the {stance} foot")
        p, tau = r.p, _tau(sl)
        bw = p.weight_n
        if self.onto == "plate":
            xc, yc = p.centre_xy()
            k = _q(tau / 0.7)
            r.x[sl] = st.x + (xc - st.x) * k
            r.y[sl] = st.y + (yc - st.y) * k
            r.fz[sl] = bw * (1 + 0.04 * _bell(tau / 0.5))
            # the touching foot's share of BW: the COP moved k of the way to the centre (half)
            _first_event(r, sl, 0.5 * k >= TOUCH_LOAD_FRAC, "touch_down_load", foot=side, onto="plate",
                         load_frac=TOUCH_LOAD_FRAC)
            st.x, st.y, st.stance, st.load = xc, yc, "double", 1.0
        elif self.onto == "floor":
            if not 0 < self.floor_share < 1:
                raise ValueError("floor_share must be in (0, 1)")
            k = _q(tau / 0.8)
            r.fz[sl] = bw * (1 - self.floor_share * k)
            _first_event(r, sl, self.floor_share * k >= TOUCH_LOAD_FRAC, "touch_down_load", foot=side,
                         onto="floor", load_frac=TOUCH_LOAD_FRAC)
            toward = -1.0 if side == LEFT else 1.0
            r.x[sl] = st.x + toward * 0.01 * k
            r.y[sl] = st.y
            st.x += toward * 0.01
            st.load, st.floor_foot = 1 - self.floor_share, side
        else:
            raise ValueError(f"onto must be 'plate' or 'floor', got {self.onto!r}")
        r.event(t0, self.kind, foot=side, onto=self.onto)


@dataclass(frozen=True)
class StepOff(Phase):
    """Step off the plate: the ``lead`` foot leaves first (COP moves to the trailing foot over
    the first 40 %), then the trailing foot unloads (Fz -> 0, COP rolling toward its toes)."""

    duration: float = 0.8
    lead: str = RIGHT
    kind = "step_off"

    def render(self, r, sl, t0, st):
        lead = _check_side(self.lead)
        trail = _other(lead)
        p, tau = r.p, _tau(sl)
        bw = p.weight_n
        xt, yt = p.foot_xy(trail)
        l0 = st.load
        if st.stance == "double":
            split = 0.4
            k = _q(tau / split)
            r.x[sl] = st.x + (xt - st.x) * k
            r.y[sl] = st.y + (yt - st.y) * k
            r.event(t0 + split * self.duration, "foot_off", foot=lead)
        elif st.stance == trail:
            split = 0.0
            r.x[sl], r.y[sl] = st.x, st.y
        else:
            raise ValueError(f"StepOff(lead={lead!r}) needs double stance or stance on the {trail} foot")
        u = (tau - split) / (1 - split)
        k2 = _q(u)
        r.fz[sl] = bw * l0 * (1 - k2) * (1 + 0.05 * _bell(u / 0.6))
        r.y[sl] = r.y[sl] + 0.03 * k2
        r.event(t0, self.kind, lead=lead)
        r.event(t0 + self.duration, "foot_off", foot=trail)
        st.load, st.stance, st.floor_foot = 0.0, "none", None
        if sl.stop > sl.start:
            st.x, st.y = float(r.x[sl.stop - 1]), float(r.y[sl.stop - 1])


def _squat_acc(tau: np.ndarray, depth_m: float, duration: float) -> np.ndarray:
    """Vertical COM acceleration of z = −depth·sin⁴(πτ) over ``duration`` (zero at both ends)."""
    s, c = np.sin(np.pi * tau), np.cos(np.pi * tau)
    return -depth_m * (np.pi / duration) ** 2 * (12 * s * s * c * c - 4 * s ** 4)


@dataclass(frozen=True)
class SingleLegSquat(Phase):
    """One single-leg squat on ``stance`` to ``depth_m`` (COM drop). Fz = BW + m·z''. The COP
    moves medially by (``medial_m`` + 0.02·``valgus``)·sin²(πτ): dynamic knee valgus
    (0-1) pushes it further toward the midline. Starts and ends in single-leg stance."""

    stance: str = RIGHT
    duration: float = 3.0
    depth_m: float = 0.15
    valgus: float = 0.0
    medial_m: float = 0.005
    kind = "single_leg_squat"

    def sway(self, person, state):
        return person.single_leg_stance

    def _check(self, st):
        side = _check_side(self.stance)
        if st.stance != side or st.floor_foot is not None:
            raise ValueError(f"{type(self).__name__}({side!r}) must follow single-leg stance on that foot")
        if not 0.0 <= self.valgus <= 1.0:
            raise ValueError("valgus must be in [0, 1]")
        return side

    def _medial(self, side: str) -> float:
        return 1.0 if side == LEFT else -1.0   # toward the body midline

    def render(self, r, sl, t0, st):
        side = self._check(st)
        p, tau = r.p, _tau(sl)
        r.fz[sl] = p.weight_n + p.mass_kg * _squat_acc(tau, self.depth_m, self.duration)
        med = (self.medial_m + 0.02 * self.valgus) * _bell(tau)
        r.x[sl] = st.x + self._medial(side) * med
        r.y[sl] = st.y + 0.01 * _bell(tau)
        r.event(t0, self.kind, stance=side, depth_m=self.depth_m, valgus=self.valgus)
        r.event(t0 + 0.5 * self.duration, "squat_bottom", stance=side)


@dataclass(frozen=True)
class LateralStepDown(SingleLegSquat):
    """One lateral step-down rep: the plate is the step, ``stance`` stays on it, the other
    heel lowers to the floor beside it and comes back. Fz = BW·(1 − floor_share·tap) + m·z''
    (the tap takes ``floor_share`` of the weight at the bottom); the COP moves medially by
    (``medial_m`` + 0.02·``valgus``) and a little forward with knee flexion."""

    duration: float = 3.0
    depth_m: float = 0.12
    floor_share: float = 0.15
    medial_m: float = 0.01
    kind = "lateral_step_down"

    def render(self, r, sl, t0, st):
        side = self._check(st)
        p, tau = r.p, _tau(sl)
        tap = _bell((tau - 0.4) / 0.2)
        r.fz[sl] = p.weight_n * (1 - self.floor_share * tap) + p.mass_kg * _squat_acc(tau, self.depth_m, self.duration)
        med = (self.medial_m + 0.02 * self.valgus) * _bell(tau)
        r.x[sl] = st.x + self._medial(side) * med
        r.y[sl] = st.y + 0.01 * _bell(tau)
        r.event(t0, self.kind, stance=side, depth_m=self.depth_m, valgus=self.valgus)
        r.event(t0 + 0.5 * self.duration, "heel_tap", foot=_other(side), floor_share=self.floor_share)
        # measurable truth (docs/protocols.md): lowering start = the COM descends at
        # STEPDOWN_SPEED_M_S; lowest = the bottom (v = 0, the heel tap's centre); return = the
        # rising COM slows below STEPDOWN_SPEED_M_S (z = −depth·sin⁴(πτ))
        s, c = np.sin(np.pi * tau), np.cos(np.pi * tau)
        v = -self.depth_m * 4 * s ** 3 * c * np.pi / self.duration
        _first_event(r, sl, v <= -STEPDOWN_SPEED_M_S, "stepdown_lowering_start", stance=side,
                     speed_m_s=STEPDOWN_SPEED_M_S)
        r.event(t0 + 0.5 * self.duration, "stepdown_lowest", stance=side)
        up = np.nonzero(v >= STEPDOWN_SPEED_M_S)[0]
        if len(up):
            r.event(r.t[sl][up[-1]] + DT_S, "stepdown_return", stance=side, speed_m_s=STEPDOWN_SPEED_M_S)


@dataclass(frozen=True)
class DropLanding(Phase):
    """Drop from a box of ``box_height_m`` beside the plate, land on both feet (``side=None``)
    or on the ``side`` foot, ending in single-leg stance on it (the step-down landing test).

    Flight lasts sqrt(2h/g) from the drop; at contact the COM moves at v = sqrt(2gh). The
    landing force is a fast rise, an impact pulse peaking at ``peak_bw``·BW ``time_to_peak_s``
    after contact, a broad absorption hump (its size set so the impulse of Fz − BW equals
    m·v, i.e. the person ends at rest) and a damped 2 Hz oscillation (0.25·BW, τ 0.45 s)
    settling to BW (within 5 % of BW about 1 s after contact). ``settle_s`` after contact
    the phase ends, in quiet double stance."""

    box_height_m: float = 0.3
    peak_bw: float = 4.0
    time_to_peak_s: float = 0.05
    settle_s: float = 2.5
    side: str | None = None
    kind = "drop_landing"

    def flight_s(self) -> float:
        return math.sqrt(2 * self.box_height_m / G)

    def total_s(self, person):
        return self.flight_s() + self.settle_s

    @property
    def duration(self) -> float:  # type: ignore[override]
        return self.flight_s() + self.settle_s

    def landing_force(self, t: np.ndarray, mass_kg: float) -> np.ndarray:
        """Fz (N) at times t (s) after contact (0 before)."""
        if self.box_height_m <= 0 or self.peak_bw <= 1.2 or self.time_to_peak_s <= 0:
            raise ValueError("DropLanding needs box_height_m > 0, peak_bw > 1.2, time_to_peak_s > 0")
        bw = mass_kg * G
        v = math.sqrt(2 * G * self.box_height_m)
        t = np.asarray(t, dtype=float)
        tc = np.clip(t, 0, None)
        k, tp = 3.0, self.time_to_peak_s
        ramp = bw * (1 - np.exp(-tc / 0.015))
        pulse = (tc / tp) ** k * np.exp(k * (1 - tc / tp))
        hump = _bell(tc / 0.35)
        to = np.clip(tc - 0.15, 0, None)
        osc = 0.25 * bw * np.exp(-to / 0.45) * np.sin(2 * np.pi * 2.0 * to)
        grid = np.arange(0.0, max(self.settle_s, 3.0), DT_S)
        g_ramp = bw * (1 - np.exp(-grid / 0.015))
        g_pulse = (grid / tp) ** k * np.exp(k * (1 - grid / tp))
        g_hump = _bell(grid / 0.35)
        g_to = np.clip(grid - 0.15, 0, None)
        g_osc = 0.25 * bw * np.exp(-g_to / 0.45) * np.sin(2 * np.pi * 2.0 * g_to)
        amp = (self.peak_bw - 1) * bw
        hump_amp = 0.0
        for _ in range(8):  # impulse fixes the hump, then the peak fixes the pulse amplitude
            rest = np.sum(g_ramp + amp * g_pulse + g_osc - bw) * DT_S
            hump_amp = (mass_kg * v - rest) / (np.sum(g_hump) * DT_S)
            peak = np.max(g_ramp + amp * g_pulse + hump_amp * g_hump + g_osc)
            amp += self.peak_bw * bw - peak
        out = ramp + amp * pulse + hump_amp * hump + osc
        return np.where(t >= 0, np.clip(out, 0, None), 0.0)

    def render(self, r, sl, t0, st):
        if st.load > 0:
            raise ValueError("DropLanding needs an unloaded plate (the person starts on the box)")
        p = r.p
        tf = self.flight_s()
        t = r.t[sl] - t0 - tf
        fz = self.landing_force(t, p.mass_kg)
        r.fz[sl] = fz
        xc, yc = p.centre_xy() if self.side is None else p.foot_xy(_check_side(self.side))
        r.x[sl] = xc
        r.y[sl] = yc + 0.04 * np.exp(-np.clip(t, 0, None) / 0.05)  # forefoot first, rolls back
        i_peak = int(np.argmax(fz))
        bw = p.weight_n
        far = np.nonzero(np.abs(fz - bw) > 0.05 * bw)[0]
        r.event(t0, self.kind, box_height_m=self.box_height_m, peak_bw=self.peak_bw, side=self.side)
        r.event(t0 + tf, "landing_contact", v_m_s=round(math.sqrt(2 * G * self.box_height_m), 4))
        r.event(r.t[sl][i_peak], "landing_peak", fz_n=round(float(fz[i_peak]), 1))
        if len(far):
            r.event(r.t[sl][far[-1]] + DT_S, "landing_settled")
        st.load, st.stance, st.floor_foot, st.x, st.y = 1.0, self.side or "double", None, xc, yc


def demo_script(hip_drop_left: float = 0.5) -> list[Phase]:
    """The `rig demo` loop: off, step on, quiet stance, single-leg left (with hip drop), back
    to double stance, single-leg right, step off (about 45 s)."""
    return [Off(2.0), StepOn(0.5, lead=LEFT), DoubleStance(10.0),
            LiftFoot(RIGHT), SingleLeg(LEFT, 8.0, hip_drop=hip_drop_left), TouchDown(RIGHT, "plate"),
            DoubleStance(4.0), LiftFoot(LEFT), SingleLeg(RIGHT, 8.0, hip_drop=0.0),
            TouchDown(LEFT, "plate"), DoubleStance(3.0), StepOff(0.8, lead=RIGHT), Off(3.0)]
