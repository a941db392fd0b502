"""Readers for analysis: StepPlate recordings and any CSV whose header names columns and units.

Both give a :class:`Recording` in SI (time s, COP m, force N). Formats: docs/recording-format.md.

1. StepPlate recording: ``# key: value`` metadata lines (``stepplate-recording: 1``, ``plate``,
   ``rate_hz``, ``geometry_cell_x_m``, ``geometry_cell_y_m``, optional ``started_utc``,
   ``calibration``, ``protocol``, ``side``), a header row, then
   ``t_s,f_fl_n,f_fr_n,f_bl_n,f_br_n,fz_n,cop_ml_mm,cop_ap_mm,flags[,c_fl,c_fr,c_bl,c_br]``.
2. Generic CSV: ``t_s`` (or no time column and a rate), ``cop_ml_<unit>``, ``cop_ap_<unit>``
   with unit mm, cm or m, optional ``fz_n``; or four corner forces ``f_fl_n, f_fr_n, f_bl_n,
   f_br_n`` (or ``_kg``/``_kn``) plus the plate geometry, from which COP is computed.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rig.hw.flags import Flag
from rig.constants import CORNERS, G
from rig.recording.format import FORMAT_KEY, RecordingError, check_columns, check_version, split_metadata
from rig.signal.plate import cop_from_forces

#: Length units accepted in a column suffix, in metres.
LENGTH_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001}
#: Force units accepted in a column suffix, in newtons.
FORCE_UNITS = {"n": 1.0, "kn": 1000.0, "kg": G, "kgf": G}
TIME_UNITS = {"s": 1.0, "ms": 0.001}


@dataclass
class Recording:
    """One trial in SI. `t_s` is None when the file had no time column (use `rate_hz`)."""

    ml_m: np.ndarray
    ap_m: np.ndarray
    t_s: np.ndarray | None = None
    rate_hz: float | None = None
    fz_n: np.ndarray | None = None
    flags: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    source: str = ""

    def time_or_rate(self, fs: float | None = None):
        """The time column, else `fs`, else the file's rate; error if there is none."""
        if self.t_s is not None:
            return self.t_s
        if fs is not None:
            return float(fs)
        if self.rate_hz is not None:
            return float(self.rate_hz)
        raise RecordingError(f"{self.source}: no time column and no sampling rate: give one (--fs HZ)")


def _split_unit(name: str, prefix: str, units: dict) -> float | None:
    if not name.startswith(prefix):
        return None
    unit = name[len(prefix):]
    if unit not in units:
        raise RecordingError(f"column {name!r}: unknown unit {unit!r} (use one of {', '.join(units)})")
    return units[unit]


def _read_table(lines: list[str], source: str) -> tuple[list[str], np.ndarray]:
    rows = [r for r in csv.reader(lines) if r and any(c.strip() for c in r)]
    if not rows:
        raise RecordingError(f"{source}: no header row")
    header = [h.strip().lower().replace(" ", "") for h in rows[0]]
    if not rows[1:]:
        raise RecordingError(f"{source}: no data rows")
    width = len(header)
    data = np.empty((len(rows) - 1, width))
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != width:
            raise RecordingError(f"{source}: data row {i} has {len(r)} fields, header has {width}")
        try:
            data[i - 2] = [float(c) if c.strip() else np.nan for c in r]
        except ValueError as exc:
            raise RecordingError(f"{source}: data row {i}: {exc}") from None
    return header, data


def parse_geometry(cell_x_m, cell_y_m) -> tuple[np.ndarray, np.ndarray]:
    """Cell positions (fl, fr, bl, br) in metres from strings "a,b,c,d" or sequences."""
    out = []
    for name, v in (("geometry_cell_x_m", cell_x_m), ("geometry_cell_y_m", cell_y_m)):
        if v is None:
            raise RecordingError(f"corner forces need the plate geometry: {name} is missing")
        try:
            a = np.array([float(s) for s in (v.split(",") if isinstance(v, str) else v)])
        except ValueError:
            raise RecordingError(f"{name}: expected 4 numbers in metres, got {v!r}") from None
        if a.shape != (4,):
            raise RecordingError(f"{name}: expected 4 values (fl, fr, bl, br), got {a.size}")
        out.append(a)
    return out[0], out[1]


def _from_columns(header, data, source, meta, geometry=None) -> Recording:
    cols = {h: data[:, i] for i, h in enumerate(header)}
    if len(cols) != len(header):
        raise RecordingError(f"{source}: duplicate column names in the header")
    t = None
    for h in header:
        if h.startswith("t_") or h == "time_s":
            scale = _split_unit(h, "t_", TIME_UNITS) if h.startswith("t_") else 1.0
            t = cols[h] * scale
            break
    ml = ap = None
    for h in header:
        s = _split_unit(h, "cop_ml_", LENGTH_UNITS)
        if s is not None:
            ml = cols[h] * s
        s = _split_unit(h, "cop_ap_", LENGTH_UNITS)
        if s is not None:
            ap = cols[h] * s
    fz = None
    for h in header:
        s = _split_unit(h, "fz_", FORCE_UNITS)
        if s is not None:
            fz = cols[h] * s
    corner = {}
    for c in CORNERS:
        for h in header:
            s = _split_unit(h, f"f_{c}_", FORCE_UNITS)
            if s is not None:
                corner[c] = cols[h] * s
    if ml is None or ap is None:
        if len(corner) != 4:
            raise RecordingError(
                f"{source}: no COP columns (cop_ml_<unit>, cop_ap_<unit>) and no four corner forces "
                f"(f_fl_n, f_fr_n, f_bl_n, f_br_n); header: {', '.join(header)}")
        gx, gy = geometry if geometry is not None else parse_geometry(
            meta.get("geometry_cell_x_m"), meta.get("geometry_cell_y_m"))
        fz, ml, ap = cop_from_forces(np.column_stack([corner[c] for c in CORNERS]), gx, gy)
        meta = {**meta, "cop_source": "corner forces"}
    rate = None
    if "rate_hz" in meta:
        try:
            rate = float(meta["rate_hz"])
        except ValueError:
            raise RecordingError(f"{source}: rate_hz {meta['rate_hz']!r} is not a number") from None
    flags = cols["flags"].astype(np.int64) if "flags" in cols and np.all(np.isfinite(cols["flags"])) else None
    return Recording(ml_m=ml, ap_m=ap, t_s=t, rate_hz=rate, fz_n=fz, flags=flags, meta=meta, source=source)


def read_recording(path, *, geometry=None) -> Recording:
    """A StepPlate recording or a unit-named CSV (auto-detected by the metadata lines).

    `geometry`: (cell_x_m, cell_y_m) for a CSV of corner forces without geometry metadata.
    Samples flagged INVALID or UNLOADED keep their NaN COP: choose a window without them.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RecordingError(f"{p}: no such file") from None
    except UnicodeDecodeError as exc:
        raise RecordingError(f"{p}: not UTF-8 text ({exc})") from None
    return parse_recording(text, source=str(p), geometry=geometry)


def parse_recording(text: str, *, source: str = "<text>", geometry=None) -> Recording:
    """As :func:`read_recording`, from the file's text."""
    meta, body = split_metadata(text)
    if not body:
        raise RecordingError(f"{source}: empty file")
    header, data = _read_table(body, source)
    if FORMAT_KEY in meta:
        check_version(meta, source)
        check_columns(header, source)
        meta["format"] = "stepplate-recording/1"
    else:
        meta["format"] = "csv"
    rec = _from_columns(header, data, source, meta, geometry=geometry)
    if rec.flags is not None:
        bad = (rec.flags & int(Flag.INVALID)) != 0
        if bad.any():
            rec.ml_m = np.where(bad, np.nan, rec.ml_m)
            rec.ap_m = np.where(bad, np.nan, rec.ap_m)
    return rec


def read_table(data: bytes | str, source: str = "<recording>") -> tuple[tuple[str, ...], np.ndarray, dict]:
    """Every column of a StepPlate recording: (columns, samples (n, 9 or 13), metadata).

    Unlike `parse_recording` (which reads any unit-named CSV for analysis) this reads only
    StepPlate recordings, and keeps every column as stored. A recording with no rows
    (interrupted before the first sample) gives an empty array. Raises RecordingError for
    another version or other columns.
    """
    text = data.decode("utf-8-sig") if isinstance(data, (bytes, bytearray)) else data
    meta, body = split_metadata(text)
    if not body:
        raise RecordingError(f"{source}: no header row")
    check_version(meta, source)
    header = tuple(h.strip().lower() for h in body[0].split(","))
    check_columns(header, source)
    if len(body) == 1:
        return header, np.zeros((0, len(header))), meta
    _, arr = _read_table(body, source)
    return header, arr, meta


def read_santos_duarte(path) -> Recording:
    """A Santos & Duarte (2016) BDS trial (tab-separated; COPx = AP, COPy = ML, in cm)."""
    d = np.loadtxt(path, skiprows=1)
    return Recording(ml_m=d[:, 8] / 100, ap_m=d[:, 7] / 100, t_s=d[:, 0], fz_n=d[:, 3],
                     meta={"format": "santos-duarte-2016"}, source=str(path))


def read_kinvent(path) -> list[dict]:
    """The blocks of a KINVENT Physio CSV export: [{"side", "header": {name: value},
    "t_s", "channels_kg" (n, 4), "cop_exported" (n, 2: AP y, ML x, 0-1)}]."""
    blocks: list[dict] = []
    cur = None
    mode = ""
    with open(path, encoding="utf-8-sig") as fh:
        for line in fh:
            c = [v.strip() for v in line.rstrip("\n").split(",")]
            if c[0].startswith("Side"):
                cur = {"side": c[1], "header": {}, "rows": []}
                blocks.append(cur)
                mode = "header"
            elif cur is None:
                continue
            elif c[0].startswith("Time (sec)"):
                mode = "data"
            elif mode == "header" and len(c) > 1 and c[1]:
                try:
                    cur["header"][c[0]] = float(c[1])
                except ValueError:
                    pass
            elif mode == "data":
                if not c[0]:
                    mode = ""
                    continue
                cur["rows"].append([float(v) for v in c[:5]] + [float(c[6]), float(c[7])])
    for b in blocks:
        d = np.array(b.pop("rows"))
        b["t_s"], b["channels_kg"], b["cop_exported"] = d[:, 0], d[:, 1:5], d[:, 5:7]
    return blocks
