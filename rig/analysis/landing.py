"""Landing measures (step-down landing from a box), and what 80 samples/s does to them.

All times are seconds after initial contact; forces in N or body weights (BW). Every result
carries ``sample_rate_hz``: at the HX711's 80 samples/s an impact peak is under-read (see
:func:`hx711_resample`, :func:`resampling_study` and docs/landing-sampling.md).

Definitions (docs/protocols.md has the references):
- contact: first sample above the unloaded mean + 5 SD (rig.analysis.events, landing_contact).
- peak_force: the largest Fz within 0.25 s of contact; time_to_peak_s from contact.
- loading_rate_bw_s: (F_peak − F_contact) / BW / (t_peak − t_contact), the average slope from
  the contact sample to the peak.
- impulse_100ms_n_s: ∫ Fz dt from contact to contact + 100 ms (trapezoid, total, not net of BW).
- vsi_bw: vertical stability index, the vertical part of the DPSI of Wikstrom et al. (2005):
  sqrt(mean((BW − Fz)²)) / BW over the first 3 s after contact. The AP and ML parts
  (and so the DPSI itself) need shear forces, which this plate does not measure.
- time to stabilisation (TTS), all over one fixed window after contact (``tts_window_s``,
  recorded: TTS depends strongly on it, Fransz et al. 2015):
  * tts_seq_avg_s: sequential averaging (Colby et al. 1999): the cumulative mean of Fz from
    contact stays within the window's mean ± 0.25 SD from then on;
  * tts_bw5_s: Fz stays within BW ± 5 % for 1 s, from the first such second after the peak;
  * tts_cop_seq_avg_s: sequential averaging applied to COP ML and COP AP; the later of the two.
- post-landing sway: the sway suite (rig.analysis.metrics) on the COP from 5 to 20 s after contact.
"""
from __future__ import annotations

import math

import numpy as np

from rig.analysis.events import detect, first
from rig.analysis.metrics import MetricsInputError, compute_all
from rig.analysis.metrics._checks import MIN_SAMPLES

PEAK_WINDOW_S = 0.25
DPSI_WINDOW_S = 3.0
FINE_HZ = 12000.0


def _as_t(t_or_fs, n):
    if np.ndim(t_or_fs) == 0:
        return np.arange(n) / float(t_or_fs)
    return np.asarray(t_or_fs, dtype=float)


def _seq_avg_tts(x, t_rel, k_sd=0.25):
    """First time after which the cumulative mean stays within mean ± k·SD of the window."""
    ok = np.isfinite(x)
    x, t_rel = x[ok], t_rel[ok]
    if len(x) < 3:
        return None
    m, s = x.mean(), x.std(ddof=1)
    cum = np.cumsum(x) / np.arange(1, len(x) + 1)
    outside = np.abs(cum - m) > k_sd * s
    if not outside.any():
        return float(t_rel[0])
    last = int(np.nonzero(outside)[0][-1])
    return float(t_rel[last + 1]) if last + 1 < len(x) else None


def tts_bw_band(t_rel, fz, bw, band_frac=0.05, hold_s=1.0, start_s=0.0):
    """First time ≥ start_s from which Fz stays within BW ± band for hold_s (None if never)."""
    inside = np.abs(fz - bw) <= band_frac * bw
    n = len(fz)
    j = 0
    for i in range(n):
        if t_rel[i] < start_s or not inside[i]:
            continue
        j = max(j, i)
        while j < n and inside[j] and t_rel[j] - t_rel[i] < hold_s - 1e-9:
            j += 1
        if j < n and inside[j] and t_rel[j] - t_rel[i] >= hold_s - 1e-9:
            return float(t_rel[i])
        if j >= n:
            return None
    return None


def _sway(t, ml, ap):
    """The sway suite (rig.analysis.metrics) on the finite COP samples of the post-landing
    window. A window the suite cannot analyse (too short: fewer than 10 samples, or too few for
    its spectra) gives no sway measures rather than a different, smaller set; any other error
    is a real one and propagates."""
    ok = np.isfinite(ml) & np.isfinite(ap)
    t, ml, ap = t[ok], ml[ok], ap[ok]
    if len(t) < MIN_SAMPLES:
        return {}
    try:
        out = compute_all(t, ml / 1000.0, ap / 1000.0)
    except MetricsInputError:
        return {}
    out = out.get("metrics", out)
    return {k: v for k, v in out.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def landing_metrics(t_s, fz_n, body_weight_n, contact_t_s, *, cop_ml_mm=None, cop_ap_mm=None,
                    tts_window_s=10.0, sway_window_s=(5.0, 20.0), box_height_cm=None) -> dict:
    """Measures of one landing. ``t_s`` may be the sampling rate (Hz) for evenly spaced data."""
    fz = np.asarray(fz_n, dtype=float)
    t = _as_t(t_s, len(fz))
    bw = float(body_weight_n)
    dt = np.diff(t)
    fs = float(1 / np.median(dt))
    c = int(np.searchsorted(t, contact_t_s - 1e-9))
    tr = t - t[c]
    out = {"sample_rate_hz": round(fs, 3), "body_weight_n": bw, "contact_t_s": float(t[c])}
    if box_height_cm is not None:
        out["box_height_cm"] = float(box_height_cm)
    win = (tr >= 0) & (tr <= PEAK_WINDOW_S)
    k = c + int(np.argmax(fz[win]))
    ttp = float(tr[k])
    out.update(peak_force_n=float(fz[k]), peak_force_bw=float(fz[k] / bw), time_to_peak_s=ttp)
    out["loading_rate_bw_s"] = float((fz[k] - fz[c]) / bw / ttp) if ttp > 0 else None
    out["loading_rate_n_s"] = float((fz[k] - fz[c]) / ttp) if ttp > 0 else None
    # impulse over the first 100 ms (trapezoid with the end point interpolated)
    end = 0.1
    if tr[-1] >= end:
        m = (tr >= 0) & (tr <= end)
        tt = np.append(tr[m], end) if tr[m][-1] < end else tr[m]
        ff = np.append(fz[m], np.interp(end, tr, fz)) if tr[m][-1] < end else fz[m]
        imp = float(np.sum(0.5 * (ff[1:] + ff[:-1]) * np.diff(tt)))
        out.update(impulse_100ms_n_s=imp, impulse_100ms_bw_s=imp / bw)
    # vertical stability index (vertical part of the DPSI)
    m = (tr >= 0) & (tr <= DPSI_WINDOW_S)
    out["vsi_bw"] = float(math.sqrt(np.mean((bw - fz[m]) ** 2)) / bw)
    out["vsi_window_s"] = float(min(DPSI_WINDOW_S, tr[m][-1]))
    out["dpsi_note"] = "vertical part only; the AP/ML parts need shear forces this plate does not measure"
    # time to stabilisation, one fixed window
    avail = float(tr[-1])
    w = min(float(tts_window_s), avail)
    out["tts_window_s"] = w
    out["tts_window_requested_s"] = float(tts_window_s)
    out["tts_window_truncated"] = bool(w < tts_window_s)
    m = (tr >= 0) & (tr <= w + 1e-9)
    out["tts_seq_avg_s"] = _seq_avg_tts(fz[m], tr[m])
    out["tts_bw5_s"] = tts_bw_band(tr[m], fz[m], bw, 0.05, 1.0, start_s=ttp)
    if cop_ml_mm is not None and cop_ap_mm is not None:
        ml = np.asarray(cop_ml_mm, float)
        ap = np.asarray(cop_ap_mm, float)
        a = _seq_avg_tts(ml[m], tr[m])
        b = _seq_avg_tts(ap[m], tr[m])
        out["tts_cop_ml_seq_avg_s"] = a
        out["tts_cop_ap_seq_avg_s"] = b
        out["tts_cop_seq_avg_s"] = None if a is None or b is None else max(a, b)
        s0, s1 = sway_window_s
        s1 = min(s1, avail)
        out["post_sway_window_s"] = [float(s0), float(s1)]
        if s1 - s0 >= 2.0:
            sm = (tr >= s0) & (tr <= s1)
            for key, v in _sway(t[sm], ml[sm], ap[sm]).items():
                out[f"post_sway_{key}"] = v
    return out


# --- the resampling study --------------------------------------------------------------
MODELS = ("point", "boxcar", "sinc4")


def hx711_resample(t_s, fz_n, fs_out=80.0, phase_s=0.0, model="boxcar"):
    """What an HX711 at ``fs_out`` would report for the force ``fz_n`` sampled at ``t_s``.

    Models (each output is stamped at the end of its conversion, t_k = t0 + phase + k/fs_out):
    - ``point``: the force at t_k (no anti-aliasing at all);
    - ``boxcar``: the mean force over the conversion period (t_k − 1/fs_out, t_k] — a sinc¹
      filter, the minimum a sigma-delta converter does;
    - ``sinc4``: four such averages in cascade (a 50 ms triangle-cubed window, 25 ms delay).
      The HX711 datasheet gives a 50 ms settling time at 80 SPS, four conversion periods,
      which is what a sinc⁴ decimation filter needs; the datasheet does not name the filter,
      so boxcar and sinc4 bracket the real chip.
    The input is linearly interpolated to 12 kHz first.
    """
    t = np.asarray(t_s, float)
    f = np.asarray(fz_n, float)
    tf = np.arange(t[0], t[-1], 1 / FINE_HZ)
    ff = np.interp(tf, t, f)
    period = 1 / fs_out
    n_box = int(round(period * FINE_HZ))
    if model == "point":
        y = ff
    elif model in ("boxcar", "sinc4"):
        y = ff
        for _ in range(1 if model == "boxcar" else 4):
            c = np.concatenate([[0.0], np.cumsum(y)])
            yy = np.empty_like(y)
            idx = np.arange(len(y))
            lo = np.maximum(idx + 1 - n_box, 0)
            yy[:] = (c[idx + 1] - c[lo]) / (idx + 1 - lo)
            y = yy
    else:
        raise ValueError(f"model must be one of {MODELS}")
    start = t[0] + phase_s + (period if model != "point" else 0.0) * (4 if model == "sinc4" else 1)
    tk = np.arange(start, tf[-1], period)
    return tk, np.interp(tk, tf, y)


def _detect_contact(t, fz, bw):
    ev = detect(t, fz, mode="step_down_landing", body_weight_n=bw)
    e = first(ev, "landing_contact")
    return None if e is None else e


def landing_from_force(t_s, fz_n, body_weight_n, **kw) -> dict:
    """Detect the contact with rig.analysis.events and measure the landing (Fz only)."""
    t = np.asarray(t_s, float)
    e = _detect_contact(t, np.asarray(fz_n, float), body_weight_n)
    if e is None:
        raise ValueError("no landing contact found")
    out = landing_metrics(t, fz_n, body_weight_n, e.t_s, **kw)
    out["contact_threshold_n"] = e.details.get("threshold_n")
    out["contact_confidence"] = e.confidence
    return out


def resampling_study(t_s, fz_n, body_weight_n, *, fs_out=80.0, phases=8, models=MODELS,
                     tts_window_s=10.0) -> dict:
    """Landing measures at the original rate and at ``fs_out`` for ``phases`` sampling phases.

    Returns the reference (original rate) measures and, per model, the per-phase measures and
    the errors: peak_error_pct (negative = under-read), loading_rate_error_pct,
    time_to_peak_error_s, contact_error_s (positive = later than the original's contact).
    """
    ref = landing_from_force(t_s, fz_n, body_weight_n, tts_window_s=tts_window_s)
    out = {"reference": ref, "fs_out_hz": fs_out, "phases": phases, "models": {}}
    for model in models:
        rows = []
        for i in range(phases):
            tk, fk = hx711_resample(t_s, fz_n, fs_out, phase_s=i / phases / fs_out, model=model)
            r = landing_from_force(tk, fk, body_weight_n, tts_window_s=tts_window_s)
            r["phase_s"] = i / phases / fs_out
            r["peak_error_pct"] = 100 * (r["peak_force_n"] / ref["peak_force_n"] - 1)
            r["loading_rate_error_pct"] = 100 * (r["loading_rate_bw_s"] / ref["loading_rate_bw_s"] - 1)
            r["time_to_peak_error_s"] = r["time_to_peak_s"] - ref["time_to_peak_s"]
            r["contact_error_s"] = r["contact_t_s"] - ref["contact_t_s"]
            rows.append(r)
        summ = {}
        for key in ("peak_error_pct", "loading_rate_error_pct", "time_to_peak_error_s", "contact_error_s"):
            v = np.array([r[key] for r in rows])
            summ[key] = {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())}
        out["models"][model] = {"per_phase": rows, "summary": summ}
    return out


# --- the real recordings in shared/validation/landing_vgrf --------------------------------
def load_validation_landing(validation_dir, name):
    """(t_s, fz_n, body_weight_n, note) of one of the real landing recordings.

    - ``GRFZjump``: 600 Hz, one column of vertical GRF; body weight = mean of the quiet
      standing in the first 0.15 s.
    - ``BFR007``: 1000 Hz, two plates; Fz = ground_force1_vy + ground_force2_vy (y is up);
      body weight = mean of the quiet stance in the last 0.5 s (after the landing).
    """
    from pathlib import Path
    d = Path(validation_dir) / "landing_vgrf"
    if name == "GRFZjump":
        f = np.loadtxt(d / "GRFZjump.txt")
        t = np.arange(len(f)) / 600.0
        return t, f, float(f[t < 0.15].mean()), "600 Hz, countermovement jump landing (demotu/BMC)"
    if name == "BFR007":
        a = np.genfromtxt(d / "BFR007_1st_squat_jump.csv", delimiter=",", names=True)
        f = a["ground_force1_vy"] + a["ground_force2_vy"]
        t = a["time"] - a["time"][0]
        return t, f, float(f[t >= t[-1] - 0.5].mean()), "1000 Hz, squat jump landing, 2 plates summed (andrewlba/ACL_squat_jump)"
    raise ValueError(f"unknown recording {name!r}")
