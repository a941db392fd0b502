"""Reference values for quiet stance from public data: where a patient's sway stands among people
of the same age, on the same mCTSIB condition.

The source is the Santos & Duarte (2016) public data set (PeerJ 4:e2648, CC BY 4.0): 1930
trials of 163 people aged 18-85, 60 s of quiet standing on a lab force plate at 100 Hz, three
trials in each of the four mCTSIB conditions, each with the authors' published COP area,
velocity and mean frequency (``BDSinfoCOP.txt``). :func:`build_table` turns that file into
percentiles per condition and age band; the result ships as ``norms_data/*.json`` and is
regenerated with ``rig norms --rebuild`` (a test checks that the regenerated table equals the
shipped one). Nothing here is typed in by hand.

Percentiles are over trials (each person's three trials count; ``n_people`` and ``n_trials``
are both given), NumPy's default linear interpolation (Hyndman & Fan type 7). A cell with
fewer than :data:`MIN_PEOPLE` people is kept with its figures but marked ``too_few``: no
percentile is shown from it.

Whether a StepPlate trial may be compared at all is decided per measure and condition by the
rig's own bias (``comparability`` in the table; how it is measured: docs/reference-values.md).
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCHEMA = "stepplate-norms/1"
PROTOCOL = "quiet_stance_mctsib"
#: The protocols with reference values: the 30-s mCTSIB and its 60-s version (as long as the
#: reference trials).
PROTOCOLS = (PROTOCOL, PROTOCOL + "_60")
DATA_DIR = Path(__file__).with_name("norms_data")
TABLE_PATH = DATA_DIR / "santos_duarte_2016_mctsib.json"

SOURCE = {
    "citation": "Santos DA, Duarte M (2016) A public data set of human balance evaluations. PeerJ 4:e2648",
    "doi": "10.7717/peerj.2648",
    "data": "BDSinfoCOP.txt of the BDS data set (Figshare 10.6084/m9.figshare.3394432; PhysioNet hbedb)",
    "licence": "CC BY 4.0",
    "population": "163 people aged 18-85 from Brazil, living in the community, three 60 s trials per "
                  "condition, in random order, on a lab force plate at 100 Hz",
}


@dataclass(frozen=True)
class NormMeasure:
    """A measure with reference values: StepPlate's key, the data set's column, the factor from
    the data set's unit to the key's, and the convention the data set's authors used."""

    key: str
    column: str
    factor: float
    published_unit: str
    convention: str
    title: str


MEASURES = (
    NormMeasure("mean_velocity_mm_s", "COPvelo", 10.0, "cm/s",
                "total COP path length / (N / fs), raw 100 Hz COP", "Sway velocity"),
    NormMeasure("ellipse95_area_prediction_mm2", "COParea", 100.0, "cm²",
                "95 % prediction ellipse: π·F0.95(2, n−2)·2(n−1)(n+1)/(n(n−2))·√det(cov, ddof 1)",
                "Sway area (95 % ellipse)"),
    NormMeasure("mean_power_frequency_hz", "COPmfreq", 1.0, "Hz",
                "power-weighted mean of the AP and ML mean power frequencies, Welch (Hann, N/2 "
                "segments, N/4 overlap)", "Mean sway frequency"),
)
BY_KEY = {m.key: m for m in MEASURES}

#: [low, high) in years; None: no upper bound. 40-59 holds only 7 people in the data set.
AGE_BANDS = ((18, 40), (40, 60), (60, 70), (70, None))
PERCENTILES = (5, 25, 50, 75, 95)
MIN_PEOPLE = 20

#: The data set's (Vision, Surface) -> the mCTSIB protocol's condition id.
CONDITIONS = {("Open", "Firm"): "firm_eyes_open", ("Closed", "Firm"): "firm_eyes_closed",
              ("Open", "Foam"): "foam_eyes_open", ("Closed", "Foam"): "foam_eyes_closed"}
VISION_SURFACE = {cond: vs for vs, cond in CONDITIONS.items()}
CONDITION_TITLES = {"firm_eyes_open": "firm surface, eyes open", "firm_eyes_closed": "firm surface, eyes closed",
                    "foam_eyes_open": "foam, eyes open", "foam_eyes_closed": "foam, eyes closed"}

#: A percentile is shown only where the rig's bias moves a typical person by at most this many
#: percentile points (docs/reference-values.md).
SHIFT_THRESHOLD_POINTS = 10.0


class NormsError(ValueError):
    """A question the reference table cannot answer (unknown condition, age out of range, …)."""


def band_name(band) -> str:
    lo, hi = band
    return f"{lo}+" if hi is None else f"{lo}-{hi - 1}"


def age_band(age: float) -> str:
    """The band name ("70+") for an age in years; NormsError outside the data set's 18-85 range."""
    a = float(age)
    if not math.isfinite(a) or a < AGE_BANDS[0][0]:
        raise NormsError(f"age {age!r}: the reference data start at {AGE_BANDS[0][0]} years")
    if a > 100:
        raise NormsError(f"age {age!r}: not a plausible age in years")
    for lo, hi in AGE_BANDS:
        if a >= lo and (hi is None or a < hi):
            return band_name((lo, hi))
    raise AssertionError("unreachable: the last band is open")


def condition_id(text: str) -> str:
    """The mCTSIB condition id for ``text``: a protocol id (``foam_eyes_closed``) or the same
    words in another order (``eyes_closed_foam``, ``closed/foam``)."""
    words = set(re.split(r"[^a-z]+", str(text).lower())) - {"", "eyes", "surface"}
    vision = words & {"open", "closed"}
    surface = words & {"firm", "foam"}
    if len(vision) != 1 or len(surface) != 1 or words - vision - surface:
        raise NormsError(f"condition {text!r}: give one of {', '.join(CONDITION_TITLES)} "
                         "(or the same words in another order, e.g. eyes_closed_foam)")
    return f"{surface.pop()}_eyes_{vision.pop()}"


def _percentiles(values) -> dict:
    q = np.percentile(np.asarray(values, dtype=float), PERCENTILES)
    return {f"p{p}": float(v) for p, v in zip(PERCENTILES, q)}


def read_info(path) -> list[dict]:
    """The rows of ``BDSinfoCOP.txt`` (tab-separated, one per trial), checked for the columns used."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    need = {"Trial", "Subject", "Vision", "Surface", "Age"} | {m.column for m in MEASURES}
    if not rows or need - set(rows[0]):
        raise NormsError(f"{path}: not a BDSinfoCOP file (needs columns {', '.join(sorted(need))})")
    return rows


def build_table(info_path) -> dict:
    """The reference table from the data set's ``BDSinfoCOP.txt`` (see the module docstring).
    ``comparability`` is left empty: it comes from the rig's bias study (``rig norms --rebuild``)."""
    info_path = Path(info_path)
    rows = read_info(info_path)
    cells = []
    for cond in CONDITIONS.values():
        for band in AGE_BANDS:
            sel = cell_rows(rows, cond, band)
            people = {r["Subject"] for r in sel}
            cell = {"condition": cond, "age_band": band_name(band), "n_people": len(people),
                    "n_trials": len(sel), "too_few": len(people) < MIN_PEOPLE, "measures": {}, "published": {}}
            for m in MEASURES:
                vals = [float(r[m.column]) for r in sel]
                cell["published"][f"{m.column} ({m.published_unit})"] = _percentiles(vals)
                cell["measures"][m.key] = _percentiles([v * m.factor for v in vals])
            cells.append(cell)
    return {
        "schema": SCHEMA, "protocol": PROTOCOL, "source": {**SOURCE, "sha256": _sha256(info_path)},
        "percentiles": list(PERCENTILES), "percentile_method": "numpy linear (Hyndman & Fan type 7), over trials",
        "age_bands": [band_name(b) for b in AGE_BANDS], "min_people": MIN_PEOPLE,
        "age_range": [min(float(r["Age"]) for r in rows), max(float(r["Age"]) for r in rows)],
        "measures": {m.key: {"published_column": m.column, "published_unit": m.published_unit,
                             "factor_to_key_unit": m.factor, "convention": m.convention} for m in MEASURES},
        "cells": cells, "comparability_threshold_points": SHIFT_THRESHOLD_POINTS, "comparability": {},
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_table(path=None) -> dict:
    """The shipped reference table (or one at ``path``), checked for its schema."""
    p = Path(path) if path is not None else TABLE_PATH
    try:
        table = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NormsError(f"reference table {p}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise NormsError(f"reference table {p}: not JSON ({exc})") from None
    if not isinstance(table, dict) or table.get("schema") != SCHEMA or "cells" not in table:
        raise NormsError(f"reference table {p}: not a {SCHEMA} file")
    return table


def cell_for(table: dict, condition: str, age: float) -> dict:
    """The table's cell for ``condition`` (any spelling :func:`condition_id` accepts) and ``age``."""
    cond, band = condition_id(condition), age_band(age)
    top = table.get("age_range", [None, None])[1]
    if top is not None and float(age) >= math.floor(top) + 1:
        raise NormsError(f"age {age!r}: the reference data end at {math.floor(top)} years")
    for c in table["cells"]:
        if c["condition"] == cond and c["age_band"] == band:
            return c
    raise NormsError(f"no reference cell for {cond}, age {band}")


def percentile_band(value: float, pct: dict) -> tuple[int | None, int | None]:
    """(low, high) percentiles around ``value`` from a cell's p5…p95: (25, 50) = between the
    25th and the 50th; (None, 5) below the 5th; (95, None) above the 95th."""
    edges = [(p, pct[f"p{p}"]) for p in PERCENTILES]
    if value < edges[0][1]:
        return None, edges[0][0]
    for (p0, v0), (p1, v1) in zip(edges, edges[1:]):
        if v0 <= value < v1:
            return p0, p1
    return edges[-1][0], None


def band_words(band) -> str:
    lo, hi = band
    if lo is None:
        return f"below the {hi}th percentile"
    if hi is None:
        return f"above the {lo}th percentile"
    return f"{lo}th–{hi}th percentile"


def _pct(x: float) -> str:
    """A signed percentage in words: "+24 %", "−0.4 %" (one decimal below 1 %, never "−0 %")."""
    text = f"{x:+.1f}" if abs(x) < 1 else f"{x:+.0f}"
    return text.replace("-", "−") + " %"


def duration_key(scored_s: float | None) -> str | None:
    """Which measured bias applies to a trial scored over ``scored_s`` seconds: "60" from 55 s,
    "30" from 25 s, else None (too short to compare)."""
    if scored_s is None or not math.isfinite(scored_s):
        return None
    return "60" if scored_s >= 55 else ("30" if scored_s >= 25 else None)


def shown(table: dict, key: str, condition: str, age_band_name: str, scored_s: float | None) -> tuple[bool, str]:
    """Whether a percentile of ``key`` is shown for a trial of ``scored_s`` seconds on
    ``condition`` among people aged ``age_band_name``, and why (plain words)."""
    comp = table.get("comparability", {}).get(key)
    cond, dur = condition_id(condition), duration_key(scored_s)
    if dur is None:
        return False, "not compared: the trial is shorter than the 30 s the rig's bias was measured for"
    if not comp or dur not in comp.get("durations", {}):
        return False, "not compared: how StepPlate reads this measure against the lab plate has not been measured"
    d = comp["durations"][dur]
    shift = d["shift_points"].get(cond, {}).get(age_band_name)
    if shift is None:
        return False, f"not compared: no reference cell for people aged {age_band_name}"
    threshold = table["comparability_threshold_points"]
    why = (f"a {dur}-s trial on StepPlate reads it {_pct(d['bias_pct'])} against the published 60-s trials "
           f"(the plate itself {_pct(comp['instrument_bias_pct'])}; up to {_pct(d['applied_pct'])} allowing for "
           f"the uncertainty), which moves a typical patient by up to {shift:.0f} percentile points among "
           f"people aged {age_band_name}")
    if d["shown"][cond][age_band_name]:
        return True, f"shown: {why}"
    hint = f" — record 60 s per condition ({PROTOCOLS[1]}) to compare it" if dur == "30" \
        and comp["durations"].get("60", {}).get("shown", {}).get(cond, {}).get(age_band_name) else ""
    return False, f"not shown: {why}, more than {threshold:.0f}{hint}"


def compare(measures: dict, condition: str, age: float | None, table: dict | None = None, *,
            scored_s: float | None = 30.0) -> dict:
    """Where one quiet-stance trial's ``measures`` (scored over ``scored_s`` seconds) stand among
    people of ``age`` on ``condition``.

    Returns {"condition", "age_band", "n_people", "source", "rows": [{"key", "title", "value",
    "band", "words", "shown", "why"}], "note"}; a row's band is None where it is not shown. With no
    age (no year of birth) or an age outside the data, rows are empty and "note" says why."""
    table = table if table is not None else load_table()
    cond = condition_id(condition)
    out = {"condition": cond, "condition_title": CONDITION_TITLES[cond], "age_band": None, "n_people": 0,
           "source": table["source"]["citation"], "rows": [], "note": ""}
    if age is None:
        out["note"] = "Add the patient's year of birth to compare with people of the same age."
        return out
    try:
        cell = cell_for(table, cond, age)
    except NormsError as exc:
        out["note"] = str(exc)
        return out
    out.update(age_band=cell["age_band"], n_people=cell["n_people"], n_trials=cell["n_trials"])
    if cell["too_few"]:
        out["note"] = (f"Only {cell['n_people']} people aged {cell['age_band']} in the reference data: "
                       "too few for percentiles.")
        return out
    for m in MEASURES:
        v = measures.get(m.key)
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            continue
        ok, why = shown(table, m.key, cond, cell["age_band"], scored_s)
        band = percentile_band(float(v), cell["measures"][m.key]) if ok else None
        out["rows"].append({"key": m.key, "title": m.title, "value": float(v), "band": band,
                            "words": band_words(band) if band else "", "shown": ok, "why": why})
    return out


def cell_rows(rows: list[dict], cond: str, band) -> list[dict]:
    """The trials (rows of :func:`read_info`) of one cell: condition ``cond``, age ``band`` (lo, hi)."""
    vision, surface = VISION_SURFACE[cond]
    lo, hi = band
    return [r for r in rows if r["Vision"] == vision and r["Surface"] == surface
            and float(r["Age"]) >= lo and (hi is None or float(r["Age"]) < hi)]


def _bias(rel: np.ndarray) -> dict:
    """Mean relative bias (percent), its standard error, and the bound applied: the mean moved
    away from zero by two standard errors (about the 95 % bound of the systematic part)."""
    mean = float(np.mean(rel))
    se = float(np.std(rel, ddof=1) / math.sqrt(rel.size)) if rel.size > 1 else abs(mean)
    applied = mean + math.copysign(2.0 * se, mean if mean else 1.0)
    return {"bias_pct": round(100 * mean, 2), "sd_pct": round(100 * float(np.std(rel, ddof=1)), 2) if rel.size > 1
            else None, "se_pct": round(100 * se, 2), "applied_pct": round(100 * applied, 2)}


def comparability(study: list[dict], rows: list[dict], threshold: float = SHIFT_THRESHOLD_POINTS) -> dict:
    """The ``comparability`` part of the table from the rig's bias study.

    ``study``: one entry per replayed lab trial with, per measure key, the ``published`` value,
    the lab plate's value on the 30-s window StepPlate scores (``lab_scored_window``), the rig's
    on the whole 60-s recording (``rig_full``: the instrument alone), as the 30-s mCTSIB scores it
    (``rig_scored``) and as the 60-s protocol does (``rig_scored_60``). ``rows``: the data set's
    (:func:`read_info`).

    For each trial length ("30": rig_scored, "60": rig_scored_60) a measure's
    bias is the mean over the trials of value / published − 1, pooled over conditions (the chain
    and the window are the same in each, and one or two trials per condition are too few for a
    bias each); the bias applied is that mean moved two standard errors away from zero. In every
    cell (condition × age band) it is applied to each trial value in the cell's interquartile
    range, and the largest move in percentile rank among the cell's trials is the cell's
    ``shift_points``: what the bias can do to a typical patient of that age. A percentile is shown
    in a cell where that is ≤ ``threshold``, never in a cell with too few people."""
    out = {}
    for m in MEASURES:
        def rel(a: str, b: str = "published") -> np.ndarray:
            return np.array([e[a][m.key] / e[b][m.key] - 1.0 for e in study], dtype=float)
        inst, window = _bias(rel("rig_full")), _bias(rel("lab_scored_window"))
        entry = {"instrument_bias_pct": inst["bias_pct"], "window_bias_pct": window["bias_pct"],
                 "trials_bias_pct": {e["trial"]: {"30": round(100 * float(x), 2), "60": round(100 * float(y), 2)}
                                     for e, x, y in zip(study, rel("rig_scored"), rel("rig_scored_60"))},
                 "durations": {}}
        for dur, values in (("30", rel("rig_scored")), ("60", rel("rig_scored_60"))):
            d = {**_bias(values), "shift_points": {}, "shown": {}}
            for cond in CONDITIONS.values():
                d["shift_points"][cond], d["shown"][cond] = {}, {}
                for band in AGE_BANDS:
                    sel = cell_rows(rows, cond, band)
                    pop = np.array([float(r[m.column]) * m.factor for r in sel])
                    people = {r["Subject"] for r in sel}
                    shift = round(_cell_shift(pop, d["applied_pct"] / 100.0), 1)
                    d["shift_points"][cond][band_name(band)] = shift
                    d["shown"][cond][band_name(band)] = bool(shift <= threshold and len(people) >= MIN_PEOPLE)
            entry["durations"][dur] = d
        out[m.key] = entry
    return out


def _rank(pop: np.ndarray, x: float) -> float:
    """Percentile rank of ``x`` among ``pop`` (ties count half)."""
    return 100.0 * (np.sum(pop < x) + 0.5 * np.sum(pop == x)) / pop.size


def _cell_shift(pop: np.ndarray, bias: float) -> float:
    """The largest |rank(v·(1 + bias)) − rank(v)| over the values v of ``pop`` in its
    interquartile range: how far the bias moves a typical member of the cell, in percentile points."""
    q1, q3 = np.percentile(pop, [25, 75])
    return float(max(abs(_rank(pop, v * (1.0 + bias)) - _rank(pop, v)) for v in pop if q1 <= v <= q3))


__all__ = ["MEASURES", "AGE_BANDS", "PERCENTILES", "CONDITIONS", "NormsError", "build_table", "load_table",
           "cell_for", "age_band", "condition_id", "percentile_band", "band_words", "compare", "shown",
           "comparability", "duration_key", "cell_rows", "PROTOCOLS", "TABLE_PATH", "SHIFT_THRESHOLD_POINTS"]
