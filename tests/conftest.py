"""One Chromium per test process for the browser tests (tests/test_book.py and
tests/test_figure_layout.py). Playwright's sync API runs its own event loop in the calling
thread, so a second ``sync_playwright()`` in the same process while the first is open fails
("using Playwright Sync API inside the asyncio loop"); pytest-xdist can give one worker tests
of both modules, so they share this one."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest


def chromium_path() -> str:
    """Debian's Chromium (or ``$ROBUSTREP_CHROMIUM``); fails the test with what to do if absent."""
    path = os.environ.get("ROBUSTREP_CHROMIUM") or shutil.which("chromium")
    assert path, "Debian's chromium is needed (make test installs it; or set ROBUSTREP_CHROMIUM)"
    return path


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()
