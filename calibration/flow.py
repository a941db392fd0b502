"""The guided calibration, independent of any UI.

The CLI (``rig calibrate``) and the dashboard drive the same object::

    flow = CalibrationFlow(config, sampler, mass_kg=20, grid="3")
    for step in flow.steps:            # Step: what to ask the operator, where
        show(step.instruction)         # UI: prompt, wait for "ready"
        result = flow.run_step(step)   # measures; raises StepError with a message to show
        show(result.message)           # (a UI may retry the same step after a StepError)
    cal = flow.finish()                # fits, validates, returns the file's dict
    fileformat.save(cal, path)         # only now is anything written

Steps: tare (plate empty and still), the mass over each cell and at the centre (gains),
optionally a 3x3 or 5x5 grid (matrix, non-linear correction, held-out validation), and a
final tare with the plate empty again (zero drift during the session, interpolated out).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from calibration import model as M
from calibration.fileformat import FORMAT, VERSION, validate
from calibration.grid import grid_positions
from rig.constants import CORNER_NAMES
from rig.signal.plate import nominal_force_model as nominal_model  # the datasheet model, one definition
from calibration.sampler import NotStable, Sampler, measure, settle
from rig import __version__
from rig.constants import CORNERS
from rig.signal.plate import G, ForceModel

#: Pass/fail limits stated to the clinician (held-out errors where a grid was measured).
LIMITS = {
    "cop_rms_mm": 2.0,            #: COP error, RMS over held-out positions (published: 0.5-2 mm)
    "cop_max_mm": 4.0,            #: COP error, worst held-out position
    "fz_rms_pct": 0.5,            #: vertical force error, RMS
    "fz_max_pct": 1.0,            #: vertical force error, worst
    "gain_vs_nominal_pct": 15.0,  #: a cell further than this from its datasheet gain is suspect
    "drift_n": 2.0,               #: zero drift of any cell between first and last tare
    "creep_pct_per_min": 0.5,     #: load change while a mass sits still
}
#: Placement load must be within this fraction of mass·g (nominal gains) or the step is refused.
LOAD_TOLERANCE = 0.25
#: Tare is refused if any cell's noise floor (sd) exceeds this (someone touching, vibration).
TARE_MAX_NOISE_N = 0.5
GRID_CHOICES = ("none", "3", "5")


class StepError(RuntimeError):
    """A step could not be completed; the message tells the operator what to do."""


@dataclass(frozen=True)
class Step:
    kind: str           #: "tare", "place", "end_tare"
    role: str           #: "tare", "gain", "grid"
    label: str          #: e.g. "FL", "C", "B2" (as printed on the template)
    x_m: float = 0.0
    y_m: float = 0.0
    instruction: str = ""

    @property
    def needs_mass(self) -> bool:
        return self.kind == "place"


@dataclass
class StepResult:
    step: Step
    message: str
    waited_s: float = 0.0
    data: object = None


def gain_positions(geometry) -> list[tuple[str, float, float]]:
    """Over each cell (as marked on the template) and the centre."""
    out = [(c.upper(), geometry.cell_x_m[i] * 1000, geometry.cell_y_m[i] * 1000) for i, c in enumerate(CORNERS)]
    return out + [("C", 0.0, 0.0)]


@dataclass
class CalibrationFlow:
    config: object
    sampler: Sampler
    mass_kg: float
    grid: str = "3"
    tare_s: float = 3.0
    measure_s: float = 3.0
    settle_max_s: float = 20.0
    previous: ForceModel | None = None     #: for the "is the plate empty?" check
    steps: list[Step] = field(init=False)
    tare: M.Tare | None = field(init=False, default=None)
    end_tare: M.Tare | None = field(init=False, default=None)
    placements: list[M.Placement] = field(init=False, default_factory=list)
    measuring_s: float = field(init=False, default=0.0)

    def __post_init__(self):
        if not 0 < self.mass_kg <= 200:
            raise ValueError(f"mass_kg must be in (0, 200] kg, got {self.mass_kg}")
        if str(self.grid) not in GRID_CHOICES:
            raise ValueError(f"grid must be one of {GRID_CHOICES}, got {self.grid!r}")
        self.grid = str(self.grid)
        self.geometry = self.config.geometry()
        self.nominal = nominal_model(self.config)
        self.g_nom = self.nominal.n_per_count
        self.steps = self._plan()
        self._wall0 = time.monotonic()

    # --- plan ----------------------------------------------------------------------------
    def _plan(self) -> list[Step]:
        m = f"{self.mass_kg:g} kg"
        steps = [Step("tare", "tare", "empty", instruction="Clear the plate completely and do not touch it.")]
        for lab, x, y in gain_positions(self.geometry):
            where = "the centre mark (C)" if lab == "C" else f"the {CORNER_NAMES[lab.lower()]} cell mark ({lab})"
            steps.append(Step("place", "gain", lab, x / 1000, y / 1000,
                              f"Put the {m} mass on {where}, centred, and let go."))
        if self.grid != "none":
            taken = [(x, y) for _, x, y in gain_positions(self.geometry)]
            for lab, x, y in grid_positions(int(self.grid)):
                if any(abs(x - tx) < 1 and abs(y - ty) < 1 for tx, ty in taken):
                    continue          # the centre was measured already (3x3 B2, 5x5 C3)
                steps.append(Step("place", "grid", lab, x / 1000, y / 1000,
                                  f"Put the {m} mass on grid mark {lab} ({x:+.0f}, {y:+.0f} mm), centred, and let go."))
        steps.append(Step("end_tare", "tare", "empty-end", instruction="Take the mass off and leave the plate empty."))
        return steps

    # --- measure -------------------------------------------------------------------------
    def _settle(self, tol_n: float) -> float:
        try:
            return settle(self.sampler, self.g_nom, tol_n=tol_n, max_s=self.settle_max_s)
        except NotStable as exc:
            raise StepError(f"{exc}. Make sure nobody touches the plate, then try again.") from None

    def _tare(self, step: Step) -> StepResult:
        waited = self._settle(tol_n=0.5)
        m = measure(self.sampler, self.tare_s)
        self.measuring_s += waited + self.tare_s
        noise_n = m.sd_counts * np.abs(self.g_nom)
        if np.any(noise_n > TARE_MAX_NOISE_N):
            raise StepError(f"noise floor {np.max(noise_n):.2f} N is above {TARE_MAX_NOISE_N} N: "
                            "is someone touching the plate?")
        ref = self.tare.offsets_counts if (step.kind == "end_tare" and self.tare is not None) else (
            self.previous.offsets_counts if self.previous is not None else None)
        if ref is not None:
            gains = self.previous.n_per_count if (self.previous is not None and step.kind == "tare") else self.g_nom
            fz = float(np.sum((m.mean_counts - ref) * gains))
            if abs(fz) > max(10.0, 0.25 * self.mass_kg * G):
                raise StepError(f"the plate reads {fz:+.0f} N: it does not look empty. Clear it and try again.")
        tare = M.Tare(m.mean_counts, m.sd_counts, m.n, m.t_s)
        if step.kind == "tare":
            self.tare, self.end_tare, self.placements = tare, None, []
            msg = "Tared. Noise floor per cell: " + ", ".join(f"{c} {v:.3f} N" for c, v in zip(CORNERS, noise_n))
        else:
            self.end_tare = tare
            drift = (tare.offsets_counts - self.tare.offsets_counts) * self.g_nom
            msg = "Zero drift over the session: " + ", ".join(f"{c} {v:+.2f} N" for c, v in zip(CORNERS, drift))
        return StepResult(step, msg, waited, tare)

    def _place(self, step: Step) -> StepResult:
        if self.tare is None:
            raise StepError("tare first")
        fz = self.mass_kg * G
        waited = self._settle(tol_n=max(0.3, 0.002 * fz))
        m = measure(self.sampler, self.measure_s)
        self.measuring_s += waited + self.measure_s
        load = float(np.sum((m.mean_counts - self.tare.offsets_counts) * self.g_nom))
        if abs(load - fz) > LOAD_TOLERANCE * fz:
            raise StepError(f"measured {load:.0f} N but {self.mass_kg:g} kg weighs {fz:.0f} N: is the mass "
                            "on the plate, alone, and is that its mass?")
        creep = float(np.sum(m.slope_counts_s * self.g_nom)) / fz * 100 * 60
        p = M.Placement(step.label, step.role, step.x_m, step.y_m, self.mass_kg, m.mean_counts, m.sd_counts,
                        m.n, m.t_s, creep)
        self.placements = [q for q in self.placements if q.label != step.label] + [p]
        return StepResult(step, f"{step.label}: {load:.1f} N (nominal gains), creep {creep:+.2f} %/min", waited, p)

    def run_step(self, step: Step) -> StepResult:
        if step.kind == "place":
            return self._place(step)
        return self._tare(step)

    def run(self, place=None, clear=None) -> dict:
        """Run every step without a UI: ``place(step)`` puts the mass, ``clear(step)`` empties
        the plate (the simulator's operator, or a test's)."""
        for step in self.steps:
            if step.needs_mass:
                if place:
                    place(step)
            elif clear:
                clear(step)
            self.run_step(step)
        return self.finish()

    # --- fit and report ------------------------------------------------------------------
    def finish(self, now: datetime | None = None) -> dict:
        if self.tare is None:
            raise StepError("no tare: the calibration was not run")
        gain_pl = [p for p in self.placements if p.role == "gain"]
        if len(gain_pl) < 5:
            raise StepError(f"only {len(gain_pl)} of the 5 corner/centre placements were measured")
        pl = gain_pl + [p for p in self.placements if p.role == "grid"]
        dc = M.delta_counts(pl, self.tare, self.end_tare)
        gains = M.fit_gains(gain_pl, dc[:len(gain_pl)], self.geometry)
        forces = dc * gains
        fz = np.array([p.fz_n for p in pl])
        x = np.array([p.x_m for p in pl])
        y = np.array([p.y_m for p in pl])
        if self.grid == "none":
            # Five placements: the nominal matrix with fitted gains, or a 3x4 matrix fitted on
            # the five (1 spare equation per row); whichever predicts held-out spots better.
            heldout = self._gains_loo(gain_pl, dc[:len(gain_pl)])
            candidates = {"gains-only": heldout.summary()}
            fit = M.LinearFit(self.geometry.model_matrix())
            lin = M.leave_one_out(forces, fz, x, y, self.geometry, 0)
            candidates["linear"] = lin.summary()
            if M.score(lin.summary()) < 0.9 * M.score(heldout.summary()):
                fit, heldout = M.fit_model(forces, fz, x, y, self.geometry, 0), lin
            kind = "gains-only" if heldout is not lin else "linear"
        else:
            choice = M.choose_model(forces, fz, x, y, self.geometry)
            fit, heldout, candidates = choice.fit, choice.heldout, choice.candidates
            kind = fit.kind
        resid = M.errors(fit.predict(forces), fz, x, y)
        gains, matrix = M.canonical(gains, fit.matrix)
        corr = fit.correction
        g_nom = float(self.g_nom[0])
        vs_nom = (gains / g_nom - 1) * 100
        drift_n = ((self.end_tare.offsets_counts - self.tare.offsets_counts) * gains
                   if self.end_tare is not None else np.zeros(4))
        ho = heldout.summary()
        failures, warnings = [], []
        for key in ("cop_rms_mm", "cop_max_mm", "fz_rms_pct", "fz_max_pct"):
            if ho[key] > LIMITS[key]:
                failures.append(f"held-out {key} = {ho[key]:.2f} exceeds {LIMITS[key]}")
        for c, v in zip(CORNERS, vs_nom):
            if abs(v) > LIMITS["gain_vs_nominal_pct"]:
                failures.append(f"cell {c} gain is {v:+.1f} % from nominal (limit ±{LIMITS['gain_vs_nominal_pct']} %): "
                                "check the cell and its wiring")
        if self.end_tare is None:
            warnings.append("no final tare: zero drift during the session was not measured")
        elif np.max(np.abs(drift_n)) > LIMITS["drift_n"]:
            warnings.append(f"zero drifted {np.max(np.abs(drift_n)):.2f} N during calibration "
                            f"(limit {LIMITS['drift_n']} N): let the plate warm up 15 min and recalibrate")
        creep = max(abs(p.creep_pct_per_min) for p in pl)
        if creep > LIMITS["creep_pct_per_min"]:
            warnings.append(f"load creep {creep:.2f} %/min exceeds {LIMITS['creep_pct_per_min']} %/min")
        now = now or datetime.now(timezone.utc)
        p = self.config.plate
        cal = {
            "format": FORMAT, "version": VERSION,
            "created_utc": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "software": f"stepplate {__version__}",
            "plate": {"name": p.name, "cell_spacing_ml_mm": p.cell_spacing_ml_mm,
                      "cell_spacing_ap_mm": p.cell_spacing_ap_mm},
            "grid": self.grid,
            "operator_masses_kg": sorted({float(q.mass_kg) for q in pl}),
            "tare": {"offsets_counts": _fl(self.tare.offsets_counts),
                     "noise_counts": _fl(self.tare.noise_counts), "n_frames": int(self.tare.n),
                     "end_offsets_counts": _fl(self.end_tare.offsets_counts) if self.end_tare else None,
                     "drift_n": _fl(drift_n)},
            "gains": {"n_per_count": _fl(gains), "nominal_n_per_count": g_nom, "vs_nominal_pct": _fl(vs_nom)},
            "model": {"kind": kind, "matrix": [_fl(r) for r in matrix], "min_fz_n": float(p.min_fz_n),
                      "correction": corr.to_dict() if corr is not None else None},
            "placements": [{"label": q.label, "role": q.role, "x_mm": q.x_m * 1000, "y_mm": q.y_m * 1000,
                            "mass_kg": q.mass_kg, "mean_counts": _fl(q.mean_counts), "sd_counts": _fl(q.sd_counts),
                            "n_frames": int(q.n), "t_s": float(q.t_s), "creep_pct_per_min": float(q.creep_pct_per_min)}
                           for q in pl],
            "fit_residuals": resid.summary(),
            "heldout": {"method": "leave-one-out", **ho},
            "candidates": candidates,
            "limits": dict(LIMITS),
            "result": {"passed": not failures, "failures": failures, "warnings": warnings,
                       "duration_s": float(time.monotonic() - self._wall0)},
        }
        return validate(cal)

    def _gains_loo(self, gain_pl, dc) -> M.Errors:
        """Without a grid: each corner/centre placement predicted from gains fitted without it."""
        n = len(gain_pl)
        out = np.empty((3, n))
        fit = M.LinearFit(self.geometry.model_matrix())
        for i in range(n):
            keep = [j for j in range(n) if j != i]
            g = M.fit_gains([gain_pl[j] for j in keep], dc[keep], self.geometry)
            r = fit.predict(dc[i:i + 1] * g)
            out[:, i] = [r[0][0], r[1][0], r[2][0]]
        return M.errors(out, [p.fz_n for p in gain_pl], [p.x_m for p in gain_pl], [p.y_m for p in gain_pl])


def _fl(a) -> list[float]:
    return [float(v) for v in np.asarray(a, float)]


def cell_offsets_mm(cal: dict):
    """Effective cell positions (the fitted matrix's moment rows) minus the drawing's, mm.

    For engineers: "effective" because unequal cell stiffness shifts them too (a stiffer cell
    carries more of the twist), so they are not the bolt positions."""
    a, b = cal["plate"]["cell_spacing_ml_mm"] / 2, cal["plate"]["cell_spacing_ap_mm"] / 2
    nom_x, nom_y = np.array([-a, a, -a, a]), np.array([b, b, -b, -b])
    m = np.array(cal["model"]["matrix"])
    return m[1] * 1000 / m[0] - nom_x, m[2] * 1000 / m[0] - nom_y


def report_lines(cal: dict) -> list[str]:
    """The result in numbers a clinician reads."""
    ho, fr = cal["heldout"], cal["fit_residuals"]
    lines = [f"Calibration of {cal['plate']['name']} on {cal['created_utc']} "
             f"({cal['model']['kind']}, masses {', '.join(f'{m:g}' for m in cal['operator_masses_kg'])} kg)",
             f"  Vertical force error (held out, {ho['n_points']} spots): RMS {ho['fz_rms_pct']:.2f} % "
             f"({ho['fz_rms_n']:.2f} N), worst {ho['fz_max_pct']:.2f} % ({ho['fz_max_n']:.2f} N)",
             f"  Centre-of-pressure error (held out): RMS {ho['cop_rms_mm']:.2f} mm, worst {ho['cop_max_mm']:.2f} mm",
             f"  Fit residuals: Fz RMS {fr['fz_rms_pct']:.2f} %, COP RMS {fr['cop_rms_mm']:.2f} mm",
             "  Cell gains vs datasheet: " + ", ".join(f"{c} {v:+.1f} %" for c, v in
                                                     zip(CORNERS, cal["gains"]["vs_nominal_pct"])),
             "  Zero drift during session: " + ", ".join(f"{c} {v:+.2f} N" for c, v in
                                                       zip(CORNERS, cal["tare"]["drift_n"]))]
    lim = cal["limits"]
    lines.append(f"  Limits: COP RMS ≤ {lim['cop_rms_mm']} mm, worst ≤ {lim['cop_max_mm']} mm; "
                 f"Fz RMS ≤ {lim['fz_rms_pct']} %, worst ≤ {lim['fz_max_pct']} %")
    res = cal["result"]
    lines.append("  RESULT: PASS" if res["passed"] else "  RESULT: FAIL")
    lines += [f"  - {f}" for f in res["failures"]]
    lines += [f"  warning: {w}" for w in res["warnings"]]
    return lines
