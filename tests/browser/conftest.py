"""The map page in a real browser: Debian's Chromium (/usr/bin/chromium) driven by Playwright, against a real
`deconf serve` process loaded with the Deir ez-Zor scenario over HTTP.

Screenshots of each step are kept in test-artifacts/browser/ (not committed). No browser is downloaded: a missing
Chromium fails the run and says how to install it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from deconfliction import demo
from tests.e2e.conftest import E2E_ADMIN, ROOT, Server, start_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "browser"
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


# Module scope, not session: Playwright's sync API keeps an event loop running in the main thread while it is open,
# and later tests call asyncio.run() there.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            "Chromium is missing: run `make test` (it installs Debian's chromium) or `apt-get install chromium`"
        )
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
    yield browser
    browser.close()


@dataclass
class Channel:
    """A served channel with the scenario loaded, and the pages opened on it."""

    server: Server
    loaded: demo.Loaded
    browser: Browser
    name: str
    contexts: list[BrowserContext] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def token(self, party: str) -> str:
        return self.loaded.tokens[party]

    def page(self, viewport: dict[str, int] | None = None, bypass_csp: bool = False) -> Page:
        context = self.browser.new_context(viewport=viewport or LAPTOP, accept_downloads=True, bypass_csp=bypass_csp)
        self.contexts.append(context)
        page = context.new_page()
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on(
            "console",
            lambda m: print(f"[{self.name} console {m.type}] {m.text}") if m.type in ("warning", "error") else None,
        )
        page.set_default_timeout(10_000)
        return page

    def signed_in(self, party: str, viewport: dict[str, int] | None = None, bypass_csp: bool = False) -> Page:
        page = self.page(viewport, bypass_csp)
        page.goto(self.url + "/")
        page.get_by_label("Token").fill(self.token(party))
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#who")).to_contain_text(f"({party})")
        expect(page.locator("#live")).to_have_text("live")
        return page

    def shot(self, page: Page, step: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{step}.png"
        page.screenshot(path=str(path))
        return path


@pytest.fixture
def channel(tmp_path: Path, browser: Browser, request: pytest.FixtureRequest) -> Iterator[Channel]:
    server = start_server(tmp_path, extra_env={"DECONF_SSE_HEARTBEAT_S": "2"})
    try:
        loaded = demo.load(server.url, E2E_ADMIN)
        demo.agree_line(server.url, loaded)
        name = re.sub(r"[^a-z0-9_-]+", "-", request.node.name.lower())
        ch = Channel(server, loaded, browser, name)
        yield ch
        for context in ch.contexts:
            context.close()
        assert not ch.errors, f"the page raised: {ch.errors}"
        outside = [u for u in ch.requests if not (u.startswith(server.url) or u.startswith(("data:", "blob:")))]
        assert not outside, f"the page fetched from outside this server (it must work offline): {outside[:5]}"
    finally:
        server.stop()
