"""Patients: create/edit/list, notes, sessions, and the history page with MDC labels."""
import re
from datetime import datetime, timedelta, timezone

import numpy as np

from dashboard.db import get_db
from dashboard.models import ClinicSession, Patient
from dashboard.trials import store_trial
from tests.dashboard_support import post_trial, sls_samples


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


def seed_history(app, patient_id, sways, start=datetime(2024, 1, 1, 9, tzinfo=timezone.utc), side_sets=("left", "right"),
                 per_side=1):
    """One session a week of scripted single-leg stance trials (scored by the protocol
    analysis); ``sways[i]`` scales session i's sway, so its velocity."""
    with app.app_context():
        db = get_db()
        p = db.get(Patient, patient_id)
        for i, a in enumerate(sways):
            s = ClinicSession(patient_id=p.id, protocol="single_leg_stance", started_at=start + timedelta(weeks=i))
            db.add(s)
            db.commit()
            for side in side_sets:
                for k in range(per_side):
                    samples = scaled_sway(sls_samples(seed=10 * i + k + (5 if side == "right" else 0),
                                                      stance=side), a)
                    t = store_trial(s, side, samples, started_at=s.started_at)
                    assert t.quality["analysis"]["scored"], t.quality["analysis"]


def scaled_sway(samples, a, after_s=4.5):
    """The single-leg part of a scripted trial with its COP excursions scaled by ``a`` (about
    their mean), so path length and velocity scale by ``a``."""
    out = samples.copy()
    m = out[:, 0] >= after_s
    for c in (6, 7):
        centre = np.nanmean(out[m, c])
        out[m, c] = centre + a * (out[m, c] - centre)
    return out


def stored_velocities(app, patient_id, side, key="mean_velocity_mm_s"):
    """Per session (in time order), the stored results of its ok trials on ``side``."""
    with app.app_context():
        db = get_db()
        sessions = sorted(db.get(Patient, patient_id).sessions, key=lambda s: s.started_at)
        return [[t.result_map()[key] for t in s.trials if t.side == side and t.status == "ok"] for s in sessions]


def expected_labels(per_session, mdc_clinic):
    """The labels worked out by hand: mean per session; change from the first session; MDC95
    the larger of 1.96·√2·SEM (SEM = pooled SD of the two sessions' trials / √k) and the
    clinic's MDC; lower velocity is better."""
    import math
    import statistics
    base = per_session[0]
    out = ["baseline"]
    for cur in per_session[1:]:
        change = statistics.fmean(cur) - statistics.fmean(base)
        mdc = mdc_clinic
        if len(base) > 1 and len(cur) > 1:
            te = math.sqrt((statistics.stdev(base) ** 2 + statistics.stdev(cur) ** 2) / 2)
            mdc = max(mdc, 1.96 * math.sqrt(2) * te / math.sqrt(min(len(base), len(cur))))
        out.append("within noise" if abs(change) <= mdc else "real improvement" if change < 0 else "real decline")
    return out


def test_history_trends_with_mdc_band_and_labels(app, client, patient):
    seed_history(app, patient, [1.0, 0.97, 0.5, 1.8])
    js = client.get(f"/patients/{patient}/history.json").get_json()
    tr = next(t for t in js["trends"] if t["key"] == "mean_velocity_mm_s")
    assert tr["protocol"] == "single_leg_stance" and tr["lower_is_better"] is True
    mdc = tr["mdc"]
    assert mdc is not None and mdc > 0
    for side in ("left", "right"):
        per_session = stored_velocities(app, patient, side)
        pts = tr["sides"][side]["points"]
        assert tr["sides"][side]["baseline"] == pytest_approx(per_session[0][0])
        assert [p["value"] for p in pts] == [pytest_approx(v[0]) for v in per_session]
        want = expected_labels(per_session, mdc)
        assert [p["label"] for p in pts] == want
        assert [round(p["delta"] or 0, 6) for p in pts] == [0] + [round(v[0] - per_session[0][0], 6)
                                                                 for v in per_session[1:]]
    # the scripted sways give each kind of label (else the test above would prove little)
    assert set(expected_labels(stored_velocities(app, patient, "left"), mdc)) >= {
        "within noise", "real improvement", "real decline"}
    page = client.get(f"/patients/{patient}").get_data(as_text=True)
    assert page.count("<svg class=\"trend\"") >= 3
    assert "baseline ± MDC" in page and "real decline" in page
    assert page.count("/sessions/") >= 4                                 # timeline links every session


def test_labels_use_the_session_trials_when_they_vary_more_than_the_mdc(app, client, patient):
    client.post("/settings/", data={"clinic_name": "c", "report_footer": "", "mdc_overrides": "mean_velocity_mm_s = 0.01 lower"})
    seed_history(app, patient, [1.0, 0.6], side_sets=("left",), per_side=3)
    tr = next(t for t in client.get(f"/patients/{patient}/history.json").get_json()["trends"]
              if t["key"] == "mean_velocity_mm_s")
    per_session = stored_velocities(app, patient, "left")
    assert [len(v) for v in per_session] == [3, 3]
    pts = tr["sides"]["left"]["points"]
    assert [p["label"] for p in pts] == expected_labels(per_session, 0.01)
    assert pts[1]["mdc95"] > 0.01                                        # the trials' own noise set it


def test_mdc_overrides_from_settings_change_labels(app, client, patient):
    seed_history(app, patient, [1.0, 0.6], side_sets=("left",))
    per_session = stored_velocities(app, patient, "left")
    drop = per_session[0][0] - per_session[1][0]
    assert drop > 0
    tr = lambda: next(t for t in client.get(f"/patients/{patient}/history.json").get_json()["trends"]  # noqa: E731
                      if t["key"] == "mean_velocity_mm_s")
    client.post("/settings/", data={"clinic_name": "c", "report_footer": "",
                                    "mdc_overrides": f"mean_velocity_mm_s = {drop / 2:.4f} lower"})
    assert tr()["sides"]["left"]["points"][1]["label"] == "real improvement"
    client.post("/settings/", data={"clinic_name": "c", "report_footer": "",
                                    "mdc_overrides": f"mean_velocity_mm_s = {drop * 2:.4f} lower"})
    assert tr()["sides"]["left"]["points"][1]["label"] == "within noise"
    assert tr()["mdc"] == pytest_approx(drop * 2)


def test_at_a_glance_with_one_side_measured(client, session_id, patient):
    """A test done on one side only so far: its row shows that side and "–" for the other."""
    post_trial(client, session_id, "left", sls_samples(1, stance="left"))
    r = client.get(f"/patients/{patient}")
    assert r.status_code == 200
    glance = r.get_data(as_text=True).split('id="at-a-glance"')[1].split("</section>")[0]
    row = glance.split("Sway velocity (cm/s)</td>")[1].split("</tr>")[0]
    assert re.findall(r"<td>([^<]*)</td>", row)[:2][1] == "–" and "left (inv.)" not in row
    assert "first session" in row


def test_mdc_settings_are_in_clinic_units(app, client):
    """The settings page lists the headline measures' MDCs in cm/s, cm², s, % BW; a value typed
    there is stored in the key's unit (mm/s) and wins; a bad one is refused by name."""
    from dashboard.settings import get_setting
    page = client.get("/settings/").get_data(as_text=True)
    table = page.split('id="mdc-table"')[1].split("</table>")[0]
    assert "Sway velocity (cm/s)" in table and "mean_velocity_mm_s = " not in page
    assert "0.3 cm/s" in table                     # the 3 mm/s placeholder, shown in cm/s
    form = {"clinic_name": "c", "report_footer": "", "mdc_overrides": "path_length_mm = 90 lower",
            "mdc__mean_velocity_mm_s": "0,35", "better__mean_velocity_mm_s": "lower",
            "mdc__peak_force_bw": "25", "better__peak_force_bw": "lower"}
    assert client.post("/settings/", data=form).status_code == 302
    with app.app_context():
        saved = get_setting("mdc_overrides")
    assert saved["mean_velocity_mm_s"] == [pytest_approx(3.5), True]
    assert saved["peak_force_bw"] == [pytest_approx(0.25), True] and saved["path_length_mm"] == [90.0, True]
    page = client.get("/settings/").get_data(as_text=True)
    row = page.split('name="mdc__mean_velocity_mm_s"')[0].rsplit("<tr>", 1)[1]
    assert "0.35 cm/s" in row and "clinic setting" in row
    assert 'value="0.35"' in page and "path_length_mm = 90 lower" in page
    r = client.post("/settings/", data=dict(form, mdc__mean_velocity_mm_s="fast"))
    assert r.status_code == 200 and "Sway velocity (cm/s): &#39;fast&#39; is not a number" in r.get_data(as_text=True)
    r = client.post("/settings/", data=dict(form, mdc_overrides="path_length_mm = nan lower"))
    assert r.status_code == 200 and "must be a positive number" in r.get_data(as_text=True)
    r = client.post("/settings/", data=dict(form, mdc__mean_velocity_mm_s="-1"))
    assert r.status_code == 200 and "must be a positive number" in r.get_data(as_text=True)
    with app.app_context():
        assert get_setting("mdc_overrides") == saved          # nothing saved from the bad forms
    form["mdc__mean_velocity_mm_s"] = ""                     # empty: back to the default
    client.post("/settings/", data=form)
    with app.app_context():
        assert "mean_velocity_mm_s" not in get_setting("mdc_overrides")


def test_redone_trials_leave_the_history(app, client, patient):
    seed_history(app, patient, [1.0, 0.5], side_sets=("left",))
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


def test_the_patient_page_names_protocols_and_leads_to_the_programme(client, patient, session_id):
    """Protocols by the name the clinic reads (not their ids), no module names, and the
    programme assignment one tap from the patient (it was reachable only by typing its URL)."""
    page = client.get(f"/patients/{patient}").get_data(as_text=True)
    assert f'href="/programme/patient/{patient}"' in page and "Exercise programme" in page
    timeline = page.split('class="timeline"')[1].split("</ol>")[0]
    assert "Single-leg stance" in timeline and "single_leg_stance" not in timeline
    assert "rig.analysis" not in page and "compare_sessions" not in page
    assert client.get(f"/programme/patient/{patient}").status_code == 200
