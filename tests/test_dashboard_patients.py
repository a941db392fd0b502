"""Patients: create/edit/list, notes, sessions, and the history page with MDC labels."""
from datetime import datetime, timedelta, timezone

import numpy as np

from dashboard.db import get_db
from dashboard.models import ClinicSession, Patient
from dashboard.trials import store_trial
from tests.dashboard_support import (admin, app, circle_samples, client, live, patient,  # noqa: F401
                                     session_id)


def test_create_patient_validates_and_lists(client):
    r = client.post("/patients/new", data={"code": "Jane Doe", "body_mass_kg": "70", "dominant_leg": "left"})
    assert r.status_code == 200 and b"no names" in r.data                # spaces: looks like a name
    r = client.post("/patients/new", data={"code": "P-9", "body_mass_kg": "5", "dominant_leg": "left"})
    assert r.status_code == 200                                          # mass out of range
    r = client.post("/patients/new", data={"code": "P-9", "body_mass_kg": "80.5", "dominant_leg": "left"})
    assert r.status_code == 302
    r = client.post("/patients/new", data={"code": "P-9", "body_mass_kg": "60", "dominant_leg": "left"})
    assert b"already used" in r.data
    client.post("/patients/new", data={"code": "Q-1", "body_mass_kg": "60", "dominant_leg": "right"})
    page = client.get("/patients/").get_data(as_text=True)
    assert "P-9" in page and "Q-1" in page and "80.5 kg" in page
    page = client.get("/patients/?q=Q-").get_data(as_text=True)
    assert "Q-1" in page and "P-9" not in page


def test_edit_patient_and_notes(app, client, patient):
    r = client.post(f"/patients/{patient}/edit", data={"code": "P-001", "body_mass_kg": "69", "dominant_leg": "left",
                                                       "notes": "changed"})
    assert r.status_code == 302
    assert client.post(f"/patients/{patient}/notes", data={"text": "Pain 3/10 after hop test"}).status_code == 302
    assert client.post(f"/patients/{patient}/notes", data={"text": ""}).status_code == 302
    page = client.get(f"/patients/{patient}").get_data(as_text=True)
    assert "Pain 3/10 after hop test" in page and "69 kg" in page and "dominant leg: left" in page
    with app.app_context():
        p = get_db().get(Patient, patient)
        assert p.body_mass_kg == 69 and len(p.note_entries) == 1
    assert client.get("/patients/9999").status_code == 404
    assert client.get("/patients/9999/edit").status_code == 404


def test_new_session_goes_to_the_run_page(client, patient, session_id):
    page = client.get(f"/sessions/{session_id}/run").get_data(as_text=True)
    assert "Single-leg stance" in page and 'data-side="left"' in page and "Start trial" in page
    assert "hands on hips" in page                                       # protocol instructions
    assert client.get(f"/sessions/{session_id}/run?side=right").status_code == 200
    assert client.get(f"/sessions/{session_id}/run?side=up").status_code == 400
    assert client.post(f"/patients/{patient}/sessions", data={"protocol": "nope"}).status_code == 400


def seed_history(app, patient_id, velocities, start=datetime(2024, 1, 1, 9, tzinfo=timezone.utc), side_sets=("left", "right")):
    """One session a week; COP circles whose radius gives the wanted mean velocity (mm/s)."""
    with app.app_context():
        db = get_db()
        p = db.get(Patient, patient_id)
        for i, v in enumerate(velocities):
            s = ClinicSession(patient_id=p.id, protocol="single_leg_stance", started_at=start + timedelta(weeks=i))
            db.add(s)
            db.commit()
            for side in side_sets:
                # 10 s, 2 turns of radius r: path 4πr -> velocity 4πr/10
                r = v * 10 / (4 * np.pi) * (1.0 if side == "left" else 1.1)
                store_trial(s, side, circle_samples(801, radius_mm=r), started_at=s.started_at)


def test_history_trends_with_mdc_band_and_labels(app, client, patient):
    seed_history(app, patient, [20.0, 18.0, 12.0, 30.0])                # MDC(velocity) = 3 mm/s
    js = client.get(f"/patients/{patient}/history.json").get_json()
    tr = next(t for t in js["trends"] if t["key"] == "mean_velocity_mm_s")
    assert tr["mdc"] == 3.0 and tr["lower_is_better"] is True
    left = tr["sides"]["left"]
    assert left["baseline"] == pytest_approx(20.0)
    assert [p["label"] for p in left["points"]] == ["baseline", "within MDC", "real improvement", "real decline"]
    assert [round(p["delta"] or 0, 3) for p in left["points"]] == [0, -2.0, -8.0, 10.0]
    page = client.get(f"/patients/{patient}").get_data(as_text=True)
    assert page.count("<svg class=\"trend\"") >= 3
    assert "baseline ± MDC" in page and "real decline" in page
    assert page.count("/sessions/") >= 4                                 # timeline links every session


def test_mdc_overrides_from_settings_change_labels(app, client, patient):
    seed_history(app, patient, [20.0, 15.0], side_sets=("left",))
    tr = lambda: next(t for t in client.get(f"/patients/{patient}/history.json").get_json()["trends"]  # noqa: E731
                      if t["key"] == "mean_velocity_mm_s")
    assert tr()["sides"]["left"]["points"][1]["label"] == "real improvement"
    client.post("/settings/", data={"clinic_name": "c", "report_footer": "", "mdc_overrides": "mean_velocity_mm_s = 6 lower"})
    assert tr()["sides"]["left"]["points"][1]["label"] == "within MDC"


def test_redone_trials_leave_the_history(app, client, patient):
    seed_history(app, patient, [20.0, 10.0], side_sets=("left",))
    js = client.get(f"/patients/{patient}/history.json").get_json()
    pts = next(t for t in js["trends"] if t["key"] == "mean_velocity_mm_s")["sides"]["left"]["points"]
    last_session = pts[-1]["session_id"]
    trial = client.get(f"/sessions/{last_session}")
    assert trial.status_code == 200
    with app.app_context():
        tid = get_db().get(ClinicSession, last_session).trials[0].id
    client.post(f"/trials/{tid}/redo")
    js = client.get(f"/patients/{patient}/history.json").get_json()
    pts = next(t for t in js["trends"] if t["key"] == "mean_velocity_mm_s")["sides"]["left"]["points"]
    assert len(pts) == 1


def pytest_approx(v):
    import pytest
    return pytest.approx(v, rel=1e-3)
