"""Real browser (headless Chromium via Selenium + the distribution's chromedriver): log in,
create a patient, run a single-leg protocol on the simulated plate, see the live view move,
get results, download the PDF. Screenshots of the main pages go to test-artifacts/.

Needs the Debian packages ``chromium chromium-driver`` (and ``selenium`` from the test
extras); skipped with the reason otherwise.
"""
from __future__ import annotations

import threading

import pytest

from tests.browser_support import (MISSING, console_errors, create_admin, in_viewport, make_browser, new_patient,
                                   shot, wait_for)
from tests.dashboard_support import PASSWORD

pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")
selenium = pytest.importorskip("selenium", reason="selenium not installed (pip install '.[test]')")

QUICK = """
[[protocol]]
id = "sls_quick"
extends = "single_leg_stance"
name = "Single-leg stance (quick)"
duration_s = 6.0
countdown_s = 1.0
practice_trials = 0
scored_trials = 1
conditions = [{ id = "eyes_open", vision = "open", surface = "firm" }]
params = { settle_s = 2.0, lift_within_s = 2.5, scored_window_start_s = 1.0 }

[[protocol]]
id = "lsd_quick"
extends = "lateral_step_down"
name = "Lateral step-down (quick)"
duration_s = 2.0
countdown_s = 1.0
params = { repetitions = 2, cadence_bpm = 240.0, settle_s = 2.0 }

[[protocol]]
id = "lsd_walk"
extends = "lateral_step_down"
name = "Lateral step-down (short)"
practice_trials = 0
duration_s = 2.0
countdown_s = 1.0
params = { repetitions = 2, cadence_bpm = 60.0, settle_s = 2.0 }

[[protocol]]
id = "qs_quick"
extends = "quiet_stance_mctsib"
name = "Quiet stance (quick)"
duration_s = 6.0
countdown_s = 1.0

[[protocol]]
id = "squat_quick"
extends = "single_leg_squat"
name = "Single-leg squat (quick)"
practice_trials = 0
duration_s = 8.0
countdown_s = 1.0
params = { repetitions = 2, cadence_bpm = 60.0, settle_s = 2.0 }

[[protocol]]
id = "landing_quick"
extends = "step_down_landing"
name = "Step-down landing (quick)"
practice_trials = 0
duration_s = 13.0
countdown_s = 1.0
params = { box_height_cm = 30.0, hold_s = 5.0, max_landings = 5, tts_window_s = 3.0, sway_window_s = [1.0, 5.0] }
"""


@pytest.fixture
def server(tmp_path, monkeypatch):
    """The full app (create_app) on waitress, fed by an acquisition on the simulated plate."""
    from waitress.server import create_server

    from dashboard import create_app
    from rig.acquire.service import build_acquisition
    from rig.config import Config
    from rig.acquire.ipc import InProcessLiveSource

    (tmp_path / "protos.toml").write_text(QUICK)
    monkeypatch.setenv("RIG_PROTOCOLS", str(tmp_path / "protos.toml"))
    acq, gpio, _reason = build_acquisition(Config().validate(), backend="sim", realtime=True)
    live = InProcessLiveSource(acq, sim_rig=gpio.sim_rig)     # the virtual person does the chosen test
    app = create_app({"SECRET_KEY": "browser-test", "LIVE_SOURCE": live, "INSTANCE_PATH": str(tmp_path / "inst"),
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'clinic.db'}", "SIM_FAULT_RATE": 0.0})
    srv = create_server(app, host="127.0.0.1", port=0, threads=8)
    th = threading.Thread(target=srv.run, daemon=True)
    acq.start()
    th.start()
    try:
        yield f"http://127.0.0.1:{srv.effective_port}"
    finally:
        acq.stop()
        srv.close()
        live.close()


@pytest.fixture
def browser(tmp_path):
    drv = make_browser(tmp_path)
    try:
        yield drv
    finally:
        drv.quit()


def test_clinician_day_in_a_real_browser(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    d = browser
    d.get(server + "/")
    assert "/auth/setup" in d.current_url                        # first run: create the admin
    shot(d, "01-setup")
    create_admin(d, server, PASSWORD)
    # status bar filled from /api/status by the simulated plate
    wait_for(lambda: "sim" in d.find_element(By.ID, "statusbar").text, what="status bar")
    d.get(server + "/")                                          # the live page's diagnostics line
    diag = wait_for(lambda: "frames/s" in d.find_element(By.ID, "diagnostics").text and "ms web + page" in
                    d.find_element(By.ID, "diagnostics").text and d.find_element(By.ID, "diagnostics").text,
                    what="live diagnostics")
    assert 5 <= int(diag.split()[0]) <= 120, diag

    new_patient(d, server, "BR-007", 72, dominant_leg="right")
    shot(d, "02-patient-new")

    Select(d.find_element(By.NAME, "protocol")).select_by_value("sls_quick")
    d.find_element(By.ID, "start-session").click()
    wait_for(lambda: "/run" in d.current_url, what="run page")
    # the live view moves: samples arrive over SSE and the COP trail grows
    n0 = wait_for(lambda: d.execute_script("return window.stepplateRun && window.stepplateRun.samplesSeen"),
                  what="first live samples")
    # 40 more samples (half a second of plate data) reach the page: waited for, not timed,
    # so a loaded CI machine cannot make it flaky
    wait_for(lambda: d.execute_script("return window.stepplateRun.samplesSeen") > n0 + 40,
             timeout=20, what="40 more live samples")
    assert d.find_element(By.ID, "stream-state").text == "live"
    shot(d, "03-run-live")

    d.find_element(By.ID, "start").click()
    wait_for(lambda: d.find_element(By.ID, "result").is_displayed(), timeout=20, what="trial result")
    # the virtual person did the test the page asked for: the stored trial is scored, with its measures
    state = d.find_element(By.ID, "analysis-state").text
    rows = d.find_elements(By.CSS_SELECTOR, "#result-table tr")
    assert state == "Scored", state
    assert any("Sway velocity (cm/s)" in r.text for r in rows), [r.text for r in rows]
    shot(d, "04-run-result")
    trial_url = d.execute_script("return window.stepplateRun.lastResult.url")

    d.find_element(By.ID, "next-btn").click()                  # right side
    wait_for(lambda: "side=right" in d.current_url, what="right side")
    d.find_element(By.ID, "start").click()
    wait_for(lambda: d.find_element(By.ID, "result").is_displayed(), timeout=20, what="right result")
    d.find_element(By.ID, "next-btn").click()                  # -> session page (left/right of scored trials)
    wait_for(lambda: d.find_elements(By.ID, "session-pdf"), what="session page")
    shot(d, "05-session")

    d.find_element(By.ID, "session-pdf").click()
    pdf = wait_for(lambda: [p for p in d.downloads.glob("*.pdf")], timeout=30, what="PDF download")[0]
    wait_for(lambda: pdf.stat().st_size > 1000 and pdf.read_bytes().startswith(b"%PDF"), what="PDF complete")

    # how the patient feels, entered on the session page at tablet size: one tap per answer;
    # a LEFS with an item left out is refused beside that item, then completed and saved
    d.set_window_size(1024, 768)
    session_url = d.current_url.split("#")[0]
    tap = lambda name, value: d.execute_script(                  # noqa: E731 - the visible button of a radio
        "var s = document.querySelector('input[name=\"' + arguments[0] + '\"][value=\"' + arguments[1] + '\"]')"
        ".nextElementSibling; s.scrollIntoView({block: 'center'}); return s;", name, value).click()
    tap("pain_week_nrs", "6")
    tap("pain_test_nrs", "3")
    for i in range(1, 21):
        if i != 7:
            tap(f"lefs_item_{i}", "2" if i % 2 else "3")
    assert "19 of 20 answered" in d.find_element(By.ID, "lefs-total").text
    d.find_element(By.ID, "pros-save").click()
    # the refused form is a new page: wait for its item 7 (the old page's element goes stale)
    item7 = wait_for(lambda: (el := d.find_element(By.ID, "li-lefs_item_7")) and "Not answered" in el.text and el,
                     what="the refused entry, item 7 marked")
    assert in_viewport(d, d.find_element(By.ID, "pros-errors"))   # the page opens at the card's message
    shot(d, "05b-pros-refused")
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", item7)
    shot(d, "05b-pros-refused-item")
    refused = [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert all("/pros#pros - " in m and "400" in m for m in refused), refused   # the refused entry is a 400, nothing else
    tap("lefs_item_7", "2")                                       # the other answers were kept
    assert "LEFS total 50 / 80" in d.find_element(By.ID, "lefs-total").text
    d.find_element(By.ID, "pros-save").click()
    saved = wait_for(lambda: d.find_element(By.ID, "pros-saved"), what="saved entry")
    assert "LEFS 50/80" in saved.text and "6/10" in saved.text, saved.text
    shot(d, "05c-pros-saved")
    assert d.current_url.split("#")[0] == session_url

    d.find_element(By.CSS_SELECTOR, ".crumbs a").click()        # back to the patient: history page
    wait_for(lambda: "BR-007" in d.find_element(By.TAG_NAME, "h1").text, what="patient page")
    pros_card = d.find_element(By.ID, "pros")
    assert "LEFS (0–80)" in pros_card.text and "50 points (first entry)" in pros_card.text, pros_card.text
    assert len(pros_card.find_elements(By.CSS_SELECTOR, "svg.trend")) == 3
    shot(d, "06-patient-history")
    d.execute_script("arguments[0].scrollIntoView()", pros_card)
    shot(d, "06b-patient-pros")
    d.set_window_size(390, 844)                                 # phone, portrait
    shot(d, "07-patient-phone")
    d.get(session_url + "#pros")                                # the same form on a phone: no sideways scroll
    wait_for(lambda: d.find_element(By.ID, "pros-saved"), what="session page on a phone")
    shot(d, "07b-pros-phone")
    card = d.find_element(By.ID, "pros")
    assert d.execute_script("var r = arguments[0].getBoundingClientRect(); return r.right <= window.innerWidth"
                            " && arguments[0].scrollWidth <= arguments[0].clientWidth + 1", card), \
        d.execute_script("return [arguments[0].getBoundingClientRect().right, arguments[0].scrollWidth,"
                         " arguments[0].clientWidth, window.innerWidth, document.documentElement.scrollWidth]", card)
    d.set_window_size(1024, 768)
    d.get(server + trial_url)                                   # the trial page: the COP picture
    wait_for(lambda: d.find_element(By.ID, "cop").get_attribute("data-drawn"), what="COP picture")
    assert d.find_element(By.ID, "cop").get_attribute("data-drawn") == "ellipse"
    shot(d, "09-trial-cop")
    errors = [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors                                   # no JavaScript error, no missing resource


def test_step_down_metronome_sends_its_cues(server, browser):
    """The run page of a lateral step-down: metronome plan on the page, a beat indicator, the
    cues sent with the recording request on the stream's time base and stored with the trial,
    and the SSE health events handed to the status bar (stepplate:health)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    d = browser
    create_admin(d, server, PASSWORD)
    new_patient(d, server, "BR-008", 72, dominant_leg="left")
    Select(d.find_element(By.NAME, "protocol")).select_by_value("lsd_quick")
    d.find_element(By.ID, "start-session").click()
    wait_for(lambda: "/run" in d.current_url, what="run page")
    d.execute_script("window.__health = 0; document.addEventListener('stepplate:health', function () { window.__health++; });")
    wait_for(lambda: d.execute_script("return window.stepplateRun && window.stepplateRun.samplesSeen"),
             what="first live samples")
    wait_for(lambda: d.execute_script("return window.__health"), timeout=20, what="an SSE health event on the page")
    # the alignment formula: latest t_s + (cue − arrival of that sample) + output latency
    assert d.execute_script("return window.stepplateCueTime(10, 1000, 1500, 0.03)") == pytest.approx(10.53)
    assert d.execute_script("return window.stepplateCueTime(10, 1000, 1500, undefined)") == pytest.approx(10.5)
    # events are timed from the start of the recording; one before Start has no trial time
    label = "return window.stepplateEventLabel(arguments[0], arguments[1], arguments[2])"
    assert d.execute_script(label, "foot_lift", 233.5, 231.25) == "foot lift @ 2.25 s"
    assert d.execute_script(label, "weight_settled", 230.84, 231.25) == "weight settled (before start)"
    assert d.execute_script(label, "step_on", 229.0, None) == "step on (before start)"
    # 240 bpm: a cue every second, 8 count-in beats (settle_s 2 s), 2 + 2 × 1 + 1 s recorded
    assert d.find_element(By.ID, "run").get_attribute("data-duration") == "5.0"
    d.find_element(By.ID, "start").click()
    wait_for(lambda: d.find_element(By.ID, "result").is_displayed(), timeout=30, what="trial result")
    shot(d, "08-step-down-result")
    sent = d.execute_script("return window.stepplateRun.requestBody")
    cues = sent["cues_s"]
    assert sent["seconds"] == 5 and len(cues) == 2 and cues[1] - cues[0] == pytest.approx(1.0, abs=2e-3)
    url = d.execute_script("return window.stepplateRun.lastResult.url")
    text = d.execute_script("return fetch(arguments[0]).then(function (r) { return r.text(); })",
                            url + "/export.csv?kind=recording")
    # stored on the recording's clock: stream time minus the trial's first sample (stream_t0_s)
    t0 = float(next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("# stream_t0_s: ")))
    stored = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("# cues_s: "))
    assert [float(c) for c in stored.split(",")] == pytest.approx([c - t0 for c in cues], abs=2e-4)
    assert 0 < float(stored.split(",")[0]) < 5


@pytest.mark.soak
# landscape at full length: tests/system/test_acceptance.py
@pytest.mark.parametrize("size", [(768, 1024)], ids=["portrait"])
def test_every_protocol_is_scored_on_a_tablet(server, browser, size):
    """A tablet in each orientation walks every protocol kind on the simulated plate (the virtual
    person does each test) to a scored result card; Start is on screen before the trial and the
    result after it; no console error. Screenshots of each result card: test-artifacts/dashboard."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    d = browser
    d.set_window_size(*size)
    create_admin(d, server, PASSWORD)
    patient_url = new_patient(d, server, "TAB-01", 70, involved_side="left")
    walks = [("sls_quick", "left"), ("qs_quick", "both"), ("lsd_walk", "right"), ("squat_quick", "left"),
             ("landing_quick", "right")]
    for pid, side in walks:
        d.get(patient_url)
        Select(d.find_element(By.NAME, "protocol")).select_by_value(pid)
        d.find_element(By.ID, "start-session").click()
        wait_for(lambda: "/run" in d.current_url, what=f"{pid} run page")
        if side != "both":
            d.get(d.current_url.split("?")[0] + f"?side={side}")
        wait_for(lambda: d.execute_script("return window.stepplateRun && window.stepplateRun.samplesSeen"),
                 what="live samples")
        start = d.find_element(By.ID, "start")
        assert in_viewport(d, start), f"{pid}: Start is not on screen at {size}"
        start.click()
        wait_for(lambda: d.find_element(By.ID, "result").is_displayed(), timeout=60, what=f"{pid} result")
        state = d.find_element(By.ID, "analysis-state")
        d.execute_script("arguments[0].scrollIntoView({block: 'center'})", state)
        assert state.text == "Scored", (pid, state.text)
        rows = d.find_elements(By.CSS_SELECTOR, "#result-table tr")
        assert 1 <= len(rows) <= 5, (pid, [r.text for r in rows])           # the headline, not 90 numbers
        assert all("_" not in r.text for r in rows)                         # clinical labels, no internal names
        shot(d, f"card-{size[0]}x{size[1]}-{pid}")
        if pid == "landing_quick":                                 # the landing's force picture
            d.get(server + d.execute_script("return window.stepplateRun.lastResult.url"))
            wait_for(lambda: d.find_element(By.ID, "force").get_attribute("data-drawn") == "landing",
                     what="landing force picture")
            d.execute_script("document.getElementById('force').scrollIntoView({block: 'center'})")
            shot(d, f"landing-force-{size[0]}x{size[1]}")
    # a programme from the patient page; the training page keeps Start on screen, set or not
    d.get(patient_url)
    d.find_element(By.ID, "patient-programmes").click()
    wait_for(lambda: d.find_elements(By.ID, "assign"), what="programme assignment")
    d.find_element(By.CSS_SELECTOR, "#assign button[type=submit]").click()
    train = wait_for(lambda: [a for a in d.find_elements(By.TAG_NAME, "a")
                              if (a.get_attribute("href") or "").endswith("/train")], what="programme page")
    train[0].click()
    start = wait_for(lambda: d.find_element(By.ID, "start"), what="training page")
    assert in_viewport(d, start), f"training: Start is not on screen at {size}"
    start.click()
    wait_for(lambda: d.find_element(By.ID, "clock").text not in ("0", ""), what="the set running")
    d.find_element(By.ID, "stop").click()
    wait_for(lambda: "Saved" in d.find_element(By.ID, "result").text, timeout=30, what="a stored set")
    assert in_viewport(d, d.find_element(By.ID, "start")), f"training: the panel left the screen at {size}"
    shot(d, f"training-{size[0]}x{size[1]}")
    errors = [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors



@pytest.fixture
def history_server(tmp_path):
    """The app on waitress with the older demo patient's mCTSIB sessions (no plate needed)."""
    from waitress.server import create_server

    from dashboard import create_app
    from dashboard.demo_history import seed_older_patient
    app = create_app({"SECRET_KEY": "browser-test", "INSTANCE_PATH": str(tmp_path / "inst"),
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'clinic.db'}"})
    pid = seed_older_patient(app)
    srv = create_server(app, host="127.0.0.1", port=0, threads=4)
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    try:
        yield f"http://127.0.0.1:{srv.effective_port}", pid
    finally:
        srv.close()


@pytest.mark.parametrize("size", [(1024, 768), (390, 844)], ids=["tablet", "phone"])
def test_reference_values_on_a_tablet(history_server, browser, size):
    """The older demo patient's percentile bands: one line per condition at a glance, the
    session's card (one row per condition, why the others are not compared one tap away), the
    trial's card; nothing wider than the screen; the year of birth edited on the form decides
    whether a percentile is shown at all."""
    from selenium.webdriver.common.by import By
    base, pid = history_server
    d = browser
    d.set_window_size(*size)
    create_admin(d, base, PASSWORD)
    fits = "return document.documentElement.scrollWidth <= window.innerWidth"
    d.get(f"{base}/patients/{pid}")
    lines = d.find_elements(By.CSS_SELECTOR, "#at-a-glance .reference-line")
    texts = [ln.text for ln in lines]
    assert len(texts) == 4 and all(t.startswith(("Among people aged 70+: ", "No measure compared")) for t in texts)
    assert any("percentile" in t for t in texts), texts
    assert d.execute_script(fits), f"patient page wider than the screen at {size}"
    sessions = [a.get_attribute("href") for a in d.find_elements(By.CSS_SELECTOR, ".timeline a")]
    d.get(sessions[0])
    card = d.find_element(By.ID, "reference-values")
    d.execute_script("arguments[0].scrollIntoView({block: 'start'})", card)
    rows = card.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) == 4 and all("percentile" in r.text for r in rows), [r.text for r in rows]
    why = card.find_element(By.CSS_SELECTOR, "details.why")
    assert not why.find_element(By.TAG_NAME, "ul").is_displayed()
    why.find_element(By.TAG_NAME, "summary").click()
    wait_for(lambda: why.find_element(By.TAG_NAME, "ul").is_displayed(), what="why the others are not compared")
    assert "percentile points" in why.text
    wide = d.execute_script("return [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 8).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right))")
    assert d.execute_script(fits), f"session page wider than the screen at {size}: {wide}"
    shot(d, f"reference-session-{size[0]}x{size[1]}")
    trial = d.find_element(By.CSS_SELECTOR, "table.list a").get_attribute("href")
    d.get(trial)
    tcard = d.find_element(By.ID, "reference-values")
    assert "percentile" in tcard.text and d.execute_script(fits)
    shot(d, f"reference-trial-{size[0]}x{size[1]}")
    # no year of birth: the card asks for it instead of showing a percentile
    d.get(f"{base}/patients/{pid}/edit")
    field = d.find_element(By.NAME, "birth_year")
    field.clear()
    d.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for(lambda: "/edit" not in d.current_url, what="patient saved")
    d.get(sessions[0])
    note = d.find_element(By.ID, "reference-values-note")
    assert "year of birth" in note.text
    assert not console_errors(d)
