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


def _expected(app, session_id, cond):
    """What the card must say for one condition, read from the shipped table's decision (the
    60-s trial's comparability in the patient's cell) and the cell's percentiles."""
    from dashboard.db import get_db
    table = norms.load_table()
    with app.app_context():
        s = get_db().get(ClinicSession, session_id)
        t = next(t for t in s.trials if t.condition == cond)
        res = t.result_map()
        window = t.quality["analysis"]["scored_window_s"]
        cell = norms.cell_for(table, cond, OLDER_AGE)
        out = {}
        for m in norms.MEASURES:
            shown = table["comparability"][m.key]["durations"]["60"]["shown"][cond][cell["age_band"]]
            band = norms.band_words(norms.percentile_band(res[m.key], cell["measures"][m.key])) if shown else None
            out[m.key] = (shown, band, res[m.key])
        return t.id, out, window[1] - window[0]


@pytest.mark.databases("sqlite")
def test_session_trial_and_patient_pages_show_the_band(app, client, older):
    pid, (first, last) = older
    page = client.get(f"/sessions/{last}").get_data(as_text=True)
    card = page.split('id="reference-values"')[1].split("</section>")[0]
    assert "people aged 70+" in card and "Santos" in card
    n_shown = 0
    for cond in norms.CONDITIONS.values():
        trial_id, want, secs = _expected(app, last, cond)
        assert secs >= 55                                   # the 60-s protocol's trials
        row = card.split(f'data-condition="{cond}"')[1].split("</tr>")[0]
        cells = row.split("<td>")[2:]                       # one per measure, in MEASURES order
        assert len(cells) == 3
        for (shown, band, value), cell in zip(want.values(), cells):
            if shown:
                n_shown += 1
                assert band in cell, (cond, band, cell)
            else:
                assert "no percentile" in cell and "percentile</strong>" not in cell, (cond, cell)
    assert n_shown >= 1                                     # the table shows some cells for 70+ at 60 s
    assert "Why a measure has a percentile or not" in card and "percentile points" in card
    # velocity is in cm/s on the card
    v = _expected(app, last, "firm_eyes_open")[1]["mean_velocity_mm_s"][2]
    shown = float(re.search(r"([0-9.]+) cm/s", card.split('data-condition="firm_eyes_open"')[1]).group(1))
    assert shown == pytest.approx(v / 10, abs=0.006)
    trial = client.get(f"/trials/{trial_id}").get_data(as_text=True)
    tcard = trial.split('id="reference-values"')[1].split("</section>")[0]
    assert "foam, eyes closed" in tcard and "people aged 70+" in tcard
    glance = client.get(f"/patients/{pid}").get_data(as_text=True).split('id="at-a-glance"')[1].split("</section>")[0]
    assert glance.count('class="reference-line"') == 4


@pytest.mark.databases("sqlite")
def test_a_30_s_trial_gets_no_percentile_and_says_why(app):
    """The same sway on the 30-s mCTSIB: the bias of a 30-s window is too large anywhere."""
    from dashboard import reference
    out = reference.compare({"mean_velocity_mm_s": 12.0, "ellipse95_area_prediction_mm2": 300.0,
                             "mean_power_frequency_hz": 0.3}, "firm_eyes_open", 74, scored_s=30.0)
    assert out["rows"] and not any(r["shown"] for r in out["rows"])
    assert all("30-s trial" in r["why"] for r in out["rows"])


@pytest.mark.databases("sqlite")
def test_session_pdf_and_patient_pdf_show_the_band(app, client, older):
    pid, (first, last) = older
    text = "\n".join(pdf_text(client.get(f"/sessions/{last}/report.pdf").data))
    assert "Among people of the same age" in text
    page = " ".join(text.split("Among people of the same age")[1].split())     # lines wrapped on the page
    _, want, _ = _expected(app, last, "firm_eyes_closed")
    shown = [(k, band) for k, (ok, band, _) in want.items() if ok]
    for key, band in shown:
        title = norms.BY_KEY[key].title
        assert re.search(re.escape(title) + r" [0-9.]+ [^:]+: " + re.escape(band), page), (title, band, page[:800])
    assert "not shown" in page
    summary = pdf_text(client.get(f"/patients/{pid}/report.pdf").data)[0]
    assert "Among people aged 70+" in summary


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


def test_the_cells_differ_by_age_where_they_should():
    """People aged 70+ sway faster on foam than people aged 18-39 (the table is not one cell
    copied): the medians differ by more than the young cell's interquartile range."""
    table = norms.load_table()
    young = norms.cell_for(table, "foam_eyes_closed", 30)["measures"]["mean_velocity_mm_s"]
    old = norms.cell_for(table, "foam_eyes_closed", OLDER_AGE)["measures"]["mean_velocity_mm_s"]
    assert old["p50"] - young["p50"] > young["p75"] - young["p25"]


@pytest.mark.databases("sqlite")
def test_year_of_birth_on_the_form_and_in_the_export(app, client):
    from datetime import date

    from dashboard.db import get_db
    base = {"code": "YB-1", "body_mass_kg": "70", "dominant_leg": "left", "involved_side": "none"}
    r = client.post("/patients/new", data={**base, "birth_year": str(date.today().year + 1)})
    assert r.status_code == 200 and b"a year between 1900 and this year" in r.data
    r = client.post("/patients/new", data={**base, "birth_year": "1899"})
    assert r.status_code == 200 and b"a year between 1900 and this year" in r.data
    assert client.post("/patients/new", data={**base, "birth_year": "1951"}).status_code == 302
    with app.app_context():
        p = get_db().query(Patient).filter_by(code="YB-1").one()
        assert p.birth_year == 1951
        from dashboard.patients import patient_document
        assert patient_document(p)["patient"]["birth_year"] == 1951
