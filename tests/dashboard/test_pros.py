"""Patient-reported outcomes (dashboard.pros): the checks of an entry, the session page's form
(enter, edit, errors beside the item), the JSON API, the exports, the patient page's timeline
and history.json with the change against the MCID, the PDF, the migration."""
from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime, timedelta, timezone

import pytest

from dashboard import pros

ALL_TWOS = [2] * 20          # a LEFS total of 40


def _form(pain_week=None, pain_test=None, items=None) -> dict:
    data = {}
    if pain_week is not None:
        data["pain_week_nrs"] = str(pain_week)
    if pain_test is not None:
        data["pain_test_nrs"] = str(pain_test)
    for i, v in enumerate(items or (), start=1):
        if v is not None:
            data[f"lefs_item_{i}"] = str(v)
    return data


def _sessions(app, patient_id: int, n: int, start=datetime(2026, 1, 5, 9, tzinfo=timezone.utc)) -> list[int]:
    """``n`` weekly sessions of the patient (no trials), oldest first."""
    from dashboard.db import get_db
    from dashboard.models import ClinicSession
    with app.app_context():
        db = get_db()
        rows = [ClinicSession(patient_id=patient_id, protocol="single_leg_stance", started_at=start + timedelta(weeks=k))
                for k in range(n)]
        db.add_all(rows)
        db.commit()
        return [s.id for s in rows]


# --- the checks -------------------------------------------------------------------------------

def test_scales_are_the_published_ones():
    assert len(pros.LEFS_ITEMS) == 20
    assert pros.LEFS_ITEMS[0] == "Any of your usual work, housework or school activities"
    assert pros.LEFS_ITEMS[6] == "Lifting an object, like a bag of groceries from the floor"
    assert pros.LEFS_ITEMS[19] == "Rolling over in bed"
    assert pros.LEFS_OPTIONS[0] == (0, "Extreme difficulty or unable to perform activity")
    assert pros.LEFS_OPTIONS[-1] == (4, "No difficulty")
    assert (pros.SCALES["lefs_total"].mcid, pros.SCALES["lefs_total"].direction) == (9, -1)
    assert (pros.SCALES["pain_week_nrs"].mcid, pros.SCALES["pain_week_nrs"].direction) == (2, +1)
    assert "Binkley" in pros.SCALES["lefs_total"].source and "Farrar" in pros.SCALES["pain_test_nrs"].source


@pytest.mark.parametrize("value, message", [
    (11, "pain_week_nrs: 11 is outside 0–10"),
    (-1, "pain_week_nrs: -1 is outside 0–10"),
    (2.5, "pain_week_nrs: 2.5 is not a whole number"),
    ("2.5", "pain_week_nrs: '2.5' is not a whole number"),
    (True, "pain_week_nrs: true is not a whole number"),
])
def test_a_pain_score_off_its_scale_is_refused_naming_the_field(value, message):
    with pytest.raises(pros.ProError) as exc:
        pros.clean({"pain_week_nrs": value})
    assert message in str(exc.value)
    assert set(exc.value.errors) == {"pain_week_nrs"}


def test_a_partial_lefs_is_refused_naming_every_missing_item():
    items = list(ALL_TWOS)
    items[6] = None
    with pytest.raises(pros.ProError) as exc:
        pros.clean({"pain_week_nrs": 3, "lefs_items": items[:-1]})          # item 7 empty, item 20 left off
    msg = str(exc.value)
    assert "lefs_items: item 7 (Lifting an object, like a bag of groceries from the floor) is missing" in msg
    assert "lefs_items: item 20 (Rolling over in bed) is missing" in msg
    assert set(exc.value.errors) == {"lefs_item_7", "lefs_item_20"}
    with pytest.raises(pros.ProError, match=r"item 3 \(Getting into or out of the bath\): 5 is outside 0–4"):
        pros.clean({"lefs_items": [2, 2, 5] + [2] * 17})
    with pytest.raises(pros.ProError, match="21 answers, the LEFS has 20 items"):
        pros.clean({"lefs_items": [2] * 21})
    with pytest.raises(pros.ProError, match="lefs_total: computed from the 20 items"):
        pros.clean({"lefs_items": ALL_TWOS, "lefs_total": 40})


def test_the_lefs_total_is_computed_and_either_part_may_be_left_out():
    items = [0, 1, 2, 3, 4] * 4
    got = pros.clean({"pain_week_nrs": "7", "lefs_items": items})
    assert got == {"pain_week_nrs": 7, "pain_test_nrs": None, "lefs_items": items, "lefs_total": 40}
    assert pros.clean(_form(items=[4] * 20))["lefs_total"] == 80                # a form, LEFS only
    assert pros.clean(_form(pain_test=0)) == {"pain_week_nrs": None, "pain_test_nrs": 0,
                                              "lefs_items": None, "lefs_total": None}
    with pytest.raises(pros.ProError, match="nothing entered"):
        pros.clean({"pain_week_nrs": "", "lefs_items": [None] * 20})


def test_change_against_the_mcid_reads_like_a_change_against_the_mdc():
    from rig.analysis.change import label_change

    class Rep:                    # the two attributes history() reads of a session
        def __init__(self, sid, week, **scores):
            self.session_id = sid
            self.session = type("S", (), {"started_at": datetime(2026, 1, 5, tzinfo=timezone.utc) + timedelta(weeks=week)})
            for k in ("pain_week_nrs", "pain_test_nrs", "lefs_total"):
                setattr(self, k, scores.get(k))
    trends = {t["key"]: t for t in pros.history(0, [Rep(1, 0, lefs_total=40, pain_week_nrs=6),
                                                    Rep(2, 1, lefs_total=45, pain_week_nrs=5),
                                                    Rep(3, 2, lefs_total=50, pain_week_nrs=9)])}
    lefs = trends["lefs_total"]["sides"]["patient"]["points"]
    assert [p["label"] for p in lefs] == ["baseline", "within noise", "real improvement"]   # +5, +10 (MCID 9)
    assert trends["lefs_total"]["words"] == "40 → 50 points, real improvement (MCID 9)"
    assert trends["pain_week_nrs"]["label"] == "real decline"                              # pain +3 > 2
    assert lefs[2]["label"] == label_change(10, 9, -1) and "pain_test_nrs" not in trends
    # reaching the MCID counts (it is the smallest change that matters); an MDC must be exceeded
    at = {t["key"]: t for t in pros.history(0, [Rep(1, 0, lefs_total=40, pain_week_nrs=6),
                                                Rep(2, 1, lefs_total=49, pain_week_nrs=4)])}
    assert at["lefs_total"]["label"] == "real improvement" and at["pain_week_nrs"]["label"] == "real improvement"
    below = pros.history(0, [Rep(1, 0, lefs_total=40), Rep(2, 1, lefs_total=48)])
    assert below[0]["label"] == "within noise"
    assert label_change(9, 9, -1) == "within noise" and label_change(9, 9, -1, at_least=True) == "real improvement"


# --- the session page's form ------------------------------------------------------------------

def test_enter_and_edit_on_the_session_page(app, client, session_id):
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert "How the patient feels" in page and "Rolling over in bed" in page
    assert page.count('name="lefs_item_') == 20 * 5 and page.count('name="pain_week_nrs"') == 12
    r = client.post(f"/sessions/{session_id}/pros", data=_form(6, 4, ALL_TWOS))
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/sessions/{session_id}#pros")
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert "LEFS 40/80" in page and 'name="pain_week_nrs" value="6" checked' in page      # the form, pre-filled
    r = client.post(f"/sessions/{session_id}/pros", data=_form(3, None, [3] * 20))        # edited
    assert r.status_code == 302
    got = client.get(f"/api/sessions/{session_id}/pros").get_json()
    assert (got["pain_week_nrs"], got["pain_test_nrs"], got["lefs_total"]) == (3, None, 60)
    assert got["clinician"] == "admin"
    from dashboard.db import get_db
    from dashboard.models import AuditEvent, PatientReport
    with app.app_context():
        assert get_db().query(PatientReport).count() == 1                                # one per session
        audit = [e.target for e in get_db().query(AuditEvent).filter_by(action="change")]
    assert sum("pros.save_form" in t for t in audit) == 2 and any(t.endswith("edited") for t in audit)


def test_a_refused_entry_shows_each_error_beside_its_item_and_keeps_the_answers(app, client, session_id):
    items = list(ALL_TWOS)
    items[6] = None
    r = client.post(f"/sessions/{session_id}/pros", data=_form(11, 2, items))
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "Not saved: 2 answers to fix" in page
    assert "11 is outside 0–10." in page.split('id="fs-pain_week_nrs"')[1].split("</fieldset>")[0]
    assert "Not answered" in page.split('id="li-lefs_item_7"')[1].split("</li>")[0]
    assert "Not answered" not in page.split('id="li-lefs_item_8"')[1].split("</li>")[0]
    assert 'name="pain_test_nrs" value="2" checked' in page and 'name="lefs_item_8" value="2" checked' in page
    assert client.get(f"/api/sessions/{session_id}/pros").status_code == 404             # nothing stored
    r = client.post(f"/sessions/{session_id}/pros", data={})
    assert r.status_code == 400 and "nothing entered" in r.get_data(as_text=True)


# --- the API ------------------------------------------------------------------------------------

def test_api_put_and_get(client, session_id):
    url = f"/api/sessions/{session_id}/pros"
    r = client.get(url)
    assert r.status_code == 404 and "no patient-reported outcomes" in r.get_json()["error"]
    r = client.put(url, json={"pain_week_nrs": 5, "pain_test_nrs": 1, "lefs_items": ALL_TWOS})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["lefs_total"] == 40 and r.get_json()["lefs_items"] == ALL_TWOS
    assert r.get_json()["updated_at"] == r.get_json()["recorded_at"]
    r = client.put(url, json={"pain_week_nrs": 2})                 # replaces the entry as a whole
    assert r.status_code == 200
    got = client.get(url).get_json()
    assert (got["pain_week_nrs"], got["pain_test_nrs"], got["lefs_items"], got["lefs_total"]) == (2, None, None, None)
    assert got["session_id"] == session_id and got["updated_at"] >= got["recorded_at"]


def test_api_refuses_bad_input_with_a_clear_400(client, session_id):
    url = f"/api/sessions/{session_id}/pros"
    cases = [({"pain_week_nrs": 11}, "pain_week_nrs: 11 is outside 0–10"),
             ({"pain_test_nrs": -1}, "pain_test_nrs: -1 is outside 0–10"),
             ({"pain_week_nrs": 2.5}, "pain_week_nrs"),
             ({"lefs_items": [3] * 19}, "item 20 (Rolling over in bed) is missing"),
             ({"lefs_items": [3] * 5 + [None] + [3] * 14}, "item 6 (Squatting) is missing"),
             ({}, "nothing entered"),
             ([1, 2], "must be object")]
    for body, message in cases:
        r = client.put(url, json=body)
        assert r.status_code == 400 and message in r.get_json()["error"], (body, r.get_json())
    assert client.get(url).status_code == 404                      # nothing was stored
    assert client.put("/api/sessions/999999/pros", json={"pain_week_nrs": 1}).status_code == 404
    spec = client.get("/api/openapi.json").get_json()
    assert set(spec["paths"]["/api/sessions/{session_id}/pros"]) == {"get", "put"}


def test_the_api_write_needs_the_csrf_token(app, client, session_id):
    app.config["WTF_CSRF_ENABLED"] = True
    r = client.put(f"/api/sessions/{session_id}/pros", json={"pain_week_nrs": 1})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)


# --- exports, history, the patient page, the PDF ------------------------------------------------

@pytest.fixture
def reported(app, client, patient):
    """Three weekly sessions: LEFS 40 → 45 → 50, worst pain 6 → 5 → 3, test pain only at first."""
    sids = _sessions(app, patient, 3)
    for sid, body in zip(sids, ({"pain_week_nrs": 6, "pain_test_nrs": 4, "lefs_items": ALL_TWOS},
                                {"pain_week_nrs": 5, "lefs_items": [2] * 15 + [3] * 5},
                                {"pain_week_nrs": 3, "lefs_items": [2] * 10 + [3] * 10})):
        assert client.put(f"/api/sessions/{sid}/pros", json=body).status_code == 201
    return sids


def test_csv_and_json_exports(client, patient, reported):
    r = client.get(f"/patients/{patient}/pros.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0] == ["session_id", "session_date", "pain_week_nrs", "pain_test_nrs", "lefs_total"] + \
        [f"lefs_item_{i}" for i in range(1, 21)]
    assert rows[1][:5] == [str(reported[0]), "2026-01-05", "6", "4", "40"] and rows[1][5:] == ["2"] * 20
    assert rows[2][:5] == [str(reported[1]), "2026-01-12", "5", "", "45"] and rows[2][-1] == "3"
    assert len(rows) == 4
    doc = json.loads(client.get(f"/patients/{patient}/pros.json").data)
    assert [e["lefs_total"] for e in doc["entries"]] == [40, 45, 50]
    assert doc["scales"]["lefs_total"]["mcid"] == 9 and doc["lefs_items"][19] == "Rolling over in bed"
    zf = zipfile.ZipFile(io.BytesIO(client.get(f"/patients/{patient}/export.zip").data))
    assert zf.read("pros.csv").decode() == r.get_data(as_text=True)
    whole = json.loads(zf.read("patient.json"))
    assert [s["patient_reported"]["pain_week_nrs"] for s in whole["sessions"]] == [6, 5, 3]


def test_history_and_the_patient_page_show_them_against_the_mcid(client, patient, reported):
    hist = client.get(f"/patients/{patient}/history.json").get_json()
    trends = {t["key"]: t for t in hist["pros"]["trends"]}
    lefs = trends["lefs_total"]["sides"]["patient"]["points"]
    assert [(p["value"], p["label"]) for p in lefs] == [(40, "baseline"), (45, "within noise"),
                                                        (50, "real improvement")]
    assert trends["lefs_total"]["mcid"] == 9 and lefs[0]["t"].startswith("2026-01-05")
    assert trends["pain_week_nrs"]["label"] == "real improvement"         # 6 → 3: down 3, MCID 2
    assert trends["pain_test_nrs"]["n"] == 1 and len(hist["pros"]["entries"]) == 3
    page = client.get(f"/patients/{patient}").get_data(as_text=True)
    card = page.split('<section class="card" id="pros">')[1].split("</section>")[0]
    assert "40 → 50 points, real improvement (MCID 9)" in card
    assert "6 → 3 points, real improvement (MCID 2)" in card
    assert card.count('<svg class="trend"') == 3 and "baseline ± MCID" in card
    assert ">2026-01-05<" in card and ">2026-01-19<" in card             # the sessions' time axis


def test_the_patient_report_has_a_pro_page_and_the_session_report_its_line(client, patient, reported):
    from tests.dashboard.test_demo_history import pdf_text
    pages = pdf_text(client.get(f"/patients/{patient}/report.pdf").data)
    pro = [p for p in pages if "patient-reported outcomes" in p]
    assert len(pro) == 1
    assert "40 → 50 points, real improvement (MCID 9)" in pro[0]
    assert "6/10" in pro[0] and "45/80" in pro[0] and "Binkley" in pro[0] and "Farrar" in pro[0]
    letter = "\n".join(pdf_text(client.get(f"/patients/{patient}/report.pdf?referral=1").data))
    assert "How the patient feels" in letter and "LEFS (0–80): 40 → 50 points, real improvement (MCID 9)" in letter
    first = pdf_text(client.get(f"/sessions/{reported[0]}/report.pdf").data)[0]
    assert "Patient-reported: worst pain in the past week 6/10 · pain during the test 4/10 · LEFS 40/80" in first


def test_deleting_the_patient_deletes_their_entries(app, client, patient, reported):
    from dashboard.db import get_db
    from dashboard.models import PatientReport
    r = client.post(f"/patients/{patient}/delete", data={"confirm": "P-001"})
    assert r.status_code == 302
    with app.app_context():
        assert get_db().query(PatientReport).count() == 0


# --- the migration ------------------------------------------------------------------------------

@pytest.mark.databases("sqlite")
def test_migration_0007_up_and_down(db_url):
    from sqlalchemy import inspect

    from dashboard.db import downgrade, make_engine, upgrade
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        cols = {c["name"] for c in inspect(engine).get_columns("patient_reports")}
        assert {"session_id", "pain_week_nrs", "pain_test_nrs", "lefs_items", "lefs_total", "recorded_at",
                "updated_at", "clinician_id"} <= cols
        downgrade(engine, "0006_birth_year")
        assert "patient_reports" not in inspect(engine).get_table_names()
        assert "birth_year" in {c["name"] for c in inspect(engine).get_columns("patients")}
        upgrade(engine)
        assert "patient_reports" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
