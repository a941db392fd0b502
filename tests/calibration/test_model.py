"""Calibration maths against synthetic truth (no simulator): gains, matrix, correction, LOO."""
import numpy as np
import pytest

from calibration import model as M
from tests.synthetic.plate import SyntheticPlate, rigid_shares
from rig.config import Config
from rig.signal.plate import G

GEO = Config().geometry()


def grid_xy(n=5, hx=0.16, hy=0.12):
    xs, ys = np.meshgrid(np.linspace(-hx, hx, n), np.linspace(-hy, hy, n))
    return xs.ravel(), ys.ravel()


def test_rigid_shares_equals_distribute_on_the_drawing():
    for x, y in [(0, 0), (0.1, -0.05), (-0.22, 0.17)]:
        np.testing.assert_allclose(rigid_shares(GEO.cell_x_m, GEO.cell_y_m, 200.0, x, y),
                                   GEO.distribute(200.0, x, y), atol=1e-9)


def _placements(plate, pts, mass=20.0):
    out = []
    for lab, x, y in pts:
        plate.place(mass, x, y)
        t, c = plate.read(1.0)
        out.append(M.Placement(lab, "gain", x, y, mass, c.mean(0), c.std(0), len(t), t.mean()))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_gains_recovered_exactly_when_cells_are_where_drawn(seed):
    rng = np.random.default_rng(seed)
    true = 1e-4 * (1 + rng.normal(0, 0.04, 4))
    plate = SyntheticPlate(GEO.cell_x_m, GEO.cell_y_m, true, rng.normal(0, 5e4, 4), noise_counts=0.0)
    t, c = plate.read(1)
    tare = M.Tare(c.mean(0), c.std(0), len(t), t.mean())
    pts = [(l, x, y) for l, x, y in zip("ABCDE", (*GEO.cell_x_m, 0), (*GEO.cell_y_m, 0))]
    pl = _placements(plate, pts)
    g = M.fit_gains(pl, M.delta_counts(pl, tare), GEO)
    np.testing.assert_allclose(g, true, rtol=2e-5)


def test_zero_drift_is_interpolated_between_tares():
    start = M.Tare(np.array([0.0, 10, 20, 30]), np.ones(4), 100, 0.0)
    end = M.Tare(np.array([100.0, 110, 120, 130]), np.ones(4), 100, 100.0)
    np.testing.assert_allclose(M.zero_at(25.0, start, end), [25, 35, 45, 55])
    np.testing.assert_allclose(M.zero_at(25.0, start, None), [0, 10, 20, 30])


def test_matrix_fit_recovers_true_geometry_and_is_exact_for_a_rigid_plate():
    rng = np.random.default_rng(1)
    cx = np.array(GEO.cell_x_m) + rng.normal(0, 0.004, 4)
    cy = np.array(GEO.cell_y_m) + rng.normal(0, 0.004, 4)
    x, y = grid_xy(3)
    fz = np.full(len(x), 20 * G)
    forces = np.array([rigid_shares(cx, cy, f, a, b) for f, a, b in zip(fz, x, y)])
    fit = M.fit_model(forces, fz, x, y, GEO, 0)
    pfz, px, py = fit.predict(forces)
    np.testing.assert_allclose(pfz, fz, rtol=1e-6)
    np.testing.assert_allclose(px, x, atol=1e-6)
    np.testing.assert_allclose(py, y, atol=1e-6)
    # fresh positions and masses are predicted too (the model is the plate, not the points)
    f2 = rigid_shares(cx, cy, 700.0, 0.05, -0.09)
    p = fit.predict(f2)
    assert abs(p[0][0] - 700) < 1e-3 and abs(p[1][0] - 0.05) < 1e-6 and abs(p[2][0] + 0.09) < 1e-6


def test_nominal_geometry_gives_mm_errors_that_the_fit_removes():
    rng = np.random.default_rng(2)
    cx = np.array(GEO.cell_x_m) + rng.normal(0, 0.004, 4)
    cy = np.array(GEO.cell_y_m) + rng.normal(0, 0.004, 4)
    x, y = grid_xy(5)
    fz = np.full(len(x), 196.0)
    forces = np.array([rigid_shares(cx, cy, f, a, b) for f, a, b in zip(fz, x, y)])
    raw = M.errors(M.LinearFit(GEO.model_matrix()).predict(forces), fz, x, y).summary()
    ho = M.leave_one_out(forces, fz, x, y, GEO).summary()
    assert raw["cop_rms_mm"] > 1.0
    assert ho["cop_rms_mm"] < 0.01


def test_fit_refuses_degenerate_placements():
    f = np.tile(GEO.distribute(196.0, 0.0, 0.0), (6, 1))
    with pytest.raises(ValueError, match="rank"):
        M.fit_matrix(f, np.full(6, 196.0), np.zeros(6), np.zeros(6))
    with pytest.raises(ValueError, match="at least 4"):
        M.fit_matrix(f[:3], np.full(3, 196.0), np.zeros(3), np.zeros(3))


def test_poly_correction_removes_a_quadratic_distortion_and_wins_the_model_choice():
    x, y = grid_xy(5)
    fz = np.full(len(x), 196.0)
    forces = GEO.distribute(fz, x, y)
    # a bowl-shaped sensor distortion: each cell over-reads with the square of its load
    bent = forces * (1 + 2e-4 * forces)
    lin = M.leave_one_out(bent, fz, x, y, GEO, 0).summary()
    choice = M.choose_model(bent, fz, x, y, GEO)
    assert choice.fit.kind.startswith("linear+poly")
    assert choice.heldout.summary()["fz_rms_pct"] < 0.1 * lin["fz_rms_pct"]
    assert set(choice.candidates) == {"linear", "linear+poly2"}   # poly3 needs 3 points per term: > 25


def test_no_poly_with_too_few_points():
    x, y = grid_xy(3)
    fz = np.full(len(x), 196.0)
    forces = GEO.distribute(fz, x, y) * 1.01
    choice = M.choose_model(forces, fz, x, y, GEO)
    assert list(choice.candidates) == ["linear"]
    assert choice.fit.correction is None


def test_correction_leaves_unloaded_samples_alone_and_round_trips():
    c = M.PolyCorrection(2, 0.22, 0.17, np.array([0.01, 0, 0, 0.002, 0, 0]), np.full(6, 1e-3), np.zeros(6))
    fz, x, y = c(np.array([5.0, 500.0]), np.array([np.nan, 0.1]), np.array([np.nan, 0.0]))
    assert fz[0] == 5.0 and np.isnan(x[0])
    assert fz[1] != 500.0 and x[1] != 0.1
    c2 = M.PolyCorrection.from_dict(c.to_dict())
    np.testing.assert_allclose(c2(np.array([500.0]), np.array([0.1]), np.array([0.05])),
                               c(np.array([500.0]), np.array([0.1]), np.array([0.05])))


def test_canonical_form_keeps_predictions_and_puts_fz_row_to_ones():
    rng = np.random.default_rng(3)
    g = rng.uniform(0.9e-4, 1.1e-4, 4)
    m = GEO.model_matrix() * rng.uniform(0.95, 1.05, (3, 4))
    g2, m2 = M.canonical(g, m)
    np.testing.assert_allclose(m2[0], 1.0)
    c = rng.normal(0, 1e5, (10, 4))
    np.testing.assert_allclose((c * g2) @ m2.T, (c * g) @ m.T, rtol=1e-12)


def test_errors_summary_in_clinical_units():
    e = M.errors((np.array([101.0, 99.0]), np.array([0.001, 0.0]), np.array([0.0, -0.002])),
                 [100.0, 100.0], [0.0, 0.0], [0.0, 0.0]).summary()
    assert e["fz_max_pct"] == pytest.approx(1.0)
    assert e["fz_max_n"] == pytest.approx(1.0)
    assert e["cop_max_mm"] == pytest.approx(2.0)
    assert e["cop_rms_mm"] == pytest.approx(np.sqrt((1 + 4) / 2))
