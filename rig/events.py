"""Causal event detection on the plate's sample stream (live and offline, same code).

:class:`EventDetector` is fed batches of samples (``t_s, fz_n, cop_ml_mm, cop_ap_mm, flags``)
as they arrive (the dashboard calls it per ~100 ms batch) and returns the events it became
sure of in that batch. Every decision uses only samples up to the current one, so
:func:`detect` (the whole array at once) returns exactly the same events as any batching.
An event may be *dated* earlier than the sample that confirmed it (``t_s`` <
``detected_t_s``): e.g. a touch-down is confirmed after 3 samples below the threshold and
dated back to where the force started to fall. ``detected_t_s - t_s`` is the live latency.

Events (``name``: when, dated at)
  step_on            load rises above the load threshold (first sample above it)
  weight_settled     1 s of Fz with SD below 1.5 % of its mean; details body_weight_n
                     (dated at the start of that quiet second)
  foot_lift          single-leg stance begins: COP moved sideways > 35 mm from the double-
                     stance COP and stayed 0.3 s; dated where it reached 90 % of the shift;
                     details stance_side, lifted_side, region centre
  touch_down         the lifted foot touches the floor (Fz < BW·(1 − 10 %) for 3 samples) or
                     the plate (COP leaves the single-foot region, 45 mm ML / 110 mm AP, for
                     3 samples); dated back to the onset; details via = "fz" | "cop"
  hop                plate unloaded for less than 0.6 s, then loaded again; dated at take-off
  step_off           plate unloaded for 0.6 s or more; dated at the first unloaded sample
  stepdown_lowering_start / stepdown_lowest / stepdown_return
                     lateral step-down repetition phases from the vertical velocity of the
                     centre of mass, v = ∫(Fz − BW)/m dt (reset to 0 after each return);
                     with the metronome's cue times (``cues=`` / :meth:`EventDetector.add_cue`)
                     each repetition is looked for in its cue's window (:func:`cued_repetition`)
  stepdown_not_performed   a cue whose window shows no repetition (dated at the cue)
  stepdown_uncued_movement Fz movement outside every cue's window (e.g. a wobble)
  landing_contact    first sample above the unloaded mean + 5 SD of the unloaded Fz noise
                     (measured on the plate while it was unloaded, not a fixed newton value);
                     dated one sample earlier when that sample was already above mean + 3 SD
                     (the contact fell late in its conversion)
  landing_peak       the largest Fz within 0.25 s of contact (emitted when that window ends)
  stabilised         Fz stays within BW ± 5 % for 1 s (dated at the start of that second)

Confidence is a number in [0, 1]; how each is computed is in docs/protocols.md. Samples
with the INVALID flag are skipped (they carry no forces).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.integrate import cumulative_trapezoid

from rig.flags import Flag

MODES = ("single_leg_stance", "quiet_stance", "lateral_step_down", "step_down_landing")


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


class EventDetector:
    """Incremental, causal detector. ``feed(t_s, fz_n, cop_ml_mm, cop_ap_mm, flags)`` → events.

    ``mode`` is the protocol kind (it decides what a load onset means and which sub-detectors
    run). ``body_weight_n`` may be given when it was measured before this stream (e.g. the
    patient was weighed before climbing the box); otherwise weight_settled supplies it.
    """

    def __init__(self, mode: str = "single_leg_stance", *, body_weight_n: float | None = None,
                 params: DetectorParams | None = None, cues=None, cue_period_s: float | None = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.p = params or DetectorParams()
        self.bw = body_weight_n
        self.events: list[Event] = []
        self._hist: deque = deque(maxlen=400)    # (t, fz, ml, ap) of recent good samples
        self._noise: deque = deque()             # (t, fz) of unloaded samples
        self._loaded: bool | None = None         # None: before the first sample
        self._unload_t: float | None = None
        self._unload_pending = False
        self._load_t: float | None = None
        self._settled = False
        self._n_skipped = 0
        self._noise_skip = 0
        self._reset_stance()
        self._reset_landing()
        self._reset_stepdown()
        # cue-guided step-down: None = no metronome (the blind detector runs)
        self._cues: list | None = None if cues is None else sorted(float(c) for c in cues)
        self._cue_period = float(cue_period_s) if cue_period_s else self.p.sd_cue_period_s
        self._cue_i = 0                          # the next cue whose window is not analysed yet
        self._win_end = None                     # end of the last analysed window
        self._sdbuf: deque = deque()             # (t, fz) kept for the cue windows
        self._bw_hist: list = []                 # weight reference of each still beat before a cue
        self._last_ref = None                    # (bw, noise SD of the 0.25 s mean) of the last still beat
        self._gap_run: list = []
        self._gap_quiet_since = None
        self._gap_armed = True

    # -- public --------------------------------------------------------------------------
    @property
    def body_weight_n(self) -> float | None:
        return self.bw

    @property
    def contact_threshold_n(self) -> float | None:
        """Unloaded mean + k·SD of the unloaded noise, when enough unloaded samples were seen."""
        if len(self._noise) < self.p.min_noise_samples:
            return None
        f = np.fromiter((x for _, x in self._noise), float)
        return float(f.mean() + self.p.noise_k * max(f.std(ddof=1), self.p.noise_sd_floor_n))

    def _noise_mean_sd(self, k) -> float:
        f = np.fromiter((x for _, x in self._noise), float)
        return float(f.mean() + k * max(f.std(ddof=1), self.p.noise_sd_floor_n))

    def add_cue(self, t_s: float) -> None:
        """A metronome cue ("down") at ``t_s``; switches a lateral step-down detector to the
        cue-guided mode. Feed each cue before samples later than ``t_s + sd_cue_guard_s``."""
        if self._cues is None:
            self._cues = []
        self._cues.append(float(t_s))
        self._cues.sort()

    def feed(self, t_s, fz_n, cop_ml_mm=None, cop_ap_mm=None, flags=None) -> list[Event]:
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        fz = np.atleast_1d(np.asarray(fz_n, dtype=float))
        ml = np.full(len(t), np.nan) if cop_ml_mm is None else np.atleast_1d(np.asarray(cop_ml_mm, float))
        ap = np.full(len(t), np.nan) if cop_ap_mm is None else np.atleast_1d(np.asarray(cop_ap_mm, float))
        fl = np.zeros(len(t), dtype=np.int64) if flags is None else np.atleast_1d(np.asarray(flags)).astype(np.int64)
        n0 = len(self.events)
        for i in range(len(t)):
            if fl[i] & int(Flag.INVALID) or not math.isfinite(fz[i]):
                self._n_skipped += 1
                continue
            self._step(float(t[i]), float(fz[i]), float(ml[i]), float(ap[i]))
        return self.events[n0:]

    # -- helpers -------------------------------------------------------------------------
    def _emit(self, t, name, conf, now, **details) -> None:
        conf = float(min(1.0, max(0.0, conf)))
        self.events.append(Event(round(float(t), 6), name, round(conf, 3), round(float(now), 6), details))

    def _load_threshold(self) -> tuple[float, bool]:
        thr = self.contact_threshold_n
        return (thr, True) if thr is not None else (self.p.load_on_n, False)

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

    def _reset_landing(self) -> None:
        self._contact_t = None
        self._peak = None           # (t, fz)
        self._peak_done = False
        self._stab_start = None
        self._stab_done = False

    def _reset_stepdown(self) -> None:
        self._v = 0.0
        self._z = 0.0
        self._sd_state = "idle"
        self._sd_prev = None        # (t, v)
        self._sd_start = None
        self._sd_cross = None
        self._sd_low = None
        self._sd_zmin = 0.0
        self._sd_vmax = 0.0
        self._quiet_since = None
        self._armed = True
        self._refractory_until = -math.inf
        self._bw_ref = None
        self._tap = None
        self._sd_low = None
        self._sd_braked = False
        self._low_by = None
        self._bw_sum = 0.0
        self._bw_n = 0

    # -- the state machine ----------------------------------------------------------------
    def _step(self, t, fz, ml, ap) -> None:
        p = self.p
        thr, from_noise = self._load_threshold()
        if self._loaded is None:                        # first sample
            self._loaded = fz > thr
            if self._loaded:
                self._load_t = t
                self._emit(t, "step_on", 0.3, t, already_loaded=True)
        elif not self._loaded:
            if fz > thr:
                self._on_load(t, fz, thr, from_noise)
            else:
                self._on_unloaded_sample(t, fz)
        else:
            off = self.p.load_on_n if not from_noise else thr
            if fz < off:
                self._loaded = False
                self._unload_t = t
                self._unload_pending = True
                self._noise_skip = 2                     # transition samples are not noise
            else:
                self._on_loaded(t, fz, ml, ap)
        self._hist.append((t, fz, ml, ap))

    def _on_unloaded_sample(self, t, fz) -> None:
        p = self.p
        if self._noise_skip > 0:
            self._noise_skip -= 1
        else:
            self._noise.append((t, fz))
            while self._noise and self._noise[0][0] < t - p.noise_window_s:
                self._noise.popleft()
        if self._unload_pending and t - self._unload_t >= p.hop_max_s:
            self._unload_pending = False
            self._emit(self._unload_t, "step_off", 0.9, t, from_state=self._state_name())
            self._settled = False
            self._reset_stance()
            self._reset_landing()
            self._reset_stepdown()

    def _state_name(self) -> str:
        return "single_leg" if self._in_sls else ("settled" if self._settled else "loaded")

    def _on_load(self, t, fz, thr, from_noise) -> None:
        p = self.p
        self._loaded = True
        # confidence: how far above the threshold the first loaded sample is
        margin = (fz - thr) / max(thr, 1e-9)
        conf = (0.6 + 0.4 * min(1.0, margin)) if from_noise else 0.5
        if self._unload_pending and self.mode != "step_down_landing":
            self._unload_pending = False
            self._emit(self._unload_t, "hop", 0.8, t, landing_t_s=t, flight_s=round(t - self._unload_t, 4))
            # a hop repositions the stance foot: re-centre the region after the landing
            if self._in_sls:
                self._relocate_until = t + 0.5
                self._region_acc = []
            self._reset_landing()
            return
        self._unload_pending = False
        self._load_t = t
        self._settled = False
        self._reset_stance()
        self._reset_landing()
        self._reset_stepdown()
        if self.mode == "step_down_landing" and self.bw is not None:
            # each HX711 sample is the mean over the conversion that ends at its time stamp: a
            # contact late in a conversion shows as a small rise in that sample. If the sample
            # just before was already above the unloaded mean + 3 SD, it is the contact sample.
            t_c = t
            prev = self._hist[-1] if self._hist else None
            if from_noise and prev is not None and prev[1] > self._noise_mean_sd(3.0):
                t_c = prev[0]
                conf *= 0.9
            self._contact_t = t_c
            self._peak = (t, fz)
            self._emit(t_c, "landing_contact", conf, t, threshold_n=round(thr, 3),
                       threshold_from_noise=from_noise, body_weight_n=round(self.bw, 3))
        else:
            self._emit(t, "step_on", conf, t, threshold_n=round(thr, 3), threshold_from_noise=from_noise)

    def _on_loaded(self, t, fz, ml, ap) -> None:
        p = self.p
        if self._contact_t is not None:
            self._landing(t, fz)
            return
        if not self._settled:
            self._check_settle(t, fz, ml)
            return
        if self.mode == "single_leg_stance":
            self._single_leg(t, fz, ml, ap)
        elif self.mode == "lateral_step_down":
            if self._cues is None:
                self._stepdown(t, fz)
            else:
                self._stepdown_cued(t, fz)

    def _check_settle(self, t, fz, ml) -> None:
        p = self.p
        self._base_win.append((t, fz, ml))
        while self._base_win and self._base_win[0][0] < t - p.settle_s + 1e-9:
            self._base_win.popleft()
        if t - self._load_t < p.settle_s or len(self._base_win) < 4:
            return
        f = np.fromiter((x[1] for x in self._base_win), float)
        if t - self._base_win[0][0] < p.settle_s * 0.9:
            return
        mean, sd = float(f.mean()), float(f.std(ddof=1))
        lim = p.settle_sd_frac * mean
        if mean > 2 * p.load_on_n and sd < lim:
            self._settled = True
            self.bw = mean
            m = np.fromiter((x[2] for x in self._base_win), float)
            self._base_ml = float(np.nanmean(m)) if np.isfinite(m).any() else None
            self._emit(self._base_win[0][0], "weight_settled", 0.5 + 0.5 * (1 - sd / lim), t,
                       body_weight_n=round(mean, 3), sd_n=round(sd, 3),
                       cop_ml_mm=None if self._base_ml is None else round(self._base_ml, 2))

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
        out = not self._inside(ml, ap)
        self._cop_out = self._cop_out + 1 if out else 0
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
        sm = np.convolve(v, np.ones(3) / 3, mode="valid")          # sm[i] is centred on i + 1
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

    # -- lateral step-down ----------------------------------------------------------------
    # Lowering starts where the COM velocity v = ∫(Fz − BW)/m dt crosses −v_start (confirmed
    # when it passes −v_on); the lowest point is where v crosses 0 upwards; the return ends
    # where the upward v falls back below v_start. v is reset to 0 in quiet stance (ZUPT).
    # A heel touch that puts weight on the floor at the bottom is unseen by the plate and
    # biases v downwards by ∫F_touch dt / m: it delays the lowest point and ends the return
    # early (about 30-90 ms for a touch of 2-3 % BW lasting 0.2 s; docs/protocols.md).
    def _stepdown(self, t, fz) -> None:
        p = self.p
        if self._sd_prev is None:
            self._sd_prev = (t, self._v, fz)
            return
        t0, v0, f0 = self._sd_prev
        self._integrate(t0, f0, t, fz)
        v = self._v
        st = self._sd_state
        if st == "idle":
            # the reference weight is the mean Fz of the quiet samples between repetitions
            # (over seconds the body does not accelerate on average; a 1 N error in it is a
            # 0.03 m/s velocity error after 2 s)
            recent = [s[1] for s in list(self._hist)[-4:]] + [fz]
            ref = self._bw_ref if self._bw_ref is not None else self.bw
            quiet = abs(sum(recent) / len(recent) - ref) < p.sd_zupt_band_frac * self.bw
            if quiet:                                  # (movement samples would bias it)
                self._bw_sum += fz
                self._bw_n += 1
                if self._bw_n >= 40:
                    self._bw_ref = self._bw_sum / self._bw_n
            self._quiet_since = (self._quiet_since if self._quiet_since is not None else t) if quiet else None
            if self._quiet_since is not None and t - self._quiet_since >= p.sd_zupt_s:
                self._v = v = 0.0                      # zero-velocity update
                self._armed = True
            if v0 > -p.sd_v_start_m_s >= v:
                self._sd_cross = _interp_cross(t0, v0, t, v, -p.sd_v_start_m_s)
                self._z = 0.0
            elif v > -p.sd_v_start_m_s:
                self._sd_cross = None
            # after a return, a new lowering needs a quiet reset (ZUPT) or the plate showing a
            # downward acceleration now (continuous repetitions at the metronome's cadence)
            armed = self._armed or (t >= self._refractory_until
                                    and fz < self.bw * (1 - p.sd_zupt_band_frac))
            if (v < -p.sd_v_on_m_s and self._sd_cross is not None and armed
                    and (self._armed or self._sd_cross >= self._refractory_until)):
                self._sd_state = "lowering"
                self._sd_start = self._sd_cross
                self._sd_zmin = self._z
                self._sd_low = None
                self._tap = None
                self._sd_braked = False
                self._emit(self._sd_start, "stepdown_lowering_start", 0.8, t)
        elif st == "lowering":
            self._sd_zmin = min(self._sd_zmin, self._z)
            # heel tap: the floor takes part of the weight at the bottom (a dip of the 5-sample
            # mean Fz below BW·(1 − tap_frac) after the descent is under way). The lowest point
            # is then the deepest point of the dip, and v is re-zeroed where the dip ends.
            recent = [s[1] for s in list(self._hist)[-4:]] + [fz]
            fm = sum(recent) / len(recent)
            if fm > self.bw * (1 + p.sd_zupt_band_frac / 2):
                self._sd_braked = True                 # the descent is being braked: near the bottom
            braking = self._sd_braked
            if braking and fm < self.bw * (1 - p.sd_tap_frac):
                if self._tap is None or fm < self._tap[1]:
                    self._tap = (t if len(recent) < 5 else self._hist[-2][0], fm)
            if self._tap is not None and fm > self.bw * (1 - p.sd_tap_frac / 2):
                self._sd_low = self._tap[0]
                self._low_by = "tap"
            elif self._tap is None and v >= 0 > v0:
                self._sd_low = _interp_cross(t0, v0, t, v, 0.0)
                self._low_by = "velocity"
            elif t - self._sd_start > p.sd_max_rep_s:
                self._abandon(t)
            if self._sd_state == "lowering" and self._sd_low is not None:
                if self._low_by == "tap":
                    self._v = v = 0.0
                self._sd_state = "returning"
                self._sd_vmax = 0.0
                self._emit(self._sd_low, "stepdown_lowest", 0.8 if self._low_by == "velocity" else 0.6, t,
                           depth_m=round(-self._sd_zmin, 4), descent_s=round(self._sd_low - self._sd_start, 4),
                           via=self._low_by, tap_drop_bw=None if self._tap is None else round(1 - self._tap[1] / self.bw, 4))
        elif st == "returning":
            self._sd_vmax = max(self._sd_vmax, v)
            if self._sd_vmax > p.sd_v_on_m_s and v0 > p.sd_v_start_m_s >= v:
                t_end = _interp_cross(t0, v0, t, v, p.sd_v_start_m_s)
                depth = max(-self._sd_zmin, 1e-6)
                conf = 1 - min(1.0, abs(self._z) / depth)   # back where it started?
                self._emit(t_end, "stepdown_return", 0.4 + 0.6 * conf, t,
                           return_s=round(t_end - self._sd_low, 4), depth_m=round(depth, 4),
                           residual_m=round(self._z, 4))
                self._finish_rep(t)
            elif t - self._sd_start > p.sd_max_rep_s:
                self._abandon(t)
        self._sd_prev = (t, self._v, fz)

    def _integrate(self, t0, f0, t1, f1) -> None:
        bw = self._bw_ref if self._bw_ref is not None else self.bw
        v0 = self._v
        self._v = v0 + (0.5 * (f0 + f1) - bw) / (bw / 9.80665) * (t1 - t0)
        self._z += 0.5 * (v0 + self._v) * (t1 - t0)

    def _finish_rep(self, t) -> None:
        self._sd_state = "idle"
        self._v = 0.0
        self._z = 0.0
        self._sd_cross = None
        self._quiet_since = None
        self._armed = False
        self._refractory_until = t + 0.5

    def _abandon(self, t) -> None:
        self._emit(self._sd_start, "stepdown_abandoned", 0.5, t)
        self._finish_rep(t)

    # -- lateral step-down, cue-guided ---------------------------------------------------
    # The protocol's metronome says when each repetition was asked for. Each cue t_k opens a
    # window [t_k, end_k), end_k = min(next cue, t_k + period) + the shortest reaction time
    # (guard); the window is analysed once the samples reach end_k (live latency ≤ one period)
    # by :func:`cued_repetition`. Fz outside every window (after the first one) is watched
    # for movement nobody asked for (``stepdown_uncued_movement``).
    def _window_end(self, k) -> float:
        c = self._cues
        nxt = c[k + 1] if k + 1 < len(c) else math.inf
        return min(nxt, c[k] + self._cue_period) + self.p.sd_cue_guard_s

    def _stepdown_cued(self, t, fz) -> None:
        p = self.p
        self._sdbuf.append((t, fz))
        keep = t - (self._cue_period + p.sd_pre_s + 2 * p.sd_cue_guard_s + 1.0)
        if self._cue_i < len(self._cues):
            keep = min(keep, self._cues[self._cue_i] - p.sd_pre_s - 0.5)
        while self._sdbuf and self._sdbuf[0][0] < keep:
            self._sdbuf.popleft()
        while self._cue_i < len(self._cues) and t >= self._window_end(self._cue_i):
            k = self._cue_i
            end = self._window_end(k)
            a = np.array(self._sdbuf)
            rep = cued_repetition(a[:, 0], a[:, 1], self._cues[k], end, p, body_weight_n=self.bw,
                                  bw_history=self._bw_hist)
            if rep.get("bw_n") is not None:
                self._bw_hist.append(rep["bw_n"])
            self._cue_emit(k, rep, t)
            self._cue_i += 1
            self._win_end = end
            self._gap_run, self._gap_quiet_since, self._gap_armed = [], None, True
        # movement outside every window (after the first window closed)
        if self._win_end is None or t < self._win_end:
            return
        if self._cue_i < len(self._cues) and t >= self._cues[self._cue_i]:
            return
        bw, sd = self._last_ref if self._last_ref else (self.bw, 0.0)
        n = max(1, int(round(0.25 / max(DT_GUESS, 1e-3))))
        recent = [s[1] for s in list(self._sdbuf)[-n:] if s[0] >= self._win_end - 0.1]
        if len(recent) < n // 2:
            return
        dev = abs(sum(recent) / len(recent) - bw)
        band = max(p.sd_uncued_band_frac * bw, 4.0 * sd)
        if dev > band:
            self._gap_quiet_since = None
            self._gap_run.append((t, dev))
            if self._gap_armed and self._gap_run[-1][0] - self._gap_run[0][0] >= p.sd_uncued_hold_s - 1e-9:
                peak = max(d for _, d in self._gap_run)
                self._emit(self._gap_run[0][0] - 0.125, "stepdown_uncued_movement",
                           min(1.0, 0.5 + 0.5 * (peak / band - 1)), t,
                           peak_dev_bw=round(peak / bw, 4), band_bw=round(band / bw, 4))
                self._gap_armed = False
        else:
            self._gap_run = []
            self._gap_quiet_since = t if self._gap_quiet_since is None else self._gap_quiet_since
            if t - self._gap_quiet_since >= 1.0:
                self._gap_armed = True

    def _cue_emit(self, k, rep, now) -> None:
        cue = self._cues[k]
        if rep.get("bw_n") is not None:
            self._last_ref = (rep["bw_n"], rep["noise_sd_n"])
        if not rep.get("performed"):
            self._emit(cue, "stepdown_not_performed", rep["confidence"], now, cue_t_s=round(cue, 4),
                       reason=rep.get("reason"), depth_m=rep.get("depth_m"), snr=rep.get("snr"))
            return
        c = rep["confidence"]
        self._emit(rep["start"], "stepdown_lowering_start", c, now, cue_t_s=round(cue, 4),
                   reaction_s=round(rep["start"] - cue, 4), snr=rep["snr"], via="cue")
        self._emit(rep["lowest"], "stepdown_lowest", c, now, cue_t_s=round(cue, 4), via="cue",
                   depth_m=rep["depth_m"], descent_s=round(rep["lowest"] - rep["start"], 4))
        self._emit(rep["return"], "stepdown_return", c, now, cue_t_s=round(cue, 4), via="cue",
                   return_s=round(rep["return"] - rep["lowest"], 4), depth_m=rep["depth_m"])

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


def _other(side):
    return {"left": "right", "right": "left"}.get(side)


def _interp_cross(t0, v0, t1, v1, level) -> float:
    if v1 == v0:
        return t1
    return t0 + (level - v0) / (v1 - v0) * (t1 - t0)


DT_GUESS = 1 / 80    # the plate's sample interval (sizes the 0.25 s running mean)


def _crossing(t, v, i, level) -> float:
    """Time where v crosses ``level`` between samples i and i + 1."""
    return _interp_cross(t[i], v[i], t[i + 1], v[i + 1], level)


def cued_repetition(t_s, fz_n, cue_t_s, end_t_s, params: DetectorParams | None = None, *,
                    body_weight_n=None, bw_history=(), _post_ref=False) -> dict:
    """One cued lateral step-down repetition from the samples around its window.

    ``t_s, fz_n``: samples covering [cue − sd_pre_s, end]. The still beat before the cue
    gives the weight reference BW_pre and the noise; the last sd_pre_s of the window (the
    still beat after the repetition) gives BW_post. v_f = ∫(Fz − BW_pre)/m from the cue
    (at rest: nobody moves before the cue) dates the lowering start (v_f crosses −edge before
    reaching −v_on); v_b = −∫(Fz − BW_post)/m back from the window end (at rest again) dates
    the return (the last upward crossing of +edge); the unseen heel-tap impulse biases v_f
    after the tap and v_b before it by equal and opposite amounts at its centre, so the
    lowest point is where (v_f + v_b)/2 crosses 0 upwards (the crossing nearest the middle of
    start..return). Not performed: no lowering or return found, or a COM drop below
    sd_min_depth_m. Returns a dict (times in s; ``performed``, ``confidence``, ``snr``…)."""
    p = params or DetectorParams()
    t = np.asarray(t_s, float)
    f = np.asarray(fz_n, float)
    g = 9.80665
    pre = (t >= cue_t_s - p.sd_pre_s) & (t <= cue_t_s + 0.1)
    w = (t >= cue_t_s) & (t <= end_t_s)
    out = {"performed": False, "confidence": 0.5, "bw_n": None, "noise_sd_n": None, "snr": None,
           "depth_m": None, "reason": None}
    if pre.sum() < 8 or w.sum() < 16:
        out["reason"] = "too_few_samples"
        return out
    bw_pre = float(f[pre].mean())
    n = max(2, int(round(0.25 / DT_GUESS)))
    k = np.ones(n) / n
    mm_pre = np.convolve(f[pre], k, mode="valid") if pre.sum() > n else f[pre]
    sd = float(np.std(mm_pre))
    out["bw_n"], out["noise_sd_n"] = bw_pre, sd
    tw, fw = t[w], f[w]
    post = tw >= tw[-1] - p.sd_pre_s
    bw_post = float(fw[post].mean())
    if len(bw_history):
        # the weight does not change between beats: the median over the recent still beats
        # (this one included) is steadier than one beat, and robust to a beat that was not
        # still (a repetition's tail when the still beat was skipped)
        bw_pre = float(np.median(list(bw_history)[-4:] + [bw_pre]))
        if _post_ref:
            bw_post = bw_pre
    m = (body_weight_n or bw_pre) / g
    vf = cumulative_trapezoid((fw - bw_pre) / m, tw, initial=0.0)
    ib = cumulative_trapezoid((fw - bw_post) / m, tw, initial=0.0)
    vb = ib - ib[-1]
    mm = np.convolve(fw - bw_pre, k, mode="same")
    snr = float(np.max(np.abs(mm)) / max(sd, 0.05))
    out["snr"] = round(snr, 2)
    on = np.nonzero(vf < -p.sd_v_on_m_s)[0]
    up = np.nonzero(vb > p.sd_v_on_m_s)[0]
    if (not len(on) or not len(up) or up[-1] <= on[0]) and len(bw_history) and not _post_ref:
        # the still beat after the window was not still (e.g. the next repetition followed
        # without a pause): take the weight reference of the earlier still beats instead
        return cued_repetition(t, f, cue_t_s, end_t_s, p, body_weight_n=body_weight_n,
                               bw_history=bw_history, _post_ref=True)
    if not len(on) or not len(up) or up[-1] <= on[0]:
        out["reason"] = "no_movement"
        out["confidence"] = round(min(1.0, 0.5 + 0.1 * max(0.0, 5 - snr)), 3)
        return out
    i = on[0]
    while i > 0 and vf[i - 1] < -p.sd_edge_m_s:
        i -= 1
    start = _crossing(tw, vf, i - 1, -p.sd_edge_m_s) if i > 0 else float(tw[0])
    j = up[-1]
    while j < len(tw) - 1 and vb[j + 1] > p.sd_edge_m_s:
        j += 1
    ret = _crossing(tw, vb, j, p.sd_edge_m_s) if j < len(tw) - 1 else float(tw[-1])
    vm = 0.5 * (vf + vb)
    a, b = on[0], up[-1]
    cross = [q for q in range(a, b) if vm[q] < 0 <= vm[q + 1]]
    mid = 0.5 * (start + ret)
    if cross:
        q = min(cross, key=lambda q: abs(tw[q] - mid))
        low = _crossing(tw, vm, q, 0.0)
    else:
        low = float(tw[a + int(np.argmin(np.abs(vm[a:b + 1])))])
    d1 = (tw >= start) & (tw <= low)
    d2 = (tw >= low) & (tw <= ret)
    down = -float(np.trapezoid(vf[d1], tw[d1])) if d1.sum() > 1 else 0.0
    rise = float(np.trapezoid(vb[d2], tw[d2])) if d2.sum() > 1 else 0.0
    depth = min(down, rise)              # the COM drop, seen on the way down and on the way up
    out["depth_m"] = round(depth, 4)
    if depth < p.sd_min_depth_m and len(bw_history) and not _post_ref:
        return cued_repetition(t, f, cue_t_s, end_t_s, p, body_weight_n=body_weight_n,
                               bw_history=bw_history, _post_ref=True)
    if depth < p.sd_min_depth_m:
        out["reason"] = "too_shallow"
        return out
    out.update(performed=True, post_ref="history" if _post_ref else "still_beat", start=float(start), lowest=float(low), ret=float(ret),
               confidence=round(float(min(1.0, max(0.1, 0.4 + 0.06 * snr))), 3))
    out["return"] = out.pop("ret")
    return out


def detect(t_s, fz_n, cop_ml_mm=None, cop_ap_mm=None, flags=None, *, mode="single_leg_stance",
           body_weight_n=None, params=None, batch=None, cues=None, cue_period_s=None) -> list[Event]:
    """Run :class:`EventDetector` over whole arrays (optionally in batches of ``batch`` samples).
    ``cues``: the metronome's cue times of a lateral step-down (cue-guided mode)."""
    det = EventDetector(mode, body_weight_n=body_weight_n, params=params, cues=cues,
                        cue_period_s=cue_period_s)
    n = len(np.atleast_1d(t_s))
    step = n if not batch else int(batch)
    sl = lambda a, i: None if a is None else np.asarray(a)[i:i + step]
    for i in range(0, max(n, 1), max(step, 1)):
        det.feed(sl(t_s, i), sl(fz_n, i), sl(cop_ml_mm, i), sl(cop_ap_mm, i), sl(flags, i))
    return det.events


def first(events, name, after_t=None):
    """The first event called ``name`` (optionally at or after ``after_t``), or None."""
    for e in events:
        if e.name == name and (after_t is None or e.t_s >= after_t):
            return e
    return None


__all__ = ["DetectorParams", "Event", "EventDetector", "MODES", "cued_repetition", "detect", "first"]
