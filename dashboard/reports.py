"""One-click PDF reports (matplotlib, object API only: no pyplot global state, safe in a
multi-threaded WSGI server).

``GET /patients/<id>/report.pdf``: the patient's latest session in detail plus trends over
all sessions; ``?referral=1`` adds the clinical notes for a referral letter.
``GET /sessions/<id>/report.pdf``: one session in detail.

Figures: statokinesigram with the 95 % ellipse, stabilograms (ML and AP over time),
force–time curves (% body weight) of landing trials, left vs right bars, trends with the
MDC band and "real change" labels, and the patient-reported outcomes (pain, LEFS) by session
with their change against the MCID (dashboard.pros).
"""
from __future__ import annotations

import io
import math
import textwrap
from datetime import datetime, timezone

import numpy as np
from flask import Blueprint, Response, request
from flask_login import current_user
from matplotlib.backends.backend_pdf import FigureCanvasPdf, PdfPages
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.patches import Ellipse
from sqlalchemy import select

from dashboard import measures, pros, protocols, recordings, reference, summary, units
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
#: A text line of the letter, per point of font size, in its axes' height (0.9 of A4: 10.5 in).
LINE_STEP = 1.4 / 72 / (0.9 * A4[1])


def _page(pdf: PdfPages, fig: Figure) -> None:
    FigureCanvasPdf(fig)
    pdf.savefig(fig)


def _cover(pdf, patient: Patient, session: ClinicSession | None, title: str) -> None:
    """A session's first page: what was tested when, and every trial's headline measures."""
    fig = Figure(figsize=A4)
    ax = fig.add_axes([0.07, 0.04, 0.86, 0.92])
    ax.axis("off")
    y = _header(ax, patient, title)
    if session is None:
        ax.text(0, y, "No sessions yet.", fontsize=10, va="top")
    else:
        ax.text(0, y, f"{protocols.title_for(session.protocol)} — {session.started_at:%Y-%m-%d %H:%M}"
                f" (involved side: {session.involved_side})", fontsize=11, weight="bold", va="top")
        y -= 0.03
        ax.text(0, y, "Patient-reported: " + pros.session_line(pros.report_for(session)), fontsize=9, va="top")
        y -= 0.03
        head = protocols.headline_for(session.protocol) or measures.HEADLINE
        for t in session.trials:
            r = t.result_map()
            parts = [f"{units.label(k)} {units.fmt(k, r[k], t.body_mass_kg)} {units.unit(k)}".rstrip()
                     for k in head[:3] if k in r]
            an = measures.analysis_summary(t.quality)
            flag = (" (set aside: redo)" if t.status != "ok" else
                    " (practice)" if an.get("practice") else
                    f" (not scored: {', '.join(an.get('faults') or []).replace('_', ' ')})" if an.get("ok") and not an.get("scored")
                    else "")
            ax.text(0, y, f"Trial {t.id}, {t.side}{flag}: " + "; ".join(parts), fontsize=8.5, va="top")
            y -= 0.022
            if t.quality.get("warnings"):
                ax.text(0.03, y, "quality: " + "; ".join(t.quality["warnings"]), fontsize=8, color="#b00", va="top")
                y -= 0.022
            if y < 0.08:
                break
    footer = get_setting("report_footer") or ""
    ax.text(0, 0.0, footer + "  Units: cm, cm/s, % body weight. StepPlate force plate.", fontsize=7, color="#555")
    _page(pdf, fig)


def _trial_pages(pdf, session: ClinicSession) -> None:
    trials = [t for t in session.trials if t.status == "ok"]
    info = protocols.get(session.protocol)
    landing = info is not None and info.kind == "step_down_landing"
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
    """Left vs right bars of the session's headline measures, with the LSI (involved ÷
    uninvolved) the web's session page shows."""
    rows = [r for r in left_right(session) if r["headline"]][:8]
    if not rows:
        return
    fig = Figure(figsize=(A4[0], A4[1] / 2))
    n = len(rows)
    cols = min(4, n)
    nrows = math.ceil(n / cols)
    involved = session.involved_side if session.involved_side in ("left", "right") else None
    for i, r in enumerate(rows):
        ax = fig.add_subplot(nrows, cols, i + 1)
        lv, rv = units.to_display(r["key"], r["left"], body_mass), units.to_display(r["key"], r["right"], body_mass)
        names = [f"{sd}{' (inv.)' if sd == involved else ''}" for sd in ("left", "right")]
        ax.bar(names, [abs(lv or 0), abs(rv or 0)], color=[SIDE_COLOURS["left"], SIDE_COLOURS["right"]])
        title = units.label(r["key"]) + (f" · {r['condition']}" if r["condition"] else "")
        ax.set_title(title + (f" ({units.unit(r['key'])})" if units.unit(r["key"]) else ""), fontsize=7, wrap=True)
        ax.tick_params(labelsize=7)
        if r["lsi_pct"] is not None:
            ax.text(0.5, 0.95, f"LSI {r['lsi_pct']:.0f} %", transform=ax.transAxes, ha="center", va="top", fontsize=7)
    fig.suptitle("Left vs right — LSI: " + (f"involved {involved} ÷ uninvolved" if involved else "left ÷ right"),
                 fontsize=11)
    fig.tight_layout()
    _page(pdf, fig)


def _reference_page(pdf, session: ClinicSession, patient: Patient) -> None:
    """Where the session's quiet-stance sway stands among people of the same age, per condition
    (dashboard.reference: the measures the rig reads close enough to the reference data), and
    why the other measures are not compared."""
    refs = reference.for_session(session)
    if not refs:
        return
    fig = Figure(figsize=A4)
    ax = fig.add_axes([0.06, 0.04, 0.88, 0.92])
    ax.axis("off")
    first = refs[0]
    ax.text(0, 1, "Among people of the same age", fontsize=12, weight="bold", va="top")
    y = 0.95
    if first["note"] and not first["rows"]:
        ax.text(0, y, first["note"], fontsize=9, va="top", wrap=True)
    else:
        for ref in refs:
            text = ref["line"] or ref["note"] or "no measure with a percentile for this condition (see below)"
            ax.text(0, y, ref["condition_title"], fontsize=9, weight="bold", va="top")
            ax.text(0.3, y, textwrap.fill(text, 80), fontsize=9, va="top")
            y -= 0.04 * (text.count("; ") // 2 + 1)
        y -= 0.02
        lines = [f"Percentile among {first['who']} in a public data set: {first['source']}. A higher percentile "
                 "means more sway than most people of that age."]
        lines += list(dict.fromkeys(f"{r['title']}, {ref['condition_title']}: {r['why']}."
                                    for ref in refs for r in ref["rows"]))
        for line in lines:
            wrapped = textwrap.fill(line, 135)
            ax.text(0, y, wrapped, fontsize=6.5, color="#444", va="top")
            y -= 0.0155 * (wrapped.count("\n") + 1) + 0.006
    _page(pdf, fig)


def _trend_pages(pdf, patient: Patient, hist: dict) -> None:
    trends = [tr for tr in hist["trends"] if tr["headline"]]
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


#: entries the PRO page's table shows (the latest ones; all are in the CSV export)
PRO_ROWS = 24


def _pros_page(pdf, patient: Patient) -> None:
    """One page, when the patient reported anything: the change of each scale since the first
    entry against its MCID (the plate trends' wording), a table by session, and the scores
    over time with the first entry ± MCID."""
    reports = pros.patient_reports(patient.id)
    if not reports:
        return
    trends = pros.history(patient.id, reports)
    fig = Figure(figsize=A4)
    ax = fig.add_axes([0.07, 0.04, 0.86, 0.92])
    ax.axis("off")
    y = _header(ax, patient, "How the patient feels — patient-reported outcomes")
    ax.text(0, y, "Change since the first entry (MCID: minimal clinically important difference)",
            fontsize=10, weight="bold", va="top")
    y -= 0.025
    for tr in trends:
        ax.text(0, y, f"{units.label(tr['key'])}: ", fontsize=9, va="top")
        ax.text(0.33, y, tr["words"], fontsize=9, va="top", color=LABEL_COLOURS.get(tr["label"], "#000"))
        y -= 0.02
    y -= 0.015
    cols = (0.0, 0.14, 0.52, 0.68, 0.84)
    for x, h in zip(cols, ("Date", "Test", "Worst pain, week", "Pain in test", "LEFS")):
        ax.text(x, y, h, fontsize=8, weight="bold", color="#444", va="top")
    y -= 0.018
    shown = reports[-PRO_ROWS:]
    if len(reports) > len(shown):
        ax.text(0, y, f"… {len(reports) - len(shown)} earlier entries (all in the CSV export)", fontsize=7.5,
                color="#555", va="top")
        y -= 0.016
    dash = lambda v, top: "–" if v is None else f"{v}/{top}"  # noqa: E731
    for r in shown:
        cells = (f"{r.session.started_at:%Y-%m-%d}", protocols.title_for(r.session.protocol)[:40],
                 dash(r.pain_week_nrs, 10), dash(r.pain_test_nrs, 10), dash(r.lefs_total, 80))
        for x, c in zip(cols, cells):
            ax.text(x, y, c, fontsize=8, va="top")
        y -= 0.0155
    # the charts right under the table (axes y to figure y: the text axes span 0.04-0.96)
    top = 0.04 + 0.92 * y - 0.04
    height = max(0.1, min(0.22, top - 0.09))
    panels = [("pain", [tr for tr in trends if tr["key"] in pros.NRS_KEYS]),
              ("LEFS", [tr for tr in trends if tr["key"] == "lefs_total"])]
    for i, (name, trs) in enumerate(p for p in panels if p[1]):
        pax = fig.add_axes([0.1 + 0.45 * i, top - height, 0.37, height])
        for tr, colour in zip(trs, ("#555555", "#999999")):
            pts = tr["sides"]["patient"]["points"]
            ts = [p["t"] for p in pts]
            pax.plot(ts, [p["value"] for p in pts], "-o", ms=3, lw=1, color=colour, label=units.name(tr["key"]))
            pax.axhspan(tr["first"] - tr["mcid"], tr["first"] + tr["mcid"], color=colour, alpha=0.1)
            for p, t_ in zip(pts, ts):
                if p["label"].startswith("real"):
                    pax.annotate("▲" if "decline" in p["label"] else "★", (t_, p["value"]), fontsize=7,
                                 color=LABEL_COLOURS.get(p["label"], "#000"), xytext=(0, 5),
                                 textcoords="offset points", ha="center")
        lo, hi = trs[0]["lo"], trs[0]["hi"]
        pax.set_ylim(lo - 0.5, hi + 0.5 * (hi - lo) / 10)
        pax.set_title(f"{name} — band: first entry ± MCID; ★ real improvement, ▲ real decline", fontsize=7)
        pax.tick_params(labelsize=6.5)
        pax.xaxis.set_major_locator(MaxNLocator(4))
        pax.xaxis.set_major_formatter(DateFormatter("%d %b"))
        pax.legend(fontsize=6, loc="best")
    _footnote(ax, "Pain: numeric rating scale 0 (no pain) to 10 (worst pain imaginable); MCID 2 points (Farrar et al. "
            "2001, Pain 94:149-158). LEFS: Lower Extremity Functional Scale, 20 activities 0-4, total 0 (extreme "
            "difficulty) to 80 (no difficulty); MCID 9 points (Binkley et al. 1999, Phys Ther 79:371-383). Real "
            "improvement / real decline: the change reaches the MCID; within noise: it does not.")
    _page(pdf, fig)


def _footnote(ax, text: str) -> None:
    """The small grey explanation at the foot of a page (what the labels and units mean)."""
    ax.text(0, 0.0, text, fontsize=6.5, color="#555", wrap=True)


def _header(ax, patient: Patient, title: str, y: float = 0.99) -> float:
    """Clinic, title and the patient's line at the top of a page; returns where text goes on."""
    ax.text(0, y, get_setting("clinic_name") or "StepPlate clinic", fontsize=15, weight="bold", va="top")
    ax.text(1, y, f"{datetime.now(timezone.utc):%Y-%m-%d}", fontsize=10, ha="right", va="top")
    ax.text(0, y - 0.035, title, fontsize=12, va="top")
    ax.text(0, y - 0.065, f"Patient ID {patient.code} · {patient.body_mass_kg:g} kg · involved side: "
            f"{patient.involved_side} · dominant leg: {patient.dominant_leg}", fontsize=9.5, va="top")
    return y - 0.1


def _summary_page(pdf, patient: Patient, blocks: list[dict]) -> None:
    """Page 1 of the patient report: every test the patient did, its headline measures left and
    right (clinic units), the symmetry of the latest session and each side's change since the
    first session against the MDC, with a small trend of the first measure."""
    fig = Figure(figsize=A4)
    ax = fig.add_axes([0.06, 0.04, 0.88, 0.92])
    ax.axis("off")
    y = _header(ax, patient, "Balance and landing report — summary")
    if not blocks:
        ax.text(0, y, "No scored results yet.", fontsize=10, va="top")
    involved = patient.involved_side if patient.involved_side in ("left", "right") else None
    bm = patient.body_mass_kg
    band = min(0.16, (y - 0.05) / max(1, len(blocks)))
    cols = (0.0, 0.29, 0.37, 0.45, 0.51, 0.66)
    heads = ("Latest session", "Left", "Right", "LSI",
             *(f"Change, {sd}{' (inv.)' if sd == involved else ''}" for sd in ("left", "right")))
    for b in blocks[:6]:
        ax.text(0, y, b["title"], fontsize=11, weight="bold", va="top")
        ax.text(0.79, y, f"{b['n_sessions']} session{'s' if b['n_sessions'] != 1 else ''}, "
                f"{b['first']:%d %b} – {b['last']:%d %b %Y}", fontsize=7.5, color="#444", va="top", ha="right")
        yy = y - 0.022
        for x, h in zip(cols, heads):
            ax.text(x, yy, h, fontsize=7, weight="bold", color="#444", va="top")
        yy -= 0.017
        for m in b["measures"]:
            ax.text(cols[0], yy, m["label"][:40], fontsize=7.5, va="top")
            colour = SIDE_COLOURS["both"] if "both" in m["sides"] else None
            for (xv, xw), sd in (((cols[1], cols[4]), "left"), ((cols[2], cols[5]), "right")):
                v = m["columns"][sd]
                ax.text(xv, yy, "–" if v is None else units.fmt(m["key"], v["latest"], bm), fontsize=7.5, va="top",
                        color=colour or SIDE_COLOURS[sd])
                if v is not None:
                    ax.text(xw, yy, v["word"], fontsize=7.5, va="top", color=LABEL_COLOURS.get(v["label"], "#000"))
            ax.text(cols[3], yy, "–" if m["lsi_pct"] is None else f"{m['lsi_pct']:.0f} %", fontsize=7.5, va="top")
            yy -= 0.016
        ref = b.get("reference")
        if ref is not None:
            ax.text(cols[0], yy, ref["summary"],
                    fontsize=7, va="top", color="#444")
        _mini_trend(fig, b, patient, top=0.04 + 0.92 * y, height=0.92 * band * 0.7)
        y -= band
    _footnote(ax, "LSI: limb symmetry index, involved ÷ uninvolved side (left ÷ right when no involved side is "
            "recorded). Change: latest session against the first. Real improvement / real decline: the change is "
            "larger than the minimal detectable change (MDC95); within noise: it is not; insufficient data: no MDC "
            "for the measure yet (repeat trials, or set the clinic's MDC). Units: cm, cm/s, % body weight.")
    _page(pdf, fig)


def _mini_trend(fig: Figure, block: dict, patient: Patient, top: float, height: float) -> None:
    """The block's first headline measure that is not a count over the sessions, per side,
    with baseline ± MDC."""
    m = next((m for m in block["measures"] if not units.is_count(m["key"])), None)
    if m is None:
        return
    if max(s["n"] for s in m["sides"].values()) < 2:
        return
    ax = fig.add_axes([0.79, top - height - 0.01, 0.18, height])
    for side, s in m["sides"].items():
        c = SIDE_COLOURS.get(side, "k")
        ax.plot([t for t, _ in s["points"]], [units.to_display(m["key"], v, patient.body_mass_kg) for _, v in s["points"]],
                "-o", ms=2.5, lw=1, color=c, label=side)
        if s["mdc95"] is not None:
            lo = units.to_display(m["key"], s["baseline"] - s["mdc95"], patient.body_mass_kg)
            hi = units.to_display(m["key"], s["baseline"] + s["mdc95"], patient.body_mass_kg)
            if lo is not None and hi is not None:
                ax.axhspan(min(lo, hi), max(lo, hi), color=c, alpha=0.1)
    ax.set_title(m["label"], fontsize=6.5)
    ax.tick_params(labelsize=5.5)
    ax.xaxis.set_major_locator(MaxNLocator(3))
    ax.xaxis.set_major_formatter(DateFormatter("%d %b"))
    ax.legend(fontsize=5.5, loc="best")


def build_pdf(patient: Patient, session: ClinicSession | None, trends: bool = True) -> bytes:
    """The patient report (``trends``): a one-page summary of every test, the trends, the
    programme, then the latest session in detail; without ``trends``: one session's report."""
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": f"StepPlate report {patient.code}", "Creator": "StepPlate"}) as pdf:
        hist = history(patient) if trends else None
        if trends:
            _summary_page(pdf, patient, summary.patient_summary(patient, hist))
        _cover(pdf, patient, session, "Latest session" if trends else "Balance and landing report")
        if session is not None:
            _trial_pages(pdf, session)
            _left_right_page(pdf, session, patient.body_mass_kg)
            _reference_page(pdf, session, patient)
        if trends:
            _trend_pages(pdf, patient, hist)
            _pros_page(pdf, patient)
            _programme_page(pdf, patient)
    return buf.getvalue()


def build_referral(patient: Patient, author: str | None = None) -> bytes:
    """The referral letter: a short document of its own (one page, two at most) for a doctor
    or another therapist — who, why, what was measured, what changed, the exercise block and
    the clinical notes; no raw measures."""
    db = get_db()
    notes = db.scalars(select(Note).where(Note.patient_id == patient.id).order_by(Note.created_at)).all()
    blocks = summary.patient_summary(patient, history(patient))
    from dashboard.programme_views import programme_outcome
    outcome = programme_outcome(patient.id)
    paragraphs: list[tuple[str, float, str]] = [
        ("Re: patient " + patient.code, 11, "bold"),
        ("Dear colleague,", 10, "normal"),
        (f"This patient has been assessed on our StepPlate force plate ({len(blocks)} test"
         f"{'s' if len(blocks) != 1 else ''}; involved side: {patient.involved_side}). "
         "The findings below compare each side's latest result with the first session; a change is called "
         "real only when it is larger than the minimal detectable change (MDC95) of the measure.", 10, "normal")]
    for b in blocks:
        paragraphs.append((f"{b['title']} ({b['n_sessions']} session{'s' if b['n_sessions'] != 1 else ''}, "
                           f"{b['first']:%d %b %Y} – {b['last']:%d %b %Y})", 10, "bold"))
        paragraphs += [("• " + s, 9, "normal") for s in summary.sentences(b, patient)]
    reported = pros.history(patient.id)
    if reported:                       # what the patient reports, against each scale's MCID
        paragraphs.append(("How the patient feels (patient-reported)", 10, "bold"))
        paragraphs += [(f"• {units.label(tr['key'])}: {tr['words']}", 9, "normal") for tr in reported]
    if outcome["status"] != "no programme":
        pr = outcome["programme"]
        paragraphs.append(("Exercise programme", 10, "bold"))
        adherence = f"{pr['adherence_pct']:.0f} %" if pr.get("adherence_pct") is not None else "not recorded"
        paragraphs.append((f"{pr['title']}: {pr['weeks']} weeks × {pr['sessions_per_week']} sessions from "
                           f"{pr['start_date']}; {pr['done_to_date']} of {pr['prescribed_total']} sessions done "
                           f"(adherence {adherence}); retest: {outcome['status']}.", 9, "normal"))
    if notes:
        paragraphs.append(("Clinical notes", 10, "bold"))
        paragraphs += [(f"{n.created_at:%d %b %Y}: {n.text}", 9, "normal") for n in notes[-6:]]
    paragraphs += [("Kind regards,", 10, "normal"), (author or "", 10, "normal"),
                   (get_setting("clinic_name") or "StepPlate clinic", 10, "normal")]
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": f"StepPlate referral {patient.code}", "Creator": "StepPlate"}) as pdf:
        fig, ax, y = _letter_page(patient)
        for text, size, weight in paragraphs:
            for line in textwrap.wrap(text, width=int(112 * 9 / size)) or [""]:
                if y < 0.06:                           # a second page, never a cut
                    _page(pdf, fig)
                    fig, ax, y = _letter_page(patient)
                ax.text(0, y, line, fontsize=size, weight=weight, va="top")
                y -= LINE_STEP * size
            y -= 0.008
        footer = get_setting("report_footer") or ""
        ax.text(0, 0.0, footer + "  Measured with a StepPlate force plate; units cm, cm/s, % body weight.",
                fontsize=7, color="#555")
        _page(pdf, fig)
    return buf.getvalue()


def _letter_page(patient: Patient):
    fig = Figure(figsize=A4)
    ax = fig.add_axes([0.1, 0.05, 0.8, 0.9])
    ax.axis("off")
    return fig, ax, _header(ax, patient, "Referral letter") - 0.01


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
    if request.args.get("referral") == "1":
        return _pdf_response(build_referral(p, getattr(current_user, "username", None)),
                             f"stepplate_{p.code}_referral.pdf")
    last = db.scalar(select(ClinicSession).where(ClinicSession.patient_id == p.id)
                     .order_by(ClinicSession.started_at.desc()).limit(1))
    return _pdf_response(build_pdf(p, last), f"stepplate_{p.code}_report.pdf")


@bp.route("/sessions/<int:session_id>/report.pdf")
def session_report(session_id: int):
    s = get_or_404(ClinicSession, session_id)
    return _pdf_response(build_pdf(s.patient, s, trends=False), f"stepplate_{s.patient.code}_session{s.id}.pdf")
