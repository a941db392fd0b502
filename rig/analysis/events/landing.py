"""Landing events of the causal detector: contact, peak, stabilised, then the hold on the
landing leg (a touch-down of the free foot, as in single-leg stance)."""
from __future__ import annotations

import math

import numpy as np



class LandingEvents:
    """The step-down-landing part of `EventDetector` (its state lives on the detector)."""

    def _start_hold(self, t) -> None:
        """Once the landing has stabilised the patient holds still on the landing leg: from here
        the single-leg stance's touch-down watch runs, its region where the COP was while the
        force settled (the stance side is the trial's, else the side of that COP)."""
        recent = [(s[2], s[3]) for s in self._hist if s[0] >= self._stab_start and math.isfinite(s[2])]
        ml = [m for m, _ in recent]
        ap = [a for _, a in recent if math.isfinite(a)]
        if not ml:
            return
        centre = float(np.median(ml))
        self._in_sls = True
        self._stance_side = self.stance_side or ("left" if centre < 0 else "right")
        self._region = (centre, float(np.median(ap)) if ap else 0.0)

    def _reset_landing(self) -> None:
        self._contact_t = None
        self._peak = None           # (t, fz)
        self._peak_done = False
        self._stab_start = None
        self._stab_done = False

    # -- landing -------------------------------------------------------------------------
    def _landing(self, t, fz, ml=float("nan"), ap=float("nan")) -> None:
        p = self.p
        if self._stab_done:
            # the hold on the landing leg: a touch-down of the free foot is a single-leg stance's
            if not self._in_sls:
                self._start_hold(t)
            self._single_leg(t, fz, ml, ap)
            return
        if not self._peak_done:
            if t - self._contact_t <= p.peak_window_s:
                if fz > self._peak[1]:
                    self._peak = (t, fz)
                return
            self._peak_done = True
            self._emit(self._peak[0], "landing_peak", 1.0, t, peak_n=round(self._peak[1], 3),
                       peak_bw=round(self._peak[1] / self.bw, 4))
        if not self._stab_done and t > self._peak[0]:
            if abs(fz - self.bw) <= p.stab_band_frac * self.bw:
                if self._stab_start is None:
                    self._stab_start = t
                elif t - self._stab_start >= p.stab_hold_s - 1e-9:
                    self._stab_done = True
                    self._emit(self._stab_start, "stabilised", 1.0, t, method="bw_band",
                               band_frac=p.stab_band_frac, hold_s=p.stab_hold_s,
                               tts_s=round(self._stab_start - self._contact_t, 4))
            else:
                self._stab_start = None
