"""HTTPS for ``rig serve`` when ``[web] https = true`` (docs/security.md).

waitress has no TLS, so with HTTPS the dashboard is served by **cheroot** (CherryPy's
threaded, pure-Python WSGI server; Debian/Pi OS package ``python3-cheroot``) with the standard
library's ``ssl`` (TLS 1.2 minimum). The client's address stays the real one (the audit log
and the per-address login throttle need it), unlike a byte-pipe TLS proxy in front of waitress.

Certificate: ``web.cert_file`` and ``web.key_file``. When *neither* file exists yet, a
self-signed certificate (EC P-256, 825 days, names: the host name, ``<host>.local``,
``localhost``, 127.0.0.1) is generated there on first run with the ``openssl`` command, which
Raspberry Pi OS installs by default (no compiled Python package needed). The key is written
mode 0600. Browsers warn once about a self-signed certificate; check its fingerprint
(``openssl x509 -in cert.pem -noout -fingerprint -sha256``, printed at start) and accept it.
"""
from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
from pathlib import Path


class TLSError(RuntimeError):
    pass


def ensure_certificate(cert_file: str | os.PathLike, key_file: str | os.PathLike, hostname: str | None = None) -> bool:
    """Generate a self-signed certificate when neither file exists; returns True if it did."""
    cert, key = Path(cert_file), Path(key_file)
    if cert.exists() and key.exists():
        return False
    if cert.exists() != key.exists():
        raise TLSError(f"only one of {cert} and {key} exists: give both, or neither to generate a self-signed pair")
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TLSError("the openssl command is needed to generate a certificate (apt install openssl)")
    host = hostname or socket.gethostname() or "stepplate"
    for p in (cert, key):
        p.parent.mkdir(parents=True, exist_ok=True)
    san = f"DNS:{host},DNS:{host}.local,DNS:localhost,IP:127.0.0.1"
    old = os.umask(0o077)
    try:
        r = subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "825", "-sha256",
                            "-subj", f"/CN={host}/O=StepPlate", "-addext", f"subjectAltName={san}"],
                           capture_output=True, text=True, timeout=60)
    finally:
        os.umask(old)
    if r.returncode != 0:
        raise TLSError(f"openssl failed: {r.stderr.strip()[-300:]}")
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)
    return True


def fingerprint(cert_file) -> str:
    import hashlib
    der = ssl.PEM_cert_to_DER_cert(Path(cert_file).read_text())
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def make_server(app, host: str, port: int, cert_file, key_file, threads: int = 16):
    """A cheroot WSGI server speaking TLS (call ``.start()``/``.safe_start()``, ``.stop()``)."""
    from cheroot import wsgi
    from cheroot.ssl.builtin import BuiltinSSLAdapter
    adapter = BuiltinSSLAdapter(str(cert_file), str(key_file))
    adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
    server = wsgi.Server((host, port), app, numthreads=threads, server_name="stepplate", timeout=30,
                         shutdown_timeout=5)
    server.ssl_adapter = adapter
    return server


def serve(app, host: str, port: int, cert_file, key_file, threads: int = 16) -> None:
    server = make_server(app, host, port, cert_file, key_file, threads)
    try:
        server.safe_start()          # until Ctrl-C / SIGTERM (KeyboardInterrupt)
    finally:
        server.stop()


__all__ = ["ensure_certificate", "fingerprint", "make_server", "serve", "TLSError"]


def serve_app(app, config, host: str, port: int, threads: int | None = None) -> None:
    """``rig serve`` with ``web.https``: certificate (generated on first run), Secure cookies, TLS."""
    import click
    cert = Path(config.web.cert_file).expanduser()
    key = Path(config.web.key_file).expanduser()
    try:
        if ensure_certificate(cert, key):
            click.echo(f"generated a self-signed certificate {cert} (key {key})", err=True)
    except TLSError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"certificate SHA-256 fingerprint {fingerprint(cert)}", err=True)
    app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True, PREFERRED_URL_SCHEME="https")
    if threads is None:
        from dashboard import live
        threads = live.waitress_threads(app) if hasattr(live, "waitress_threads") else 16
    serve(app, host, port, cert, key, threads)
