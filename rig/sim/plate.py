"""The simulated plate: a load on the platform -> each load cell's bridge output voltage.

`SimPlate` takes a *load source* (anything with ``truth(t_s) -> (fz_n, x_m, y_m)``: a
`rig.sim.person.VirtualPerson` or a `rig.sim.person.WeightSchedule`) and gives, for each cell
in CORNERS order (fl, fr, bl, br), the differential voltage the HX711 sees:

    F_i    = corner force of a rigid plate on four springs (person + platform dead weight),
             at the cells' TRUE positions (least-norm / stiffness-weighted solution)
    F'_i   = F_i + creep_i(t)                                  (first-order creep)
    u_i    = F'_i / F_cap ;  u'_i = u_i + 4·nl_i·u_i·(1 − u_i)   (quadratic non-linearity,
                                                                 nl_i = deviation at half scale)
    V_i    = AVDD·S_i·(1 + gtc_i·ΔT(t))·u'_i + Z_i + ztc_i·ΔT(t)

with S_i = S_nom·(1 + gain_error_i) (V/V at capacity), Z_i the bridge zero imbalance (V),
ΔT(t) the temperature rise (warm-up exponential + ambient ramp), ztc_i / gtc_i the zero and
span temperature coefficients. Every imperfection is off by default (an *ideal plate*);
`SimPlate.realistic(seed)` draws them with the magnitudes documented in docs/simulator.md.
The truth accessors (``true_positions``, ``true_gains``, ``true_corner_forces`` …) are what a
calibration should recover.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
from scipy.signal import lfilter

from rig.constants import CORNERS
from rig.signal.plate import FULL_SCALE_CODE, G, PlateGeometry

AVDD_V = 4.3
"""Default excitation: the HX711 board's AVDD regulator (≈ 4.3 V from a 5 V supply)."""

CREEP_GRID_S = 0.05
_CHUNK = 1200  # creep grid points computed at a time (60 s)


def volts_to_code(v, gain: int = 128, avdd_v: float = AVDD_V):
    """The HX711 transfer function (noise-free, unrounded): code = V·gain/(0.5·AVDD)·2^23."""
    return np.asarray(v, dtype=float) * gain / (0.5 * avdd_v) * FULL_SCALE_CODE


class _Nothing:
    """The empty plate."""

    duration_s = 0.0
    events: list = []

    def truth(self, t_s):
        t = np.asarray(t_s, dtype=float)
        z = np.zeros_like(t)
        return z, z.copy(), z.copy()


def _four(v, name: str) -> np.ndarray:
    a = np.asarray(v, dtype=float)
    if a.shape == ():
        a = np.full(4, float(a))
    if a.shape != (4,):
        raise ValueError(f"{name}: need 4 values (fl, fr, bl, br), got shape {a.shape}")
    return a


class SimPlate:
    """A platform on four load cells, with optional, seeded imperfections.

    Parameters (all per cell in CORNERS order where a sequence):
      load               load source with ``truth(t_s)``; None: nothing on the plate
      geometry           nominal cell positions (the drawing); default: 440 x 340 mm
      capacity_kg, sensitivity_mv_v, avdd_v   cell rating and excitation
      dead_weight_kg, dead_weight_xy_m        platform mass and where its centre of mass is
      gain_error         relative sensitivity error (0.02 = +2 %)
      position_offset_m  (4, 2) true minus drawn (x, y) of each cell
      stiffness_rel      relative cell stiffness (how a rigid plate shares the twist)
      nonlinearity_fs    quadratic deviation at half capacity, fraction of full scale
      creep_frac, creep_tau_s  first-order creep: + creep_frac of a step load, time constant
      zero_offset_v      bridge imbalance at the input (V)
      zero_tc_v_per_c, gain_tc_per_c   thermal zero (V/°C) and span (1/°C) coefficients
      warmup_dc, warmup_tau_s, ambient_c_per_h   ΔT(t) = warmup_dc·(1 − e^(−t/τ)) + rate·t
    """

    def __init__(self, load=None, *, geometry: PlateGeometry | None = None, capacity_kg: float = 50.0,
                 sensitivity_mv_v: float = 2.0, avdd_v: float = AVDD_V, dead_weight_kg: float = 0.0,
                 dead_weight_xy_m: Sequence[float] = (0.0, 0.0), gain_error=0.0, position_offset_m=None,
                 stiffness_rel=1.0, nonlinearity_fs=0.0, creep_frac=0.0, creep_tau_s: float = 300.0,
                 zero_offset_v=0.0, zero_tc_v_per_c=0.0, gain_tc_per_c=0.0, warmup_dc: float = 0.0,
                 warmup_tau_s: float = 1200.0, ambient_c_per_h: float = 0.0, name: str = "sim-plate"):
        self._load = load if load is not None else _Nothing()
        self.geometry = geometry or PlateGeometry.rectangular(0.44, 0.34)
        if capacity_kg <= 0 or sensitivity_mv_v <= 0 or avdd_v <= 0:
            raise ValueError("capacity_kg, sensitivity_mv_v and avdd_v must be positive")
        self.capacity_kg = float(capacity_kg)
        self.sensitivity_mv_v = float(sensitivity_mv_v)
        self.avdd_v = float(avdd_v)
        self.dead_weight_kg = float(dead_weight_kg)
        self.dead_weight_xy_m = (float(dead_weight_xy_m[0]), float(dead_weight_xy_m[1]))
        self.gain_error = _four(gain_error, "gain_error")
        off = np.zeros((4, 2)) if position_offset_m is None else np.asarray(position_offset_m, dtype=float)
        if off.shape != (4, 2):
            raise ValueError(f"position_offset_m: need shape (4, 2), got {off.shape}")
        self.position_offset_m = off
        self.stiffness_rel = _four(stiffness_rel, "stiffness_rel")
        if np.any(self.stiffness_rel <= 0):
            raise ValueError("stiffness_rel must be positive")
        self.nonlinearity_fs = _four(nonlinearity_fs, "nonlinearity_fs")
        self.creep_frac = _four(creep_frac, "creep_frac")
        self.creep_tau_s = float(creep_tau_s)
        self.zero_offset_v = _four(zero_offset_v, "zero_offset_v")
        self.zero_tc_v_per_c = _four(zero_tc_v_per_c, "zero_tc_v_per_c")
        self.gain_tc_per_c = _four(gain_tc_per_c, "gain_tc_per_c")
        self.warmup_dc = float(warmup_dc)
        self.warmup_tau_s = float(warmup_tau_s)
        self.ambient_c_per_h = float(ambient_c_per_h)
        self.name = name
        self._dist = self._distribution_matrix()
        self._creep_t0 = 0.0
        self._creep = np.zeros((0, 4))
        self._cache: tuple[int, np.ndarray] | None = None

    @property
    def load(self):
        """The load source; setting it clears the creep history."""
        return self._load

    @load.setter
    def load(self, source) -> None:
        self._load = source if source is not None else _Nothing()
        self._creep = np.zeros((0, 4))
        self._cache = None

    # --- constructors ----------------------------------------------------------------------
    @classmethod
    def from_config(cls, config=None, load=None, **kw) -> "SimPlate":
        """An ideal plate with the geometry and cell rating of ``config`` (default Config())."""
        if config is None:
            from rig.config import Config
            config = Config()
        p = config.plate
        kw.setdefault("name", p.name)
        return cls(load, geometry=config.geometry(), capacity_kg=p.cell_capacity_kg,
                   sensitivity_mv_v=p.cell_sensitivity_mv_v, **kw)

    ideal = from_config

    @classmethod
    def realistic(cls, seed: int | None = 0, load=None, config=None, **overrides) -> "SimPlate":
        """A plate with every imperfection drawn (seeded) at realistic magnitudes; any keyword
        overrides the drawn value. Magnitudes and sources: docs/simulator.md."""
        rng = np.random.default_rng(seed)
        cap = config.plate.cell_capacity_kg if config is not None else 50.0
        sens = config.plate.cell_sensitivity_mv_v if config is not None else 2.0
        fs_v = sens / 1000 * AVDD_V                   # rated output at capacity, V
        sign = rng.choice([-1.0, 1.0], size=4)
        kw = dict(
            dead_weight_kg=float(rng.uniform(3.0, 6.0)),
            dead_weight_xy_m=tuple(np.clip(rng.normal(0, 0.005, 2), -0.015, 0.015)),
            gain_error=np.clip(rng.normal(0, 0.02, 4), -0.05, 0.05),
            position_offset_m=np.clip(rng.normal(0, 0.002, (4, 2)), -0.005, 0.005),
            stiffness_rel=np.clip(1 + rng.normal(0, 0.05, 4), 0.85, 1.15),
            nonlinearity_fs=sign * rng.uniform(0.0002, 0.0005, 4),
            creep_frac=rng.uniform(0.0002, 0.0005, 4),
            creep_tau_s=300.0,
            zero_offset_v=np.clip(rng.normal(0, 0.2e-3, 4), -0.5e-3, 0.5e-3),
            zero_tc_v_per_c=rng.normal(0, 0.00005 * fs_v, 4),   # 0.05 %FS/10 °C
            gain_tc_per_c=rng.normal(0, 0.00005, 4),             # 0.05 %/10 °C
            warmup_dc=3.0, warmup_tau_s=1200.0, ambient_c_per_h=0.5,
        )
        kw.update(overrides)
        if config is not None:
            return cls.from_config(config, load, **kw)
        return cls(load, capacity_kg=cap, sensitivity_mv_v=sens, **kw)

    # --- truth -----------------------------------------------------------------------------
    @property
    def true_positions(self) -> np.ndarray:
        """(4, 2) true (x, y) of each cell, m."""
        return np.column_stack([self.geometry.cell_x_m, self.geometry.cell_y_m]) + self.position_offset_m

    @property
    def true_geometry(self) -> PlateGeometry:
        p = self.true_positions
        return PlateGeometry(cell_x_m=tuple(p[:, 0]), cell_y_m=tuple(p[:, 1]))

    @property
    def true_gains(self) -> np.ndarray:
        """Relative sensitivity of each cell (1 + gain_error) at the reference temperature."""
        return 1.0 + self.gain_error

    @property
    def true_sensitivity_v_per_n(self) -> np.ndarray:
        """Small-signal output per newton of each cell, V/N (ΔT = 0, no creep/non-linearity)."""
        return self.avdd_v * self.sensitivity_mv_v / 1000 * self.true_gains / (self.capacity_kg * G)

    def true_n_per_count(self, gain: int = 128) -> np.ndarray:
        """What a perfect per-cell gain calibration should find, N per count."""
        return 1.0 / (self.true_sensitivity_v_per_n * gain / (0.5 * self.avdd_v) * FULL_SCALE_CODE)

    @property
    def dead_load_n(self) -> float:
        return self.dead_weight_kg * G

    def _distribution_matrix(self) -> np.ndarray:
        """D (4x3) with f = D @ [Fz, Fz·x, Fz·y]: the plane deflection of a rigid plate on
        springs of stiffness k_i (f = K·Aᵀ·(A·K·Aᵀ)⁻¹·b; equal k: the least-norm solution)."""
        p = self.true_positions
        a = np.vstack([np.ones(4), p[:, 0], p[:, 1]])
        k = np.diag(self.stiffness_rel)
        return k @ a.T @ np.linalg.inv(a @ k @ a.T)

    def distribute(self, fz_n, x_m, y_m) -> np.ndarray:
        """Corner forces (…, 4) of a point load on this plate (true positions)."""
        fz = np.asarray(fz_n, dtype=float)
        b = np.stack([fz, fz * np.asarray(x_m, dtype=float), fz * np.asarray(y_m, dtype=float)], axis=-1)
        return b @ self._dist.T

    def dead_corner_forces(self) -> np.ndarray:
        return self.distribute(self.dead_load_n, *self.dead_weight_xy_m)

    def true_load(self, t_s):
        """(fz_n, x_m, y_m) of the load source (no dead weight)."""
        return self.load.truth(t_s)

    def true_corner_forces(self, t_s) -> np.ndarray:
        """(…, 4) mechanical force on each cell, N: load source + platform dead weight."""
        fz, x, y = self.load.truth(t_s)
        return self.distribute(fz, x, y) + self.dead_corner_forces()

    def temperature_delta(self, t_s):
        """Temperature rise of the cells since t = 0, °C."""
        t = np.clip(np.asarray(t_s, dtype=float), 0, None)
        return self.warmup_dc * (1 - np.exp(-t / self.warmup_tau_s)) + self.ambient_c_per_h * t / 3600

    # --- creep -----------------------------------------------------------------------------
    def creep_force(self, t_s) -> np.ndarray:
        """(…, 4) creep excess of each cell at t, in newtons of apparent load."""
        t = np.asarray(t_s, dtype=float)
        if not np.any(self.creep_frac):
            return np.zeros(t.shape + (4,))
        tmax = float(np.max(t)) if t.size else 0.0
        self._extend_creep(tmax)
        g = np.clip(t / CREEP_GRID_S, 0, len(self._creep) - 1)
        i = np.floor(g).astype(int)
        j = np.minimum(i + 1, len(self._creep) - 1)
        w = (g - i)[..., None]
        return self._creep[i] * (1 - w) + self._creep[j] * w

    def _extend_creep(self, t_s: float) -> None:
        need = int(math.ceil(max(t_s, 0.0) / CREEP_GRID_S)) + 2
        if len(self._creep) >= need:
            return
        e = math.exp(-CREEP_GRID_S / self.creep_tau_s)
        if len(self._creep) == 0:
            # the platform has rested on the cells for long: its creep has settled
            self._creep = (self.creep_frac * self.dead_corner_forces())[None, :]
        while len(self._creep) < need:
            k0 = len(self._creep) - 1
            tm = (k0 + np.arange(_CHUNK) + 0.5) * CREEP_GRID_S   # mid-interval load
            f = self.true_corner_forces(tm)
            prev = self._creep[-1]
            new = np.empty((_CHUNK, 4))
            for c in range(4):
                new[:, c] = lfilter([(1 - e) * self.creep_frac[c]], [1.0, -e], f[:, c], zi=[e * prev[c]])[0]
            self._creep = np.vstack([self._creep, new])

    # --- outputs ---------------------------------------------------------------------------
    def voltages(self, t_s) -> np.ndarray:
        """(…, 4) bridge output of each cell at time(s) t_s, V."""
        t = np.asarray(t_s, dtype=float)
        f = self.true_corner_forces(t) + self.creep_force(t)
        u = f / (self.capacity_kg * G)
        u = u + 4 * self.nonlinearity_fs * u * (1 - u)
        dt = np.asarray(self.temperature_delta(t))[..., None]
        span = self.avdd_v * self.sensitivity_mv_v / 1000 * self.true_gains * (1 + self.gain_tc_per_c * dt)
        return span * u + self.zero_offset_v + self.zero_tc_v_per_c * dt

    def cell_voltages(self, t_ns: int) -> np.ndarray:
        """(4,) outputs at t_ns (cached: four chips converting at one instant cost one call)."""
        if self._cache is not None and self._cache[0] == t_ns:
            return self._cache[1]
        v = self.voltages(t_ns / 1e9)
        self._cache = (t_ns, v)
        return v

    def cell_voltage(self, i: int, t_ns: int) -> float:
        """Bridge output of cell ``i`` (CORNERS order) at ``t_ns``, V."""
        return float(self.cell_voltages(int(t_ns))[i])

    def analog(self, i: int) -> Callable[[int], float]:
        """The ``analog_a`` callable for chip ``i`` (t_ns -> volts)."""
        if not 0 <= i < 4:
            raise IndexError(f"cell index must be 0..3 ({', '.join(CORNERS)}), got {i}")
        return lambda t_ns: self.cell_voltage(i, t_ns)

    def expected_counts(self, t_s, gain: int = 128) -> np.ndarray:
        """(…, 4) noise-free HX711 codes (unrounded) at t_s: what ideal chips would read."""
        return volts_to_code(self.voltages(t_s), gain, self.avdd_v)

    def describe(self) -> dict:
        """The imperfections in force (JSON-ready), for logs and docs."""
        return {
            "name": self.name, "capacity_kg": self.capacity_kg, "sensitivity_mv_v": self.sensitivity_mv_v,
            "avdd_v": self.avdd_v, "dead_weight_kg": self.dead_weight_kg,
            "dead_weight_xy_m": list(self.dead_weight_xy_m), "gain_error": self.gain_error.tolist(),
            "position_offset_m": self.position_offset_m.tolist(), "stiffness_rel": self.stiffness_rel.tolist(),
            "nonlinearity_fs": self.nonlinearity_fs.tolist(), "creep_frac": self.creep_frac.tolist(),
            "creep_tau_s": self.creep_tau_s, "zero_offset_v": self.zero_offset_v.tolist(),
            "zero_tc_v_per_c": self.zero_tc_v_per_c.tolist(), "gain_tc_per_c": self.gain_tc_per_c.tolist(),
            "warmup_dc": self.warmup_dc, "warmup_tau_s": self.warmup_tau_s, "ambient_c_per_h": self.ambient_c_per_h,
        }


__all__ = ["SimPlate", "AVDD_V", "volts_to_code"]
