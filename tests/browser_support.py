"""Headless Chromium for the browser walks (tests/system): the driver, waiting without
timing, screenshots to test-artifacts/ (gitignored; CI keeps them), the viewport check.

Needs the Debian packages ``chromium chromium-driver`` and ``selenium`` (test extras); the
walks skip with the reason otherwise."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from tests import ROOT

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
MISSING = None if CHROMIUM and CHROMEDRIVER else "headless Chromium not installed (apt-get install chromium chromium-driver)"


def make_browser(tmp_path: Path, size=(1280, 800), performance_log: bool = False):
    """A headless Chromium whose console is kept (the walks check it) and whose downloads go
    to ``tmp_path/downloads`` (``drv.downloads``); ``performance_log`` keeps the network
    events too (each response's status: a walk can check that none was a 5xx)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={tmp_path / 'chrome-profile'}", f"--window-size={size[0]},{size[1]}"):
        opts.add_argument(flag)
    logs = {"browser": "ALL"}                                         # the console, checked by the walks
    if performance_log:
        logs["performance"] = "ALL"
        opts.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
    opts.set_capability("goog:loggingPrefs", logs)
    downloads = tmp_path / "downloads"
    downloads.mkdir(exist_ok=True)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    drv.downloads = downloads
    return drv


def shot(drv, name: str, folder: str = "dashboard") -> Path:
    out = ARTIFACTS / folder
    out.mkdir(parents=True, exist_ok=True)
    drv.save_screenshot(str(out / f"{name}.png"))
    return out / f"{name}.png"


def wait_for(cond, timeout=15.0, what="condition"):
    """Poll ``cond`` until it is truthy. An element that went stale or is not there yet (the page
    was navigating while the condition looked at it) counts as "not yet"."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = cond()
        except (StaleElementReferenceException, NoSuchElementException):
            v = None
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def in_viewport(d, el) -> bool:
    return d.execute_script("var r = arguments[0].getBoundingClientRect();"
                            "return r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth;", el)


def console_errors(drv) -> list[str]:
    """The page's JavaScript errors and failed resource loads since the last call."""
    return [e["message"] for e in drv.get_log("browser") if e["level"] == "SEVERE"]


def create_admin(drv, base: str, password: str) -> None:
    """First run: the setup page creates the admin account; ends on the patient list."""
    from selenium.webdriver.common.by import By
    drv.get(base + "/")
    assert "/auth/setup" in drv.current_url, drv.current_url
    drv.find_element(By.NAME, "username").send_keys("admin")
    drv.find_element(By.NAME, "password").send_keys(password)
    drv.find_element(By.NAME, "confirm").send_keys(password)
    drv.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda: "/patients" in drv.current_url, what="patients list")


def new_patient(drv, base: str, code: str, mass_kg: float, **selects) -> str:
    """The new-patient form (``selects``: e.g. involved_side="left", dominant_leg="right");
    returns the patient page's URL."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    drv.get(base + "/patients/new")
    drv.find_element(By.NAME, "code").send_keys(code)
    drv.find_element(By.NAME, "body_mass_kg").send_keys(f"{mass_kg:g}")
    for name, value in selects.items():
        Select(drv.find_element(By.NAME, name)).select_by_value(value)
    drv.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for(lambda: code in drv.find_element(By.TAG_NAME, "h1").text, what=f"patient {code}")
    return drv.current_url
