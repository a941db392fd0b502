"""One-click PDF reports (matplotlib, object API only: no pyplot global state, safe in a
multi-threaded WSGI server).

``GET /patients/<id>/report.pdf``: the patient's latest session in detail plus trends over
all sessions; ``?referral=1`` adds the clinical notes for a referral letter.
``GET /sessions/<id>/report.pdf``: one session in detail.

Figures: statokinesigram with the 95 % ellipse, stabilograms (ML and AP over time),
force–time curves (% body weight) of landing trials, left vs right bars, trends with the
MDC band and "real change" labels.
"""
from __future__ import annotations

import io
import math
from datetime import datetime, timezone

import numpy as np
from flask import Blueprint, Response, request
from matplotlib.backends.backend_pdf import FigureCanvasPdf, PdfPages
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse
from sqlalchemy import select

from dashboard import measures, protocols, recordings, units
from dashboard.auth import clinic_gate
from dashboard.db import get_db, get_or_404
from dashboard.models import ClinicSession, Note, Patient
from dashboard.palette import LABEL_COLOURS, SIDE_COLOURS
from dashboard.patients import history
from dashboard.settings import get_setting
from dashboard.trials import left_right, load_samples
from rig.signal.plate import G

bp = Blueprint("reports", __name__)
bp.before_request(clinic_gate)

A4 = (8.27, 11.69)
LANDING_WORDS = ("landing", "drop", "hop")


def _page(pdf: PdfPages, fig: Figure) -> None:
    FigureCanvasPdf(fig)
    pdf.savefig(fig)


def _cover(pdf, patient: Patient, session: ClinicSession | None, notes: list[Note] | None, title: str) -> None:
    fig = Figure(figsize=A4)
    ax = fig.add_axes([0.08, 0.05, 0.84, 0.9])
    ax.axis("off")
    lines = [(get_setting("clinic_name") or "StepPlate clinic", 16, "bold"), (title, 13, "normal"), ("", 8, "normal"),
             (f"Patient ID: {patient.code}", 11, "normal"),
             (f"Body mass: {patient.body_mass_kg:g} kg    Dominant leg: {patient.dominant_leg}", 11, "normal"),
             (f"Report date: {datetime.now(timezone.utc):%Y-%m-%d}", 11, "normal")]
    if session is not None:
        lines.append((f"Session: {session.started_at:%Y-%m-%d %H:%M} — protocol {session.protocol}", 11, "normal"))
    y = 0.97
    for text, size, weight in lines:
        ax.text(0, y, text, fontsize=size, weight=weight, va="top")
        y -= 0.035
    if session is not None:
        y -= 0.02
        ax.text(0, y, "Trials", fontsize=12, weight="bold", va="top")
        y -= 0.03
        for t in session.trials:
            r = t.result_map()
            parts = [f"{units.label(k)} {units.fmt(k, r[k], t.body_mass_kg)}" for k in measures.HEADLINE[:3] if k in r]
            flag = "" if t.status == "ok" else " (set aside: redo)"
            ax.text(0, y, f"#{t.id} {t.side}{flag}: " + "; ".join(parts), fontsize=8.5, va="top")
            y -= 0.022
            if t.quality.get("warnings"):
                ax.text(0.03, y, "quality: " + "; ".join(t.quality["warnings"]), fontsize=8, color="#b00", va="top")
                y -= 0.022
            if y < 0.3:
                break
    if notes:
        y -= 0.02
        ax.text(0, y, "Clinical notes", fontsize=12, weight="bold", va="top")
        y -= 0.03
        for n in notes[-8:]:
            ax.text(0, y, f"{n.created_at:%Y-%m-%d}: {n.text[:140]}", fontsize=8.5, va="top", wrap=True)
            y -= 0.025
    footer = get_setting("report_footer") or ""
    ax.text(0, 0.0, footer + "  Units: cm, cm/s, % body weight. StepPlate force plate.", fontsize=7, color="#555")
    _page(pdf, fig)


def _trial_pages(pdf, session: ClinicSession) -> None:
    trials = [t for t in session.trials if t.status == "ok"]
    landing = any(w in session.protocol for w in LANDING_WORDS)
    for chunk in range(0, len(trials), 2):
        fig = Figure(figsize=A4)
        gs = fig.add_gridspec(4, 2, hspace=0.55, wspace=0.3)
        for col, t in enumerate(trials[chunk:chunk + 2]):
            try:
                columns, arr = load_samples(t)
            except recordings.RecordingError as exc:
                ax = fig.add_subplot(gs[0, col])
                ax.axis("off")
                ax.text(0, 0.5, f"trial {t.id}: {exc}", color="#b00", fontsize=8, wrap=True)
                continue
            ix = measures.columns_index(columns)
            ts = arr[:, ix["t_s"]] - arr[0, ix["t_s"]]
            x = arr[:, ix["cop_ml_mm"]] / 10.0
            y = arr[:, ix["cop_ap_mm"]] / 10.0
            c = SIDE_COLOURS.get(t.side, "k")
            ax = fig.add_subplot(gs[0:2, col])
            ax.plot(x, y, lw=0.6, color=c)
            if np.count_nonzero(np.isfinite(x) & np.isfinite(y)) >= 3:
                cx, cy, a, b, ang = measures.ellipse_95(x, y)
                ax.add_patch(Ellipse((cx, cy), 2 * a, 2 * b, angle=math.degrees(ang), fill=False, lw=1.2,
                                     ls="--", color="k", label="95 % ellipse"))
                ax.legend(loc="upper right", fontsize=7)
            ax.set_aspect("equal", adjustable="datalim")
            ax.set_xlabel("COP medio-lateral (cm)")
            ax.set_ylabel("COP antero-posterior (cm)")
            ax.set_title(f"Statokinesigram — trial {t.id}, {t.side}", fontsize=9)
            ax2 = fig.add_subplot(gs[2, col])
            ax2.plot(ts, x, lw=0.6, label="ML")
            ax2.plot(ts, y, lw=0.6, label="AP")
            ax2.set_xlabel("time (s)")
            ax2.set_ylabel("COP (cm)")
            ax2.set_title("Stabilogram", fontsize=9)
            ax2.legend(fontsize=7)
            ax3 = fig.add_subplot(gs[3, col])
            bw = 100 * arr[:, ix["fz_n"]] / (t.body_mass_kg * G)
            ax3.plot(ts, bw, lw=0.7, color=c)
            ax3.set_xlabel("time (s)")
            ax3.set_ylabel("Fz (% BW)")
            ax3.set_title("Force–time" + (" (landing)" if landing else ""), fontsize=9)
        _page(pdf, fig)


def _left_right_page(pdf, session: ClinicSession, body_mass: float) -> None:
    rows = left_right(session)
    if not rows:
        return
    rows = rows[:8]
    fig = Figure(figsize=(A4[0], A4[1] / 2))
    n = len(rows)
    cols = min(4, n)
    nrows = math.ceil(n / cols)
    for i, r in enumerate(rows):
        ax = fig.add_subplot(nrows, cols, i + 1)
        lv, rv = units.to_display(r["key"], r["left"], body_mass), units.to_display(r["key"], r["right"], body_mass)
        ax.bar(["left", "right"], [lv or 0, rv or 0], color=[SIDE_COLOURS["left"], SIDE_COLOURS["right"]])
        ax.set_title(units.label(r["key"]), fontsize=7)
        ax.tick_params(labelsize=7)
        ax.text(0.5, 0.95, f"asym {r['asymmetry_pct']:+.0f}%", transform=ax.transAxes, ha="center", va="top", fontsize=7)
    fig.suptitle("Left vs right", fontsize=11)
    fig.tight_layout()
    _page(pdf, fig)


def _trend_pages(pdf, patient: Patient) -> None:
    trends = [tr for tr in history(patient)["trends"] if tr["headline"]]
    trends = [tr for tr in trends if max(len(s["points"]) for s in tr["sides"].values()) >= 2]
    for chunk in range(0, len(trends), 4):
        fig = Figure(figsize=A4)
        for i, tr in enumerate(trends[chunk:chunk + 4]):
            ax = fig.add_subplot(4, 1, i + 1)
            key = tr["key"]
            for side, s in tr["sides"].items():
                c = SIDE_COLOURS.get(side, "k")
                ts = [p["t"] for p in s["points"]]
                vs = [units.to_display(key, p["value"], patient.body_mass_kg) for p in s["points"]]
                ax.plot(ts, vs, "-o", ms=3, color=c, lw=1, label=side)
                if tr["mdc"] is not None:
                    lo = units.to_display(key, s["baseline"] - tr["mdc"], patient.body_mass_kg)
                    hi = units.to_display(key, s["baseline"] + tr["mdc"], patient.body_mass_kg)
                    if lo is not None and hi is not None:
                        ax.axhspan(min(lo, hi), max(lo, hi), color=c, alpha=0.1)
                for p, t_, v in zip(s["points"], ts, vs):
                    if p["label"].startswith("real"):
                        ax.annotate("▲" if "decline" in p["label"] else "★", (t_, v), fontsize=7,
                                    color=LABEL_COLOURS.get(p["label"], "#000"),
                                    xytext=(0, 5), textcoords="offset points", ha="center")
            ax.set_title(f"{protocols.title_for(tr['protocol'])}: {units.label(key)} — band: baseline ± MDC; ★ real improvement, "
                         "▲ real decline", fontsize=8)
            ax.legend(fontsize=7)
            ax.tick_params(labelsize=7)
            fig.autofmt_xdate()
        fig.suptitle("Trends", fontsize=11)
        _page(pdf, fig)


def build_pdf(patient: Patient, session: ClinicSession | None, referral: bool = False,
              trends: bool = True) -> bytes:
    db = get_db()
    notes = (db.scalars(select(Note).where(Note.patient_id == patient.id).order_by(Note.created_at)).all()
             if referral else None)
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": f"StepPlate report {patient.code}", "Creator": "StepPlate"}) as pdf:
        _cover(pdf, patient, session, notes, "Referral report" if referral else "Balance and landing report")
        if session is not None:
            _trial_pages(pdf, session)
            _left_right_page(pdf, session, patient.body_mass_kg)
        if trends:
            _trend_pages(pdf, patient)
            _programme_page(pdf, patient)
    return buf.getvalue()


def _programme_page(pdf: PdfPages, patient: Patient) -> None:
    """The exercise block's outcome (adherence, retest vs baseline with MDC labels), when the
    patient has a programme."""
    from dashboard.programme_views import outcome_figure, programme_outcome
    outcome = programme_outcome(patient.id)
    if outcome["status"] != "no programme":
        _page(pdf, outcome_figure(outcome))


def _pdf_response(data: bytes, filename: str) -> Response:
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/patients/<int:patient_id>/report.pdf")
def patient_report(patient_id: int):
    db = get_db()
    p = get_or_404(Patient, patient_id)
    last = db.scalar(select(ClinicSession).where(ClinicSession.patient_id == p.id)
                     .order_by(ClinicSession.started_at.desc()).limit(1))
    referral = request.args.get("referral") == "1"
    return _pdf_response(build_pdf(p, last, referral=referral),
                         f"stepplate_{p.code}_{'referral' if referral else 'report'}.pdf")


@bp.route("/sessions/<int:session_id>/report.pdf")
def session_report(session_id: int):
    s = get_or_404(ClinicSession, session_id)
    return _pdf_response(build_pdf(s.patient, s, trends=False), f"stepplate_{s.patient.code}_session{s.id}.pdf")
