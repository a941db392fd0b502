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

from rig.signal.plate import G
from rig.sim.phases import (DT_S, LEFT, LIFT_LOAD_FRAC, RIGHT, SMOOTH_COEF_S, STEPDOWN_SPEED_M_S,  # noqa: F401  (re-exported)
                            TOUCH_LOAD_FRAC,
                            DoubleStance, DropLanding, LateralStepDown, LiftFoot, Off, Phase, SingleLeg,
                            SingleLegSquat, StepOff, StepOn, TouchDown, _check_side, _Render, _State,
                            demo_script)
from rig.sim.sway import QUIET_STANCE, SINGLE_LEG_STANCE, SwaySpec

__all__ = ["DT_S", "LEFT", "RIGHT", "TOUCH_LOAD_FRAC", "LIFT_LOAD_FRAC", "STEPDOWN_SPEED_M_S", "SMOOTH_COEF_S",
           "Phase", "Off", "StepOn", "DoubleStance", "LiftFoot", "SingleLeg", "TouchDown", "StepOff",
           "SingleLegSquat", "LateralStepDown", "DropLanding", "demo_script", "SwaySpec", "QUIET_STANCE",
           "SINGLE_LEG_STANCE", "VirtualPerson", "WeightSchedule"]


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
