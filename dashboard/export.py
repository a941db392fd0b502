"""Export of a trial's samples: the stored recording, calibrated or raw samples as CSV,
everything as JSON, and C3D for biomechanics tools (Mokka, ezc3d, Visual3D, OpenSim).

C3D layout (written with the ``c3d`` package): one force platform of TYPE 2 (channels Fx,
Fy, Fz, Mx, My, Mz about the plate's surface centre; Fx = Fy = 0 because the plate measures
vertical force only), the four corner forces as extra analog channels, and the COP as a
point ``COP`` (residual -1 where Fz is below the plate's minimum). Lab frame = plate frame:
x medio-lateral (right +), y antero-posterior (forward +), z up; lengths in mm, forces in N,
moments in N·mm; ``FORCE_PLATFORM:CORNERS`` from the configured cell spacing. Point and
analog rate = the trial's sample rate (one analog sample per frame).
"""
from __future__ import annotations

import csv
import io
import math

import numpy as np
from flask import Blueprint, Response, abort, current_app, jsonify

from dashboard import recordings
from dashboard.auth import clinic_gate
from dashboard.db import get_or_404
from dashboard.models import Trial
from dashboard.recordings import RAW_COLUMNS
from dashboard.trials import _trial_json, data_dir, load_samples
from rig.analysis.events import sample_interval_s
from rig.signal.plate import SAMPLE_COLUMNS

bp = Blueprint("export", __name__)
bp.before_request(clinic_gate)


def _name(t: Trial, ext: str, kind: str = "") -> str:
    code = t.session.patient.code
    return f"stepplate_{code}_trial{t.id}_{t.side}{('_' + kind) if kind else ''}.{ext}"


def _attachment(data: bytes | str, mimetype: str, filename: str) -> Response:
    return Response(data, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _select(columns, arr, wanted) -> np.ndarray:
    ix = {c: i for i, c in enumerate(columns)}
    return arr[:, [ix[c] for c in wanted]]


def _csv(columns, rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if not math.isfinite(v) else (int(v) if c == "flags" or c in RAW_COLUMNS else f"{v:.6g}")
                    for c, v in zip(columns, r)])
    return buf.getvalue()


def _load(t: Trial):
    try:
        return load_samples(t)
    except recordings.RecordingError as exc:
        abort(Response(str(exc), status=500, mimetype="text/plain"))


@bp.route("/trials/<int:trial_id>/export.csv")
def trial_csv(trial_id: int):
    from flask import request
    t = get_or_404(Trial, trial_id)
    kind = request.args.get("kind", "calibrated")
    if kind == "recording":
        blob = recordings.read_bytes(data_dir(), t.recording_path, t.recording_sha256)
        return _attachment(blob, "text/csv", _name(t, "csv", "recording"))
    columns, arr = _load(t)
    if kind == "calibrated":
        cols = SAMPLE_COLUMNS
    elif kind == "raw":
        if not all(c in columns for c in RAW_COLUMNS):
            abort(Response("this trial was stored without raw ADC counts", status=404, mimetype="text/plain"))
        cols = ("t_s",) + RAW_COLUMNS + ("flags",)
    else:
        abort(400)
    return _attachment(_csv(cols, _select(columns, arr, cols)), "text/csv", _name(t, "csv", kind))


@bp.route("/trials/<int:trial_id>/export.json")
def trial_json(trial_id: int):
    t = get_or_404(Trial, trial_id)
    columns, arr = _load(t)
    clean = lambda a: [[None if not math.isfinite(v) else float(v) for v in r] for r in a]  # noqa: E731
    doc = {"trial": _trial_json(t), "patient": {"code": t.session.patient.code,
                                                "dominant_leg": t.session.patient.dominant_leg},
           "calibrated": {"columns": list(SAMPLE_COLUMNS), "samples": clean(_select(columns, arr, SAMPLE_COLUMNS))}}
    if all(c in columns for c in RAW_COLUMNS):
        cols = ("t_s",) + RAW_COLUMNS
        doc["raw"] = {"columns": list(cols), "samples": clean(_select(columns, arr, cols))}
    resp = jsonify(doc)
    resp.headers["Content-Disposition"] = f'attachment; filename="{_name(t, "json")}"'
    return resp


def c3d_bytes(t: Trial, columns, arr, half_ml_mm: float, half_ap_mm: float) -> bytes:
    import c3d
    ix = {c: i for i, c in enumerate(columns)}
    rate = t.sample_rate_hz or 1.0 / sample_interval_s(None, arr[:, ix["t_s"]])
    w = c3d.Writer(point_rate=float(rate), analog_rate=float(rate), point_units="mm  ")
    fz = arr[:, ix["fz_n"]]
    x = arr[:, ix["cop_ml_mm"]]
    y = arr[:, ix["cop_ap_mm"]]
    corner = arr[:, [ix["f_fl_n"], ix["f_fr_n"], ix["f_bl_n"], ix["f_br_n"]]]
    valid = np.isfinite(x) & np.isfinite(y)
    xz, yz = np.where(valid, x, 0.0), np.where(valid, y, 0.0)
    fz0 = np.where(np.isfinite(fz), fz, 0.0)
    # Type-2 plate: COP = (-My/Fz, Mx/Fz) about the surface origin.
    analog = np.column_stack([np.zeros_like(fz0), np.zeros_like(fz0), fz0, yz * fz0, -xz * fz0,
                              np.zeros_like(fz0), np.nan_to_num(corner)]).astype(np.float32)
    frames = []
    for i in range(len(arr)):
        pt = np.zeros((1, 5), np.float32)
        if valid[i]:
            pt[0, :3] = (x[i], y[i], 0.0)
        else:
            pt[0, 3] = -1.0
        frames.append((pt, analog[i].reshape(-1, 1)))
    w.add_frames(frames)
    w.set_point_labels(["COP"])
    labels = ["Fx1", "Fy1", "Fz1", "Mx1", "My1", "Mz1", "F_fl", "F_fr", "F_bl", "F_br"]
    w.set_analog_labels(labels)
    w.set_analog_scales([1.0] * len(labels))
    w.set_analog_offsets([0] * len(labels))
    w.set_analog_general_scale(1.0)
    unit_names = ["N", "N", "N", "Nmm", "Nmm", "Nmm", "N", "N", "N", "N"]
    w.get("ANALOG").add_str("UNITS", "Channel units", "".join(u.ljust(4) for u in unit_names), 4, len(labels))
    fp = w.add_group(5, "FORCE_PLATFORM", "Force platforms")
    fp.add("USED", "Number of force platforms", 2, "<H", 1)
    fp.add_array("TYPE", "Plate type (2: Fx Fy Fz Mx My Mz)", np.array([2], np.int16))
    fp.add_array("ZERO", "Zero baseline frames", np.array([1, 0], np.int16))
    a, b = half_ml_mm, half_ap_mm
    # C3D lists dimensions first-fastest (CORNERS is 3 x 4 x USED, ORIGIN 3 x USED, CHANNEL
    # 6 x USED): the bytes are each plate's rows in C order, the dimensions that order reversed.
    _fortran_param(fp, "CORNERS", "Plate corners in the lab frame (mm)",
                   np.array([[[a, b, 0], [-a, b, 0], [-a, -b, 0], [a, -b, 0]]], np.float32))
    _fortran_param(fp, "ORIGIN", "Surface centre relative to the sensor origin (mm)",
                   np.array([[0, 0, 0]], np.float32))
    _fortran_param(fp, "CHANNEL", "Analog channels of each plate", np.array([[1, 2, 3, 4, 5, 6]], np.int16))
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def _fortran_param(group, name: str, desc: str, rows: np.ndarray) -> None:
    """A numeric parameter whose C-order ``rows`` (plate, ..., component) are stored with the
    dimensions reversed, as C3D readers (ezc3d, Mokka, Visual3D) expect."""
    group.add_param(name, desc=desc, bytes_per_element=rows.dtype.itemsize, bytes=rows.tobytes(),
                    dimensions=list(reversed(rows.shape)))


def _plate_half_sizes_mm() -> tuple[float, float]:
    try:
        from rig.config import load
        cfg = load(current_app.config.get("RIG_CONFIG"))
        return cfg.plate.cell_spacing_ml_mm / 2, cfg.plate.cell_spacing_ap_mm / 2
    except Exception:  # noqa: BLE001 - a broken rig config must not block an export
        return 220.0, 170.0


@bp.route("/trials/<int:trial_id>/export.c3d")
def trial_c3d(trial_id: int):
    t = get_or_404(Trial, trial_id)
    columns, arr = _load(t)
    a, b = _plate_half_sizes_mm()
    return _attachment(c3d_bytes(t, columns, arr, a, b), "application/octet-stream", _name(t, "c3d"))


__all__ = ["bp", "c3d_bytes"]
