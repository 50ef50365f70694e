"""The web app served for real (uvicorn on a free loopback port), and a headless Chromium
for the browser tests (skipped without it, failing under CI=true)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import pytest

from jobledger import Tracker
from jobledger.entrypoints.web.server import BackgroundServer
from jobledger.web import create_app

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

Serve = Callable[..., AbstractContextManager[httpx.Client]]


@pytest.fixture
def token() -> str:
    """The token of the apps under test."""
    return TOKEN


@pytest.fixture
def auth() -> dict[str, str]:
    """Headers carrying the token."""
    return AUTH


@pytest.fixture
def tracker() -> Iterator[Tracker]:
    with Tracker.open("memory://") as tracker:
        yield tracker


@pytest.fixture
def serve() -> Serve:
    """`serve(app)`: an httpx client on `app` served by uvicorn, for the `with` block."""

    @contextmanager
    def served(app: Any) -> Iterator[httpx.Client]:
        with BackgroundServer(app) as server, httpx.Client(base_url=server.url) as client:
            yield client

    return served


@pytest.fixture
def api(tracker: Tracker, serve: Serve) -> Iterator[httpx.Client]:
    """A client on the app over `tracker`, with writes enabled by `TOKEN`."""
    with serve(create_app(tracker, token=TOKEN)) as client:
        yield client


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium driven by Selenium through Debian's chromium-driver."""
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    profile = tempfile.mkdtemp(prefix="jobledger-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--user-data-dir={profile}",
        "--window-size=1280,1000",
    ):
        options.add_argument(argument)  # fmt: skip
    try:
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
    except (WebDriverException, OSError) as error:
        shutil.rmtree(profile, ignore_errors=True)
        reason = f"browser tests NOT RUN: headless Chromium did not start: {error}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
