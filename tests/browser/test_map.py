"""The common operating picture in a real browser: sign in, see the scenario's conflicts, declare by drawing and
watch the conflict reach the other party's browser live, acknowledge it, edit and cancel, work on a phone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from deconfliction.domain.covering import growth_bound_m
from tests.browser.conftest import PHONE, Channel

pytestmark = pytest.mark.slow


# how far from its marker a conflict with a declaration hidden at the default 1 km precision may lie, as the page
# writes distances (dom.js)
UNCERTAIN = f"{growth_bound_m(1000.0) / 1000:.2f} km"


def conflict_items(page: Page, other: str):  # type: ignore[no-untyped-def]
    title = page.locator(".title").filter(has_text=re.compile(rf":\s*{other}$"))
    return page.locator("#conflicts li").filter(has=title)


def test_sign_in_shows_the_scenarios_conflicts_on_an_offline_map(channel: Channel) -> None:
    page = channel.signed_in("sdf")
    # The panel lists each open conflict with the other party and the distances; the map labels them.
    expect(conflict_items(page, "saa").first).to_be_visible()
    expect(conflict_items(page, "coalition").first).to_be_visible()
    # saa's city is hidden from sdf: compared as its covering, the conflict is drawn as the area it may lie in
    hidden = f"closer than the 5.00 km required (at least 0 m apart); within {UNCERTAIN} of the marker"
    expect(page.locator("#conflicts li").filter(has_text=hidden)).to_have_count(1)
    expect(page.locator(".conflict-label").filter(has_text=f"< 5.00 km (± {UNCERTAIN})")).to_have_count(1)
    expect(page.locator("path.conflict-area")).not_to_have_count(0)
    expect(page.locator("#count-conflicts")).not_to_have_text("")
    # The basemap is drawn from files this server serves: countries and the Euphrates.
    expect(page.locator(".leaflet-basemap-pane path")).not_to_have_count(0)
    expect(page.get_by_role("group", name="Legend")).to_be_visible()
    # The agreed line, the party's own declarations and the one shared with it (the coalition's) are drawn.
    expect(page.locator(".leaflet-overlay-pane path")).not_to_have_count(0)
    page.get_by_role("tab", name="Declarations").click()
    expect(page.locator("#own-declarations li")).to_have_count(3)
    expect(page.locator("#other-declarations li")).to_have_count(1)
    expect(page.locator("#other-declarations")).to_contain_text("Coalition close air support")
    channel.shot(page, "signed-in")


def test_a_wrong_token_is_refused_with_what_to_do(channel: Channel) -> None:
    page = channel.page()
    page.goto(channel.url + "/")
    page.get_by_label("Token").fill("dcf_not-a-token-of-this-channel-000000")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not known to this channel")
    expect(page.locator("#app")).to_be_hidden()


def test_the_need_to_know_holds_on_the_map(channel: Channel) -> None:
    """saa conflicts with sdf's offensive but may not see its shape: it learns the conflict, not the geometry."""
    page = channel.signed_in("saa")
    expect(conflict_items(page, "sdf").first).to_be_visible()
    page.get_by_role("tab", name="Declarations").click()
    shared = page.locator("#other-declarations")
    expect(shared).to_contain_text("Field hospital")  # audience "all"
    expect(shared).not_to_contain_text("Jazeera Storm")  # audience ["coalition"]
    expect(shared).not_to_contain_text("East-bank advance")


def draw_circle_at_map_centre(page: Page, radius_px: int) -> None:
    expect(page.locator("#map.leaflet-zoom-anim")).to_have_count(0)  # the map has stopped moving
    page.wait_for_function("() => !document.querySelector('.leaflet-pan-anim, .leaflet-zoom-anim')")
    box = page.locator("#map").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.get_by_role("button", name="Draw a point with a radius").click()
    page.mouse.click(x, y)
    page.mouse.move(x + radius_px / 2, y)
    page.mouse.move(x + radius_px, y)
    page.mouse.click(x + radius_px, y)


def test_a_drawn_declaration_reaches_the_other_partys_browser_live_and_is_acknowledged(channel: Channel) -> None:
    sdf = channel.signed_in("sdf")
    saa = channel.signed_in("saa")
    before = conflict_items(sdf, "saa").count()

    # The Syrian army declares a firing position right on the SDF's field hospital (shared with every party).
    saa.get_by_role("tab", name="Declarations").click()
    saa.locator("#other-declarations li").filter(has_text="Field hospital").get_by_role("button").click()
    expect(saa.locator(".leaflet-popup")).to_contain_text("site of sdf")
    draw_circle_at_map_centre(saa, 40)
    expect(saa.get_by_label("Name", exact=True)).to_be_focused()
    saa.get_by_label("Name", exact=True).fill("Artillery position, Al-Busayrah road")
    saa.get_by_label("Kind", exact=True).select_option("site")
    saa.get_by_label("Start (UTC)").fill("2017-09-12T06:00")
    saa.get_by_label("End (UTC)").fill("2017-09-14T18:00")
    saa.get_by_label("Every party").check()
    channel.shot(saa, "drawn")
    saa.get_by_role("button", name="Declare").click()
    expect(saa.locator("#toast")).to_contain_text(re.compile(r"\d+ conflicts?: see the Conflicts panel"))
    mine = conflict_items(saa, "sdf").filter(has_text="Artillery position")
    expect(mine.filter(has_text="Too close").filter(has_text="against sdf's “Field hospital")).to_have_count(1)

    # Without reloading, the SDF's browser shows the new conflict and the new shape.
    expect(conflict_items(sdf, "saa")).not_to_have_count(before)
    sdf.get_by_role("tab", name="Declarations").click()
    expect(sdf.locator("#other-declarations")).to_contain_text("Artillery position")
    sdf.get_by_role("tab", name="Conflicts").click()
    channel.shot(sdf, "conflict-arrived")

    # The SDF acknowledges: "we have seen it", never "we approve"; the SAA's browser learns it was seen.
    new = conflict_items(sdf, "saa").filter(has_text="Too close").filter(has_text="Field hospital")
    new.get_by_role("button", name="Acknowledge the conflict with saa").click()
    expect(sdf.locator("#conflicts li.acknowledged").filter(has_text="Field hospital")).to_have_count(1)
    expect(mine.filter(has_text="Too close").filter(has_text="Field hospital")).to_contain_text("seen by sdf")
    channel.shot(sdf, "acknowledged")


def test_edit_and_cancel_a_declaration(channel: Channel) -> None:
    sdf = channel.signed_in("sdf")
    coalition = channel.signed_in("coalition")
    expect(conflict_items(coalition, "sdf").filter(has_text="Coalition close air")).not_to_have_count(0)

    sdf.get_by_role("tab", name="Declarations").click()
    sdf.locator("#own-declarations li").filter(has_text="Field hospital").get_by_role("button").click()
    sdf.locator(".leaflet-popup").get_by_role("button", name="Edit").click()
    expect(sdf.locator("#form-title")).to_contain_text("Edit")
    sdf.get_by_label("Name", exact=True).fill("Field hospital, Al-Busayrah road (moved to the school)")
    sdf.get_by_role("button", name="Save changes").click()
    expect(sdf.locator("#own-declarations")).to_contain_text("moved to the school")

    sdf.locator("#own-declarations li").filter(has_text="moved to the school").get_by_role("button").click()
    sdf.locator(".leaflet-popup").get_by_role("button", name="Edit").click()
    sdf.once("dialog", lambda dialog: dialog.accept())
    sdf.get_by_role("button", name="Cancel declaration").click()
    expect(sdf.locator("#own-declarations")).not_to_contain_text("Field hospital")
    # The coalition's conflict with the hospital is resolved in its browser, live.
    coalition.get_by_label("Show resolved").check()
    expect(coalition.locator("#conflicts li.resolved").filter(has_text="sdf")).not_to_have_count(0)


def test_bad_input_in_the_form_is_explained_and_nothing_is_written(channel: Channel) -> None:
    sdf = channel.signed_in("sdf")
    draw_circle_at_map_centre(sdf, 30)
    sdf.get_by_label("Name", exact=True).fill("Backwards in time")
    sdf.get_by_label("Start (UTC)").fill("2017-09-12T06:00")
    sdf.get_by_label("End (UTC)").fill("2017-09-11T06:00")
    sdf.get_by_role("button", name="Declare").click()
    expect(sdf.locator("#form-error")).to_contain_text("end")
    expect(sdf.locator("#own-declarations")).not_to_contain_text("Backwards in time")


def test_usable_on_a_phone(channel: Channel) -> None:
    page = channel.signed_in("sdf", viewport=PHONE)
    expect(conflict_items(page, "saa").first).to_be_visible()
    expect(page.get_by_label("Show at (UTC)")).to_be_hidden()  # the time filter and the legend fold away
    page.get_by_text("Time", exact=True).click()
    expect(page.get_by_label("Show at (UTC)")).to_be_visible()
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone: {width} px"
    page.get_by_role("tab", name="Messages").click()
    expect(page.get_by_role("button", name="Compose")).to_be_visible()
    channel.shot(page, "phone")


def test_signing_in_and_moving_between_panels_by_keyboard(channel: Channel) -> None:
    page = channel.page()
    page.goto(channel.url + "/")
    expect(page.get_by_label("Token")).to_be_focused()
    page.keyboard.type(channel.token("coalition"))
    page.keyboard.press("Enter")
    expect(page.locator("#who")).to_contain_text("(coalition)")
    page.get_by_role("tab", name=re.compile("^Conflicts")).focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Declarations")).to_be_focused()
    expect(page.get_by_role("tabpanel", name="Declarations")).to_be_visible()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tabpanel", name=re.compile("^Messages"))).to_be_visible()
    for name in ("Draw a point with a radius", "Draw a line or route", "Draw an area"):
        expect(page.get_by_role("button", name=name)).to_have_attribute("tabindex", "0")


def test_the_map_shows_what_is_active_at_a_chosen_time(channel: Channel) -> None:
    page = channel.signed_in("sdf")
    labels = page.locator(".conflict-label")
    expect(labels.filter(has_text=f"< 5.00 km (± {UNCERTAIN})")).to_have_count(1)  # 9–20 September
    page.get_by_label("Show at (UTC)").fill("2017-10-01T12:00")
    page.get_by_label("Show at (UTC)").dispatch_event("change")
    # On 1 October the offensive on the city is over; the east-bank advance (22 Sept – 10 Nov) goes on.
    expect(page.locator("#at-count")).to_have_text("2 of 4 active then")
    expect(labels.filter(has_text=f"< 5.00 km (± {UNCERTAIN})")).to_have_count(0)
    expect(labels.filter(has_text="880 m / 500 m")).to_have_count(1)  # across the agreed line
    channel.shot(page, "at-time")
    page.get_by_role("button", name="All times").click()
    expect(labels.filter(has_text=f"< 5.00 km (± {UNCERTAIN})")).to_have_count(1)


def test_live_tracks_move_on_the_map(channel: Channel) -> None:
    page = channel.signed_in("sdf")

    def report(lon: float, t: datetime) -> None:
        with channel.server.client(channel.token("sdf")) as client:
            fix = {
                "t": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "lon": lon,
                "lat": 35.37,
                "speed_mps": 12.0,
                "course_deg": 90.0,
            }
            assert client.post("/v1/tracks/sdf-convoy-9/positions", json=[fix]).status_code in (200, 202)

    now = datetime.now(UTC)
    report(40.27, now - timedelta(minutes=4))
    label = page.locator(".track-label").filter(has_text="sdf-convoy-9")
    expect(label).to_contain_text("43 km/h")
    before = label.bounding_box()
    assert before is not None
    report(40.30, now)  # 2.7 km east, 4 minutes on: the marker follows, without a reload
    page.wait_for_function(
        "(x) => { const el = [...document.querySelectorAll('.track-label')].find((e) => e.textContent.includes("
        "'sdf-convoy-9')); return el && el.getBoundingClientRect().x > x + 5; }",
        arg=before["x"],
    )


def test_a_declaration_from_typed_coordinates_without_a_mouse(channel: Channel) -> None:
    """A field team reads a GPS position out; a keyboard user cannot draw: both type coordinates."""
    page = channel.signed_in("coalition")
    page.get_by_role("tab", name="Declarations").click()
    page.get_by_role("button", name="New declaration from coordinates").click()
    coords = page.get_by_label("Coordinates (lat, lon", exact=False)
    expect(coords).to_be_focused()
    coords.fill("35.3352 40.1405\nnot a point")
    page.get_by_label("Name", exact=True).fill("Forward air controller, Deir ez-Zor")
    page.get_by_role("button", name="Declare").click()
    expect(page.locator("#form-error")).to_contain_text('line 2: write "lat, lon"')
    coords.fill("35.3352, 40.1405")
    page.get_by_label("Start (UTC)").fill("2017-09-10T00:00")
    page.get_by_label("End (UTC)").fill("2017-09-11T00:00")
    page.get_by_label("Radius (m)").fill("800")
    page.get_by_role("button", name="Declare").click()
    expect(page.locator("#own-declarations")).to_contain_text("Forward air controller")
    with channel.server.client(channel.token("coalition")) as client:
        found = client.get("/v1/declarations", params={"party": "coalition"}).json()["features"]
    typed = next(f for f in found if f["properties"]["name"].startswith("Forward air controller"))
    assert typed["geometry"] == {"type": "Point", "coordinates": [40.1405, 35.3352]}
    assert typed["properties"]["radius_m"] == 800


def test_a_timed_route_from_typed_coordinates(channel: Channel) -> None:
    page = channel.signed_in("sdf")
    page.get_by_role("tab", name="Declarations").click()
    page.get_by_role("button", name="New declaration from coordinates").click()
    page.get_by_label("Coordinates (lat, lon", exact=False).fill("35.10, 40.60\n35.02, 40.45\n34.92, 40.59")
    page.get_by_label("Name", exact=True).fill("Medical convoy to Al-Mayadin")
    page.get_by_label("Kind", exact=True).select_option("route")
    expect(page.get_by_label("Speed (m/s) for a timed route")).to_be_visible()
    page.get_by_label("Speed (m/s) for a timed route").fill("10")
    page.get_by_label("Start (UTC)").fill("2017-09-12T06:00")
    page.get_by_label("End (UTC)").fill("2017-09-12T18:00")
    page.get_by_role("button", name="Declare").click()
    expect(page.locator("#own-declarations")).to_contain_text("Medical convoy to Al-Mayadin")
    with channel.server.client(channel.token("sdf")) as client:
        found = client.get("/v1/declarations", params={"party": "sdf"}).json()["features"]
    route = next(f for f in found if f["properties"]["name"] == "Medical convoy to Al-Mayadin")
    assert route["geometry"]["type"] == "LineString" and len(route["geometry"]["coordinates"]) == 3
    assert route["properties"]["speed_mps"] == 10
