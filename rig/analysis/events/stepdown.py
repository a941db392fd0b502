"""Lateral step-down events: repetition phases from the centre of mass's vertical velocity,
blind or guided by the metronome's cues (`cued_repetition`)."""
from __future__ import annotations

import math

import numpy as np
from scipy.integrate import cumulative_trapezoid

from rig.constants import G
from rig.analysis.events.base import DetectorParams, _crossing, _interp_cross, sample_interval_s
from rig.analysis.smoothing import moving_mean


class StepDownEvents:
    """The lateral step-down part of `EventDetector` (its state lives on the detector)."""

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
        self._v = v0 + (0.5 * (f0 + f1) - bw) / (bw / G) * (t1 - t0)
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
                                  bw_history=self._bw_hist, rate_hz=self.rate_hz)
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
        n = max(1, int(round(0.25 / max(sample_interval_s(self.rate_hz, [s[0] for s in self._sdbuf]), 1e-3))))
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


def cued_repetition(t_s, fz_n, cue_t_s, end_t_s, params: DetectorParams | None = None, *,
                    body_weight_n=None, bw_history=(), rate_hz=None, _post_ref=False) -> dict:
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
    sd_min_depth_m. ``rate_hz``: the samples' rate (sizes the 0.25 s running mean; measured
    from ``t_s`` when not given). Returns a dict (times in s; ``performed``, ``confidence``, ``snr``…)."""
    p = params or DetectorParams()
    t = np.asarray(t_s, float)
    f = np.asarray(fz_n, float)
    g = G
    pre = (t >= cue_t_s - p.sd_pre_s) & (t <= cue_t_s + 0.1)
    w = (t >= cue_t_s) & (t <= end_t_s)
    out = {"performed": False, "confidence": 0.5, "bw_n": None, "noise_sd_n": None, "snr": None,
           "depth_m": None, "reason": None}
    if pre.sum() < 8 or w.sum() < 16:
        out["reason"] = "too_few_samples"
        return out
    bw_pre = float(f[pre].mean())
    n = max(2, int(round(0.25 / sample_interval_s(rate_hz, t))))
    mm_pre = moving_mean(f[pre], n, "valid") if pre.sum() > n else f[pre]
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
    mm = moving_mean(fw - bw_pre, n, "same")
    snr = float(np.max(np.abs(mm)) / max(sd, 0.05))
    out["snr"] = round(snr, 2)
    on = np.nonzero(vf < -p.sd_v_on_m_s)[0]
    up = np.nonzero(vb > p.sd_v_on_m_s)[0]
    if (not len(on) or not len(up) or up[-1] <= on[0]) and len(bw_history) and not _post_ref:
        # the still beat after the window was not still (e.g. the next repetition followed
        # without a pause): take the weight reference of the earlier still beats instead
        return cued_repetition(t, f, cue_t_s, end_t_s, p, body_weight_n=body_weight_n, rate_hz=rate_hz,
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
        return cued_repetition(t, f, cue_t_s, end_t_s, p, body_weight_n=body_weight_n, rate_hz=rate_hz,
                               bw_history=bw_history, _post_ref=True)
    if depth < p.sd_min_depth_m:
        out["reason"] = "too_shallow"
        return out
    out.update(performed=True, post_ref="history" if _post_ref else "still_beat", start=float(start), lowest=float(low), ret=float(ret),
               confidence=round(float(min(1.0, max(0.1, 0.4 + 0.06 * snr))), 3))
    out["return"] = out.pop("ret")
    return out
