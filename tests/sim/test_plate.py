"""The simulated plate: exact codes on an ideal plate, consistent truth with errors on,
creep and thermal drift moving the right way."""
from __future__ import annotations

import numpy as np
import pytest

from rig.config import Config
from rig.signal.plate import FULL_SCALE_CODE, G, ForceModel, PlateGeometry
from rig.sim.person import VirtualPerson, WeightSchedule
from rig.sim.plate import SimPlate, volts_to_code

CAP_N = 50 * G
S = 2.0e-3  # V/V at capacity


def test_ideal_plate_gives_the_datasheet_code_for_a_known_load():
    load = WeightSchedule([(1.0, 2.0, 60.0, 0.08, -0.05)])
    plate = SimPlate.ideal(load=load)
    geo = Config().geometry()
    f = geo.distribute(60 * G, 0.08, -0.05)
    # by hand: fl gets 60g/4·(1 − 0.08/0.22 + (−0.05)/0.17)
    assert f[0] == pytest.approx(60 * G / 4 * (1 - 0.08 / 0.22 - 0.05 / 0.17))
    expected = 2 * S * 128 * f / CAP_N * FULL_SCALE_CODE      # code = 2·S·gain·F/F_cap·2^23
    np.testing.assert_allclose(plate.expected_counts(1.5), expected, rtol=1e-12)
    # the per-chip callable, in volts at 4.3 V excitation
    v = [plate.analog(i)(1_500_000_000) for i in range(4)]
    np.testing.assert_allclose(v, 4.3 * S * f / CAP_N, rtol=1e-12)
    np.testing.assert_allclose(plate.expected_counts(0.5), 0.0, atol=0)     # before the load
    # the nominal ForceModel inverts it: back to the load and its position
    model = ForceModel.nominal(geo, capacity_kg=50, sensitivity_mv_v=2.0)
    _, fz, cx, cy = model.convert(expected[None, :])
    assert fz[0] == pytest.approx(60 * G) and cx[0] == pytest.approx(0.08) and cy[0] == pytest.approx(-0.05)


def test_volts_to_code_matches_the_transfer_function():
    assert volts_to_code(0.5 * 4.3 / 128) == pytest.approx(FULL_SCALE_CODE)
    assert volts_to_code(1e-3, gain=64, avdd_v=5.0) == pytest.approx(1e-3 * 64 / 2.5 * 2 ** 23)


def test_config_sets_geometry_and_rating():
    from rig import config as cfg
    c = cfg.from_dict({"plate": {"cell_spacing_ml_mm": 500, "cell_spacing_ap_mm": 400,
                                 "cell_capacity_kg": 100, "cell_sensitivity_mv_v": 1.0}})
    plate = SimPlate.from_config(c, load=WeightSchedule([(0, 1, 100, 0, 0)]))
    assert plate.true_positions[1].tolist() == pytest.approx([0.25, 0.20])
    # 25 kg per cell of a 100 kg, 1 mV/V cell at 4.3 V
    np.testing.assert_allclose(plate.voltages(0.5), 4.3 * 1e-3 * 0.25, rtol=1e-12)


def test_offset_distribution_keeps_force_and_moments():
    off = np.array([[0.003, -0.002], [-0.004, 0.001], [0.002, 0.004], [0.0, -0.003]])
    plate = SimPlate(position_offset_m=off, stiffness_rel=[1.0, 1.1, 0.9, 1.05])
    p = plate.true_positions
    fz, x, y = np.array([700.0, 300.0]), np.array([0.1, -0.05]), np.array([-0.02, 0.12])
    f = plate.distribute(fz, x, y)
    np.testing.assert_allclose(f.sum(-1), fz)
    np.testing.assert_allclose((f * p[:, 0]).sum(-1), fz * x)
    np.testing.assert_allclose((f * p[:, 1]).sum(-1), fz * y)
    # the rectangle with equal stiffness reduces to PlateGeometry.distribute
    rect = SimPlate()
    np.testing.assert_allclose(rect.distribute(fz, x, y),
                               PlateGeometry.rectangular(0.44, 0.34).distribute(fz, x, y), atol=1e-9)
    # stiffer cells take more of the twist: not the equal-stiffness answer
    assert not np.allclose(f, SimPlate(position_offset_m=off).distribute(fz, x, y))


def test_realistic_truth_is_consistent():
    person = VirtualPerson(72, seed=2)
    plate = SimPlate.realistic(seed=7, load=person)
    t = np.linspace(0, person.duration_s, 501)
    fz, _, _ = person.truth(t)
    f = plate.true_corner_forces(t)
    np.testing.assert_allclose(f.sum(-1), fz + plate.dead_load_n, rtol=1e-12, atol=1e-9)
    assert 3 <= plate.dead_weight_kg <= 6
    assert np.all(np.abs(plate.true_gains - 1) <= 0.05) and np.any(plate.true_gains != 1)
    assert np.all(np.abs(plate.position_offset_m) <= 0.005)
    assert np.all(np.abs(plate.zero_offset_v) <= 0.5e-3)
    assert np.all((0.0002 <= np.abs(plate.nonlinearity_fs)) & (np.abs(plate.nonlinearity_fs) <= 0.0005))
    # small-signal slope of the output = true sensitivity (at t≈0: no warm-up yet)
    n_per_count = plate.true_n_per_count()
    w0 = WeightSchedule([(0, 1, 1.0, 0, 0)])
    a = SimPlate.realistic(seed=7, load=w0, creep_frac=0, nonlinearity_fs=0)
    b = SimPlate.realistic(seed=7, creep_frac=0, nonlinearity_fs=0)
    dcounts = a.expected_counts(1e-6) - b.expected_counts(1e-6)
    np.testing.assert_allclose(dcounts * n_per_count, a.distribute(G, 0, 0), rtol=1e-6)
    # seeded: same seed same plate, another seed another
    assert SimPlate.realistic(seed=7).describe() == SimPlate.realistic(seed=7).describe()
    assert SimPlate.realistic(seed=8).describe() != SimPlate.realistic(seed=7).describe()


def test_realistic_plate_with_nominal_model_is_roughly_right():
    """Uncalibrated (tare only), errors stay within what the imperfections explain."""
    load = WeightSchedule([(10.0, 20.0, 70.0, 0.05, 0.03)])
    plate = SimPlate.realistic(seed=3, load=load)
    model = ForceModel.nominal(Config().geometry(), capacity_kg=50, sensitivity_mv_v=2.0)
    model.offsets_counts = plate.expected_counts(5.0)
    _, fz, cx, cy = model.convert(plate.expected_counts(np.array([15.0])))
    assert fz[0] == pytest.approx(70 * G, rel=0.05)               # gains within ±5 %
    assert abs(cx[0] - 0.05) < 0.015 and abs(cy[0] - 0.03) < 0.015


def test_creep_rises_under_load_and_recovers():
    F = 40 * G
    load = WeightSchedule([(1.0, 1201.0, 40.0, 0.0, 0.0)])
    plate = SimPlate(load, creep_frac=0.0004, creep_tau_s=300.0)
    f_cell = F / 4
    c = plate.creep_force(np.array([0.5, 1.0 + 300, 1.0 + 1200, 1201 + 300, 1201 + 3000]))[:, 0]
    assert c[0] == pytest.approx(0.0, abs=1e-9)
    assert c[1] == pytest.approx(0.0004 * f_cell * (1 - np.exp(-1)), rel=0.01)
    assert c[2] == pytest.approx(0.0004 * f_cell * (1 - np.exp(-4)), rel=0.01)
    assert 0 < c[3] < c[2] * np.exp(-1) * 1.02                     # recovering after unloading
    assert c[4] == pytest.approx(0.0, abs=1e-3 * c[2])
    # it shows in the voltage: output grows slowly under a constant load
    v = plate.voltages(np.array([2.0, 600.0]))
    assert v[1, 0] > v[0, 0]
    assert (v[1, 0] - v[0, 0]) / v[0, 0] == pytest.approx(0.0004 * (np.exp(-1 / 300) - np.exp(-599 / 300)), rel=0.02)
    # order of queries does not matter (pure function of t)
    fresh = SimPlate(load, creep_frac=0.0004, creep_tau_s=300.0)
    assert fresh.creep_force(600.0)[0] == pytest.approx(plate.creep_force(600.0)[0])


def test_dead_weight_creep_starts_settled():
    plate = SimPlate(dead_weight_kg=5.0, creep_frac=0.0005)
    c = plate.creep_force(np.array([0.0, 100.0, 1000.0]))
    np.testing.assert_allclose(c, np.tile(0.0005 * plate.dead_corner_forces(), (3, 1)))


def test_thermal_zero_drift_follows_warm_up():
    ztc = np.array([0.4e-6, -0.3e-6, 0.2e-6, 0.0])
    plate = SimPlate(zero_tc_v_per_c=ztc, warmup_dc=3.0, warmup_tau_s=1200.0, ambient_c_per_h=0.5)
    v = plate.voltages(np.array([0.0, 1200.0, 7200.0]))
    np.testing.assert_allclose(v[0], 0.0, atol=1e-15)
    np.testing.assert_allclose(v[1], ztc * (3.0 * (1 - np.exp(-1)) + 0.5 / 3), rtol=1e-9)
    assert np.all(np.sign(v[2] - v[1]) == np.sign(ztc))   # still drifting the same way


def test_span_temperature_coefficient_and_nonlinearity():
    load = WeightSchedule([(0.0, 1e6, 100.0, 0.0, 0.0)])          # 25 kg = half capacity per cell
    plate = SimPlate(load, nonlinearity_fs=[0.0005, -0.0005, 0.0, 0.0])
    v = plate.voltages(1.0)
    fs_v = 4.3 * S
    np.testing.assert_allclose(v, [fs_v * (0.5 + 0.0005), fs_v * (0.5 - 0.0005), fs_v * 0.5, fs_v * 0.5], rtol=1e-12)
    # zero and full capacity are on the end-point line
    full = SimPlate(WeightSchedule([(0.0, 1e6, 200.0, 0.0, 0.0)]), nonlinearity_fs=0.0005)
    np.testing.assert_allclose(full.voltages(1.0), fs_v, rtol=1e-12)
    warm = SimPlate(load, gain_tc_per_c=5e-5, warmup_dc=3.0, warmup_tau_s=10.0)
    assert warm.voltages(1000.0)[0] == pytest.approx(fs_v * 0.5 * (1 + 5e-5 * 3.0), rel=1e-9)


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError):
        SimPlate(gain_error=[0.0, 0.0, 0.0])
    with pytest.raises(ValueError):
        SimPlate(position_offset_m=np.zeros((3, 2)))
    with pytest.raises(ValueError):
        SimPlate(stiffness_rel=[1, 1, 0, 1])
    with pytest.raises(IndexError):
        SimPlate().analog(4)


def test_changing_the_load_resets_creep():
    plate = SimPlate(WeightSchedule([(0.0, 1e6, 40.0, 0, 0)]), creep_frac=0.0005)
    assert plate.creep_force(600.0)[0] > 0
    plate.load = None
    assert plate.creep_force(600.0)[0] == pytest.approx(0.0)
