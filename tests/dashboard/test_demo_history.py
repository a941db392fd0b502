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
        assert len(trials) == 2 * len(sessions)
        scored = [t for t in trials if (t.quality or {}).get("analysis", {}).get("scored")]
        assert len(scored) == len(trials), [t.quality["analysis"].get("faults") for t in trials if t not in scored]
        # the weak (left) hip: single-leg ML sway shrinks from week 1 to week 6; the right stays
        def ml_velocity(side, week):
            s = sorted((s for s in sessions if s.protocol == "single_leg_stance"), key=lambda s: s.started_at)[week]
            t = next(t for t in s.trials if t.side == side)
            return t.result_map()["mean_velocity_ml_mm_s"]
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
    r = client.get(f"/patients/{seeded}/report.pdf")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
