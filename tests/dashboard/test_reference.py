"""The reference values on the dashboard (dashboard.reference): an older demo patient's mCTSIB
sessions are placed among people of the same age on the trial page, the session page, the
patient page and the PDFs, for the measures the shipped table allows, with why for the others."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from dashboard.demo_history import OLDER_AGE, OLDER_CODE, seed_older_patient
from dashboard.models import ClinicSession, Patient
from rig.analysis import norms
from tests.dashboard.test_demo_history import pdf_text

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def older(app):
    from dashboard.db import get_db
    pid = seed_older_patient(app, now=NOW)
    with app.app_context():
        p = get_db().get(Patient, pid)
        assert p.code == OLDER_CODE
        sessions = sorted(p.sessions, key=lambda s: s.started_at)
        return p.id, [s.id for s in sessions]


def _velocity_band(app, session_id, cond):
    """An independent reading of the band: the session's trial value against the shipped cell."""
    from dashboard.db import get_db
    with app.app_context():
        s = get_db().get(ClinicSession, session_id)
        t = next(t for t in s.trials if t.condition == cond)
        v = t.result_map()["mean_velocity_mm_s"]
        cell = norms.cell_for(norms.load_table(), cond, NOW.year - (NOW.year - OLDER_AGE))
        pct = cell["measures"]["mean_velocity_mm_s"]
        return t.id, norms.band_words(norms.percentile_band(v, pct)), v


@pytest.mark.databases("sqlite")
def test_session_trial_and_patient_pages_show_the_band(app, client, older):
    pid, (first, last) = older
    page = client.get(f"/sessions/{last}").get_data(as_text=True)
    card = page.split('id="reference-values"')[1].split("</section>")[0]
    assert "people aged 70+" in card and "Santos" in card
    for cond in norms.CONDITIONS.values():
        trial_id, words, v = _velocity_band(app, last, cond)
        row = card.split(f'data-condition="{cond}"')[1].split("</tr>")[0]
        assert words in row, (cond, words, row)
        shown = float(re.search(r"<small>([0-9.]+) cm/s</small>", row).group(1))
        assert shown == pytest.approx(v / 10, abs=0.006)
    # area and mean frequency are not compared, and the card says why
    assert "Not compared: Sway area (95 % ellipse), Mean sway frequency" in card
    assert "30-s test" in card and "percentile points" in card
    trial = client.get(f"/trials/{trial_id}").get_data(as_text=True)
    tcard = trial.split('id="reference-values"')[1].split("</section>")[0]
    assert words in tcard and "foam, eyes closed" in tcard
    glance = client.get(f"/patients/{pid}").get_data(as_text=True).split('id="at-a-glance"')[1].split("</section>")[0]
    assert glance.count("Among people aged 70+: Sway velocity") == 4


@pytest.mark.databases("sqlite")
def test_session_pdf_and_patient_pdf_show_the_band(app, client, older):
    pid, (first, last) = older
    text = "\n".join(pdf_text(client.get(f"/sessions/{last}/report.pdf").data))
    assert "Among people of the same age" in text
    _, words, _ = _velocity_band(app, last, "foam_eyes_closed")
    page = text.split("Among people of the same age")[1]
    assert re.search(r"foam, eyes closed\s+Sway velocity [0-9.]+ cm/s: " + re.escape(words), page), page[:600]
    assert "Sway area (95 % ellipse): not shown" in page
    summary = pdf_text(client.get(f"/patients/{pid}/report.pdf").data)[0]
    assert "Among people aged 70+: Sway velocity" in summary


@pytest.mark.databases("sqlite")
def test_no_year_of_birth_no_percentile(app, client, older):
    from dashboard.db import get_db
    pid, (first, last) = older
    with app.app_context():
        db = get_db()
        db.get(Patient, pid).birth_year = None
        db.commit()
    card = client.get(f"/sessions/{last}").get_data(as_text=True).split('id="reference-values"')[1].split("</section>")[0]
    assert "Add the patient&#39;s year of birth" in card and "percentile</strong>" not in card


@pytest.mark.databases("sqlite")
def test_the_older_person_sways_more_than_the_young_on_foam(app, older):
    """The older demo person's foam, eyes-closed velocity sits higher among the young (18-39)
    than among people of their own age: the two cells really differ where they should."""
    _, (first, last) = older
    _, _, v = _velocity_band(app, first, "foam_eyes_closed")
    table = norms.load_table()
    young = norms.cell_for(table, "foam_eyes_closed", 30)["measures"]["mean_velocity_mm_s"]
    old = norms.cell_for(table, "foam_eyes_closed", OLDER_AGE)["measures"]["mean_velocity_mm_s"]
    assert norms.percentile_band(v, young) >= norms.percentile_band(v, old)


