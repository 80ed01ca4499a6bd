"""Labelled, keyboard-usable controls, checked by axe-core (the npm package, from web/node_modules) on each panel
of the signed-in page and on the sign-in form, at a laptop's size and a phone's."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import LAPTOP, PHONE, ROOT, Channel

pytestmark = pytest.mark.slow

AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = {"serious", "critical"}


def violations(page: Page) -> list[dict[str, Any]]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make install` (npm ci in web/)")
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [v for v in found if v["impact"] in SERIOUS]


def describe(found: list[dict[str, Any]]) -> str:
    return "\n".join(f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}" for v in found)


def test_the_sign_in_form_has_no_serious_accessibility_violation(channel: Channel) -> None:
    page = channel.page(bypass_csp=True)  # axe is injected as an inline script, which the page's CSP refuses
    page.goto(channel.url + "/")
    found = violations(page)
    assert not found, describe(found)


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_every_panel_has_no_serious_accessibility_violation(channel: Channel, viewport: dict[str, int]) -> None:
    page = channel.signed_in("sdf", viewport=viewport, bypass_csp=True)
    for tab in ("Conflicts", "Declarations", "Messages", "Parties", "Import/Export"):
        page.get_by_role("tab", name=tab, exact=False).first.click()
        found = violations(page)
        assert not found, f"{tab}:\n{describe(found)}"
    page.get_by_role("tab", name="Declarations").click()
    page.get_by_role("button", name="New declaration from coordinates").click()
    found = violations(page)
    assert not found, f"the declaration form:\n{describe(found)}"
