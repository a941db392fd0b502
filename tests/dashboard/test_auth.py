"""Login, first-run admin creation, CSRF, cookies, admin-only settings."""
from tests.dashboard_support import PASSWORD, csrf_from, login, make_app


def test_first_run_shows_only_the_create_admin_page(app):
    c = app.test_client()
    for url in ("/patients/", "/settings/", "/auth/login"):
        r = c.get(url)
        assert r.status_code == 302 and r.headers["Location"].endswith("/auth/setup"), url
    assert b"Create the admin account" in c.get("/auth/setup").data


def test_setup_creates_admin_once_then_refuses(app):
    c = app.test_client()
    r = c.post("/auth/setup", data={"username": "boss", "password": "short", "confirm": "short"})
    assert r.status_code == 200 and b"at least 8 characters" in r.data
    r = c.post("/auth/setup", data={"username": "boss", "password": PASSWORD, "confirm": PASSWORD})
    assert r.status_code == 302
    assert c.get("/patients/").status_code == 200          # logged in as the new admin
    other = app.test_client()
    r = other.post("/auth/setup", data={"username": "evil", "password": PASSWORD, "confirm": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"].endswith("/auth/login")
    assert login(other, "evil").status_code == 401
    from dashboard.db import get_db
    from dashboard.models import Clinician
    with app.app_context():
        users = get_db().query(Clinician).all()
        assert [(u.username, u.is_admin) for u in users] == [("boss", True)]
        assert PASSWORD not in users[0].password_hash and users[0].check_password(PASSWORD)


def test_create_admin_cli(app, runner):
    r = runner.invoke(args=["create-admin", "--username", "cli-admin", "--password", PASSWORD])
    assert r.exit_code == 0, r.output
    r = runner.invoke(args=["create-admin", "--username", "cli-admin", "--password", PASSWORD])
    assert r.exit_code != 0 and "already exists" in r.output
    assert login(app.test_client(), "cli-admin").status_code == 302


def test_login_logout_and_wrong_password(app, admin):
    c = app.test_client()
    assert c.get("/patients/").headers["Location"].startswith("/auth/login")
    r = login(c, password="wrong password")
    assert r.status_code == 401 and b"Wrong username or password" in r.data
    assert login(c).status_code == 302
    assert c.get("/patients/").status_code == 200
    assert c.get("/auth/logout").status_code == 405            # logout only by POST (CSRF-protected form)
    assert c.post("/auth/logout").status_code == 302
    assert c.get("/patients/").status_code == 302


def test_login_redirects_only_to_local_pages(app, admin):
    c = app.test_client()
    r = c.post("/auth/login?next=/settings/", data={"username": "admin", "password": PASSWORD})
    assert r.headers["Location"] == "/settings/"
    c2 = app.test_client()
    r = c2.post("/auth/login?next=https://evil.example/", data={"username": "admin", "password": PASSWORD})
    assert r.headers["Location"] == "/patients/"


def test_csrf_is_enforced_on_forms_and_api(tmp_path, live):
    app = make_app(tmp_path, live, WTF_CSRF_ENABLED=True)
    c = app.test_client()
    assert c.post("/auth/setup", data={"username": "a", "password": PASSWORD, "confirm": PASSWORD}).status_code == 400
    token = csrf_from(c.get("/auth/setup").get_data(as_text=True))
    r = c.post("/auth/setup", data={"username": "a", "password": PASSWORD, "confirm": PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    assert c.post("/patients/new", data={"code": "X1", "body_mass_kg": "70", "dominant_leg": "left"}).status_code == 400
    token = csrf_from(c.get("/patients/new").get_data(as_text=True))
    r = c.post("/patients/new", data={"code": "X1", "body_mass_kg": "70", "dominant_leg": "left", "csrf_token": token})
    assert r.status_code == 302
    pid = r.headers["Location"].split("/")[-1]
    r = c.post(f"/patients/{pid}/sessions", data={"protocol": "quiet_stance_mctsib", "csrf_token": token})
    sid = r.headers["Location"].split("/")[-2]
    assert c.post(f"/api/sessions/{sid}/trials", json={"side": "both", "samples": []}).status_code == 400
    page = c.get(f"/sessions/{sid}/run").get_data(as_text=True)
    assert 'name="csrf-token"' in page                        # the run page's JS sends it as X-CSRFToken
    r = c.post(f"/api/sessions/{sid}/trials", json={"side": "both", "samples": [[0, 1, 1, 1, 1, 4, 0, 0, 0]]},
               headers={"X-CSRFToken": token})
    assert r.status_code == 400 and "at least 2 samples" in r.get_json()["error"]   # passed CSRF, reached the view
    assert c.post("/auth/logout").status_code == 400


def test_session_cookie_flags(app, admin):
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    c = app.test_client()
    r = login(c)
    cookie = r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_only_admins_change_settings_and_accounts(app, client):
    r = client.post("/settings/users", data={"username": "physio", "password": "physio-pass-1", "is_admin": ""})
    assert r.status_code == 302
    c = app.test_client()
    assert login(c, "physio", "physio-pass-1").status_code == 302
    assert c.get("/settings/").status_code == 200
    assert c.post("/settings/", data={"clinic_name": "Hijack", "report_footer": "", "mdc_overrides": ""}).status_code == 403
    assert c.post("/settings/users", data={"username": "x", "password": "xxxxxxxxxx"}).status_code == 403
    r = client.post("/settings/", data={"clinic_name": "Physio Nord", "report_footer": "f",
                                        "mdc_overrides": "mean_velocity_mm_s = 4.5 lower"})
    assert r.status_code == 302
    assert b"Physio Nord" in client.get("/settings/").data
    r = client.post("/settings/", data={"clinic_name": "x", "report_footer": "", "mdc_overrides": "bad line"})
    assert r.status_code == 200 and b"expected" in r.data
    from dashboard.db import get_db
    from dashboard.models import Clinician
    with app.app_context():
        uid = get_db().query(Clinician).filter_by(username="physio").one().id
    client.post(f"/settings/users/{uid}/toggle")
    assert login(app.test_client(), "physio", "physio-pass-1").status_code == 401   # deactivated


def test_live_page_and_tare_need_login_but_status_does_not(app, admin, live):
    c = app.test_client()
    assert c.get("/").status_code == 302
    assert c.post("/api/live/tare").status_code == 302 and live.commands == []
    st = c.get("/api/status")
    assert st.status_code == 200 and st.get_json()["backend"] == "sim"
    login(c)
    assert c.get("/").status_code == 200
    assert c.post("/api/live/tare").status_code == 200 and live.commands == ["tare"]


def test_every_clinic_page_has_the_status_bar(client, app):
    for url in ("/patients/", "/patients/new", "/settings/"):
        html = client.get(url).get_data(as_text=True)
        assert 'id="statusbar"' in html and "statusbar.js" in html, url
        assert "http://" not in html and "https://" not in html            # nothing from a CDN
    js = client.get("/static/statusbar.js").get_data(as_text=True)
    assert "/api/status" in client.get("/patients/").get_data(as_text=True) and "not answering" in js
