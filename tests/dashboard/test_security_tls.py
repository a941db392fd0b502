"""HTTPS (docs/security.md): a self-signed certificate generated on first run, the dashboard
served over TLS on loopback (cheroot + ssl), Secure session cookies, `rig serve` wiring."""
from __future__ import annotations

import http.client
import shutil
import ssl
import stat
import threading
import urllib.parse

import pytest

from tests.dashboard_support import PASSWORD, make_app

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def test_certificate_generated_once_with_a_private_key(tmp_path):
    from dashboard import tls
    cert, key = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
    assert tls.ensure_certificate(cert, key, "clinic-pi") is True
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = cert.read_bytes()
    assert tls.ensure_certificate(cert, key) is False and cert.read_bytes() == first   # kept on later runs
    info = ssl._ssl._test_decode_cert(str(cert))
    names = {v for _k, v in info["subjectAltName"]}
    assert {"clinic-pi", "clinic-pi.local", "localhost", "127.0.0.1"} <= names
    key.unlink()
    with pytest.raises(tls.TLSError, match="only one of"):
        tls.ensure_certificate(cert, key)


def test_dashboard_over_tls_on_loopback_with_secure_cookies(tmp_path):
    from dashboard import tls
    from dashboard.db import create_clinician, get_db
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    tls.ensure_certificate(cert, key, "localhost")
    app = make_app(tmp_path, SESSION_COOKIE_SECURE=True)
    with app.app_context():
        create_clinician(get_db(), "admin", PASSWORD, is_admin=True)
    server = tls.make_server(app, "127.0.0.1", 0, cert, key, threads=4)
    server.prepare()
    port = server.bind_addr[1]
    t = threading.Thread(target=server.serve, daemon=True)
    t.start()
    try:
        ctx = ssl.create_default_context(cafile=str(cert))          # trust exactly this certificate
        conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
        conn.request("GET", "/api/status")
        r = conn.getresponse()
        assert r.status == 200 and b"backend" in r.read()
        assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
        body = urllib.parse.urlencode({"username": "admin", "password": PASSWORD})
        conn.request("POST", "/auth/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        r.read()
        cookie = r.getheader("Set-Cookie")
        assert r.status == 302 and "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        conn.close()
        plain = http.client.HTTPConnection("127.0.0.1", port, timeout=5)   # no plain HTTP on the TLS port
        with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
            plain.request("GET", "/api/status")
            resp = plain.getresponse()
            if resp.status < 400:
                raise AssertionError("plain HTTP answered on the HTTPS port")
            raise ConnectionError("refused with an error status")
    finally:
        server.stop()
        t.join(5)


def test_rig_serve_uses_tls_when_https_is_on(tmp_path, monkeypatch):
    from dashboard import tls
    from rig.cli import web as commands
    calls = {}
    monkeypatch.setattr(tls, "serve", lambda app, host, port, cert, key, threads: calls.update(
        app=app, host=host, port=port, cert=cert, key=key, threads=threads))
    monkeypatch.setenv("STEPPLATE_INSTANCE", str(tmp_path / "instance"))
    import dashboard
    app = make_app(tmp_path)
    monkeypatch.setattr(dashboard, "create_app", lambda settings=None: app)
    from rig.config import from_dict
    config = from_dict({"web": {"https": True, "cert_file": str(tmp_path / "d" / "c.pem"),
                                "key_file": str(tmp_path / "d" / "k.pem")},
                        "paths": {"data_dir": str(tmp_path / "data")}})
    commands._serve_web(config, tmp_path / "acq.sock", "127.0.0.1", 8443)
    assert calls["port"] == 8443 and calls["cert"].exists() and calls["key"].exists()
    assert calls["app"].config["SESSION_COOKIE_SECURE"] is True and calls["app"].config["REMEMBER_COOKIE_SECURE"]
    assert calls["app"] is app and calls["threads"] >= 1
