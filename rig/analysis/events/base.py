"""What every event detector shares: the Event record, the detector parameters, the modes
and the small crossing helpers."""
from __future__ import annotations

import numpy as np

from dataclasses import asdict, dataclass, field




MODES = ("single_leg_stance", "quiet_stance", "lateral_step_down", "step_down_landing", "single_leg_squat")
#: Protocol kinds whose events are another kind's: a single-leg squat is a single-leg stance as
#: far as events go (foot lift, touch-down); its repetitions are segmented after the trial by
#: rig.analysis.squat.
DETECTS_AS = {"single_leg_squat": "single_leg_stance"}
#: Protocol kinds whose trial starts on the stance leg (the free foot already off the plate):
#: when the weight settles with the COP over one foot, that foot is the stance foot and there
#: is no lift to wait for (a squat's knee-in shift is not a foot lift).
STARTS_ON_ONE_LEG = ("single_leg_squat",)


@dataclass(frozen=True)
class Event:
    t_s: float                 #: when it happened (may precede the confirming sample)
    name: str
    confidence: float          #: 0..1
    detected_t_s: float        #: time of the sample that confirmed it
    details: dict = field(default_factory=dict, compare=True, hash=False)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Event":
        return cls(t_s=float(d["t_s"]), name=d["name"], confidence=float(d["confidence"]),
                   detected_t_s=float(d["detected_t_s"]), details=dict(d.get("details", {})))


@dataclass(frozen=True)
class DetectorParams:
    """Thresholds of the detector; each is documented in docs/protocols.md."""
    load_on_n: float = 20.0          #: load threshold until the unloaded noise is known
    noise_k: float = 5.0             #: contact threshold = unloaded mean + noise_k · SD
    noise_sd_floor_n: float = 0.1    #: lower bound on the noise SD (a quantised zero signal)
    min_noise_samples: int = 8       #: unloaded samples needed before the noise threshold is used
    noise_window_s: float = 2.0      #: the noise estimate uses the last this-many unloaded seconds
    settle_s: float = 1.0            #: window for weight_settled
    settle_sd_frac: float = 0.015    #: ... whose SD must stay below this fraction of its mean
    hop_max_s: float = 0.6           #: unloaded shorter than this: a hop; longer: step_off
    lift_shift_mm: float = 35.0      #: ML COP shift that means a foot was lifted
    lift_hold_s: float = 0.3         #: ... held this long
    region_half_ml_mm: float = 45.0  #: single-foot region around the stance COP, ML
    region_half_ap_mm: float = 110.0 #: ... and AP
    region_track_s: float = 4.0      #: the region's centre follows the stance COP's median over this long
    touch_fz_frac: float = 0.10      #: touch-down on the floor: Fz below BW by this fraction
    confirm_samples: int = 3         #: consecutive samples that confirm a touch-down
    backdate_max_s: float = 0.3      #: how far a touch-down may be dated back
    sd_v_on_m_s: float = 0.05        #: step-down: |v| above this confirms a movement
    sd_v_start_m_s: float = 0.01     #: ... phases start/end where |v| crosses this
    sd_max_rep_s: float = 6.0        #: a repetition not returning within this is abandoned
    sd_tap_frac: float = 0.07        #: a heel tap: the mean Fz dips below BW by this fraction
    sd_zupt_band_frac: float = 0.02  #: |Fz − BW| below this fraction for zupt_s resets v to 0
    sd_zupt_s: float = 0.3
    # cue-guided step-down (used when the protocol's cue times are given; docs/protocols.md)
    sd_cue_period_s: float = 4.0     #: a cue's window when the next cue is not known by then
    sd_cue_guard_s: float = 0.15     #: shortest reaction: a window ends this long after the next cue
    sd_pre_s: float = 1.0            #: the still beat before a cue: weight reference and noise
    sd_edge_m_s: float = 0.02        #: lowering start / return where |v| crosses this (2 cm/s)
    sd_min_depth_m: float = 0.03     #: a window whose COM drop stays below this: not performed
    sd_uncued_band_frac: float = 0.025  #: uncued movement: 0.25 s mean Fz off BW by this ...
    sd_uncued_hold_s: float = 0.3    #: ... for this long, outside every cue's window
    peak_window_s: float = 0.25      #: landing peak: the maximum within this after contact
    stab_band_frac: float = 0.05     #: stabilised: within BW ± this fraction ...
    stab_hold_s: float = 1.0         #: ... for this long


def _other(side):
    return {"left": "right", "right": "left"}.get(side)


def _interp_cross(t0, v0, t1, v1, level) -> float:
    if v1 == v0:
        return t1
    return t0 + (level - v0) / (v1 - v0) * (t1 - t0)


def sample_interval_s(rate_hz, t_s=None) -> float:
    """The sample interval: 1/rate of the converter that recorded the samples (carried in the
    recording and the live stream's hello), or, for bare arrays without a rate (another
    plate's export), the median step of their time stamps."""
    if rate_hz:
        return 1.0 / float(rate_hz)
    t = np.asarray(t_s if t_s is not None else (), float)
    d = np.diff(t[np.isfinite(t)])
    d = d[d > 0]
    if not len(d):
        raise ValueError("no sample rate given and fewer than two increasing time stamps to measure it")
    return float(np.median(d))


def _crossing(t, v, i, level) -> float:
    """Time where v crosses ``level`` between samples i and i + 1."""
    return _interp_cross(t[i], v[i], t[i + 1], v[i + 1], level)


def first(events, name, after_t=None):
    """The first event called ``name`` (optionally at or after ``after_t``), or None."""
    for e in events:
        if e.name == name and (after_t is None or e.t_s >= after_t):
            return e
    return None
