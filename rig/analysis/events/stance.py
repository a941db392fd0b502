"""Stance events of the causal detector: foot lift, touch-down (floor or plate) in
single-leg stance."""
from __future__ import annotations

import math
from collections import deque

import numpy as np

from rig.analysis.events.base import _other
from rig.analysis.smoothing import moving_mean


class StanceEvents:
    """The single-leg-stance part of `EventDetector` (its state lives on the detector)."""

    def _reset_stance(self) -> None:
        self._base_ml = None        # double-stance COP
        self._base_win: deque = deque()
        self._in_sls = False
        self._region = None         # (ml, ap) centre of the single-foot region
        self._stance_side = None
        self._shift_run: list = []  # samples since the shift exceeded the threshold
        self._fz_low = 0
        self._cop_out = 0
        self._after_touch = False
        self._relocate_until = None
        self._track: deque = deque()   # (t, ml, ap) of calm single-leg samples: the region's centre

    # -- single-leg stance ---------------------------------------------------------------
    def _single_leg(self, t, fz, ml, ap) -> None:
        p = self.p
        if not self._in_sls:
            ref = self._base_ml
            if ref is None or not math.isfinite(ml):
                return
            if abs(ml - ref) > p.lift_shift_mm and abs(fz - self.bw) < 0.25 * self.bw:
                self._shift_run.append((t, ml, ap))
                if self._shift_run[-1][0] - self._shift_run[0][0] >= p.lift_hold_s - 1e-9:
                    self._confirm_lift(t, ref)
            else:
                self._shift_run = []
            return
        if self._relocate_until is not None:          # after a hop: find the new foot
            if math.isfinite(ml):
                self._region_acc.append((ml, ap))
            if t >= self._relocate_until:
                if self._region_acc:
                    a = np.array(self._region_acc)
                    self._region = (float(a[:, 0].mean()), float(a[:, 1].mean()))
                    self._track.clear()                   # the stance foot moved
                self._relocate_until = None
            return
        if self._after_touch:
            # re-lift: back inside the region for lift_hold_s with full weight on the plate
            inside = self._inside(ml, ap) and abs(fz - self.bw) < p.touch_fz_frac * self.bw
            if inside:
                self._shift_run.append((t, ml, ap))
                if self._shift_run[-1][0] - self._shift_run[0][0] >= p.lift_hold_s - 1e-9:
                    self._after_touch = False
                    self._emit(self._shift_run[0][0], "foot_lift", 0.7, t, stance_side=self._stance_side,
                               lifted_side=_other(self._stance_side), relift=True)
                    self._shift_run = []
            else:
                self._shift_run = []
            return
        # touch-down on the floor: the plate loses part of the weight
        low = fz < self.bw * (1 - p.touch_fz_frac)
        self._fz_low = self._fz_low + 1 if low else 0
        # on the plate: the COP jumps towards the free foot, out of the stance foot's region
        out = self._towards_free_foot(ml, ap)
        self._cop_out = self._cop_out + 1 if out else 0
        if not (low or out):
            self._follow(t, ml, ap)
        if self._fz_low >= p.confirm_samples:
            onset = self._onset(lambda s: self.bw - s[1], t, fz, ml, ap)
            drop = (self.bw - fz) / self.bw
            self._touch(onset, t, "fz", min(1.0, 0.5 + drop / (4 * p.touch_fz_frac)), drop_bw=round(drop, 4))
        elif self._cop_out >= p.confirm_samples:
            cml, cap = self._region
            toward = 1.0 if self._stance_side == "left" else -1.0     # towards the lifted foot
            def dev(s):
                return (s[2] - cml) * toward if math.isfinite(s[2]) else math.nan
            onset = self._onset(dev, t, fz, ml, ap)
            over = abs(ml - cml) / p.region_half_ml_mm if math.isfinite(ml) else 2.0
            self._touch(onset, t, "cop", min(1.0, 0.4 + 0.4 * (over - 1) + 0.2),
                        cop_ml_mm=round(ml, 2) if math.isfinite(ml) else None)

    def _towards_free_foot(self, ml, ap) -> bool:
        """Whether the COP left the stance foot's region towards the lifted foot (ML) or out of
        it front or back (AP). Moving further out over the stance foot is sway, not a touch."""
        if not (math.isfinite(ml) and math.isfinite(ap)) or self._region is None:
            return True
        toward = 1.0 if self._stance_side == "left" else -1.0
        return ((ml - self._region[0]) * toward > self.p.region_half_ml_mm
                or abs(ap - self._region[1]) > self.p.region_half_ap_mm)

    def _follow(self, t, ml, ap) -> None:
        """The region's centre follows the median of the last region_track_s of calm samples:
        single-leg sway drifts slowly over the foot (a weak hip more), a touch-down jumps."""
        if not (math.isfinite(ml) and math.isfinite(ap)):
            return
        tr = self._track
        tr.append((t, ml, ap))
        while tr and tr[0][0] < t - self.p.region_track_s:
            tr.popleft()
        if len(tr) >= 8:
            a = np.array(tr)
            self._region = (float(np.median(a[:, 1])), float(np.median(a[:, 2])))

    def _inside(self, ml, ap) -> bool:
        if not (math.isfinite(ml) and math.isfinite(ap)) or self._region is None:
            return False
        return (abs(ml - self._region[0]) <= self.p.region_half_ml_mm
                and abs(ap - self._region[1]) <= self.p.region_half_ap_mm)

    def _onset(self, value, now, fz, ml, ap) -> float:
        """Start of the excursion that ended in a touch-down: walking back from now, the first
        local minimum of ``value`` (3-sample mean) or the point where it was within 10 % of
        its rise above the window's first value, at most backdate_max_s back."""
        samples = [s for s in self._hist if now - s[0] <= self.p.backdate_max_s] + [(now, fz, ml, ap)]
        v = np.array([value(s) for s in samples], float)
        ts = [s[0] for s in samples]
        if len(v) < 4 or not np.isfinite(v).all():
            return ts[0] if len(ts) else now
        sm = moving_mean(v, 3, "valid")                             # sm[i] is centred on i + 1
        floor = sm[0] + 0.1 * (sm[-1] - sm[0]) if sm[-1] > sm[0] else -np.inf
        i = len(sm) - 1
        while i > 0 and sm[i - 1] < sm[i] and sm[i - 1] > floor:
            i -= 1
        return ts[i + 1]

    def _backdate(self, calm, now) -> float:
        """The time just after the last 'calm' sample in the history (within backdate_max_s)."""
        prev_t = None
        for s in reversed(self._hist):
            if now - s[0] > self.p.backdate_max_s:
                break
            if calm(s):
                return s[0] if prev_t is None else prev_t
            prev_t = s[0]
        return prev_t if prev_t is not None else now

    def _touch(self, onset, now, via, conf, **details) -> None:
        self._emit(onset, "touch_down", conf, now, via=via, stance_side=self._stance_side, **details)
        self._after_touch = True
        self._fz_low = self._cop_out = 0
        self._shift_run = []

    def _already_on_one_leg(self, t_settled, now) -> None:
        """A trial that starts on the stance leg: when the weight settled with the COP over one
        foot (the trial's stance leg when it is known; else at least lift_shift_mm off the plate's
        centre line), the single-leg phase starts there: its region is where the weight settled, and
        a ``foot_lift`` marks it (``already_lifted``). Otherwise the lift is waited for."""
        ml = self._base_ml
        if self.stance_side is not None:         # the clinician chose the leg: on it from the start
            side = self.stance_side              # (wherever on the plate the foot stands)
        else:
            side = "left" if ml < 0 else "right"
            if abs(ml) < self.p.lift_shift_mm:
                return
        aps = [s[3] for s in self._hist if s[0] >= t_settled and math.isfinite(s[3])]
        self._in_sls = True
        self._stance_side = side
        self._region = (ml, float(np.mean(aps)) if aps else 0.0)
        self._emit(t_settled, "foot_lift", 0.6, now, stance_side=side, lifted_side=_other(side),
                   already_lifted=True, region_ml_mm=round(ml, 2), region_ap_mm=round(self._region[1], 2))

    def _confirm_lift(self, t, ref) -> None:
        run = np.array(self._shift_run)
        plateau_ml = float(np.median(run[-max(3, len(run) // 2):, 1]))
        shift = plateau_ml - ref
        # date: first sample of the recent history that reached 90 % of the shift
        t_lift = self._shift_run[0][0]
        for s in list(self._hist)[-len(self._hist):]:
            if s[0] < self._shift_run[0][0] - self.p.lift_hold_s:
                continue
            if math.isfinite(s[2]) and (s[2] - ref) * np.sign(shift) >= 0.9 * abs(shift):
                t_lift = s[0]
                break
        self._in_sls = True
        self._stance_side = "right" if shift > 0 else "left"
        ap_vals = run[:, 2][np.isfinite(run[:, 2])]
        self._region = (plateau_ml, float(ap_vals.mean()) if len(ap_vals) else 0.0)
        sd = float(np.std(run[:, 1]))
        self._emit(t_lift, "foot_lift", min(1.0, 0.5 + (abs(shift) - self.p.lift_shift_mm) / 100 - sd / 50), t,
                   stance_side=self._stance_side, lifted_side=_other(self._stance_side),
                   shift_mm=round(shift, 2), region_ml_mm=round(self._region[0], 2),
                   region_ap_mm=round(self._region[1], 2))
        self._shift_run = []
