"""Sessions and trials: the guided protocol run, trial results (measures, quality flags,
redo), the left/right comparison, and the JSON API the run page uses.

API (JSON; every POST needs the ``X-CSRFToken`` header, the page's ``csrf_token``):

``POST /api/sessions/<id>/trials``
    Store a trial from samples. Body: ``{"side": "left", "columns": [...SAMPLE_COLUMNS...],
    "samples": [[...], ...], "started_at": ISO-8601 (optional)}``, or a multipart upload
    of a StepPlate recording CSV as ``file`` with a ``side`` field. Answer 201:
    ``{"trial_id", "url", "results": {key: value}, "quality": {...}}``.
``POST /api/sessions/<id>/trials/record``
    Record ``{"side", "seconds", "cues_s" (optional)}`` from the app's live source (the
    acquisition process's batches) and store it as above.

Both JSON bodies may carry ``cues_s``: the lateral step-down metronome's cue times on the
stream's time base (seconds, increasing, at most ``MAX_CUES``). With samples they must lie
within the samples' time span; when recording live, within ``seconds`` of each other, and the
ones outside the recorded samples are dropped with a note. They are stored as the recording's
``# cues_s:`` metadata line, and the analysis reads them back from there (cue-guided).
``GET /api/trials/<id>``: trial summary and results. ``GET /api/trials/<id>/samples?max_points=N``:
    samples (decimated to at most N rows) for the browser's plots.
"""
from __future__ import annotations

import math
from datetime import datetime

import numpy as np
from flask import (Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request,
                   url_for)
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from dashboard import durable, livefeed, measures, plain, pros, protocols, recordings, reference, simperson, units
from dashboard.auth import clinic_gate
from dashboard.db import get_db, get_or_404
from dashboard.models import SIDES, ClinicSession, Trial
from dashboard.store import TrialStore
from rig.recording.format import RecordingError
from rig.recording.reader import parse_geometry
from rig.signal.plate import SAMPLE_COLUMNS
from rig.analysis.protocols import timing
from rig.analysis.protocols.analysis import cues_from_metadata, cues_metadata

bp = Blueprint("trials", __name__)
bp.before_request(clinic_gate)

MAX_UPLOAD_SAMPLES = 200_000  # ~40 min at 80 Hz
MAX_CUES = 256                #: cues in one trial (120 s at one cue per 0.5 s is 240)
MAX_RECORD_S = timing.MAX_RECORD_S   #: the longest live recording (RECORD_BODY's maximum)


def metronome_plan(info) -> dict | None:
    """The run page's metronome for a lateral step-down (None for other protocols):
    rig.analysis.protocols.timing.metronome_plan of the protocol behind ``info``."""
    proto = getattr(info, "_proto", None)
    return timing.metronome_plan(proto) if proto is not None else None


def record_seconds(info) -> float:
    """How long the run page records one trial: the protocol's timeline (Protocol.record_s)."""
    proto = getattr(info, "_proto", None)
    return proto.record_s if proto is not None else float(info.duration_s)


def parse_cues(raw, lo: float | None = None, hi: float | None = None, span: float | None = None) -> list[float]:
    """``cues_s`` of a request: a list of at most MAX_CUES finite, increasing numbers, within
    [lo, hi] and at most ``span`` apart; ValueError with a message for the 400 otherwise."""
    if not isinstance(raw, list):
        raise ValueError("cues_s must be a list of numbers (seconds)")
    if len(raw) > MAX_CUES:
        raise ValueError(f"cues_s: at most {MAX_CUES} cues")
    cues = []
    for i, c in enumerate(raw):
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c):
            raise ValueError(f"cues_s[{i}]: must be a finite number of seconds")
        if cues and c <= cues[-1]:
            raise ValueError(f"cues_s[{i}]: cues must be in increasing order")
        if (lo is not None and c < lo) or (hi is not None and c > hi):
            raise ValueError(f"cues_s[{i}] = {c:g} s is outside the trial ({lo:g} to {hi:g} s)")
        cues.append(float(c))
    if span is not None and len(cues) > 1 and cues[-1] - cues[0] > span:
        raise ValueError(f"cues_s spans {cues[-1] - cues[0]:g} s, more than the {span:g} s recorded")
    return cues


class SessionNotesForm(FlaskForm):
    notes = TextAreaField("Session notes", validators=[Length(max=5000)])


class EmptyForm(FlaskForm):
    """Just the CSRF token (redo button)."""


def data_dir() -> str:
    return current_app.config["STEPPLATE_DATA_DIR"]


def plate_meta() -> dict:
    """Recording header fields the format requires: plate name, cell geometry, calibration (from the
    live source's hello when connected, else the rig config)."""
    plate, gx, gy = None, None, None
    src = current_app.extensions.get("stepplate_live")
    hello = getattr(src, "hello", None) or {}
    if isinstance(hello, dict) and hello.get("geometry"):
        plate, gx, gy = hello.get("plate"), hello["geometry"].get("cell_x_m"), hello["geometry"].get("cell_y_m")
    if not (gx and gy):
        try:
            from rig.config import load
            cfg = load(current_app.config.get("RIG_CONFIG"))
            geom = cfg.geometry()
            plate, gx, gy = plate or cfg.plate.name, list(geom.cell_x_m), list(geom.cell_y_m)
        except Exception:  # noqa: BLE001 - a broken rig config must not lose a trial: its defaults
            from rig.config import Config
            geom = Config().geometry()
            gx, gy = list(geom.cell_x_m), list(geom.cell_y_m)
    return {"plate": plate or "unknown",
            "geometry_cell_x_m": ",".join(f"{v:g}" for v in gx),
            "geometry_cell_y_m": ",".join(f"{v:g}" for v in gy),
            "calibration": hello.get("calibration") or "unknown"}


def store_trial(session: ClinicSession, side: str, samples: np.ndarray, columns=SAMPLE_COLUMNS,
                started_at: datetime | None = None, meta: dict | None = None) -> Trial:
    """A whole trial's samples (the trial API): stored by the one storage path
    (dashboard.store.TrialStore.store: the recording first, then its analysis). The header
    names this rig's plate; the rate is the samples' own (they come whole, with their times)."""
    store = TrialStore(get_db(), data_dir(), durable.rig_id(current_app))
    return store.store(session, side, samples, columns, meta={**plate_meta(), **(meta or {})},
                       started_at=started_at)


def load_samples(trial: Trial) -> tuple[tuple[str, ...], np.ndarray]:
    columns, arr, _meta = recordings.read(data_dir(), trial.recording_path, trial.recording_sha256)
    return columns, arr


def left_right(session: ClinicSession) -> list[dict]:
    """Left vs right of the session's scored trials: ``rig.analysis.protocols.session.summarise_session``
    over their TrialResults (mean per side, limb symmetry index), headline measures first."""
    from rig.analysis.protocols.session import summarise_session
    results = [tr.quality["analysis"] for tr in session.trials
               if tr.status == "ok" and measures.analysis_summary(tr.quality)["ok"]]
    involved = session.involved_side if session.involved_side in ("left", "right") else None
    summary = summarise_session(results, involved=involved)
    rows = []
    for name, group in summary["protocols"].items():
        sides = group["sides"]
        # a protocol run under several conditions: one row per condition, named
        cond = (protocols.title_for(name).partition(" · ")[2] or name.partition("/")[2]) \
            if "/" in name and len(summary["protocols"]) > 1 else None
        for k, sym in group["lsi"].items():
            lv, rv = sides["left"]["measures"][k]["mean"], sides["right"]["measures"][k]["mean"]
            if lv is None or rv is None:
                continue
            rows.append({"key": k, "group": name, "condition": cond, "left": lv, "right": rv, "lsi_pct": sym.get("lsi_pct"),
                         "si_pct": sym.get("si_pct"), "worse_side": sym.get("worse_side"),
                         "k_left": sides["left"]["k_trials"], "k_right": sides["right"]["k_trials"]})
    head = protocols.headline_for(session.protocol) or measures.HEADLINE
    for r in rows:
        r["headline"] = r["key"] in head
    rows.sort(key=lambda r: (r["group"], head.index(r["key"]) if r["key"] in head else 99, r["key"]))
    return rows


@bp.route("/sessions/<int:session_id>", methods=["GET", "POST"])
def session_detail(session_id: int):
    db = get_db()
    s = get_or_404(ClinicSession, session_id)
    form = SessionNotesForm(obj=s)
    if form.validate_on_submit():
        s.notes = form.notes.data or ""
        db.commit()
        flash("Notes saved.", "success")
        return redirect(url_for("trials.session_detail", session_id=s.id))
    return render_session(s, form)


def render_session(s: ClinicSession, form: SessionNotesForm | None = None, pro_posted=None,
                   pro_error: pros.ProError | None = None) -> str:
    """The session page; ``pro_posted`` and ``pro_error``: a refused PRO entry shown again
    with each error beside its item (dashboard.pros_routes)."""
    rep = pros.report_for(s)
    return render_template("trials/session.html", s=s, patient=s.patient, form=form or SessionNotesForm(obj=s),
                           comparison=left_right(s), protocol=protocols.get(s.protocol),
                           reference=reference.for_session(s),
                           redo_form=EmptyForm(), headline=protocols.headline_for(s.protocol) or measures.HEADLINE,
                           pro=rep, pro_values=pros.form_values(rep, pro_posted),
                           pro_errors=pro_error.errors if pro_error else {}, pro_hints=pro_error.hints if pro_error else {},
                           pro_form=EmptyForm(), pros=pros)


def has_conditions(info) -> bool:
    """Whether the protocol names its conditions (Protocol.has_named_conditions)."""
    proto = getattr(info, "_proto", None)
    return bool(proto is not None and proto.has_named_conditions)


def session_plan(session: ClinicSession, info) -> list[dict]:
    """The session's trials in the protocol's order (Protocol.schedule: per condition, practice
    first, then the scored ones, sides alternating), each ``done`` once a kept trial of that
    condition, side and kind (practice or scored) fills it (a redo frees its place again), so a
    skipped practice leaves the scored trials' places as they are."""
    from collections import Counter
    proto = info._proto
    steps = proto.schedule() if proto is not None else [
        {"condition": "default", "side": sd, "practice": False, "trial": 1} for sd in info.sides]
    first = steps[0]["condition"] if steps else "default"
    kept = Counter((t.condition or first, t.side, bool(measures.analysis_summary(t.quality).get("practice")))
                   for t in session.trials if t.status == "ok")
    seen: Counter = Counter()
    for i, st in enumerate(steps):
        key = (st["condition"], st["side"], bool(st["practice"]))
        seen[key] += 1
        st["done"] = seen[key] <= kept[key]
        st["n"] = i + 1
    return steps


def _step_url(session_id: int, st: dict, conditions: bool, skip_practice: bool = False) -> str:
    args = {"side": st["side"]}
    if conditions:
        args["condition"] = st["condition"]
    if skip_practice:
        args["practice"] = "skip"
    return url_for("trials.run", session_id=session_id, **args)


@bp.route("/sessions/<int:session_id>/run")
def run(session_id: int):
    s = get_or_404(ClinicSession, session_id)
    proto = protocols.get(s.protocol)
    if proto is None:
        abort(404)
    side_q, cond_q = request.args.get("side"), request.args.get("condition")
    if side_q is not None and side_q not in SIDES:
        abort(400)
    plan = session_plan(s, proto)
    if cond_q is not None and cond_q not in {st["condition"] for st in plan}:
        abort(400)
    # ?practice=skip: a patient who knows the test goes straight to the scored trials
    skip = request.args.get("practice") == "skip"
    todo = [st for st in plan if not (skip and st["practice"])] or plan
    match = [st for st in todo if (side_q is None or st["side"] == side_q)
             and (cond_q is None or st["condition"] == cond_q)]
    if side_q is not None and not match:             # a side this protocol does not schedule
        match = [{"condition": cond_q or plan[0]["condition"], "side": side_q, "practice": False, "trial": 1,
                  "done": False, "n": 0}]
    step = next((st for st in match if not st["done"]), match[-1] if match else plan[-1])
    conditions = has_conditions(proto)
    later = [st for st in todo if not st["done"] and st is not step]
    nxt = next((st for st in later if st["n"] > step["n"]), later[0] if later else None)
    named = {c.id: c for c in proto._proto.conditions} if proto._proto else {}
    cond = named.get(step["condition"])
    done = {st["side"] for st in plan if st["done"]}
    skip_url = _step_url(s.id, {**step, "side": step["side"]}, conditions, skip_practice=True) \
        if step["practice"] else None
    return render_template("trials/run.html", s=s, patient=s.patient, proto=proto, side=step["side"],
                           step=step, plan=plan, condition=cond if conditions else None, done=done,
                           skip_practice_url=skip_url,
                           next_url=_step_url(s.id, nxt, conditions, skip) if nxt else
                           url_for("trials.session_detail", session_id=s.id) + "#left-right",
                           next_label=(f"Next: {named[nxt['condition']].label if nxt['condition'] in named else nxt['condition']}"
                                       f" · {nxt['side']}" if conditions else f"Next: {nxt['side']}") if nxt
                           else "Left/right comparison",
                           headline=measures.HEADLINE, metronome=metronome_plan(proto),
                           record_s=record_seconds(proto))


@bp.route("/trials/<int:trial_id>")
def trial_detail(trial_id: int):
    t = get_or_404(Trial, trial_id)
    results = t.result_map()
    head = [k for k in protocols.headline_for(t.protocol) if k in results]
    order = units.shown(head + sorted(k for k in results if k not in head))
    return render_template("trials/trial.html", t=t, s=t.session, patient=t.session.patient, head=head,
                           summary=plain.line(t.protocol, t.side, results, measures.analysis_summary(t.quality)),
                           protocol_title=protocols.title_for(t.protocol),
                           results=results, order=order, redo_form=EmptyForm(), reference=reference.for_trial(t),
                           analysis=measures.analysis_summary(t.quality))


@bp.route("/trials/<int:trial_id>/redo", methods=["POST"])
def redo(trial_id: int):
    db = get_db()
    t = get_or_404(Trial, trial_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    t.status = "redo"
    db.commit()
    flash(f"Trial {t.id} set aside; record the {t.side} side again.", "info")
    return redirect(url_for("trials.run", session_id=t.session_id, side=t.side))


# --- JSON API ----------------------------------------------------------------------------

def _trial_json(t: Trial) -> dict:
    shown = set(units.shown(t.result_map()))
    head = [k for k in protocols.headline_for(t.protocol) if k in shown]
    return {"trial_id": t.id, "session_id": t.session_id, "protocol": t.protocol, "side": t.side,
            "status": t.status, "started_at": t.started_at.isoformat(), "duration_s": t.duration_s,
            "sample_rate_hz": t.sample_rate_hz, "n_samples": t.n_samples, "body_mass_kg": t.body_mass_kg,
            "recording_sha256": t.recording_sha256,
            "quality": {k: v for k, v in (t.quality or {}).items() if k != "analysis"},
            "analysis": measures.analysis_summary(t.quality),
            "results": t.result_map(), "headline": head, "url": url_for("trials.trial_detail", trial_id=t.id),
            "summary": plain.line(t.protocol, t.side, t.result_map(), measures.analysis_summary(t.quality)),
            "display": {k: {"label": units.label(k), "value": units.to_display(k, v, t.body_mass_kg),
                            "count": units.is_count(k)}
                        for k, v in t.result_map().items() if k in shown}}


@bp.route("/api/sessions/<int:session_id>/trials", methods=["POST"])
def api_create_trial(session_id: int):
    s = get_or_404(ClinicSession, session_id)
    try:
        if request.files.get("file"):
            columns, samples, file_meta = recordings.decode(request.files["file"].read())
            side = request.form.get("side", "both")
            started = None
            try:                                         # an uploaded recording keeps its cues
                cues = cues_from_metadata(file_meta)
                cues = None if cues is None else parse_cues(cues)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"the recording's cues_s line: {exc}") from None
        else:
            body = request.get_json(silent=True) or {}
            side = body.get("side", "both")
            columns = tuple(body.get("columns") or SAMPLE_COLUMNS)
            raw = body.get("samples")
            if not isinstance(raw, list):
                raise ValueError("'samples' must be a list of rows")
            samples = np.array([[np.nan if v is None else v for v in row] for row in raw], dtype=float)
            started = datetime.fromisoformat(body["started_at"]) if body.get("started_at") else None
            cues = None
            if "cues_s" in body:                         # checked against the samples' time span
                t = samples[:, list(columns).index("t_s")] if "t_s" in columns and samples.ndim == 2 \
                    and samples.shape[1] == len(columns) and len(samples) else None
                if t is None:
                    raise ValueError("cues_s needs samples with a t_s column")
                cues = parse_cues(body["cues_s"], float(np.nanmin(t)), float(np.nanmax(t)))
        if len(samples) > MAX_UPLOAD_SAMPLES:
            raise ValueError(f"too many samples (max {MAX_UPLOAD_SAMPLES})")
        trial = store_trial(s, side, samples, columns, started_at=started,
                            meta=cues_metadata(cues) if cues else None)
    except (ValueError, TypeError, recordings.RecordingError) as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify(_trial_json(trial)), 201


@bp.route("/api/sessions/<int:session_id>/trials/record", methods=["POST"])
def api_record_trial(session_id: int):
    s = get_or_404(ClinicSession, session_id)
    body = request.get_json(silent=True) or {}
    side = body.get("side", "both")
    try:
        seconds = float(body.get("seconds", 30))
    except (TypeError, ValueError):
        return jsonify({"error": "seconds must be a number"}), 400
    if not 0 < seconds <= MAX_RECORD_S or side not in SIDES:
        return jsonify({"error": "seconds must be in (0, 120] and side one of left/right/both"}), 400
    cues = None
    if "cues_s" in body:            # stream time; the ones outside the recorded samples are dropped later
        try:
            cues = parse_cues(body["cues_s"], lo=0.0, span=seconds)
        except ValueError as exc:
            return jsonify({"error": str(exc)}), 400
    condition, meta = body.get("condition"), {}
    info = protocols.get(s.protocol)
    if condition is not None:
        known = [c.id for c in info._proto.conditions] if info is not None and info._proto is not None else []
        if condition not in known or not has_conditions(info):
            return jsonify({"error": f"condition must be one of {known}, got {condition!r}"}), 400
        meta["condition"] = condition
    if body.get("practice") is True:
        meta["practice"] = "true"
    told: dict = {}

    def start():
        """On the simulator the virtual person does this test now (once the recording listens);
        a staged fault is kept with the recording."""
        told.update(simperson.direct(s, side, cues, condition) or {})
        if told.get("fault"):
            meta["simulated_fault"] = told["fault"]
        return told

    try:
        trial = durable.record_trial(current_app, s, side, seconds, cues=cues, meta=meta, start=start)
    except livefeed.NoLiveSource as exc:
        return jsonify({"error": str(exc)}), 503
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 400
    if trial.status == durable.INTERRUPTED:  # acquisition went away mid-trial: kept, marked interrupted
        faults = (trial.quality or {}).get(durable.FAULTS_KEY)   # or a load cell stopped answering
        why = faults[-1] if faults else "plate reconnecting"
        return jsonify(dict(_trial_json(trial), error=f"recording interrupted: {why}")), 503
    return jsonify(dict(_trial_json(trial), simulated_fault=told.get("fault"))), 201


@bp.route("/api/trials/<int:trial_id>")
def api_trial(trial_id: int):
    return jsonify(_trial_json(get_or_404(Trial, trial_id)))


@bp.route("/api/trials/<int:trial_id>/samples")
def api_trial_samples(trial_id: int):
    t = get_or_404(Trial, trial_id)
    try:
        max_points = max(10, min(int(request.args.get("max_points", 2000)), 100_000))
    except ValueError:
        abort(400)
    try:
        columns, arr, meta = recordings.read(data_dir(), t.recording_path, t.recording_sha256)
    except recordings.RecordingError as exc:
        return jsonify({"error": str(exc)}), 500
    step = max(1, math.ceil(len(arr) / max_points))
    sub = arr[::step]
    rows = [[None if not np.isfinite(v) else float(v) for v in row] for row in sub]
    try:
        t0 = float(meta.get("stream_t0_s", 0.0))   # where the trial's clock started, on the stream's
    except (TypeError, ValueError):
        t0 = 0.0
    return jsonify({"columns": list(columns), "decimation": step, "samples": rows, "stream_t0_s": t0,
                    **_plot_frame(t, columns, arr, meta)})


def _plot_frame(t: Trial, columns, arr, meta) -> dict:
    """What the trial page's COP picture draws besides the trace: the scored window, the 95 %
    ellipse over it (the measures' own, rig.analysis.metrics via measures.ellipse_95, in mm)
    and the plate's cell rectangle from the recording's geometry (mm); for a landing, the
    contact, the peak and the stabilisation its measures found (s, the recording's clock)."""
    out: dict = {"window_s": None, "ellipse": None, "plate": None, "landing": None}
    an = measures.analysis_summary(t.quality)
    ix = {c: i for i, c in enumerate(columns)}
    if an.get("ok") and an.get("scored_window_s") and len(arr):
        w0, w1 = an["scored_window_s"]
        out["window_s"] = [float(w0), float(w1)]
        m = (arr[:, ix["t_s"]] >= w0) & (arr[:, ix["t_s"]] <= w1)
        x, y = arr[m, ix["cop_ml_mm"]], arr[m, ix["cop_ap_mm"]]
        if np.count_nonzero(np.isfinite(x) & np.isfinite(y)) >= 20:
            cx, cy, a, b, ang = measures.ellipse_95(x, y)
            out["ellipse"] = {"cx_mm": cx, "cy_mm": cy, "a_mm": a, "b_mm": b, "angle_deg": math.degrees(ang)}
    r = t.result_map()
    if "contact_t_s" in r and "body_weight_n" in r:          # a landing: what its force picture marks
        c = r["contact_t_s"]
        out["landing"] = {"contact_s": c, "body_weight_n": r["body_weight_n"],
                          "peak_s": c + r["time_to_peak_s"] if "time_to_peak_s" in r else None,
                          "stable_s": c + r["tts_seq_avg_s"] if "tts_seq_avg_s" in r else None,
                          "peak_bw": r.get("peak_force_bw")}
    try:
        gx, gy = parse_geometry(meta.get("geometry_cell_x_m"), meta.get("geometry_cell_y_m"))
        out["plate"] = {"half_ml_mm": 500 * float(gx.max() - gx.min()), "half_ap_mm": 500 * float(gy.max() - gy.min())}
    except RecordingError:
        pass                                # a recording without geometry: no outline
    return out
