"""A real browser for the console tests: Debian's chromium, driven by Playwright.

Playwright's own browser download does not work here; `make test` installs
Debian's chromium (Makefile: system-deps) and the tests launch it by path.
Screenshots go to test-artifacts/browser/ (gitignored), one per test step
worth seeing, so a failed run can be looked at afterwards.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags chromium tries to reach Google's
# services and, on a closed network, its connections are refused.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Module scope, not session: while Playwright's sync API runs, this thread has
# a running event loop, and every later test that calls asyncio.run() fails.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make system-deps` installs Debian's chromium")
    with sync_playwright() as driver:
        yield driver


def _context(
    playwright: Playwright, tmp: Path, *, width: int = 1280, javascript: bool = True
) -> BrowserContext:
    return playwright.chromium.launch_persistent_context(
        str(tmp),  # a fresh profile every time
        executable_path=CHROMIUM,
        headless=True,
        args=ARGS,
        viewport={"width": width, "height": 900},
        java_script_enabled=javascript,
    )


@pytest.fixture
def page(playwright: Playwright, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    """A desktop page (1280 px wide) with JavaScript."""
    profile = tmp_path_factory.mktemp("profile")
    context = _context(playwright, profile)
    try:
        yield context.new_page()
    finally:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def phone(playwright: Playwright, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    """A phone-sized page (390 px wide) without JavaScript."""
    profile = tmp_path_factory.mktemp("profile")
    context = _context(playwright, profile, width=390, javascript=False)
    try:
        yield context.new_page()
    finally:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)
