"""The programme pages: assigning a block, adherence from ticks and plate sets (clinic time
zone), the patient sheet with its QR code, the read-only link's security, the training-set
API, and the block's outcome for the report."""
from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from dashboard.db import get_db
from dashboard.models import ClinicSession, Patient
from tests.dashboard_support import PASSWORD, login

NOW = datetime(2024, 4, 17, 10, 0, tzinfo=timezone.utc)        # Wednesday of week 4 of a block from 25 March


@pytest.fixture
def app_config():
    """A fixed clock and a clinic time zone, so adherence weeks are known."""
    return {"PROGRAMME_NOW": NOW, "CLINIC_TIMEZONE": "Europe/London"}


def assign(client, patient_id, **form):
    data = {"start_date": "2024-03-25", "weeks": "6", "sessions_per_week": "3", **form}
    r = client.post(f"/programme/patient/{patient_id}/assign", data=data)
    assert r.status_code == 302, r.data
    return int(r.headers["Location"].rstrip("/").split("/")[-1])


def new_patient(client, code):
    r = client.post("/patients/new", data={"code": code, "body_mass_kg": "65", "dominant_leg": "left",
                                           "notes": "SECRET-NOTE-" + code})
    assert r.status_code == 302
    return int(r.headers["Location"].rstrip("/").split("/")[-1])


def make_link(client, programme_id, days="0"):
    r = client.post(f"/programme/{programme_id}/links", data={"expires_in_days": days})
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    m = re.search(r'class="share-url">([^<]+)<', page)
    assert m and "<svg" in page                                       # the QR code is on the printed sheet
    url = m.group(1)
    return url[url.index("/p/"):], page


def test_assign_block_tick_sessions_and_adherence(app, client, patient):
    pid = assign(client, patient)
    page = client.get(f"/programme/{pid}").get_data(as_text=True)
    assert "Hip strengthening, 6 weeks" in page and "Europe/London" in page
    # week 1 done (Mon, Wed, Fri), week 2 missed, week 3 one session, week 4 in progress
    for d in ("2024-03-25", "2024-03-27", "2024-03-29", "2024-04-10"):
        assert client.post(f"/programme/{pid}/log", data={"date": d, "source": "home"}).status_code == 302
    assert client.post(f"/programme/{pid}/log", data={"date": "2024-04-16", "source": "clinic"}).status_code == 302
    assert client.post(f"/programme/{pid}/log", data={"date": "2024-05-01", "source": "home"}).status_code == 302
    assert client.post(f"/programme/{pid}/log", data={"date": "2024-04-16", "source": "pub"}).status_code == 400
    from dashboard.programme_views import programme_adherence
    from dashboard.programme_models import Programme, ProgrammeLog
    with app.app_context():
        p = get_db().get(Programme, pid)
        assert len(p.logs) == 5                                       # the future tick was refused
        a = programme_adherence(p)
        first = get_db().query(ProgrammeLog).order_by(ProgrammeLog.performed_at).first()
        # ticked for a local day, stored as local noon in UTC (BST after 31 March: 11:00 UTC)
        assert first.performed_at.replace(tzinfo=None) == datetime(2024, 3, 25, 12, 0)
        apr = get_db().query(ProgrammeLog).filter(ProgrammeLog.source == "clinic").one()
        assert apr.performed_at.replace(tzinfo=None) == datetime(2024, 4, 16, 11, 0)
    assert [w["status"] for w in a["weeks"]] == ["done", "missed", "partial", "in progress", "upcoming", "upcoming"]
    assert (a["done_to_date"], a["prescribed_to_date"]) == (5, 10)
    assert a["adherence_pct"] == pytest.approx(50.0)
    assert [w["progression_week"] for w in a["weeks"]][:4] == [1, 2, 2, 2]   # missed and thin weeks hold the level
    page = client.get(f"/programme/{pid}").get_data(as_text=True)
    assert "Adherence: 50 %" in page and "missed" in page
    index = client.get("/programme/").get_data(as_text=True)
    assert "P-001" in index and "50 %" in index


def test_assign_validation_and_custom_exercises(client, patient):
    r = client.post(f"/programme/patient/{patient}/assign", data={"start_date": "2024-03-25", "main": ["nope"]})
    assert r.status_code == 302 and "/programme/patient/" in r.headers["Location"]
    pid = assign(client, patient, main=["single_leg_balance", "eccentric_step_down"], activation=["bird_dog"])
    page = client.get(f"/programme/{pid}/sheet").get_data(as_text=True)
    assert "Eccentric step-downs" in page and "Bird-dog" in page and "Copenhagen" not in page
    assert client.get("/programme/patient/999").status_code == 404


def test_sheet_has_weeks_progressions_and_how_to(client, patient):
    pid = assign(client, patient)
    page = client.get(f"/programme/{pid}/sheet").get_data(as_text=True)
    assert page.count("<tr") >= 7                                      # header + six weeks
    assert "Short lever" in page and "Long lever" in page              # progression over the weeks
    assert "Before every run" in page and "Lateral band walks" in page
    assert "Watch out for" in page and "heel touching the wall" in page
    assert "No QR code" in page                                        # tokens are shown only once


def test_share_link_is_read_only_and_scoped(app, client, patient):
    pid = assign(client, patient)
    other = new_patient(client, "Q-777")
    pid_other = assign(client, other)
    path, printed = make_link(client, pid, days="30")
    path_other, _ = make_link(client, pid_other)
    token = path.rsplit("/", 1)[1]
    assert len(token) >= 43                                            # token_urlsafe(32)
    from dashboard.programme_models import ShareLink
    with app.app_context():
        stored = [link.token_sha256 for link in get_db().query(ShareLink).all()]
    assert token not in "".join(stored) and len(stored[0]) == 64       # only the hash is kept

    anon = app.test_client()                                           # no login, no cookie
    r = anon.get(path)
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "P-001" in page and "Q-777" not in page                     # this patient only
    for secret in ("71.4", "ACL", "SECRET-NOTE", "Log out", "csrf", "<form", "<script"):
        assert secret not in page, secret                               # no other data, nothing to submit
    links = re.findall(r'(?:href|src|action)="([^"]*)"', page)
    assert links == ["/static/favicon.svg", "/static/programme/sheet.css"], links   # no way into the clinic pages
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "no-referrer"
    assert "Set-Cookie" not in r.headers
    assert "Q-777" in anon.get(path_other).get_data(as_text=True)      # the other link shows the other one

    # the token opens nothing else: no write route, no clinic page, no other patient
    assert anon.post(path).status_code == 405
    for method, url in [("get", f"/patients/{patient}"), ("get", f"/patients/{other}"), ("get", "/patients/"),
                        ("get", f"/programme/{pid}"), ("get", f"/programme/{pid_other}/sheet"),
                        ("get", f"/programme/{pid}/outcome.json"), ("get", f"/programme/{pid}/train"),
                        ("post", f"/programme/{pid}/log"), ("post", f"/programme/{pid}/links"),
                        ("post", f"/programme/{pid}/end"), ("post", f"/programme/{pid}/sets"),
                        ("post", f"/patients/{patient}/notes"), ("get", f"/patients/{patient}/report.pdf")]:
        for headers, qs in (({}, ""), ({"Authorization": f"Bearer {token}"}, f"?token={token}")):
            r = getattr(anon, method)(url + qs, headers=headers, data={"date": "2024-04-01", "text": "x"})
            assert r.status_code in (302, 401, 403), (method, url, r.status_code)
            if r.status_code == 302:
                assert "/auth/" in r.headers["Location"]
    for bad in (path + "x", path[:-1], "/p/" + "A" * 43, "/p/short", f"/p/{token}/../{pid_other}",
                f"/p/{token}/sheet"):
        assert anon.get(bad).status_code == 404, bad
    with app.app_context():
        assert get_db().get(ShareLink, 1).last_used_at is not None

    # revoke → 410; the other link keeps working
    from dashboard.programme_models import ShareLink as SL
    with app.app_context():
        lid = get_db().query(SL).filter(SL.programme_id == pid).one().id
    assert client.post(f"/programme/{pid}/links/{lid}/revoke").status_code == 302
    assert anon.get(path).status_code == 410
    assert anon.get(path_other).status_code == 200
    # a link cannot be revoked through another programme
    with app.app_context():
        lid_other = get_db().query(SL).filter(SL.programme_id == pid_other).one().id
    assert client.post(f"/programme/{pid}/links/{lid_other}/revoke").status_code == 404
    # ending a block revokes its links
    assert client.post(f"/programme/{pid_other}/end").status_code == 302
    assert anon.get(path_other).status_code == 410
    assert client.post(f"/programme/{pid_other}/links").status_code == 409


def test_expired_link_is_gone(app, client, patient):
    pid = assign(client, patient)
    path, _ = make_link(client, pid, days="7")
    anon = app.test_client()
    assert anon.get(path).status_code == 200
    app.config["PROGRAMME_NOW"] = NOW + timedelta(days=7, seconds=1)
    assert anon.get(path).status_code == 410


def test_training_set_api_stores_measures_and_counts_as_a_session(app, client, patient):
    pid = assign(client, patient)
    page = client.get(f"/programme/{pid}/train?exercise=single_leg_balance&side=left").get_data(as_text=True)
    assert 'id="train-canvas"' in page and "/api/live/stream" in page and "programme/train.js" in page
    assert client.get(f"/programme/{pid}/train?exercise=copenhagen_plank").status_code == 404   # plate cannot see it
    # 20 s at 80 Hz: COP 10 mm from the (absolute) target centre for 15 s, 40 mm away for 5 s
    t = np.arange(0, 20, 1 / 80)
    ml = np.where(t < 15, -90.0, -140.0)
    rows = [[float(a), 700.0, float(b), 0.0] for a, b in zip(t, ml)]
    body = {"exercise_id": "single_leg_balance", "side": "left", "columns": ["t_s", "fz_n", "cop_ml_mm", "cop_ap_mm"],
            "target": {"kind": "circle", "radius_mm": 20, "centre_ml_mm": -100, "relative": False}, "samples": rows}
    r = client.post(f"/programme/{pid}/sets", json=body)
    assert r.status_code == 201, r.get_json()
    m = r.get_json()["measures"]
    assert m["time_in_target_pct"] == pytest.approx(75.0, abs=0.2)
    assert m["longest_in_target_s"] == pytest.approx(15.0, abs=0.05)
    assert client.post(f"/programme/{pid}/sets", json={**body, "exercise_id": "copenhagen_plank"}).status_code == 400
    assert client.post(f"/programme/{pid}/sets", json={**body, "samples": rows[:1]}).status_code == 400
    assert client.post(f"/programme/{pid}/sets", json={**body, "target": {"radius_mm": 0}}).status_code == 400
    from dashboard.programme_views import programme_adherence
    from dashboard.programme_models import Programme
    with app.app_context():
        a = programme_adherence(get_db().get(Programme, pid))
    assert a["weeks"][3]["sources"] == {"plate": 1} and a["weeks"][3]["counted"] == 1
    assert "75 % in target" in client.get(f"/programme/{pid}/train?exercise=single_leg_balance").get_data(as_text=True)


def test_exercise_library_pages_add_and_edit(client, patient):
    page = client.get("/programme/exercises").get_data(as_text=True)
    assert "Copenhagen" in page and "Single-leg Romanian deadlift" in page
    form = html.unescape(client.get("/programme/exercises/bird_dog/edit").get_data(as_text=True))
    assert 'name = "Bird-dog"' in form
    text = '''id = "clam"\nname = "Clamshell"\npurpose = "Side hip."\nhow_to = ["Lie on your side", "Open the knees"]\n
[[level]]\nname = "Band"\nsets = 2\nreps = 15\nper_side = true\n'''
    assert client.post("/programme/exercises/new/edit", data={"toml": text}).status_code == 302
    assert "Clamshell" in client.get("/programme/exercises").get_data(as_text=True)
    bad = client.post("/programme/exercises/new/edit", data={"toml": text.replace("reps = 15", "")})
    assert bad.status_code == 400 and "give either reps or hold_s" in bad.get_data(as_text=True)
    renamed = client.post("/programme/exercises/bird_dog/edit", data={"toml": text})
    assert renamed.status_code == 400
    pid = assign(client, patient, main=["clam"])
    assert "Clamshell" in client.get(f"/programme/{pid}/sheet").get_data(as_text=True)
    # editing the library later does not change an assigned sheet (the plan is a snapshot)
    client.post("/programme/exercises/clam/edit", data={"toml": text.replace("Clamshell", "Clams v2")})
    assert "Clamshell" in client.get(f"/programme/{pid}/sheet").get_data(as_text=True)


def test_clinic_time_zone_setting_admin_only(app, client):
    r = client.post("/programme/timezone", data={"timezone": "Mars/Base"})
    assert r.status_code == 302
    assert client.post("/programme/timezone", data={"timezone": "America/New_York"}).status_code == 302
    assert "America/New_York" in client.get("/programme/").get_data(as_text=True)
    from dashboard.db import create_clinician
    with app.app_context():
        create_clinician(get_db(), "physio", PASSWORD)
    c2 = app.test_client()
    login(c2, "physio")
    assert c2.post("/programme/timezone", data={"timezone": "UTC"}).status_code == 403


def _session_with_trials(app, patient_id, when, left_v, right_v, n=3):
    """A single-leg stance session with n accepted trials per side whose stored results are a
    mean COP velocity (mm/s) near the given values (±2 %): the outcome only reads results."""
    from dashboard.models import Result, Trial
    with app.app_context():
        db = get_db()
        s = ClinicSession(patient_id=patient_id, protocol="single_leg_stance", started_at=when)
        db.add(s)
        db.commit()
        rng = np.random.default_rng(int(when.timestamp()) % 1000)
        for side, v in (("left", left_v), ("right", right_v)):
            for i in range(n):
                t = Trial(session_id=s.id, protocol=s.protocol, side=side, started_at=when, body_mass_kg=71.4,
                          recording_path=f"none/{s.id}-{side}-{i}.csv", recording_sha256="0" * 64, recording_bytes=0)
                t.results = [Result(key="mean_velocity_mm_s", value=float(v * (1 + 0.02 * rng.standard_normal())))]
                db.add(t)
        db.commit()
        return s.id


def test_outcome_for_the_report(app, client, patient, monkeypatch):
    from dashboard.programme_views import outcome_figure, programme_outcome
    with app.app_context():
        assert programme_outcome(patient)["status"] == "no programme"
    pid = assign(client, patient)
    with app.app_context():
        assert programme_outcome(patient)["status"] == "no baseline"
    # baseline on the first day; retest in week 6: left much steadier, right unchanged
    _session_with_trials(app, patient, datetime(2024, 3, 25, 9, tzinfo=timezone.utc), left_v=20.0, right_v=12.0)
    with app.app_context():
        assert programme_outcome(patient)["status"] == "awaiting retest"
    _session_with_trials(app, patient, datetime(2024, 5, 2, 9, tzinfo=timezone.utc), left_v=10.0, right_v=12.2)
    with app.app_context():
        o = programme_outcome(patient)
    assert o["status"] == "complete" and o["programme"]["id"] == pid
    assert o["baseline"]["date"] == "2024-03-25" and o["retest"]["date"] == "2024-05-02"
    vel = {r["side"]: r for r in o["rows"] if r["key"] == "mean_velocity_mm_s"}
    # left 20 → 10 mm/s: a real improvement beyond the MDC; right 12 → 12.2: within noise
    assert vel["left"]["change"] == pytest.approx(-10.0, rel=0.1)
    assert vel["left"]["label"] == "real improvement" and vel["left"]["mdc95"] >= 3.0
    assert vel["right"]["label"] == "within noise"
    assert client.get(f"/programme/{pid}/outcome.json").get_json()["status"] == "complete"
    page = client.get(f"/programme/{pid}").get_data(as_text=True)
    assert "real improvement" in page and "within noise" in page
    fig = outcome_figure(o)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "Exercise programme: outcome" in texts and "real improvement" in texts and "within noise" in texts
    assert any("Adherence:" in t for t in texts) and any(t.startswith("Single-leg stance: Sway velocity") for t in texts)
    import io

    from matplotlib.backends.backend_pdf import FigureCanvasPdf, PdfPages
    buf = io.BytesIO()
    with PdfPages(buf) as pdf:
        FigureCanvasPdf(fig)
        pdf.savefig(fig)
    assert buf.getvalue().startswith(b"%PDF")
    # the patient's PDF report carries that page: one page more than without a programme
    def pages(pdf_bytes):
        return pdf_bytes.count(b"/Type /Page") - pdf_bytes.count(b"/Type /Pages")
    with_block = client.get(f"/patients/{patient}/report.pdf")
    assert with_block.status_code == 200 and with_block.mimetype == "application/pdf"
    monkeypatch.setattr("dashboard.programme_views.programme_outcome", lambda pid: {"status": "no programme"})
    without_block = client.get(f"/patients/{patient}/report.pdf")
    assert pages(with_block.data) == pages(without_block.data) + 1
    # the clinician can pick the sessions; a session of another patient is refused
    other = new_patient(client, "Z-1")
    with app.app_context():
        sid_other = get_db().query(ClinicSession).first().id
        get_db().get(Patient, other)
    foreign = _session_with_trials(app, other, datetime(2024, 5, 3, 9, tzinfo=timezone.utc), 5.0, 5.0, n=2)
    assert client.post(f"/programme/{pid}/tests", data={"baseline_session_id": str(foreign)}).status_code == 400
    assert client.post(f"/programme/{pid}/tests", data={"baseline_session_id": str(sid_other),
                                                        "retest_session_id": ""}).status_code == 302
