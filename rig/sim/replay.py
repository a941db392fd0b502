"""A recorded trial as the load on the simulated plate: a real person's vertical force and COP
(a lab force plate's recording) replayed through the emulated chips, so that what StepPlate's
converters, tare and analysis make of a known trial can be measured against the values the
lab published for it (docs/reference-values.md).

The plate is empty for ``lead_s`` (the acquisition tares there), the person steps on over
``step_s`` at the recording's first COP position, the recording plays, and the person steps
off. The recording's COP is centred on the plate (its mean is moved to ``centre_xy_m``): where
a lab plate's origin lies says nothing about sway.
"""
from __future__ import annotations

import numpy as np


class RecordedLoad:
    """A load source (``truth(t_s) -> (fz_n, x_m, y_m)``, x medio-lateral) replaying
    ``t_s, fz_n, ml_m, ap_m``; ``start_s`` is where the recording's first sample plays."""

    def __init__(self, t_s, fz_n, ml_m, ap_m, *, lead_s: float = 2.0, step_s: float = 0.5,
                 centre_xy_m: tuple[float, float] = (0.0, 0.0)):
        t = np.asarray(t_s, dtype=float)
        fz, ml, ap = (np.asarray(a, dtype=float) for a in (fz_n, ml_m, ap_m))
        if not (t.ndim == 1 and t.size >= 2 and t.shape == fz.shape == ml.shape == ap.shape):
            raise ValueError("t_s, fz_n, ml_m and ap_m must be 1-D arrays of one length (≥ 2)")
        if not np.all(np.diff(t) > 0):
            raise ValueError("t_s must increase strictly")
        if not (np.all(np.isfinite(fz)) and np.all(np.isfinite(ml)) and np.all(np.isfinite(ap))):
            raise ValueError("the recording holds a non-finite force or COP value")
        self.start_s = float(lead_s + step_s)
        self.lead_s, self.step_s = float(lead_s), float(step_s)
        self._t = t - t[0] + self.start_s
        self._fz = fz
        self._x = ml - ml.mean() + centre_xy_m[0]
        self._y = ap - ap.mean() + centre_xy_m[1]
        self.end_s = float(self._t[-1])
        self.duration_s = self.end_s + step_s + 1.0
        self.mass_kg = float(fz.mean() / 9.80665)
        self.events = [(self.lead_s, "step_on", {}), (self.end_s, "step_off", {})]

    def truth(self, t_s):
        """(fz_n, x_m, y_m) at time(s) ``t_s``: linear interpolation of the recording, a linear
        step on before it and off after it, an empty plate outside."""
        t = np.asarray(t_s, dtype=float)
        fz = np.interp(t, self._t, self._fz)
        x = np.interp(t, self._t, self._x)
        y = np.interp(t, self._t, self._y)
        on = np.clip((t - self.lead_s) / self.step_s, 0.0, 1.0)
        off = np.clip(1.0 - (t - self.end_s) / self.step_s, 0.0, 1.0)
        return fz * np.minimum(on, off), x, y

    def events_between(self, t0_s: float, t1_s: float) -> list[tuple[float, str, dict]]:
        return [e for e in self.events if t0_s <= e[0] < t1_s]


__all__ = ["RecordedLoad"]
