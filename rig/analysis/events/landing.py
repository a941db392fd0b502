"""Landing events of the causal detector: contact, peak, stabilised."""
from __future__ import annotations





class LandingEvents:
    """The step-down-landing part of `EventDetector` (its state lives on the detector)."""

    def _reset_landing(self) -> None:
        self._contact_t = None
        self._peak = None           # (t, fz)
        self._peak_done = False
        self._stab_start = None
        self._stab_done = False

    # -- landing -------------------------------------------------------------------------
    def _landing(self, t, fz) -> None:
        p = self.p
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
