"""The real browser of the web tests: Debian's Chromium driven by Playwright, one per test module."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
HAVE_CHROMIUM = CHROMIUM.exists() and shutil.which("chromium") is not None
needs_chromium = pytest.mark.skipif(not HAVE_CHROMIUM, reason="Debian's chromium is not installed")


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium, closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
