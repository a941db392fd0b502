"""The calibration file: versioned JSON, validated on load, written atomically, previous kept.

Location: ``<paths.data_dir>/calibration.json``. On every save the file it replaces is
copied to ``calibration.prev.json`` (the one before) and to
``calibration-history/calibration-<created_utc>.json`` (all of them), so a bad calibration
can always be undone by copying a file back.

Validation is strict: an unknown key, a missing field, a wrong shape or an impossible value is
a :class:`CalibrationFileError` whose message starts with the field's path
(``gains.n_per_count[2]: must be > 0``). Nothing invalid is ever written.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rig.fsutil import fsync_dir

FORMAT = "stepplate-calibration"
VERSION = 1
FILENAME = "calibration.json"
PREV_FILENAME = "calibration.prev.json"
HISTORY_DIR = "calibration-history"
MODEL_KINDS = ("gains-only", "linear", "linear+poly2", "linear+poly3")


class CalibrationFileError(ValueError):
    """A calibration file is wrong; the message names the field."""

    def __init__(self, field: str, msg: str):
        self.field = field
        super().__init__(f"{field}: {msg}" if field else msg)


def default_path(config) -> Path:
    return config.paths.data_path / FILENAME


# --- a small schema language -------------------------------------------------------------

def _fail(path, msg):
    raise CalibrationFileError(path, msg)


def num(lo=-math.inf, hi=math.inf, lo_open=False):
    def check(v, path):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            _fail(path, f"must be a number, got {type(v).__name__} {v!r}")
        if not math.isfinite(v):
            _fail(path, f"must be finite, got {v!r}")
        if v < lo or (lo_open and v <= lo):
            _fail(path, f"must be {'>' if lo_open else '>='} {lo}, got {v!r}")
        if v > hi:
            _fail(path, f"must be <= {hi}, got {v!r}")
    return check


def integer(lo=0, hi=10**9):
    def check(v, path):
        if isinstance(v, bool) or not isinstance(v, int):
            _fail(path, f"must be an integer, got {type(v).__name__} {v!r}")
        if not lo <= v <= hi:
            _fail(path, f"must be in [{lo}, {hi}], got {v!r}")
    return check


def string(choices=None, nonempty=True):
    def check(v, path):
        if not isinstance(v, str):
            _fail(path, f"must be a string, got {type(v).__name__} {v!r}")
        if nonempty and not v.strip():
            _fail(path, "must not be empty")
        if choices is not None and v not in choices:
            _fail(path, f"must be one of {', '.join(choices)}, got {v!r}")
    return check


def boolean(v, path):
    if not isinstance(v, bool):
        _fail(path, f"must be true or false, got {v!r}")


def timestamp(v, path):
    string()(v, path)
    try:
        t = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        _fail(path, f"must be an ISO 8601 date-time, got {v!r}")
    if t.tzinfo is None:
        _fail(path, "must carry a time zone (UTC: end with Z)")
    if t > datetime.now(timezone.utc) + timedelta(days=1):
        _fail(path, f"is in the future ({v})")


def array(item, n=None, min_n=0):
    def check(v, path):
        if not isinstance(v, list):
            _fail(path, f"must be a list, got {type(v).__name__}")
        if n is not None and len(v) != n:
            _fail(path, f"must have {n} entries, got {len(v)}")
        if len(v) < min_n:
            _fail(path, f"must have at least {min_n} entries, got {len(v)}")
        for i, x in enumerate(v):
            item(x, f"{path}[{i}]")
    return check


def table(spec: dict, optional=()):
    def check(v, path):
        if not isinstance(v, dict):
            _fail(path, f"must be a table (object), got {type(v).__name__}")
        for k in v:
            if k not in spec:
                _fail(f"{path}.{k}" if path else k, f"unknown field (known: {', '.join(sorted(spec))})")
        for k, sub in spec.items():
            p = f"{path}.{k}" if path else k
            if k not in v:
                if k in optional:
                    continue
                _fail(p, "missing")
            sub(v[k], p)
    return check


def nullable(check_):
    def check(v, path):
        if v is not None:
            check_(v, path)
    return check


COUNTS = num(-2 ** 23, 2 ** 23)
SUMMARY_FIELDS = {"n_points": integer(0), "fz_rms_pct": num(0), "fz_max_pct": num(0), "fz_rms_n": num(0),
                  "fz_max_n": num(0), "cop_rms_mm": num(0), "cop_max_mm": num(0)}
SUMMARY = table(SUMMARY_FIELDS)


def mapping_of(check_):
    """A table with free keys whose values all pass ``check_``."""
    def check(v, path):
        if not isinstance(v, dict):
            _fail(path, f"must be a table (object), got {type(v).__name__}")
        for k, x in v.items():
            check_(x, f"{path}.{k}")
    return check


CORRECTION = table({"degree": integer(1, 3), "half_x_mm": num(1, 2000, lo_open=True),
                    "half_y_mm": num(1, 2000, lo_open=True), "fz_rel": array(num(-1, 1)),
                    "x_mm": array(num(-100, 100)), "y_mm": array(num(-100, 100))})
PLACEMENT = table({
    "label": string(), "role": string(("gain", "grid")),
    "x_mm": num(-1000, 1000), "y_mm": num(-1000, 1000), "mass_kg": num(0, 500, lo_open=True),
    "mean_counts": array(COUNTS, 4), "sd_counts": array(num(0), 4), "n_frames": integer(3),
    "t_s": num(), "creep_pct_per_min": num(),
})
SCHEMA = table({
    "format": string((FORMAT,)),
    "version": integer(1, VERSION),
    "created_utc": timestamp,
    "software": string(),
    "plate": table({"name": string(), "cell_spacing_ml_mm": num(50, 2000), "cell_spacing_ap_mm": num(50, 2000)}),
    "grid": string(("none", "3", "5")),
    "operator_masses_kg": array(num(0, 500, lo_open=True), min_n=1),
    "tare": table({"offsets_counts": array(COUNTS, 4), "noise_counts": array(num(0), 4), "n_frames": integer(3),
                   "end_offsets_counts": nullable(array(COUNTS, 4)), "drift_n": array(num(), 4)}),
    "gains": table({"n_per_count": array(num(0, lo_open=True), 4), "nominal_n_per_count": num(0, lo_open=True),
                    "vs_nominal_pct": array(num(-100, 1000), 4)}),
    "model": table({"kind": string(MODEL_KINDS), "matrix": array(array(num(-100, 100), 4), 3),
                    "min_fz_n": num(0, 500, lo_open=True), "correction": nullable(CORRECTION)}),
    "placements": array(PLACEMENT, min_n=5),
    "fit_residuals": SUMMARY,
    "heldout": table({"method": string(), **SUMMARY_FIELDS}),
    "candidates": mapping_of(SUMMARY),
    "limits": table({"cop_rms_mm": num(0, lo_open=True), "cop_max_mm": num(0, lo_open=True),
                     "fz_rms_pct": num(0, lo_open=True), "fz_max_pct": num(0, lo_open=True),
                     "gain_vs_nominal_pct": num(0, lo_open=True), "drift_n": num(0, lo_open=True),
                     "creep_pct_per_min": num(0, lo_open=True)}),
    "result": table({"passed": boolean, "failures": array(string()), "warnings": array(string()),
                     "duration_s": num(0)}),
})


def _consistency(d: dict) -> None:
    """Checks across fields (after the per-field ones)."""
    kind, corr = d["model"]["kind"], d["model"]["correction"]
    if kind.startswith("linear+poly"):
        if corr is None:
            _fail("model.correction", f"missing for model kind {kind}")
        if corr["degree"] != int(kind[-1]):
            _fail("model.correction.degree", f"is {corr['degree']} but model kind is {kind}")
        from calibration.model import POLY_TERMS
        nt = len(POLY_TERMS[corr["degree"]])
        for k in ("fz_rel", "x_mm", "y_mm"):
            if len(corr[k]) != nt:
                _fail(f"model.correction.{k}", f"must have {nt} entries for degree {corr['degree']}, got {len(corr[k])}")
    elif corr is not None:
        _fail("model.correction", f"must be null for model kind {kind}")
    fz_row = d["model"]["matrix"][0]
    for i, v in enumerate(fz_row):
        if not 0.5 <= v <= 2.0:
            _fail(f"model.matrix[0][{i}]", f"Fz weight {v:g} is impossible for a working cell (expected near 1)")
    nom = d["gains"]["nominal_n_per_count"]
    for i, g in enumerate(d["gains"]["n_per_count"]):
        if not 0.5 * nom <= g <= 2 * nom:
            _fail(f"gains.n_per_count[{i}]", f"{g:g} N/count is more than a factor 2 from the nominal {nom:g}: "
                  "wrong cell, wiring or mass")


def validate(d) -> dict:
    """Raise CalibrationFileError naming the first wrong field; return d."""
    if isinstance(d, dict) and "version" in d and isinstance(d["version"], int) and d["version"] > VERSION:
        _fail("version", f"file version {d['version']} is newer than this software reads ({VERSION}): upgrade")
    SCHEMA(d, "")
    _consistency(d)
    return d


def loads(text: str, source: str = "<string>") -> dict:
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CalibrationFileError("", f"{source}: not valid JSON: {exc}") from None
    return validate(d)


def load(path) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"no calibration at {path}: run `rig calibrate`") from None
    except UnicodeDecodeError as exc:   # security/fuzz: a corrupted file is a CalibrationFileError too
        raise CalibrationFileError("", f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        return loads(text, str(path))
    except CalibrationFileError as exc:
        raise CalibrationFileError(exc.field, f"{exc} (in {path})") from None




def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)


def save(d: dict, path) -> Path:
    """Validate, keep the file being replaced (prev + history), write atomically."""
    validate(d)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(d, indent=2, sort_keys=False) + "\n"
    if path.exists():
        old = path.read_text(encoding="utf-8")
        try:
            stamp = json.loads(old).get("created_utc", "unknown")
        except (json.JSONDecodeError, AttributeError):
            stamp = "unreadable"
        hist = path.parent / HISTORY_DIR
        hist.mkdir(exist_ok=True)
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in str(stamp))
        _atomic_write(hist / f"calibration-{safe}.json", old)
        _atomic_write(path.parent / PREV_FILENAME, old)
    _atomic_write(path, text)
    return path


def history(path) -> list[Path]:
    """Earlier calibrations kept beside ``path``, oldest first."""
    hist = Path(path).parent / HISTORY_DIR
    return sorted(hist.glob("calibration-*.json")) if hist.is_dir() else []
