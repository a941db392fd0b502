"""End to end: virtual person -> simulated plate -> emulated HX711s -> SimBus -> HX711Array
driver -> ForceModel.nominal (tared on the empty plate) -> Fz and COP, against the truth.

Noise budget (ideal plate, datasheet chip noise), derived rather than tuned:

* Chip noise: 90 nV rms input-referred (HX711 datasheet, gain 128, 80 SPS). A cell gives
  S·AVDD/F_cap = 2 mV/V · 4.3 V / (50 kg · g) = 17.5 µV/N, so each corner has
  σ_f = 90 nV / 17.5 µV/N = 5.1 mN of noise. Fz = Σf: σ_Fz = 2·σ_f ≈ 10 mN. COP error
  Σ δf_i·(p_i − cop)/Fz: σ_cop = σ_f·sqrt(Σ|p_i − cop|²)/Fz ≈ 4 µm at body weight (72 kg).
* Timing: a frame's t_ns is when its read started; each chip's conversion completed at most
  one conversion period T (12.5 ms, + skew and read time) earlier, and not at the same
  instant for all four. So corner i is off by ḟ_i·Δt_i with |Δt_i| ≤ T: per frame,
  |δFz| ≤ T·Σ|ḟ_i| and |δcop| ≤ T·Σ|ḟ_i|·|p_i − cop|/Fz. This bound is computed from the
  truth at each frame and dominates the noise (worst case ≈ 0.35 mm / 0.9 N in quiet stance,
  ≈ 0.9 mm / 2.4 N in single-leg stance, where Fz ripples more; measured RMS errors are
  ≈ 0.03 mm / 0.13 N and ≈ 0.17 mm / 0.9 N).

The assertion: RMS error ≤ sqrt(noise² + mean(timing bound²)), and an absolute ceiling.
"""
from __future__ import annotations

import numpy as np
import pytest

from rig.config import Config
from rig.hw.flags import Flag
from rig.sim.gpio import SimBus
from rig.signal.plate import G
from rig.sim.person import DoubleStance, LiftFoot, Off, SingleLeg, StepOff, StepOn, TouchDown, VirtualPerson
from rig.sim.plate import SimPlate
from rig.sim.rig import MAX_SKEW_PPM, make_sim_backend, make_sim_rig

MASS = 72.0
NOISE_V = 90e-9


def run(rig, until_s):
    hx = rig.driver()
    frames = []
    while rig.clock.now_ns() < until_s * 1e9:
        frames.append(hx.read_frame())
    return frames


@pytest.fixture(scope="module")
def session():
    cfg = Config()
    script = [Off(2.0), StepOn(0.5, lead="left"), DoubleStance(8.0), LiftFoot("right"), SingleLeg("left", 6.0),
              TouchDown("right"), DoubleStance(2.0), StepOff(), Off(1.0)]
    person = VirtualPerson(MASS, seed=4, script=script)
    # ideal cells; a platform dead weight and bridge offsets that the tare must remove
    plate = SimPlate.from_config(cfg, dead_weight_kg=4.5, zero_offset_v=[1e-4, -2e-4, 3e-4, 0.5e-4])
    rig = make_sim_rig(cfg, person=person, plate=plate, seed=4)
    frames = run(rig, person.duration_s - 0.1)
    t = np.array([f.t_ns for f in frames])
    counts = np.array([f.counts for f in frames], dtype=float)
    ok = np.array([not (f.flags & Flag.INVALID) for f in frames])
    model = rig.nominal_model()
    empty = ok & (t < 1.5e9)
    model.offsets_counts = counts[empty].mean(axis=0)           # tare on the unloaded plate
    _, fz, cx, cy = model.convert(counts)
    return dict(rig=rig, person=person, plate=plate, t=t, ok=ok, fz=fz, cx=cx, cy=cy, cfg=cfg)


def budget(s, mask):
    """(cop_rms_budget_m, fz_rms_budget_n) over the frames in ``mask`` (see module doc)."""
    rig, plate, cfg = s["rig"], s["plate"], s["cfg"]
    t = s["t"][mask] / 1e9
    period = 1 / cfg.hx711.rate_sps * (1 + MAX_SKEW_PPM * 1e-6) + 0.5e-3
    h = 1e-3
    fdot = (plate.true_corner_forces(t + h) - plate.true_corner_forces(t - h)) / (2 * h)   # (n, 4)
    fz, x, y = rig.person.truth(t)
    p = plate.true_positions
    dist = np.hypot(p[None, :, 0] - x[:, None], p[None, :, 1] - y[:, None])           # (n, 4)
    sens = plate.true_sensitivity_v_per_n                                              # V/N
    sigma_f = NOISE_V / sens                                                           # N per corner
    noise_fz = np.sqrt(np.sum(sigma_f ** 2))
    noise_cop = np.sqrt(np.mean(np.sum((sigma_f * dist) ** 2, axis=1) / fz ** 2))
    bound_fz = period * np.sum(np.abs(fdot), axis=1)
    bound_cop = period * np.sum(np.abs(fdot) * dist, axis=1) / fz
    return (np.sqrt(noise_cop ** 2 + np.mean(bound_cop ** 2)),
            np.sqrt(noise_fz ** 2 + np.mean(bound_fz ** 2)), noise_cop, noise_fz)


def test_every_frame_valid_and_paced(session):
    t, ok = session["t"], session["ok"]
    assert ok.all()
    dt = np.diff(t) / 1e6
    assert np.median(dt) == pytest.approx(12.5, abs=0.1)                # 80 SPS
    assert len(t) > 0.95 * session["person"].duration_s * 80


def test_noise_budget_is_what_the_datasheet_implies(session):
    mask = session["ok"] & (session["t"] > 3e9) & (session["t"] < 9e9)
    _, _, noise_cop, noise_fz = budget(session, mask)
    assert noise_fz == pytest.approx(0.0103, rel=0.03)                  # 2 · 90 nV / 17.5 µV/N
    assert 2e-6 < noise_cop < 6e-6


def test_unloaded_plate_reads_zero_after_tare(session):
    t, fz = session["t"], session["fz"]
    m = session["ok"] & (t > 0.2e9) & (t < 1.9e9)
    # dead weight and bridge offsets gone; what is left is chip noise (σ_Fz ≈ 10 mN)
    assert abs(np.mean(fz[m])) < 0.01
    assert np.std(fz[m]) == pytest.approx(0.0103, rel=0.35)
    assert np.all(np.isnan(session["cx"][m]))                          # COP undefined below min_fz


@pytest.mark.parametrize("kind, ceiling_mm", [("double_stance", 0.15), ("single_leg", 0.8)])
def test_cop_and_fz_match_truth_within_budget(session, kind, ceiling_mm):
    person, t = session["person"], session["t"]
    a, b = person.segment(kind)
    m = session["ok"] & (t > (a + 0.5) * 1e9) & (t < (b - 0.5) * 1e9)
    assert m.sum() > 300
    fz_t, x_t, y_t = session["rig"].truth_at(t[m])
    err_cop = np.hypot(session["cx"][m] - x_t, session["cy"][m] - y_t)
    err_fz = session["fz"][m] - fz_t
    cop_budget, fz_budget, _, _ = budget(session, m)
    rms_cop = np.sqrt(np.mean(err_cop ** 2))
    rms_fz = np.sqrt(np.mean(err_fz ** 2))
    assert rms_cop <= cop_budget, (rms_cop, cop_budget)
    assert rms_cop < ceiling_mm / 1000
    assert rms_fz <= fz_budget, (rms_fz, fz_budget)
    assert abs(np.mean(err_fz)) < 0.2                                  # no bias in Fz (N)
    assert np.mean(fz_t) == pytest.approx(MASS * G, rel=0.01)
    # where the COP is: single-leg on the left foot, double stance between the feet
    expect_x = -0.10 if kind == "single_leg" else 0.0
    assert np.mean(session["cx"][m]) == pytest.approx(expect_x, abs=0.015)


def test_step_on_and_off_seen_at_the_right_time(session):
    t, fz = session["t"] / 1e9, session["fz"]
    ev = {n: tt for tt, n, _ in reversed(session["person"].events)}     # first occurrence
    first_loaded = t[np.argmax(fz > 20.0)]
    assert ev["step_on"] <= first_loaded < ev["step_on"] + 0.15
    last_loaded = t[len(fz) - 1 - np.argmax(fz[::-1] > 20.0)]
    off = [tt for tt, n, _ in session["person"].events if n == "off"][-1]
    assert off - 0.15 < last_loaded <= off + 0.02


def test_rig_assembly_is_seeded_and_bounded():
    a = make_sim_rig(seed=7)
    b = make_sim_rig(seed=7)
    c = make_sim_rig(seed=8)
    assert a.skew_ppm == b.skew_ppm and a.skew_ppm != c.skew_ppm
    assert all(abs(s) <= MAX_SKEW_PPM for s in a.skew_ppm)
    assert [ch.name for ch in a.chips] == ["fl", "fr", "bl", "br"]
    fa = [f.counts for f in run(a, 3.0)]
    fb = [f.counts for f in run(b, 3.0)]
    assert fa == fb                                                    # deterministic end to end
    bus = make_sim_backend(None, seed=1, skew_ppm=[0, 0, 0, 0], plate="realistic")
    assert isinstance(bus, SimBus) and bus.sim_rig.skew_ppm == (0.0, 0.0, 0.0, 0.0)
    assert bus.sim_rig.plate.dead_weight_kg > 0
    assert bus.sim_rig.person.loop                                     # the demo loops forever
    with pytest.raises(ValueError):
        make_sim_rig(skew_ppm=[0, 0])
