"""The causal event detector: one state machine per stream, fed batch by batch (see the
package docstring for the events); `detect` runs it over a whole recording."""
from __future__ import annotations

import math
from collections import deque

import numpy as np

from rig.hw.flags import Flag
from rig.analysis.events.base import DETECTS_AS, MODES, STARTS_ON_ONE_LEG, DetectorParams, Event
from rig.analysis.events.landing import LandingEvents
from rig.analysis.events.stance import StanceEvents
from rig.analysis.events.stepdown import StepDownEvents


class EventDetector(StanceEvents, StepDownEvents, LandingEvents):
    """Incremental, causal detector. ``feed(t_s, fz_n, cop_ml_mm, cop_ap_mm, flags)`` → events.

    ``mode`` is the protocol kind (it decides what a load onset means and which sub-detectors
    run). ``body_weight_n`` may be given when it was measured before this stream (e.g. the
    patient was weighed before climbing the box); otherwise weight_settled supplies it.
    """

    def __init__(self, mode: str = "single_leg_stance", *, body_weight_n: float | None = None,
                 params: DetectorParams | None = None, cues=None, cue_period_s: float | None = None,
                 rate_hz: float | None = None, stance_side: str | None = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.kind = mode                         # the protocol kind asked for
        self.mode = DETECTS_AS.get(mode, mode)   # the events it has
        #: the trial's stance leg when it is known (the side the clinician chose); a kind that
        #: starts on one leg otherwise takes it from where the weight settles
        self.stance_side = stance_side if stance_side in ("left", "right") else None
        #: the samples' rate (from the converter, via the recording or the live hello); None:
        #: measured from the time stamps where a window size needs it
        self.rate_hz = float(rate_hz) if rate_hz else None
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
            self._landing(t, fz, ml, ap)
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
            if self.kind in STARTS_ON_ONE_LEG and self._base_ml is not None:
                self._already_on_one_leg(self._base_win[0][0], t)
















def detect(t_s, fz_n, cop_ml_mm=None, cop_ap_mm=None, flags=None, *, mode="single_leg_stance",
           body_weight_n=None, params=None, batch=None, cues=None, cue_period_s=None,
           rate_hz=None, stance_side=None) -> list[Event]:
    """Run :class:`EventDetector` over whole arrays (optionally in batches of ``batch`` samples).
    ``cues``: the metronome's cue times of a lateral step-down (cue-guided mode);
    ``stance_side``: the trial's stance leg, when known."""
    det = EventDetector(mode, body_weight_n=body_weight_n, params=params, cues=cues,
                        cue_period_s=cue_period_s, rate_hz=rate_hz, stance_side=stance_side)
    n = len(np.atleast_1d(t_s))
    step = n if not batch else int(batch)
    sl = lambda a, i: None if a is None else np.asarray(a)[i:i + step]
    for i in range(0, max(n, 1), max(step, 1)):
        det.feed(sl(t_s, i), sl(fz_n, i), sl(cop_ml_mm, i), sl(cop_ap_mm, i), sl(flags, i))
    return det.events
