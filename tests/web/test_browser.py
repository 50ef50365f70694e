"""The dashboard in a real headless Chromium: a job made through the API, names shown as
text, a report from another process appearing live, the cancel button, a screenshot."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from jobledger import Tracker
from jobledger.entrypoints.demo import GROUPS
from jobledger.entrypoints.web.server import BackgroundServer
from jobledger.web import create_app

XSS = "<img src=x onerror=alert(1)>"
REPORT = (
    "import sys; from jobledger import Tracker; Tracker.open(sys.argv[1]).complete(*sys.argv[2:])"
)
COUNT_STREAMED_CHANGES = """
window.streamedChanges = 0;
window.EventSource = class extends window.EventSource {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", () => { window.streamedChanges += 1; });
  }
};
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[str, Tracker]]:
    url = f"file:{tmp_path / 'store'}"
    with Tracker.open(url) as tracker:
        yield url, tracker


def no_alert(browser: Any) -> bool:
    try:
        browser.switch_to.alert.dismiss()
    except NoAlertPresentException:
        return True
    return False


def wait(browser: Any, seconds: float) -> WebDriverWait[Any]:
    """A wait that looks again when the page swapped the element out meanwhile."""
    return WebDriverWait(browser, seconds, 0.05, (StaleElementReferenceException,))


def text(browser: Any, css: str) -> str:
    """The text shown in the element `css` selects, read at once (regions are swapped live)."""
    return str(browser.execute_script("return document.querySelector(arguments[0]).innerText", css))


def streamed(browser: Any) -> int:
    """How many messages the page's event streams have brought (COUNT_STREAMED_CHANGES)."""
    return int(browser.execute_script("return window.streamedChanges"))


def test_a_job_made_through_the_api_shows_as_text_and_updates_live(
    browser: Any, store: tuple[str, Tracker], token: str, auth: dict[str, str]
) -> None:
    url, tracker = store
    counting = browser.execute_cdp_cmd(  # in every page from now on, before its own scripts
        "Page.addScriptToEvaluateOnNewDocument", {"source": COUNT_STREAMED_CHANGES}
    )
    try:
        with BackgroundServer(create_app(tracker, token=token)) as server:
            created = httpx.post(f"{server.url}/api/jobs", headers=auth,
                                 json={"components": [XSS, "b"], "name": XSS})  # fmt: skip
            job = created.json()["job_id"]
            browser.get(f"{server.url}/")
            assert XSS in text(browser, "#jobs tbody")
            assert no_alert(browser)
            browser.get(f"{server.url}/jobs/{job}")
            assert text(browser, "h1") == XSS
            assert not browser.find_elements(By.CSS_SELECTOR, "main img")
            assert no_alert(browser)
            browser.execute_script("window.notReloaded = true")
            wait(browser, 10).until(lambda b: streamed(b) >= 1)  # the summary on connecting
            before = streamed(browser)
            subprocess.run([sys.executable, "-c", REPORT, url, job, XSS], check=True, timeout=30)
            wait(browser, 10).until(lambda b: "completed 1" in text(b, "#summary"))
            assert streamed(browser) > before  # brought by the stream, not by polling
            assert browser.execute_script("return window.notReloaded") is True
            assert no_alert(browser)
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", counting)


def test_the_cancel_button_works_with_writes_and_is_absent_without(
    browser: Any, store: tuple[str, Tracker], token: str
) -> None:
    _, tracker = store
    job = tracker.create_job(["a"], name="to cancel")
    with BackgroundServer(create_app(tracker)) as server:
        browser.get(f"{server.url}/jobs/{job}")
        assert text(browser, "#overall") == "pending"
        assert not browser.find_elements(By.ID, "cancel")
    with BackgroundServer(create_app(tracker, token=token)) as server:
        browser.get(f"{server.url}/jobs/{job}")
        browser.find_element(By.NAME, "token").send_keys(token)
        browser.find_element(By.NAME, "reason").send_keys("<b>not needed</b>")
        browser.find_element(By.CSS_SELECTOR, "#cancel button").click()
        wait(browser, 5).until(lambda b: text(b, "#overall") == "cancelled")
        assert "<b>not needed</b>" in text(browser, "#summary")
    assert tracker.summary(job).cancel_reason == "<b>not needed</b>"


def test_a_screenshot_of_the_demo_job(
    browser: Any, store: tuple[str, Tracker], tmp_path: Path
) -> None:
    """Saved to $JOBLEDGER_SCREENSHOT when set (docs/web.md: remaking docs/dashboard.png),
    else to a scratch directory."""
    _, tracker = store
    names = [name for group in GROUPS.values() for name in group]
    job = tracker.create_job(names, name="import images")
    for name in GROUPS["download"] + GROUPS["resize"][:60]:
        tracker.complete(job, name)
    for name in GROUPS["resize"][60:70]:
        tracker.start(job, name, progress=0.5)
    tracker.report(job, "resize-071", "retrying", message="timed out; retrying")
    with BackgroundServer(create_app(tracker)) as server:
        browser.get(f"{server.url}/jobs/{job}")
        assert text(browser, "#overall") == "in_progress"
        path = Path(os.environ.get("JOBLEDGER_SCREENSHOT") or tmp_path / "dashboard.png")
        assert browser.save_screenshot(str(path))
        assert path.stat().st_size > 10_000
