"""Scripted Fz/COP traces with known event times, for testing the protocol analysis.

A light, fast stand-in for the full simulator chain (rig.sim): the truth is built on a fine
grid (2 kHz) and turned into plate samples the way the HX711 does it — each sample is the
average of the force over the 12.5 ms conversion that ends at its timestamp — plus sensor
noise (≈0.3 N per cell, COP noise ≈0.7 mm at body weight). Every trace returns its truth
events (``t_s``, ``name``) and the parameters it was built from.
"""
from __future__ import annotations

import numpy as np

G = 9.80665
FINE_HZ = 2000.0


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _sway(rng, n, fs, sd, fc=0.6):
    """Band-limited sway: white noise through a 2nd-order low-pass at ``fc`` Hz, scaled to ``sd``."""
    from scipy.signal import butter, lfilter
    b, a = butter(2, fc / (fs / 2))
    x = lfilter(b, a, rng.standard_normal(n + int(5 * fs)))[int(5 * fs):]
    return x / (x.std() + 1e-12) * sd


class Trace:
    """Fine-grid truth → sampled plate data."""

    def __init__(self, duration_s, seed, fs=80.0, phase_s=None):
        self.rng = np.random.default_rng(seed)
        self.fs = fs
        self.tf = np.arange(0, duration_s, 1 / FINE_HZ)
        self.fz = np.zeros_like(self.tf)
        self.ml = np.zeros_like(self.tf)
        self.ap = np.zeros_like(self.tf)
        self.events: list[tuple[float, str]] = []
        self.phase_s = self.rng.uniform(0, 1 / fs) if phase_s is None else phase_s

    def sample(self, boxcar_s=None, fz_noise_n=0.6, cop_noise_mm=0.7):
        """Samples at fs: Fz averaged over the conversion (12.5 ms at 80 Hz), COP = moment/Fz."""
        boxcar_s = 1 / self.fs if boxcar_s is None else boxcar_s
        t = np.arange(self.phase_s + boxcar_s, self.tf[-1], 1 / self.fs)
        dt = 1 / FINE_HZ
        cfz = np.concatenate([[0], np.cumsum(self.fz) * dt])
        cmx = np.concatenate([[0], np.cumsum(self.fz * self.ml) * dt])
        cmy = np.concatenate([[0], np.cumsum(self.fz * self.ap) * dt])
        tc = np.concatenate([self.tf, [self.tf[-1] + dt]])
        avg = lambda c: (np.interp(t, tc, c) - np.interp(t - boxcar_s, tc, c)) / boxcar_s
        fz = avg(cfz)
        with np.errstate(invalid="ignore", divide="ignore"):
            ml = avg(cmx) / fz
            ap = avg(cmy) / fz
        fz = fz + self.rng.normal(0, fz_noise_n, len(t))
        scale = np.where(fz > 20, cop_noise_mm * np.sqrt(700.0 / np.maximum(fz, 20)), np.nan)
        ml = ml + self.rng.normal(0, 1, len(t)) * scale
        ap = ap + self.rng.normal(0, 1, len(t)) * scale
        unl = fz < 20
        ml[unl] = np.nan
        ap[unl] = np.nan
        flags = np.where(unl, 16, 0)
        return {"t_s": t, "fz_n": fz, "cop_ml_mm": ml, "cop_ap_mm": ap, "flags": flags,
                "events": sorted(self.events), "fs": self.fs}


def single_leg_stance(seed=0, *, bw_n=700.0, stance="left", foot_ml_mm=95.0, t_on=0.8,
                      lift_t=4.0, duration_s=26.0, sway_ml_mm=4.0, sway_ap_mm=6.0,
                      touch_t=None, touch_via="floor", wobble_t=None, hop_t=None,
                      step_off_t=None, fs=80.0):
    """Step on, stand, lift the other foot at ``lift_t`` and stand on ``stance``.

    Options add a touch-down of the lifted foot (on the floor: Fz falls by 30 % BW; on the
    plate: the COP moves 40 % of the way to the other foot), a wobble (a 25 mm, 0.6 s ML
    excursion with ±4 % BW Fz — not a touch-down), a hop (0.25 s flight), or an early step-off.
    """
    tr = Trace(duration_s, seed, fs)
    tf = tr.tf
    sgn = -1.0 if stance == "left" else 1.0
    end = step_off_t if step_off_t is not None else duration_s - 1.0
    load = _smoothstep((tf - t_on) / 0.4) * (1 - _smoothstep((tf - end) / 0.15))
    tr.fz = bw_n * load + 3.0 * _sway(tr.rng, len(tf), FINE_HZ, 1.0, 1.0) * load
    shift = _smoothstep((tf - (lift_t - 0.4)) / 0.4)
    ml = sgn * foot_ml_mm * shift + _sway(tr.rng, len(tf), FINE_HZ, 1.5) * (1 - shift)
    ml = ml + _sway(tr.rng, len(tf), FINE_HZ, sway_ml_mm) * shift
    ap = 10.0 + _sway(tr.rng, len(tf), FINE_HZ, 2.0) * (1 - shift) + _sway(tr.rng, len(tf), FINE_HZ, sway_ap_mm) * shift
    tr.events += [(t_on, "step_on"), (lift_t, "foot_lift")]
    if touch_t is not None:
        on = _smoothstep((tf - touch_t) / 0.04) * (1 - _smoothstep((tf - touch_t - 0.6) / 0.1))
        if touch_via == "floor":
            tr.fz = tr.fz * (1 - 0.30 * on)
        else:
            ml = ml + on * 0.4 * (-2 * sgn * foot_ml_mm)
        tr.events.append((touch_t, "touch_down"))
    if wobble_t is not None:
        w = np.where((tf >= wobble_t) & (tf < wobble_t + 0.6), np.sin(np.pi * (tf - wobble_t) / 0.6), 0.0)
        ml = ml + 25.0 * w * -sgn
        tr.fz = tr.fz + 0.04 * bw_n * w * np.sin(2 * np.pi * (tf - wobble_t) / 0.3)
    if hop_t is not None:
        flight = (tf >= hop_t) & (tf < hop_t + 0.25)
        tr.fz[flight] = 0.0
        after = tf >= hop_t + 0.25
        x = tf[after] - (hop_t + 0.25)
        tr.fz[after] += bw_n * 1.2 * np.exp(-x / 0.08) * np.sin(np.pi * np.clip(x / 0.12, 0, 1))
        ml[after] += -sgn * 20.0
        tr.events += [(hop_t, "hop")]
    if step_off_t is not None or True:
        tr.events.append((end, "step_off"))
    tr.ml, tr.ap = ml, ap
    out = tr.sample()
    out.update(bw_n=bw_n, stance=stance)
    return out


def landing(seed=0, *, bw_n=700.0, contact_t=2.0, peak_bw=3.0, t_peak_s=0.05, box_s=2.0,
            hold_s=20.0, foot_ml_mm=-60.0, settle_tau_s=0.6, sway_ml_mm=5.0, fs=80.0,
            boxcar_s=None):
    """Unloaded plate (patient on the box), a single-leg landing at ``contact_t``, a hold.

    Fz after contact: a half-sine impact peaking at ``peak_bw`` at ``t_peak_s``, then a damped
    1.5 Hz oscillation around BW with time constant ``settle_tau_s``, plus sway.
    """
    tr = Trace(contact_t + hold_s, seed, fs)
    tf = tr.tf
    x = tf - contact_t
    c = x >= 0
    imp = np.where(c & (x < 2 * t_peak_s * 1.6), np.sin(np.pi * np.clip(x / (2 * t_peak_s), 0, 1)) ** 1.5, 0.0)
    imp = np.where(x > t_peak_s, np.exp(-((x - t_peak_s) / (0.6 * t_peak_s)) ** 2), imp)
    base = bw_n * (1 - np.exp(-np.clip(x, 0, None) / 0.015))   # a foot lands with a finite slope
    osc = -0.25 * bw_n * np.exp(-np.clip(x, 0, None) / settle_tau_s) * np.sin(2 * np.pi * 1.5 * np.clip(x - 1.5 * t_peak_s, 0, None))
    osc = np.where(x > 1.5 * t_peak_s, osc, 0.0)
    sway = _sway(tr.rng, len(tf), FINE_HZ, 2.0, 1.0)
    tr.fz = np.where(c, base + (peak_bw * bw_n - bw_n) * imp + osc + sway, 0.0)
    tr.fz = np.maximum(tr.fz, 0.0)
    env = 1 + 4 * np.exp(-np.clip(x, 0, None) / settle_tau_s)
    tr.ml = foot_ml_mm + _sway(tr.rng, len(tf), FINE_HZ, sway_ml_mm) * env
    tr.ap = 20 + _sway(tr.rng, len(tf), FINE_HZ, 1.5 * sway_ml_mm) * env
    tr.events += [(contact_t, "landing_contact")]
    out = tr.sample(boxcar_s=boxcar_s)
    dt = 1 / FINE_HZ
    k = int(np.argmax(tr.fz))
    out.update(bw_n=bw_n, true_peak_n=float(tr.fz[k]), true_t_peak_s=float(tf[k] - contact_t),
               true_impulse_100ms_n_s=float(tr.fz[c & (x <= 0.1)].sum() * dt), contact_t=contact_t)
    return out


def step_down(seed=0, *, bw_n=700.0, stance="left", foot_ml_mm=0.0, reps=5, cadence_bpm=60.0,
              depth_m=0.12, pause_s=0.5, start_t=4.0, medial_mm=15.0, touch_frac=0.02,
              jerk_bw=0.0, duration_s=None, fs=80.0):
    """Lateral step-down: already on the plate on ``stance``; ``reps`` dips of the centre of mass.

    Each repetition: z(t) = −depth/2·(1 − cos(2πt/T)), T = 2 beats; Fz = BW + m·z''. At the
    bottom the other heel touches the floor with ``touch_frac``·BW for 0.2 s. The COP moves
    medially (towards the other foot) by ``medial_mm``·(depth fraction). ``jerk_bw`` adds a
    5 Hz tremor of that amplitude during the lowering (a less smooth repetition).
    """
    T = 2 * 60.0 / cadence_bpm
    total = start_t + reps * (T + pause_s) + 3.0 if duration_s is None else duration_s
    tr = Trace(total, seed, fs)
    tf = tr.tf
    m = bw_n / G
    acc = np.zeros_like(tf)
    frac = np.zeros_like(tf)
    touch = np.zeros_like(tf)
    trem = np.zeros_like(tf)
    for r in range(reps):
        t0 = start_t + r * (T + pause_s)
        x = tf - t0
        inrep = (x >= 0) & (x < T)
        acc[inrep] += -depth_m / 2 * (2 * np.pi / T) ** 2 * np.cos(2 * np.pi * x[inrep] / T)
        frac[inrep] = (1 - np.cos(2 * np.pi * x[inrep] / T)) / 2
        tb = t0 + T / 2
        touch += _smoothstep((tf - (tb - 0.1)) / 0.03) * (1 - _smoothstep((tf - (tb + 0.1)) / 0.03))
        low = (x >= 0) & (x < T / 2)
        trem[low] += np.sin(2 * np.pi * 5 * x[low]) * np.sin(np.pi * x[low] / (T / 2))
        tr.events += [(t0, "stepdown_lowering_start"), (tb, "stepdown_lowest"), (t0 + T, "stepdown_return")]
    sgn = -1.0 if stance == "left" else 1.0       # stance foot side; medial is towards the centre
    tr.fz = (bw_n + m * acc) * (1 - touch_frac * touch) + jerk_bw * bw_n * trem
    tr.fz = tr.fz + 2.0 * _sway(tr.rng, len(tf), FINE_HZ, 1.0, 1.0)
    tr.ml = foot_ml_mm + sgn * 40 - sgn * medial_mm * frac + _sway(tr.rng, len(tf), FINE_HZ, 3.0)
    tr.ap = 15 + _sway(tr.rng, len(tf), FINE_HZ, 5.0)
    out = tr.sample()
    out.update(bw_n=bw_n, stance=stance, period_s=T, depth_m=depth_m, medial_mm=medial_mm)
    return out
