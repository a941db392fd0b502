"""Fixtures every test folder shares. The simulator stands in for the hardware (rig/sim/).

``db_url``      an empty database; each test using it runs on [sqlite] and [postgresql]
``live``        a live source the test publishes into (no acquisition process)
``app``         the real dashboard factory on ``db_url`` (``app_config`` adds settings)
``runner``      Flask's CLI runner; ``admin``, ``client`` (logged in), ``patient``, ``session_id``
``sim_rig``     a real Acquisition on the simulated plate in real time, with its live source
``fast_sim_rig``  the same in virtual time
``rig_cli``     the ``rig`` command (CliRunner) with a private config
``validation_dir``  the published recordings in ../shared/validation

Helpers that are not fixtures live beside this file: dashboard_support (make_app, samples,
login), sim_support (a person through the chips), durable_support (the checkable stream),
db_support, fuzz_support, fakes (GPIO libraries), fake_frames, synthetic/ (truth generators)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from tests import ROOT

# Property and fuzz tests: on CI (CI=true) the examples are derived from each test's name
# (derandomize), so a CI run is reproducible and a red build is a real regression; locally
# they are random, so every run explores new inputs. No per-example deadline: the machines
# are shared 2-core boxes, and speed is measured by bench/, not by tests.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

VALIDATION = ROOT.parent / "shared" / "validation"


@pytest.fixture
def validation_dir() -> Path:
    """../shared/validation beside the checkout; tests that need it skip when it is absent."""
    if not VALIDATION.is_dir():
        pytest.skip(f"validation recordings not found at {VALIDATION} (see shared/validation/README.md)")
    return VALIDATION


# --- the database, the app and a logged-in clinician ---------------------------------------------
# Every test that asks for ``db_url`` (directly, or through ``app``) runs once per database:
# ``[sqlite]`` always, ``[postgresql]`` when a server is configured (skipped otherwise, with the
# reason). ``@pytest.mark.databases("sqlite")`` pins a test to the databases it is about.

def pytest_generate_tests(metafunc):
    if "db_url" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("databases")
        kinds = list(marker.args) if marker else ["sqlite", "postgresql"]
        metafunc.parametrize("db_url", kinds, indirect=True)


@pytest.fixture
def db_url(request, tmp_path) -> str:
    """The SQLAlchemy URL of an empty database of the kind this test instance runs on."""
    from tests import db_support
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'clinic.db'}"
    if not db_support.PG_URL:
        pytest.skip(db_support.NO_PG)
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    url = db_support.worker_url(worker)
    db_support.reset_schema(url)
    return url


@pytest.fixture
def live():
    """A live source the test publishes into (no acquisition process)."""
    from rig.acquire.ipc import FakeLiveSource
    from tests.dashboard_support import HELLO
    return FakeLiveSource(HELLO)


@pytest.fixture
def app_config() -> dict:
    """Extra Flask settings for ``app``; a module overrides this (a fixed clock, a time zone)."""
    return {}


@pytest.fixture
def app(tmp_path, live, db_url, app_config):
    """The real factory (dashboard.create_app) on this test's database and data folder."""
    from dashboard.db import database
    from tests.dashboard_support import make_app
    a = make_app(tmp_path, live, DATABASE_URL=db_url, **app_config)
    assert database(a).engine.dialect.name == db_url.split(":", 1)[0].split("+", 1)[0]
    yield a
    database(a).engine.dispose()


@pytest.fixture
def runner(app):
    """Flask's CLI runner for ``app``."""
    return app.test_cli_runner()


@pytest.fixture
def admin(app) -> int:
    """The id of an administrator account (password ``dashboard_support.PASSWORD``)."""
    from dashboard.db import create_clinician, get_db
    from tests.dashboard_support import PASSWORD
    with app.app_context():
        return create_clinician(get_db(), "admin", PASSWORD, is_admin=True).id


@pytest.fixture
def client(app, admin):
    """A test client logged in as the administrator."""
    from tests.dashboard_support import login
    c = app.test_client()
    assert login(c).status_code == 302
    return c


@pytest.fixture
def patient(app, client) -> int:
    """The id of a patient created through the form."""
    r = client.post("/patients/new", data={"code": "P-001", "body_mass_kg": "71.4", "dominant_leg": "right",
                                           "notes": "ACL reconstruction, left"})
    assert r.status_code == 302
    return int(r.headers["Location"].rstrip("/").split("/")[-1])


@pytest.fixture
def session_id(client, patient) -> int:
    """The id of a single-leg stance session opened for ``patient``."""
    r = client.post(f"/patients/{patient}/sessions", data={"protocol": "single_leg_stance"})
    assert r.status_code == 302 and "/run" in r.headers["Location"]
    return int(r.headers["Location"].split("/")[-2])


# --- the simulated rig ---------------------------------------------------------------------------

def _sim_rig(realtime: bool):
    from rig.acquire.ipc import InProcessLiveSource
    from rig.acquire.service import build_acquisition
    from rig.config import Config
    acq, gpio, _ = build_acquisition(Config().validate(), backend="sim", realtime=realtime)
    source = InProcessLiveSource(acq, sim_rig=gpio.sim_rig)
    acq.start()
    try:
        yield acq, gpio, source
    finally:
        acq.stop()
        source.close()


@pytest.fixture
def sim_rig():
    """A real Acquisition on the simulator backend in real time, with an in-process live source
    (which takes ``perform``, as the acquisition service does): yields ``(acquisition,
    simulated gpio, live source)``; stopped afterwards."""
    yield from _sim_rig(realtime=True)


@pytest.fixture
def fast_sim_rig():
    """``sim_rig`` in virtual time: the simulated plate runs as fast as the chips can be emulated."""
    yield from _sim_rig(realtime=False)


@pytest.fixture
def rig_cli(tmp_path, monkeypatch):
    """``rig_cli(*args, ok=True)``: the ``rig`` command through click's CliRunner, with a private
    config (data folder in tmp_path: no calibration file, no running service socket)."""
    from click.testing import CliRunner
    from rig.cli import main
    cfg = tmp_path / "rig.toml"
    cfg.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    monkeypatch.setenv("RIG_CONFIG", str(cfg))
    monkeypatch.delenv("RIG_GPIO", raising=False)
    monkeypatch.delenv("RIG_PROTOCOLS", raising=False)
    runner = CliRunner()

    def run(*args, ok=True):
        r = runner.invoke(main, [str(a) for a in args])
        if ok:
            assert r.exit_code == 0, r.output
        return r
    return run
