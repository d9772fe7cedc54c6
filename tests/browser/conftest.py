"""The browser for tests/browser: Debian's Chromium, headless, driven by Playwright.

Without Chromium or the playwright package the tests are skipped, except under CI (the CI
variable set), where they fail: CI installs both (apt-get install chromium; pip install
playwright).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .support import BrowserThread, missing_browser


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserThread]:
    missing = missing_browser()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run: {missing}")
        pytest.skip(missing)
    thread = BrowserThread(tmp_path_factory.mktemp("chromium-profile"))
    thread.start()
    yield thread
    thread.stop()
