"""Security of the clinic dashboard (docs/security.md): the whole URL map behind a login except an
explicit allow-list, roles, CSRF on every state-changing route, cookies, login throttling and
lock-out, the password KDF, the audit log, patient export and deletion, a single Alembic head."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from tests.dashboard_support import PASSWORD, circle_samples, login, make_app, post_trial

#: Reachable without a login (docs/security.md, "Public routes"). Adding a route here needs a
#: reason in the docs; the view must also be marked @public (or be in auth.PUBLIC_ENDPOINTS).
PUBLIC = {"static", "auth.login", "auth.setup", "live.status", "live.stream"}
#: Prefixes of routes allowed to be public when their view is marked @public: the read-only
#: programme share link (an unguessable token, the programme only, no other patient data).
PUBLIC_PREFIXES = ("/p/",)
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def _seed(app, c):
    """One patient with a session and a trial, so every id in the walk exists."""
    r = c.post("/patients/new", data={"code": "SEC-01", "body_mass_kg": "70", "dominant_leg": "left"})
    pid = int(r.headers["Location"].split("/")[-1])
    r = c.post(f"/patients/{pid}/sessions", data={"protocol": "single_leg_stance"})
    sid = int(r.headers["Location"].split("/")[-2])
    r = post_trial(c, sid, "left", circle_samples(n=161))
    assert r.status_code == 201, r.get_json()
    return pid, sid, r.get_json()["trial_id"]


def _urls(app, ids: dict):
    """(endpoint, method, url) for every rule and method, with plausible ids substituted."""
    out = []
    with app.test_request_context():
        from flask import url_for
        for rule in app.url_map.iter_rules():
            values = {}
            for arg in rule.arguments:
                conv = rule._converters[arg].__class__.__name__
                if arg == "filename":
                    values[arg] = "statusbar.js"
                elif conv in ("IntegerConverter", "NumberConverter"):
                    values[arg] = ids.get(arg, 1)
                else:
                    values[arg] = ids.get(arg, "token")
            url = url_for(rule.endpoint, **values)
            for m in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                out.append((rule.endpoint, m, url, rule.rule))
    return out


def _is_public(app, endpoint, rule):
    if endpoint in PUBLIC:
        return True
    view = app.view_functions[endpoint]
    return rule.startswith(PUBLIC_PREFIXES) and getattr(view, "_stepplate_public", False)


def test_the_whole_url_map_needs_a_login_except_the_allow_list(app, client):
    pid, sid, tid = _seed(app, client)
    from dashboard.auth import PUBLIC_ENDPOINTS
    assert PUBLIC_ENDPOINTS <= PUBLIC
    ids = {"patient_id": pid, "session_id": sid, "trial_id": tid, "user_id": 1}
    anon = app.test_client()
    checked, public = 0, set()
    for endpoint, method, url, rule in _urls(app, ids):
        r = anon.open(url, method=method, json={} if method in STATE_CHANGING else None)
        try:
            if _is_public(app, endpoint, rule):
                public.add(endpoint)
                assert r.status_code < 500, (endpoint, method, url, r.status_code)
                continue
            loc = r.headers.get("Location", "")
            assert r.status_code == 401 or (r.status_code == 302 and loc.startswith("/auth/login")), \
                f"{method} {url} ({endpoint}) answered {r.status_code} {loc} without a login: " \
                "require a login, or allow-list it in tests/dashboard/test_security.py and docs/security.md"
            checked += 1
        finally:
            r.close()
    share = {e for e in public if e not in PUBLIC}          # @public views under PUBLIC_PREFIXES
    assert checked >= 30 and public - share == PUBLIC, (checked, public)
    print(f"URL-map walk: {checked} (rule, method) pairs gated, public: {sorted(public)}")


def test_first_run_walk_sends_everything_to_setup(app):
    anon = app.test_client()
    for endpoint, method, url, rule in _urls(app, {}):
        if _is_public(app, endpoint, rule):
            continue
        r = anon.open(url, method=method)
        assert r.status_code == 302 and r.headers["Location"].endswith("/auth/setup"), (method, url)


def test_new_routes_are_denied_by_default(tmp_path, live):
    app = make_app(tmp_path, live)
    app.add_url_rule("/patients-leak", "leak", lambda: "patient data")   # a route someone forgot to protect
    from dashboard.db import create_clinician, get_db
    with app.app_context():
        create_clinician(get_db(), "admin", PASSWORD, is_admin=True)
    r = app.test_client().get("/patients-leak")
    assert r.status_code == 302 and r.headers["Location"].startswith("/auth/login")


def test_csrf_on_every_state_changing_route(tmp_path, live):
    app = make_app(tmp_path, live)
    from dashboard.db import create_clinician, get_db
    with app.app_context():
        create_clinician(get_db(), "admin", PASSWORD, is_admin=True)
    c = app.test_client()
    login(c)
    pid, sid, tid = _seed(app, c)
    app.config["WTF_CSRF_ENABLED"] = True
    n = 0
    for endpoint, method, url, _ in _urls(app, {"patient_id": pid, "session_id": sid, "trial_id": tid, "user_id": 1}):
        if method not in STATE_CHANGING:
            continue
        r = c.open(url, method=method, data={"x": "1"})
        assert r.status_code == 400 and b"CSRF" in r.data, (method, url, r.status_code)
        n += 1
    assert n >= 10
    with app.app_context():   # nothing happened: the patient is still there
        from dashboard.models import Patient
        assert get_db().get(Patient, pid) is not None


def test_session_cookie_flags_and_secure_when_https(tmp_path, live):
    app = make_app(tmp_path, live, SESSION_COOKIE_SECURE=True)
    from dashboard.db import create_clinician, get_db
    with app.app_context():
        create_clinician(get_db(), "admin", PASSWORD, is_admin=True)
    c = app.test_client()
    cookie = login(c).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


# --- roles -----------------------------------------------------------------------------------

@pytest.fixture
def clinician(app, client):
    r = client.post("/settings/users", data={"username": "physio", "password": "physio-pass-1"})
    assert r.status_code == 302
    c = app.test_client()
    assert login(c, "physio", "physio-pass-1").status_code == 302
    return c


def test_roles_admin_and_clinician(app, client, clinician, patient):
    from dashboard.models import Clinician
    from dashboard.db import get_db
    with app.app_context():
        roles = {u.username: u.role for u in get_db().scalars(select(Clinician))}
    assert roles == {"admin": "admin", "physio": "clinician"}
    # a clinician works with patients, trials and reports …
    assert clinician.get(f"/patients/{patient}").status_code == 200
    assert clinician.get(f"/patients/{patient}/export.zip").status_code == 200
    r = clinician.post("/patients/new", data={"code": "C-2", "body_mass_kg": "60", "dominant_leg": "left"})
    assert r.status_code == 302
    # … but does not manage clinicians, settings, the audit log or delete patients
    assert clinician.post("/settings/users", data={"username": "x", "password": "xxxxxxxxxx"}).status_code == 403
    assert clinician.post("/settings/users/1/toggle").status_code == 403
    assert clinician.get("/admin/audit/").status_code == 403
    assert clinician.get(f"/patients/{patient}/delete").status_code == 403
    assert clinician.post(f"/patients/{patient}/delete", data={"confirm": "P-001"}).status_code == 403
    assert b"Delete" not in clinician.get(f"/patients/{patient}").data.split(b"<h1>")[1][:600]
    # the admin does all of it
    assert client.get("/admin/audit/").status_code == 200
    assert client.get(f"/patients/{patient}/delete").status_code == 200


# --- login throttling ------------------------------------------------------------------------

def test_five_failures_lock_the_username_for_15_minutes_then_twice_as_long(app, admin):
    from dashboard.db import get_db
    from dashboard.models import AuditEvent, LoginThrottle
    c = app.test_client()
    for _ in range(4):
        assert login(c, password="wrong password").status_code == 401
    r = login(c, password="wrong password")
    assert r.status_code == 429 and b"locked for 15 minute" in r.data
    r = login(c)                                              # even the right password is refused now
    assert r.status_code == 429 and b"Too many failed logins" in r.data
    assert login(app.test_client()).status_code == 429        # a new client, same username: still locked
    with app.app_context():
        db = get_db()
        row = db.get(LoginThrottle, "user:admin")
        until = row.locked_until.replace(tzinfo=timezone.utc) if row.locked_until.tzinfo is None else row.locked_until
        assert timedelta(minutes=14) < until - datetime.now(timezone.utc) <= timedelta(minutes=15)
        actions = [e.action for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert actions.count("login_failed") == 7 and actions.count("lockout") == 1   # 5 wrong + 2 while locked
        row.locked_until = datetime.now(timezone.utc) - timedelta(seconds=1)   # 15 minutes later
        db.commit()
    for _ in range(4):
        assert login(c, password="wrong password").status_code == 401
    r = login(c, password="wrong password")
    assert r.status_code == 429 and b"locked for 30 minute" in r.data     # exponential backoff
    with app.app_context():
        db = get_db()
        row = db.get(LoginThrottle, "user:admin")
        row.locked_until = datetime.now(timezone.utc) - timedelta(seconds=1)
        db.commit()
    assert login(c).status_code == 302                       # success clears the username's record
    with app.app_context():
        assert get_db().get(LoginThrottle, "user:admin") is None


def test_one_address_trying_many_usernames_is_locked(app, admin):
    c = app.test_client()
    codes = [login(c, f"guess{i}", "wrong password").status_code for i in range(20)]
    assert codes[:19] == [401] * 19 and codes[19] == 429
    assert login(c).status_code == 429                       # this address is locked, whatever the name
    other = app.test_client()
    r = other.post("/auth/login", data={"username": "admin", "password": PASSWORD},
                   environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert r.status_code == 302                              # another tablet still logs in


def test_unknown_usernames_are_locked_too_and_throttle_lives_in_the_database(app, admin):
    c = app.test_client()
    for _ in range(5):
        login(c, "nobody", "whatever1")
    assert login(c, "nobody", "whatever1").status_code == 429
    app2 = make_app(Path(app.config["STEPPLATE_DATA_DIR"]).parent, app.extensions["stepplate_live"],
                    DATABASE_URL=app.config["DATABASE_URL"])            # a restarted process, same database
    assert login(app2.test_client(), "nobody", "whatever1").status_code == 429   # remembers


# --- password hashing ------------------------------------------------------------------------

def test_passwords_use_pinned_scrypt_and_old_hashes_are_upgraded(app, admin):
    from werkzeug.security import generate_password_hash
    from dashboard.db import get_db
    from dashboard.models import PASSWORD_HASH_METHOD, Clinician
    assert PASSWORD_HASH_METHOD == "scrypt:32768:8:1"
    with app.app_context():
        db = get_db()
        u = db.get(Clinician, admin)
        assert u.password_hash.startswith("scrypt:32768:8:1$") and not u.password_needs_rehash
        salt = u.password_hash.split("$")[1]
        assert len(salt) >= 16
        u.password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")   # an old, weak hash
        db.commit()
    assert login(app.test_client()).status_code == 302
    with app.app_context():
        assert get_db().get(Clinician, admin).password_hash.startswith("scrypt:32768:8:1$")


# --- audit log -------------------------------------------------------------------------------

def test_views_and_exports_are_audited_with_who_what_and_where(app, client, session_id, patient):
    from dashboard.db import get_db
    from dashboard.models import AuditEvent
    tid = post_trial(client, session_id, "left", circle_samples(n=161)).get_json()["trial_id"]
    client.get(f"/patients/{patient}", environ_base={"REMOTE_ADDR": "192.168.1.23"})
    client.get(f"/trials/{tid}/export.csv")
    client.get(f"/api/trials/{tid}/samples")
    client.get(f"/patients/{patient}/export.zip")
    client.get("/patients/999/")                               # unknown: nothing to audit
    with app.app_context():
        ev = get_db().scalars(select(AuditEvent).where(AuditEvent.patient_id.is_not(None))
                              .order_by(AuditEvent.id)).all()
    got = [(e.action, e.patient_id, e.target.split()[0]) for e in ev]
    assert ("view", patient, "patients.detail") in got
    assert ("export", patient, "export.trial_csv") in got
    assert ("view", patient, "trials.api_trial_samples") in got
    assert ("export", patient, "patients.export_zip") in got
    assert ("change", patient, "trials.api_create_trial") in got
    detail = next(e for e in ev if e.target.startswith("patients.detail"))
    assert detail.username == "admin" and detail.client == "192.168.1.23" and detail.at is not None
    page = client.get(f"/admin/audit/?patient={patient}&action=export").get_data(as_text=True)
    assert "export.trial_csv" in page and "patients.detail" not in page
    assert client.get("/admin/audit/?patient=abc").status_code == 400
    assert client.get("/admin/audit/?action=nonsense").status_code == 400


# --- export and deletion of one patient's data ------------------------------------------------

def test_patient_export_zip_holds_all_their_data(app, client, session_id, patient):
    from dashboard import recordings
    ids = [post_trial(client, session_id, side, circle_samples(n=161)).get_json()["trial_id"] for side in ("left", "right")]
    client.post(f"/patients/{patient}/notes", data={"text": "knee pain on landing"})
    r = client.get(f"/patients/{patient}/export.zip")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    assert r.headers["Content-Disposition"] == f'attachment; filename="stepplate_patient{patient}.zip"'
    zf = zipfile.ZipFile(io.BytesIO(r.data))
    assert sorted(zf.namelist()) == ["patient.json", "pros.csv"] + [f"recordings/trial{i}.csv" for i in sorted(ids)]
    doc = json.loads(zf.read("patient.json"))
    assert doc["patient"]["code"] == "P-001" and doc["notes"][0]["text"] == "knee pain on landing"
    trials = [t for s in doc["sessions"] for t in s["trials"]]
    assert sorted(t["id"] for t in trials) == sorted(ids) and doc["missing_recordings"] == []
    cols, arr, meta = recordings.decode(zf.read(f"recordings/trial{ids[0]}.csv"))
    assert len(arr) == 161 and meta["patient"] == "P-001"
    assert client.get("/patients/4242/export.zip").status_code == 404


def test_deleting_a_patient_leaves_nothing_in_the_database_or_data_folder(app, client, session_id, patient):
    from dashboard.db import database, get_db
    from dashboard.models import AuditEvent, Patient
    keep = client.post("/patients/new", data={"code": "KEEP-9", "body_mass_kg": "80", "dominant_leg": "left"})
    keep_id = int(keep.headers["Location"].split("/")[-1])
    ks = client.post(f"/patients/{keep_id}/sessions", data={"protocol": "single_leg_stance"}).headers["Location"].split("/")[-2]
    assert post_trial(client, int(ks), "left", circle_samples(n=161)).status_code == 201
    for side in ("left", "right"):
        assert post_trial(client, session_id, side, circle_samples(n=161)).status_code == 201
    client.post(f"/patients/{patient}/notes", data={"text": "ZZ-secret-note"})
    data = Path(app.config["STEPPLATE_DATA_DIR"])
    files_before = sorted(p for p in data.rglob("*.csv"))
    assert len(files_before) == 3
    page = client.get(f"/patients/{patient}/delete").get_data(as_text=True)
    assert "cannot be undone" in page and "Export all data" in page
    r = client.post(f"/patients/{patient}/delete", data={"confirm": "P-00"})        # wrong confirmation
    assert r.status_code == 400 and b"nothing was deleted" in r.data
    r = client.post(f"/patients/{patient}/delete", data={"confirm": "P-001"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/patients/")
    with app.app_context():
        db = get_db()
        assert db.get(Patient, patient) is None and db.get(Patient, keep_id) is not None
        insp = inspect(database().engine)
        for table in insp.get_table_names():
            cols = [c["name"] for c in insp.get_columns(table)]
            for row in db.execute(text(f'SELECT * FROM "{table}"')):
                rec = dict(zip(cols, row))
                assert "P-001" not in json.dumps(rec, default=str), (table, rec)
                assert "ZZ-secret" not in json.dumps(rec, default=str), (table, rec)
                if table != "audit_log":
                    assert rec.get("patient_id") != patient, (table, rec)
        deleted = db.scalars(select(AuditEvent).where(AuditEvent.action == "delete")).all()
        assert [(e.patient_id, e.username) for e in deleted] == [(patient, "admin")]
    left = sorted(data.rglob("*.csv"))
    assert len(left) == 1 and all(b"P-001" not in p.read_bytes() for p in data.rglob("*") if p.is_file()
                                  and p.suffix in (".csv", ".partial", ".tmp"))
    db_file = Path(app.config["DATABASE_URL"].removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
    assert b"ZZ-secret-note" not in raw and b"P-001" not in raw          # secure_delete + checkpoint
    assert client.get(f"/patients/{patient}").status_code == 404


# --- schema ----------------------------------------------------------------------------------

def test_alembic_has_a_single_head():
    from alembic.script import ScriptDirectory
    from dashboard.db import alembic_config
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"several Alembic heads {heads}: chain your revision's down_revision onto the other"


def test_every_api_route_is_in_the_openapi_description(app, client):
    from dashboard.openapi import BY_ENDPOINT
    api = {r.endpoint for r in app.url_map.iter_rules() if r.rule.startswith("/api/")}
    missing = api - set(BY_ENDPOINT)
    assert not missing, f"describe these JSON endpoints in dashboard/openapi.py: {sorted(missing)}"
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1") and "/api/sessions/{session_id}/trials" in doc["paths"]
    assert app.test_client().get("/api/openapi.json").status_code == 302      # behind the login
