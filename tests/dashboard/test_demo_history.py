"""`rig demo --with-history`: the demo patient's six weeks are made by the virtual person, stored
through the one storage path, scored, and show the weak hip getting better."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from dashboard.demo_history import DEMO_CODE, PROTOCOLS, WEEKS, seed_history
from dashboard.models import ClinicSession, Patient, Trial

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def seeded(app):
    pid = seed_history(app, now=NOW)
    return pid


@pytest.mark.databases("sqlite")
def test_six_weeks_of_scored_sessions_made_by_the_person(app, client, seeded):
    from dashboard.db import get_db
    from dashboard.programme_models import Programme
    with app.app_context():
        db = get_db()
        p = db.get(Patient, seeded)
        assert p.code == DEMO_CODE and "Simulated demo patient" in p.notes
        sessions = db.query(ClinicSession).filter_by(patient_id=p.id).all()
        assert len(sessions) == WEEKS * len(PROTOCOLS)
        trials = db.query(Trial).join(ClinicSession).filter(ClinicSession.patient_id == p.id).all()
        from rig.analysis.protocols import get as get_protocol   # each protocol's scored trials, both sides
        assert len(trials) == WEEKS * sum(2 * get_protocol(pid).scored_trials for pid in PROTOCOLS)
        scored = [t for t in trials if (t.quality or {}).get("analysis", {}).get("scored")]
        assert len(scored) == len(trials), [t.quality["analysis"].get("faults") for t in trials if t not in scored]
        # the weak (left) hip: single-leg ML sway shrinks from week 1 to week 6; the right stays
        def ml_velocity(side, week):
            s = sorted((s for s in sessions if s.protocol == "single_leg_stance"), key=lambda s: s.started_at)[week]
            return np.mean([t.result_map()["mean_velocity_ml_mm_s"] for t in s.trials if t.side == side])
        left = [ml_velocity("left", w) for w in range(WEEKS)]
        right = [ml_velocity("right", w) for w in range(WEEKS)]
        assert left[0] > 1.3 * left[-1] and left[0] > 1.2 * np.mean(right)
        assert np.polyfit(range(WEEKS), left, 1)[0] < 0
        # landings from the 30 cm box: 2-4 body weights; step-downs: all five repetitions
        for t in trials:
            r = t.result_map()
            if t.protocol == "step_down_landing":
                assert 2.0 <= r["peak_force_bw"] <= 4.0
            if t.protocol == "lateral_step_down":
                assert r["repetition_count"] == 5
        prog = db.query(Programme).filter_by(patient_id=p.id).one()
        assert "demo" in prog.title and len(prog.logs) > 10
    assert seed_history(app, now=NOW) == seeded                      # once only
    with app.app_context():
        assert get_db().query(Patient).filter_by(code=DEMO_CODE).count() == 1
    # the pages: trends and the PDF report of the seeded weeks
    page = client.get(f"/patients/{seeded}").get_data(as_text=True)
    assert DEMO_CODE in page and "trend-fig" in page
    glance = page.split('id="at-a-glance"')[1].split("</section>")[0]   # the same summary, on the page
    from dashboard.protocols import title_for as title
    assert all(title(pid) in glance for pid in PROTOCOLS)
    assert 'chip-real-improvement">left (inv.): real improvement' in glance and "5 → 5" in glance
    r = client.get(f"/patients/{seeded}/report.pdf")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    # page 1 of the report: every test of the six weeks, left/right and the change against the
    # MDC in the one vocabulary; the weak (left, involved) hip's side-to-side sway really improved
    from dashboard.protocols import title_for
    report = pdf_text(r.data)
    first = report[0]
    assert "summary" in first and all(title_for(pid) in first for pid in PROTOCOLS), first
    assert "Change, left (inv.)" in first and "real improvement" in first
    assert not any(w in first for w in ("mean_velocity", "single_leg_stance", "_mm"))   # no internal names
    # the referral letter is a document of its own: a letter, short, no trial pictures
    letter = client.get(f"/patients/{seeded}/report.pdf?referral=1")
    pages = pdf_text(letter.data)
    assert len(pages) <= 2 and len(pages) < len(report)
    text = "\n".join(pages)
    assert "Dear colleague" in text and "Statokinesigram" not in text and "Statokinesigram" in "\n".join(report)
    assert "Side-to-side sway velocity — left (involved):" in text and "real improvement (MDC" in text
    assert "Hip strengthening" in text and "adherence" in text
    _check_demo_reports(client, seeded)


def pdf_text(data: bytes) -> list[str]:
    """Each page's text, read back by pypdf (not our code)."""
    import io

    import pypdf
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def _check_demo_reports(client, seeded):
    """The demo patient's reported outcomes: one report per weekly visit (its first session),
    worst pain falls, the LEFS rises past its MCID; the numbers come from a generator seeded
    by the patient's code. (Called by the test above: seeding takes a while.)"""
    from dashboard.demo_history import demo_pros
    hist = client.get(f"/patients/{seeded}/history.json").get_json()["pros"]
    assert len(hist["entries"]) == WEEKS
    assert len({e["session_date"] for e in hist["entries"]}) == WEEKS                 # one per visit
    trends = {t["key"]: t for t in hist["trends"]}
    lefs = [p["value"] for p in trends["lefs_total"]["sides"]["patient"]["points"]]
    pain = [p["value"] for p in trends["pain_week_nrs"]["sides"]["patient"]["points"]]
    assert np.polyfit(range(WEEKS), lefs, 1)[0] > 2 and np.polyfit(range(WEEKS), pain, 1)[0] < -0.4
    assert trends["lefs_total"]["label"] == "real improvement" and trends["pain_week_nrs"]["label"] == "real improvement"
    assert all(sum(e["lefs_items"]) == e["lefs_total"] for e in hist["entries"])
    assert demo_pros(DEMO_CODE) == demo_pros(DEMO_CODE) and demo_pros(DEMO_CODE) != demo_pros("DEMO-02")
