"""In the browser: import a Google Earth file by drag and drop (all rows or none), export the picture, and pass a
message through an intermediary who reviews it, acknowledged with a signature made in the browser."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Page, expect

from tests.browser.conftest import Channel

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"
KML = DATA / "deir_ez_zor_google_earth.kml"
KML_TYPE = "application/vnd.google-earth.kml+xml"


def drop_file(page: Page, name: str, text: str, mime: str) -> None:
    """What a user's drag and drop of a file onto the map delivers to the page."""
    transfer = page.evaluate_handle(
        "([name, text, mime]) => { const dt = new DataTransfer();"
        " dt.items.add(new File([text], name, { type: mime })); return dt; }",
        [name, text, mime],
    )
    page.dispatch_event("#map", "dragenter", {"dataTransfer": transfer})
    expect(page.get_by_text("Drop to import")).to_be_visible()
    page.dispatch_event("#map", "drop", {"dataTransfer": transfer})
    expect(page.get_by_text("Drop to import")).to_be_hidden()


def own_names(channel: Channel, party: str) -> list[str]:
    with channel.server.client(channel.token(party)) as client:
        features = client.get("/v1/declarations", params={"party": party}).json()["features"]
    return [f["properties"]["name"] for f in features]


def test_import_a_google_earth_file_by_drag_and_drop(channel: Channel) -> None:
    page = channel.signed_in("sdf")
    placemarks = KML.read_text(encoding="utf-8").count("<Placemark")
    drop_file(page, KML.name, KML.read_text(encoding="utf-8"), KML_TYPE)
    # A dry run first: the rows are listed and nothing is written until the user confirms.
    result = page.locator("#import-result")
    expect(result).to_contain_text(f"{placemarks} rows ready")
    expect(result.locator("tbody tr")).to_have_count(placemarks)
    expect(result).to_contain_text("Al-Assad hospital")
    assert "Al-Assad hospital" not in own_names(channel, "sdf")
    channel.shot(page, "import-preview")
    page.get_by_role("button", name=f"Import {placemarks} declarations").click()
    expect(result).to_contain_text(f"Imported {placemarks} declarations from {KML.name}")
    assert "Al-Assad hospital" in own_names(channel, "sdf")
    page.get_by_role("tab", name="Declarations").click()
    expect(page.locator("#own-declarations")).to_contain_text("Al-Assad hospital")
    channel.shot(page, "imported")


def test_a_file_with_a_bad_row_is_refused_whole_with_every_problem_listed(channel: Channel, tmp_path: Path) -> None:
    page = channel.signed_in("sdf")
    text = KML.read_text(encoding="utf-8").replace(
        "<end>2017-10-15T00:00:00Z</end>", "<end>2017-09-01T00:00:00Z</end>", 1
    )
    assert text != KML.read_text(encoding="utf-8")
    bad = tmp_path / "sites-with-a-mistake.kml"
    bad.write_text(text, encoding="utf-8")
    before = own_names(channel, "sdf")
    page.get_by_role("tab", name="Import/Export").click()
    page.get_by_label("Import file").set_input_files(str(bad))
    result = page.locator("#import-result")
    expect(result).to_contain_text("nothing was imported")
    expect(result.locator("tbody tr").first).to_contain_text("Al-Assad hospital")
    expect(result.get_by_role("button", name="Import", exact=False)).to_have_count(0)
    assert own_names(channel, "sdf") == before
    channel.shot(page, "import-refused")


def test_export_the_visible_picture_as_kml(channel: Channel) -> None:
    page = channel.signed_in("saa")
    page.get_by_role("tab", name="Import/Export").click()
    page.get_by_label("Format").select_option("kml")
    with page.expect_download() as info:
        page.get_by_role("button", name="Export").click()
    download = info.value
    assert download.suggested_filename.endswith(".kml")
    text = Path(download.path()).read_text(encoding="utf-8")
    assert "<kml" in text
    assert "Deir ez-Zor city and military airport" in text  # its own
    assert "Field hospital" in text  # shared with every party
    assert "Jazeera Storm" not in text  # the SDF shares it with the coalition only


def raw_private_key(channel: Channel, party: str) -> str:
    key = serialization.load_pem_private_key(channel.loaded.keys[party].to_pem(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return base64.b64encode(raw).decode()


def test_a_message_relayed_through_a_reviewing_intermediary_and_acknowledged_with_a_signature(
    channel: Channel,
) -> None:
    sdf = channel.signed_in("sdf")
    coalition = channel.signed_in("coalition")
    saa = channel.signed_in("saa")

    sdf.get_by_role("tab", name="Messages").click()
    sdf.get_by_role("button", name="Compose").click()
    sdf.get_by_label("To", exact=True).select_option("saa")
    sdf.get_by_label("Subject").fill("Convoy on the Al-Busayrah road, 12 September")
    sdf.get_by_label("Message", exact=True).fill("A medical convoy uses the east-bank road from 06:00. Hold fire.")
    sdf.get_by_role("button", name="Send").click()
    expect(sdf.locator("#toast")).to_contain_text("sdf → coalition → russia → saa")
    outbox = sdf.locator("#messages li").filter(has_text="Convoy on the Al-Busayrah road")
    expect(outbox).to_contain_text("waiting on coalition: awaiting review by coalition")

    # The coalition reviews what crosses its review link to Russia, and passes it on.
    coalition.get_by_role("tab", name="Messages").click()
    coalition.get_by_role("button", name="Relay").click()
    held = coalition.locator("#messages li").filter(has_text="Convoy on the Al-Busayrah road")
    held.get_by_label("Note on “Convoy on the Al-Busayrah road, 12 September”").fill(
        "Checked: no positions beyond the declared area"
    )
    held.get_by_role("button", name="Approve").click()
    expect(coalition.locator("#messages")).not_to_contain_text("Convoy on the Al-Busayrah road")

    # The SAA has a registered key: its acknowledgement is signed in the browser, with the key pasted in.
    saa.get_by_role("tab", name="Messages").click()
    inbox = saa.locator("#messages li").filter(has_text="Convoy on the Al-Busayrah road")
    expect(inbox).to_be_visible()
    inbox.get_by_role("button", name="Acknowledge").click()
    expect(saa.locator("#toast")).to_contain_text("signature")  # refused unsigned: the party has a key
    saa.get_by_text("Signing key").click()
    saa.get_by_label("Private key (base64)").fill(raw_private_key(channel, "saa"))
    inbox.get_by_role("button", name="Acknowledge").click()
    expect(inbox).to_contain_text("acknowledged")

    # The sender sees each hop and the acknowledgement, live.
    expect(outbox).to_contain_text("acknowledged")
    expect(outbox).to_contain_text("coalition (intermediary): ")
    channel.shot(sdf, "outbox")
    with channel.server.client(channel.token("sdf")) as client:
        message = client.get("/v1/messages", params={"box": "outbox"}).json()[0]
    assert message["acknowledgement"]["signature"]


def test_a_line_proposed_to_the_party_is_accepted_with_a_signed_agreement(channel: Channel) -> None:
    proposal = {
        "with": "saa",
        "geometry": {"type": "LineString", "coordinates": [[40.92, 34.45], [40.95, 34.40]]},
        "left": "sdf",
        "right": "saa",
        "tolerance_m": 500,
    }
    with channel.server.client(channel.token("sdf")) as client:
        line = client.post("/v1/lines", json=proposal).json()
    saa = channel.signed_in("saa")
    saa.get_by_role("tab", name="Messages").click()
    saa.get_by_text("Signing key").click()
    saa.get_by_label("Private key (base64)").fill(raw_private_key(channel, "saa"))
    saa.get_by_role("tab", name="Parties").click()
    item = saa.locator("#lines li").filter(has_text=line["id"])
    expect(item).to_contain_text("proposed by sdf")
    item.get_by_role("button", name="Accept line").click()
    expect(item).to_contain_text("accepted")
    expect(item.get_by_role("button", name="Accept line")).to_have_count(0)
    with channel.server.client(channel.token("sdf")) as client:
        answered = client.get(f"/v1/lines/{line['id']}").json()
    assert answered["status"] == "accepted" and answered["answer_signature"]
