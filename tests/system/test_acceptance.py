"""The clinic's first morning, in a real browser on a 10" tablet (1024×768), against
``rig demo --with-history`` exactly as ``make demo`` starts it (its own acquisition process
on the simulated plate, the protocols as shipped, full length, faults at the demo's rate):

first-run setup → the seeded demo patient's six weeks of trends → a new patient → every
protocol on both sides (mCTSIB: its four conditions) to a scored result card → the session's
left/right bars → programme assignment from the patient page → a training set → the PDF
report and the referral letter.

A trial that is not scored must be one the virtual person was set to spoil (the card says
so); it is redone, as a clinician would. No 5xx, no console error. Screenshots of every
result card: test-artifacts/acceptance/ (CI keeps them). About eight minutes: a soak test.
"""
from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests import ROOT
from tests.browser_support import (MISSING, console_errors, create_admin, in_viewport, make_browser, new_patient,
                                   shot, wait_for)
from tests.dashboard_support import PASSWORD

pytestmark = [pytest.mark.soak, pytest.mark.skipif(MISSING is not None, reason=MISSING or "")]
pytest.importorskip("selenium", reason="selenium not installed (pip install '.[test]')")

FOLDER = "acceptance"
#: Each protocol's scored trials this walk records: one per side (a patient who knows the
#: test skips the practice), mCTSIB all four of its conditions.
WALK = (("single_leg_stance", ("left", "right")), ("quiet_stance_mctsib", ("both",) * 4),
        ("lateral_step_down", ("left", "right")), ("single_leg_squat", ("left", "right")),
        ("step_down_landing", ("left", "right")))
MAX_REDOS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def demo(tmp_path):
    """``rig demo --with-history`` in its own process group, as `make demo` runs it."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("RIG_PROTOCOLS", "RIG_CONFIG")}
    log = open(tmp_path / "demo.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "rig", "demo", "--with-history", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def up():
        if proc.poll() is not None:
            log.seek(0)
            raise AssertionError(f"rig demo exited ({proc.returncode}):\n{log.read()[-3000:]}")
        try:
            return urllib.request.urlopen(url + "/auth/setup", timeout=2).status == 200
        except OSError:
            return False
    try:
        wait_for(up, timeout=180, what="rig demo --with-history to serve")
        yield url, log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _server_errors(drv) -> list[str]:
    """Responses of 500 and up the page received (the performance log's network events)."""
    out = []
    for e in drv.get_log("performance"):
        m = json.loads(e["message"])["message"]
        if m.get("method") == "Network.responseReceived":
            r = m["params"]["response"]
            if r.get("status", 0) >= 500:
                out.append(f"{r['status']} {r['url']}")
    return out


def _record_until_scored(d, base, pid, step_name):
    """Press Start on the run page until the trial is scored; a not-scored trial must be a
    staged fault (said on the card), then it is redone. Returns the result card's text."""
    from selenium.webdriver.common.by import By
    for attempt in range(MAX_REDOS + 1):
        wait_for(lambda: d.execute_script("return window.stepplateRun && window.stepplateRun.samplesSeen"),
                 timeout=30, what=f"{step_name}: live samples")
        start = d.find_element(By.ID, "start")
        assert in_viewport(d, start), f"{step_name}: Start is not on screen"
        seconds = float(d.find_element(By.ID, "run").get_attribute("data-duration"))
        start.click()
        wait_for(lambda: d.find_element(By.ID, "result").is_displayed(), timeout=seconds + 60,
                 what=f"{step_name}: result")
        state = d.find_element(By.ID, "analysis-state")
        d.execute_script("arguments[0].scrollIntoView({block: 'center'})", state)
        rows = d.find_elements(By.CSS_SELECTOR, "#result-table tr")
        if state.text == "Scored":
            assert 1 <= len(rows) <= 5, (step_name, [r.text for r in rows])      # the headline
            assert all("_" not in r.text for r in rows), [r.text for r in rows]     # clinical labels
            shot(d, f"card-{step_name}", FOLDER)
            return d.find_element(By.ID, "result").text
        staged = d.find_elements(By.ID, "simulated-fault")
        assert staged, f"{step_name}: not scored without a staged fault: {state.text}"
        assert "redo" in state.text, state.text
        shot(d, f"fault-{step_name}-{attempt}", FOLDER)
        d.find_element(By.ID, "redo-btn").click()
        wait_for(lambda: not d.find_element(By.ID, "result").is_displayed(), what="the page again after redo")
    raise AssertionError(f"{step_name}: {MAX_REDOS} staged faults in a row")


def test_a_clinic_morning_on_the_demo(demo, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    base, log = demo
    d = make_browser(tmp_path, size=(1024, 768), performance_log=True)
    try:
        create_admin(d, base, PASSWORD)                             # first run: the admin account

        # the seeded demo patient: six weeks of trends, "is this change real" at a glance
        d.find_element(By.PARTIAL_LINK_TEXT, "DEMO-01").click()
        wait_for(lambda: "DEMO-01" in d.find_element(By.TAG_NAME, "h1").text, what="demo patient")
        glance = d.find_element(By.ID, "at-a-glance")
        assert "real improvement" in glance.text, glance.text
        shot(d, "01-demo-patient", FOLDER)
        all_figs = d.find_elements(By.CSS_SELECTOR, ".trend-fig")
        pro_figs = d.find_elements(By.CSS_SELECTOR, "#pros .trend-fig")
        figs = [f for f in all_figs if not f.find_elements(By.XPATH, "ancestor::*[@id='pros']")]
        points = [len(f.find_elements(By.CSS_SELECTOR, "circle")) for f in figs]
        assert figs and min(points) >= 12, points                  # six sessions × both sides
        # how the patient feels: one report per weekly visit, on the same timeline
        assert len(pro_figs) == 3 and all(len(f.find_elements(By.CSS_SELECTOR, "circle")) == 6 for f in pro_figs)
        d.execute_script("arguments[0].scrollIntoView()", figs[0])
        shot(d, "02-demo-trends", FOLDER)
        demo_url = d.current_url

        # a new patient, then every protocol on both sides
        patient_url = new_patient(d, base, "ACC-01", 64, involved_side="left")
        errors = _server_errors(d)
        for pid, steps in WALK:
            d.get(patient_url)
            Select(d.find_element(By.NAME, "protocol")).select_by_value(pid)
            d.find_element(By.ID, "start-session").click()
            wait_for(lambda: "/run" in d.current_url, what=f"{pid} run page")
            session_url = d.current_url.split("/run")[0]
            d.get(session_url + "/run?practice=skip")
            for k, side in enumerate(steps):
                assert d.find_element(By.ID, "run").get_attribute("data-side") == side
                _record_until_scored(d, base, pid, f"{pid}-{k + 1}-{side}")
                d.find_element(By.ID, "next-btn").click()
                wait_for(lambda: "/run" in d.current_url or "/sessions/" in d.current_url, what="next step")
            errors += _server_errors(d)                             # drained as the walk goes
            d.get(session_url)
            if steps[0] != "both":                                  # left vs right, to scale
                bars = d.find_element(By.ID, "lr-bars")
                d.execute_script("arguments[0].scrollIntoView({block: 'center'})", bars)
                assert len(bars.find_elements(By.CSS_SELECTOR, ".lr-row")) >= 2, bars.text
                assert "(involved)" in bars.text
            shot(d, f"session-{pid}", FOLDER)

        # programme assignment from the patient page, then a training set on the plate
        d.get(patient_url)
        d.find_element(By.ID, "patient-programmes").click()
        wait_for(lambda: d.find_elements(By.ID, "assign"), what="programme assignment")
        d.find_element(By.NAME, "title").send_keys("Hip strengthening, 6 weeks")
        d.find_element(By.CSS_SELECTOR, "#assign button[type=submit]").click()
        train = wait_for(lambda: [a for a in d.find_elements(By.TAG_NAME, "a")
                                  if (a.get_attribute("href") or "").endswith("/train")], what="programme page")
        shot(d, "programme", FOLDER)
        train[0].click()
        start = wait_for(lambda: d.find_element(By.ID, "start"), what="training page")
        assert in_viewport(d, start)
        start.click()
        time.sleep(4)                                               # four seconds of a set
        d.find_element(By.ID, "stop").click()
        wait_for(lambda: "Saved" in d.find_element(By.ID, "result").text, timeout=30, what="a stored set")
        assert in_viewport(d, d.find_element(By.ID, "start")), "the panel left the screen after a set"
        shot(d, "training-set", FOLDER)

        # the PDF report (summary first) and the referral letter of the demo patient
        d.get(demo_url)
        for link, name in (("PDF report", "report"), ("Referral PDF", "referral")):
            d.find_element(By.LINK_TEXT, link).click()
            pdf = wait_for(lambda: [p for p in d.downloads.glob(f"*_{name}.pdf")], timeout=60, what=f"{name} PDF")[0]
            wait_for(lambda: pdf.stat().st_size > 1000 and pdf.read_bytes().rstrip().endswith(b"%%EOF"),
                     what=f"{name} PDF complete")
        import pypdf
        report = pypdf.PdfReader(io.BytesIO(next(d.downloads.glob("*_report.pdf")).read_bytes()))
        letter = pypdf.PdfReader(io.BytesIO(next(d.downloads.glob("*_referral.pdf")).read_bytes()))
        assert "summary" in report.pages[0].extract_text() and len(letter.pages) <= 2
        assert "Dear colleague" in letter.pages[0].extract_text()

        assert not console_errors(d)
        assert not errors + _server_errors(d)
    finally:
        d.quit()
    log.seek(0)
    assert "Traceback" not in log.read()
