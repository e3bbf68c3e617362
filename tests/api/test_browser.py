"""The dashboard in a real headless Chromium (Debian's chromium + chromedriver, driven by Selenium):
log in, see an intersection's live phase change, activate a plan with confirmation, see the audit entry."""

from __future__ import annotations

import os
import shutil

import httpx
import pytest

from tests.api.conftest import plan_body
from tests.api.server import Server, greenwave, wait_for

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path):
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,1100", f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_operator_dashboard(browser, tmp_path):
    from selenium.webdriver.common.by import By

    db = f"sqlite:///{tmp_path / 'gw.db'}"
    assert greenwave("users", "create", "olga", "--role", "operator", "--password-stdin", "--db", db,
                     stdin="operator-pass\n").returncode == 0
    server = Server(db, scenario=str(fast_arterial(tmp_path))).start()
    try:
        op = server.token("olga", "operator-pass")
        browser.get(server.url + "/")
        browser.find_element(By.ID, "login-user").send_keys("olga")
        browser.find_element(By.ID, "login-pass").send_keys("operator-pass")
        browser.find_element(By.ID, "login-btn").click()
        wait_for(lambda: browser.find_element(By.ID, "feed-state").text == "live", what="live feed")
        phase = browser.find_element(By.ID, "phase")
        first = wait_for(lambda: phase.text not in ("", "-") and phase.text, what="a phase")
        wait_for(lambda: phase.text != first, timeout_s=40, what="the live phase to change")
        browser.save_screenshot(os.environ.get("GREENWAVE_SCREENSHOT", str(tmp_path / "dashboard.png")))

        wait_for(lambda: _click(browser, "button.activate[data-plan='greenwave']"), what="the activate button")
        alert = wait_for(lambda: _alert(browser), what="the confirmation")
        assert "greenwave" in alert.text
        alert.accept()
        wait_for(lambda: "takes effect" in browser.find_element(By.ID, "action-msg").text, what="activation")
        wait_for(lambda: "olga activate intersection/I1" in browser.find_element(By.ID, "audit").text,
                 what="the audit entry")
        status = httpx.get(server.url + "/api/v1/intersections/I1/status", headers=op).json()
        assert (status["pending"] or {}).get("plan") == "greenwave" or status["plan"]["name"] == "greenwave"
    finally:
        server.stop()


def test_alarm_of_a_bad_camera_is_shown_and_acknowledged(browser, tmp_path):
    """A camera at I1 (adaptive) reports frozen pictures: the live loop sends I1 to failsafe, the dashboard shows the
    alarm, the operator acknowledges it, and the audit log shows who did."""
    import math
    import time

    from selenium.webdriver.common.by import By

    db = f"sqlite:///{tmp_path / 'gw.db'}"
    assert greenwave("users", "create", "olga", "--role", "operator", "--password-stdin", "--db", db,
                     stdin="operator-pass\n").returncode == 0
    cam = greenwave("cameras", "create", "cam-1", "--intersection", "I1", "--db", db)
    assert cam.returncode == 0, cam.stderr
    server = Server(db).start()
    try:
        op = server.token("olga", "operator-pass")
        assert httpx.put(server.url + "/api/v1/intersections/I1/mode", json={"mode": "adaptive"}, headers=op,
                         timeout=30).status_code == 200
        browser.get(server.url + "/")
        browser.find_element(By.ID, "login-user").send_keys("olga")
        browser.find_element(By.ID, "login-pass").send_keys("operator-pass")
        browser.find_element(By.ID, "login-btn").click()
        wait_for(lambda: browser.find_element(By.ID, "feed-state").text == "live", what="live feed")
        start_s = math.floor(time.time() / 60.0) * 60.0 - 60.0
        body = {"camera": "cam-1", "batch_id": "frozen-1", "intervals": [
            {"start_s": start_s, "duration_s": 60.0, "health": "frozen", "counts": {"W_I1>I1_I2": {"car": 3}}}]}
        r = httpx.post(server.url + "/api/v1/counts", json=body, headers={"X-API-Key": cam.stdout.strip()}, timeout=30)
        assert r.status_code == 201, r.text
        wait_for(lambda: "I1 failsafe" in browser.find_element(By.ID, "alarms").text, what="the alarm")
        wait_for(lambda: _click(browser, "button.ack"), what="the acknowledge button")
        # still active (the camera is still frozen), now acknowledged
        wait_for(lambda: "acknowledged by olga" in browser.find_element(By.ID, "alarms").text,
                 what="the acknowledgement")
        wait_for(lambda: "olga alarm_ack alarm/" in browser.find_element(By.ID, "audit").text, what="the audit entry")
        status = httpx.get(server.url + "/api/v1/intersections/I1/status", headers=op, timeout=30).json()
        assert status["effective_mode"] == "failsafe" and "frozen" in status["controller"]["reason"]
    finally:
        server.stop()


def fast_arterial(tmp_path):
    """The arterial with a 22 s program at I1, so that its phase changes within seconds."""
    from dataclasses import replace

    from traffic import schema as S
    from traffic.scenario_io import load_scenario, plan_from_model, save_scenario

    fast = plan_from_model(S.PlanModel(intersection="I1", **plan_body("fast", 6.0, 6.0)), "I1")
    path = tmp_path / "arterial_fast.json"
    sc = load_scenario("arterial")  # 6-s greens: I1 declares no pedestrian crossings (a test rig, not a street)
    sc = replace(sc, intersections={**sc.intersections, "I1": replace(sc.intersections["I1"], crossings=())})
    save_scenario(sc.with_plans({"I1": fast}), path)
    return path


def _click(browser, selector: str) -> bool:
    """Click the first element matching ``selector``; False while it is missing or being re-rendered."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    found = browser.find_elements(By.CSS_SELECTOR, selector)
    if not found:
        return False
    try:
        found[0].click()
    except StaleElementReferenceException:
        return False
    return True


def _alert(browser):
    from selenium.common.exceptions import NoAlertPresentException

    try:
        return browser.switch_to.alert
    except NoAlertPresentException:
        return None
