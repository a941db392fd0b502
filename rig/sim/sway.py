"""Postural sway targets of the virtual person: per stance kind, the COP SD per axis, the mean
COP speed and the ML/AP velocity ratio (sources in docs/simulator.md), and how eyes closed
and a hip drop scale them."""
from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.special import ellipe


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
#: Eyes closed in single-leg stance: SD × 1.25, mean speed × 1.5 (typical Romberg ratios).
EYES_CLOSED_SD, EYES_CLOSED_SPEED = 1.25, 1.5
#: Quiet stance on both feet under the four mCTSIB conditions: (SD factor, mean-speed factor)
#: against firm ground with eyes open, measured on real people: in the Santos & Duarte (2016)
#: public data (docs/reference-values.md), the median over the 79-80 people aged 18-39 of each
#: person's ratio of COP velocity (speed) and of the square root of the 95 % area (SD).
#: tests/sim/test_sway_conditions.py recomputes them from BDSinfoCOP.txt.
DOUBLE_STANCE_CONDITIONS = {("open", "firm"): (1.0, 1.0), ("closed", "firm"): (1.06, 1.09),
                            ("open", "foam"): (2.36, 2.76), ("closed", "foam"): (2.67, 3.62)}
#: hip_drop h in [0, 1] (Trendelenburg-like pelvic drop): ML SD × (1 + HIP_DROP_SD·h) and
#: ML velocity × (1 + HIP_DROP_VEL·h) during single-leg tasks.
HIP_DROP_SD, HIP_DROP_VEL = 1.0, 1.0
#: Nobody on the plate / no sway.
NO_SWAY = SwaySpec(0.0, 0.0, 0.0, 1.0, 0.0)


#: (SD factor, speed factor) of eyes open/closed in single-leg stance.
_EYES = {"open": (1.0, 1.0), "closed": (EYES_CLOSED_SD, EYES_CLOSED_SPEED)}


def _eyes_factor(eyes: str) -> tuple[float, float]:
    if eyes not in _EYES:
        raise ValueError(f"eyes must be 'open' or 'closed', got {eyes!r}")
    return _EYES[eyes]


def double_stance_factor(eyes: str, surface: str) -> tuple[float, float]:
    """(SD factor, speed factor) of quiet stance with ``eyes`` open/closed on a ``surface``
    firm/foam (DOUBLE_STANCE_CONDITIONS)."""
    _eyes_factor(eyes)
    if surface not in ("firm", "foam"):
        raise ValueError(f"surface must be 'firm' or 'foam', got {surface!r}")
    return DOUBLE_STANCE_CONDITIONS[(eyes, surface)]
