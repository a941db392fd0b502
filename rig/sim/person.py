"""A virtual person: the true vertical force and centre of pressure on the plate, over time.

A `VirtualPerson` performs a *script*: a list of phases (`Off`, `StepOn`, `DoubleStance`,
`LiftFoot`, `SingleLeg`, `TouchDown`, `StepOff`, `LateralStepDown`, `SingleLegSquat`,
`DropLanding`). The whole script is rendered once, at construction, on a 1 kHz grid; after
that `truth(t_s)` is a cheap, vectorised interpolation, so the simulated chips can ask for
the load at any instant. Everything is deterministic for a given ``seed``.

Model (details and sources in docs/simulator.md):

* **Deterministic part** (per phase): how much of the body weight is on the plate, where the
  loaded feet are (COP = load-weighted mean of the foot centres), and the vertical transients
  of each movement (step on/off overshoot, leg lift, squat COM acceleration, landing impact).
* **Postural sway** (added on top): the rambling–trembling decomposition of the COP
  (Zatsiorsky & Duarte 1999). *Rambling* is Gaussian noise shaped to a band of 0.03–0.35 Hz
  (slow migration of the equilibrium point: most of the SD, power below 1 Hz); *trembling*
  is noise shaped to 0.6–2.5 Hz (fast oscillation about it: most of the velocity). For each
  stance phase the two are mixed, per axis, so that the phase's COP SD and mean COP speed
  hit the targets of its `SwaySpec` (jittered per trial by ``variability``). The mixing
  coefficients are smoothed over 0.4 s so the COP stays continuous between phases.
* **Vertical force** = deterministic part + m·a_z, with a_z band-limited noise
  (0.3–6 Hz: breathing, heartbeat, segment motion) of the phase's ``az_sd_m_s2``: a few N
  in quiet stance.

COP is only meaningful where Fz > 0: while nobody is on the plate, ``x, y`` hold the position
where the next contact will happen.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy.special import ellipe

from rig.plate import G

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


# --- sway specifications ------------------------------------------------------------------

@dataclass(frozen=True)
class SwaySpec:
    """Targets for the postural sway of one kind of stance (healthy young adult)."""

    sd_ml_m: float            #: SD of the COP, medio-lateral
    sd_ap_m: float            #: SD of the COP, antero-posterior
    speed_m_s: float          #: mean COP speed (path length / time)
    vel_ratio_ml_ap: float    #: RMS velocity ML / RMS velocity AP
    az_sd_m_s2: float         #: SD of the vertical COM acceleration (Fz ripple = m·a_z)
    limit_ml_m: float = 0.06  #: sway saturates softly (tanh) at this excursion from the base
    limit_ap_m: float = 0.10

    def scaled(self, sd: float = 1.0, speed: float = 1.0, ml_sd: float = 1.0,
               ml_vel: float = 1.0) -> "SwaySpec":
        """Copy with SDs × ``sd`` (ML also × ``ml_sd``) and speed × ``speed``; ``ml_vel``
        multiplies the ML velocity alone (the mean speed then rises accordingly)."""
        return SwaySpec(self.sd_ml_m * sd * ml_sd, self.sd_ap_m * sd, self.speed_m_s * speed,
                        self.vel_ratio_ml_ap, self.az_sd_m_s2, self.limit_ml_m, self.limit_ap_m)._ml_vel(ml_vel)

    def _ml_vel(self, k: float) -> "SwaySpec":
        if k == 1.0:
            return self
        v_ml, v_ap = self.axis_rms_velocity()
        v_ml *= k
        return SwaySpec(self.sd_ml_m, self.sd_ap_m, _mean_speed(v_ml, v_ap), v_ml / v_ap,
                        self.az_sd_m_s2, self.limit_ml_m, self.limit_ap_m)

    def axis_rms_velocity(self) -> tuple[float, float]:
        """Per-axis RMS velocity (ML, AP) whose 2-D Gaussian mean speed is ``speed_m_s``."""
        unit = _mean_speed(self.vel_ratio_ml_ap, 1.0)
        v_ap = self.speed_m_s / unit
        return self.vel_ratio_ml_ap * v_ap, v_ap


def _mean_speed(s1: float, s2: float) -> float:
    """E|v| for v ~ N(0, diag(s1², s2²)): sqrt(2/π)·s_max·E(1 − (s_min/s_max)²)."""
    hi, lo = max(s1, s2), min(s1, s2)
    if hi == 0:
        return 0.0
    return math.sqrt(2 / math.pi) * hi * float(ellipe(1 - (lo / hi) ** 2))


#: Quiet double-leg stance, eyes open: COP SD ~2.5 mm ML / 4.5 mm AP, mean speed ~10 mm/s
#: (Prieto et al. 1996; Ruhe et al. 2010 review of young adults' normative values).
QUIET_STANCE = SwaySpec(sd_ml_m=0.0025, sd_ap_m=0.0045, speed_m_s=0.010, vel_ratio_ml_ap=0.75,
                        az_sd_m_s2=0.03, limit_ml_m=0.05, limit_ap_m=0.08)
#: Single-leg stance, eyes open: SD ~6-7 mm, mean speed ~30 mm/s, ML velocity ≥ AP
#: (e.g. Paillard & Noé 2015 review; values for healthy adults on a firm surface).
SINGLE_LEG_STANCE = SwaySpec(sd_ml_m=0.006, sd_ap_m=0.007, speed_m_s=0.030, vel_ratio_ml_ap=1.1,
                             az_sd_m_s2=0.08, limit_ml_m=0.035, limit_ap_m=0.09)
#: Eyes closed: SD × 1.25, mean speed × 1.5 (typical Romberg ratios for young adults).
EYES_CLOSED_SD, EYES_CLOSED_SPEED = 1.25, 1.5
#: hip_drop h in [0, 1] (Trendelenburg-like pelvic drop): ML SD × (1 + HIP_DROP_SD·h) and
#: ML velocity × (1 + HIP_DROP_VEL·h) during single-leg tasks.
HIP_DROP_SD, HIP_DROP_VEL = 1.0, 1.0
#: Nobody on the plate / no sway.
NO_SWAY = SwaySpec(0.0, 0.0, 0.0, 1.0, 0.0)


def _eyes_factor(eyes: str) -> tuple[float, float]:
    if eyes == "open":
        return 1.0, 1.0
    if eyes == "closed":
        return EYES_CLOSED_SD, EYES_CLOSED_SPEED
    raise ValueError(f"eyes must be 'open' or 'closed', got {eyes!r}")


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

    def __init__(self, person: "VirtualPerson", n: int):
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

    def total_s(self, person: "VirtualPerson") -> float:
        return float(self.duration)

    def sway(self, person: "VirtualPerson", state: _State) -> SwaySpec | None:
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
    """Quiet standing on both feet, ``eyes`` open or closed."""

    duration: float = 20.0
    eyes: str = "open"
    kind = "double_stance"

    def sway(self, person, state):
        sd, sp = _eyes_factor(self.eyes)
        return person.quiet_stance.scaled(sd=sd, speed=sp)

    def render(self, r, sl, t0, st):
        if st.stance != "double" or st.load != 1.0:
            raise ValueError("DoubleStance must follow StepOn, TouchDown(onto='plate'), DropLanding "
                             "or another double-stance phase")
        r.fz[sl] = r.p.weight_n
        _blend_to(r, sl, st, *r.p.centre_xy())
        r.event(t0, self.kind, eyes=self.eyes, duration_s=self.duration)


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
    """Drop from a box of ``box_height_m`` beside the plate, land on both feet.

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
        xc, yc = p.centre_xy()
        r.x[sl] = xc
        r.y[sl] = yc + 0.04 * np.exp(-np.clip(t, 0, None) / 0.05)  # forefoot first, rolls back
        i_peak = int(np.argmax(fz))
        bw = p.weight_n
        far = np.nonzero(np.abs(fz - bw) > 0.05 * bw)[0]
        r.event(t0, self.kind, box_height_m=self.box_height_m, peak_bw=self.peak_bw)
        r.event(t0 + tf, "landing_contact", v_m_s=round(math.sqrt(2 * G * self.box_height_m), 4))
        r.event(r.t[sl][i_peak], "landing_peak", fz_n=round(float(fz[i_peak]), 1))
        if len(far):
            r.event(r.t[sl][far[-1]] + DT_S, "landing_settled")
        st.load, st.stance, st.floor_foot, st.x, st.y = 1.0, "double", None, xc, yc


# --- the person ---------------------------------------------------------------------------

def demo_script(hip_drop_left: float = 0.5) -> list[Phase]:
    """The `rig demo` loop: off, step on, quiet stance, single-leg left (with hip drop), back
    to double stance, single-leg right, step off (about 45 s)."""
    return [Off(2.0), StepOn(0.5, lead=LEFT), DoubleStance(10.0),
            LiftFoot(RIGHT), SingleLeg(LEFT, 8.0, hip_drop=hip_drop_left), TouchDown(RIGHT, "plate"),
            DoubleStance(4.0), LiftFoot(LEFT), SingleLeg(RIGHT, 8.0, hip_drop=0.0),
            TouchDown(LEFT, "plate"), DoubleStance(3.0), StepOff(0.8, lead=RIGHT), Off(3.0)]


class VirtualPerson:
    """A seeded virtual person performing ``script`` (default: `demo_script`).

    ``truth(t_s)`` -> (fz_n, x_m, y_m) at any time(s); ``events`` lists (t_s, name, details)
    of the ground truth; ``segments`` lists (t_start_s, t_end_s, phase). With ``loop=True``
    the script repeats forever (``truth`` wraps the time; the sway noise is periodic, so the
    seam is continuous).

    Parameters: ``mass_kg``; ``stance_width_m`` (distance between the foot centres, hip
    width); ``foot_y_m`` (AP position of the feet's COP); ``hip_drop`` (default for
    SingleLeg phases); ``variability`` (log-SD of the per-trial jitter of the sway targets);
    ``quiet_stance`` / ``single_leg_stance`` (SwaySpec targets).
    """

    def __init__(self, mass_kg: float = 72.0, seed: int | None = 0, hip_drop: float = 0.0,
                 script: Sequence[Phase] | None = None, *, loop: bool = False,
                 stance_width_m: float = 0.20, foot_y_m: float = 0.0, variability: float = 0.1,
                 quiet_stance: SwaySpec = QUIET_STANCE, single_leg_stance: SwaySpec = SINGLE_LEG_STANCE):
        if not 20 <= mass_kg <= 250:
            raise ValueError(f"mass_kg must be in [20, 250], got {mass_kg}")
        if not 0 <= hip_drop <= 1:
            raise ValueError(f"hip_drop must be in [0, 1], got {hip_drop}")
        self.mass_kg = float(mass_kg)
        self.seed = seed
        self.hip_drop = float(hip_drop)
        self.loop = loop
        self.stance_width_m = float(stance_width_m)
        self.foot_y_m = float(foot_y_m)
        self.variability = float(variability)
        self.quiet_stance = quiet_stance
        self.single_leg_stance = single_leg_stance
        self.script: list[Phase] = list(script) if script is not None else demo_script()
        if not self.script:
            raise ValueError("the script is empty")
        self._render()

    # geometry of the feet
    @property
    def weight_n(self) -> float:
        return self.mass_kg * G

    def foot_xy(self, side: str) -> tuple[float, float]:
        half = self.stance_width_m / 2
        return (-half if _check_side(side) == LEFT else half), self.foot_y_m

    def centre_xy(self) -> tuple[float, float]:
        return 0.0, self.foot_y_m

    # rendering
    def _render(self) -> None:
        starts, t = [], 0.0
        for ph in self.script:
            starts.append(t)
            d = ph.total_s(self)
            if not d > 0:
                raise ValueError(f"{type(ph).__name__}: duration must be positive")
            t += d
        self.duration_s = t
        idx = [int(round(s / DT_S)) for s in starts] + [int(round(t / DT_S))]
        n = idx[-1]
        r = _Render(self, n)
        st = _State(y=self.foot_y_m)
        rng = np.random.default_rng(self.seed)
        specs: list[SwaySpec | None] = []
        for k, (ph, s, i0, i1) in enumerate(zip(self.script, starts, idx[:-1], idx[1:])):
            specs.append(ph.sway(self, st))
            # position the COP where the next contact happens while unloaded
            if isinstance(ph, Off):
                nxt = self.script[(k + 1) % len(self.script)]
                if isinstance(nxt, StepOn) and st.load == 0:
                    st.x, st.y = self.foot_xy(nxt.lead)
                elif isinstance(nxt, DropLanding):
                    st.x, st.y = self.centre_xy()
            ph.render(r, slice(i0, i1), s, st)
        self.events = sorted(r.events, key=lambda e: e[0])
        self.segments = [(s, s + ph.total_s(self), ph) for ph, s in zip(self.script, starts)]

        # unit noises (periodic over the script: FFT-shaped Gaussian noise)
        f = np.fft.rfftfreq(n, DT_S)

        def shaped(lo, hi, n_lo, n_hi):
            w = rng.standard_normal(n)
            with np.errstate(divide="ignore"):
                hp = 1 / np.sqrt(1 + (lo / np.where(f > 0, f, 1e-12)) ** (2 * n_lo))
            h = hp / np.sqrt(1 + (f / hi) ** (2 * n_hi))
            h[0] = 0.0
            y = np.fft.irfft(np.fft.rfft(w) * h, n)
            return y / y.std()

        ramb = [shaped(0.03, 0.35, 1, 2) for _ in range(2)]   # ML, AP
        trem = [shaped(0.6, 2.5, 2, 3) for _ in range(2)]
        az = shaped(0.3, 6.0, 1, 3)

        # mixing coefficients per phase: a·rambling + b·trembling per axis, c for a_z
        ncoef = 7  # a_ml, b_ml, a_ap, b_ap, az, lim_ml, lim_ap
        coefs: list[np.ndarray | None] = []
        for spec, i0, i1 in zip(specs, idx[:-1], idx[1:]):
            if spec is None:
                coefs.append(None)
                continue
            jitter = np.exp(self.variability * rng.standard_normal(2))
            sl = slice(i0, i1)
            coefs.append(self._mix(spec, jitter, [x[sl] for x in ramb], [x[sl] for x in trem]))
        k_arr = np.zeros((ncoef, n))
        known = [i for i, c in enumerate(coefs) if c is not None]
        if not known:
            raise ValueError("the script has no stance or Off phase")
        for i, (i0, i1) in enumerate(zip(idx[:-1], idx[1:])):
            if coefs[i] is not None:
                k_arr[:, i0:i1] = coefs[i][:, None]
                continue
            prev = next((coefs[j] for j in range(i - 1, -1, -1) if coefs[j] is not None), None)
            nxt = next((coefs[j] for j in range(i + 1, len(coefs)) if coefs[j] is not None), None)
            if self.loop:
                prev = prev if prev is not None else coefs[known[-1]]
                nxt = nxt if nxt is not None else coefs[known[0]]
            prev = prev if prev is not None else nxt
            nxt = nxt if nxt is not None else prev
            u = np.arange(i1 - i0) / max(i1 - i0, 1)
            k_arr[:, i0:i1] = prev[:, None] + (nxt - prev)[:, None] * u
        w = max(1, int(round(SMOOTH_COEF_S / DT_S)))
        kern = np.ones(w) / w
        for row in range(ncoef):
            a = k_arr[row]
            if self.loop:
                pad = np.concatenate([a[-w:], a, a[:w]])
            else:
                pad = np.concatenate([np.full(w, a[0]), a, np.full(w, a[-1])])
            k_arr[row] = np.convolve(pad, kern, mode="same")[w:-w]
        a_ml, b_ml, a_ap, b_ap, c_az, lim_ml, lim_ap = k_arr
        sway_ml = a_ml * ramb[0] + b_ml * trem[0]
        sway_ap = a_ap * ramb[1] + b_ap * trem[1]
        sway_ml = lim_ml * np.tanh(sway_ml / np.maximum(lim_ml, 1e-9))
        sway_ap = lim_ap * np.tanh(sway_ap / np.maximum(lim_ap, 1e-9))
        loaded = np.clip(r.fz / self.weight_n, 0, 1)
        self._t = r.t
        self._fz = np.clip(r.fz + self.mass_kg * c_az * az * loaded, 0, None)
        self._x = r.x + sway_ml
        self._y = r.y + sway_ap
        self._base_fz = r.fz
        self._wrapped = tuple(np.append(a, a[0] if a is not self._t else self.duration_s)
                              for a in (self._t, self._fz, self._x, self._y))

    def _mix(self, spec: SwaySpec, jitter, ramb, trem) -> np.ndarray:
        """Coefficients so that a·rambling + b·trembling has the spec's SD and speed."""
        if spec.sd_ml_m == 0 and spec.sd_ap_m == 0:
            return np.array([0, 0, 0, 0, spec.az_sd_m_s2, 1.0, 1.0])
        sds = np.array([spec.sd_ml_m, spec.sd_ap_m]) * jitter[0]
        speed = spec.speed_m_s * jitter[1]
        target = np.array(spec.axis_rms_velocity()) * jitter[1]
        out = np.zeros(7)
        for _ in range(2):   # second pass corrects the mean speed of the actual mixture
            vx = []
            for ax in range(2):
                r, w = ramb[ax], trem[ax]
                sr, sw = r.std(), w.std()
                vr = np.std(np.diff(r)) / DT_S / sr
                vw = np.std(np.diff(w)) / DT_S / sw
                beta2 = np.clip(((target[ax] / sds[ax]) ** 2 - vr ** 2) / (vw ** 2 - vr ** 2), 0.0, 1.0)
                a = sds[ax] * math.sqrt(1 - beta2) / sr
                b = sds[ax] * math.sqrt(beta2) / sw
                out[2 * ax], out[2 * ax + 1] = a, b
                vx.append(np.diff((a * r + b * w)[::10]) / 0.01)
            got = np.mean(np.hypot(vx[0], vx[1]))
            target = target * (speed / got) if got > 0 else target
        out[4:] = spec.az_sd_m_s2, spec.limit_ml_m, spec.limit_ap_m
        return out

    # ground truth
    def truth(self, t_s):
        """(fz_n, x_m, y_m) at time(s) ``t_s`` (scalar or array), linearly interpolated."""
        t = np.asarray(t_s, dtype=float)
        if self.loop:
            # wrap by hand (np.interp's period= re-sorts the grid on every call: slow)
            t = np.mod(t, self.duration_s)
            tg, fz, x, y = self._wrapped
            return np.interp(t, tg, fz), np.interp(t, tg, x), np.interp(t, tg, y)
        return np.interp(t, self._t, self._fz), np.interp(t, self._t, self._x), np.interp(t, self._t, self._y)

    def events_between(self, t0_s: float, t1_s: float) -> list[tuple[float, str, dict]]:
        """Events in [t0, t1), unrolling the loop when ``loop`` is on."""
        if not self.loop:
            return [e for e in self.events if t0_s <= e[0] < t1_s]
        out, k = [], math.floor(t0_s / self.duration_s)
        while k * self.duration_s < t1_s:
            out += [(e[0] + k * self.duration_s, e[1], e[2]) for e in self.events
                    if t0_s <= e[0] + k * self.duration_s < t1_s]
            k += 1
        return out

    def segment(self, kind: str, n: int = 0) -> tuple[float, float]:
        """(start, end) in s of the ``n``-th phase of ``kind`` (e.g. "single_leg")."""
        found = [(a, b) for a, b, ph in self.segments if ph.kind == kind]
        if n >= len(found):
            raise KeyError(f"no {kind!r} phase number {n} in the script")
        return found[n]


@dataclass
class WeightSchedule:
    """Dead weights placed on the plate: a load source with the same ``truth`` interface.

    ``loads`` are (t_on_s, t_off_s, mass_kg, x_m, y_m); overlapping loads add (Fz sums, COP
    is the force-weighted mean). Instant on/off. For calibration simulations."""

    loads: list[tuple[float, float, float, float, float]] = field(default_factory=list)
    events: list = field(default_factory=list)

    def __post_init__(self):
        self.events = sorted([(a, "load_on", {"mass_kg": m, "x_m": x, "y_m": y}) for a, b, m, x, y in self.loads]
                             + [(b, "load_off", {"mass_kg": m}) for a, b, m, x, y in self.loads])
        self.duration_s = max((b for a, b, *_ in self.loads), default=0.0)

    def truth(self, t_s):
        t = np.asarray(t_s, dtype=float)
        fz = np.zeros_like(t)
        mx = np.zeros_like(t)
        my = np.zeros_like(t)
        for a, b, m, x, y in self.loads:
            on = (t >= a) & (t < b)
            fz = fz + on * m * G
            mx = mx + on * m * G * x
            my = my + on * m * G * y
        with np.errstate(invalid="ignore", divide="ignore"):
            cx = np.where(fz > 0, mx / np.where(fz > 0, fz, 1), 0.0)
            cy = np.where(fz > 0, my / np.where(fz > 0, fz, 1), 0.0)
        return fz, cx, cy


__all__ = ["VirtualPerson", "Phase", "Off", "StepOn", "DoubleStance", "LiftFoot", "SingleLeg",
           "TouchDown", "StepOff", "SingleLegSquat", "LateralStepDown", "DropLanding", "SwaySpec",
           "QUIET_STANCE", "SINGLE_LEG_STANCE", "WeightSchedule", "demo_script", "LEFT", "RIGHT"]
