"""Headless Chromium for the review page's tests: Debian's `chromium` driven by Playwright through
`executable_path` (no browser is ever downloaded). Missing locally: the test is skipped with the
reason; with CI=true it fails (.ci/run installs both)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("DSC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"  # screenshots of a run (not committed)


def unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must run; .ci/run installs chromium and playwright)")
    pytest.skip(reason)


def launch(playwright):
    """A headless Chromium of the system's package."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True)


@pytest.fixture(scope="module")
def chromium():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install 'datastation[test]')")
    if not Path(CHROMIUM).is_file():
        unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            yield browser
        finally:
            browser.close()


def shots(name: str) -> Path:
    folder = ARTIFACTS / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def expect(target):
    """Playwright's `expect` (imported here: a test module loads without playwright, and skips)."""
    from playwright.sync_api import expect as _expect

    return _expect(target)
