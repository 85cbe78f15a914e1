"""Review by asset in a real browser: one photo large with its pending tags as rows; confirm,
correct through the type-ahead, undo, confirm all with one key, conflicts, and the key count
of an asset whose tags are all right."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.api.factories import A, T
from tests.web.conftest import OTHER, REVIEWER, Server, Tab, sign_in

pytestmark = [pytest.mark.opensearch, pytest.mark.browser, pytest.mark.slow]

ASSET = """query($id: ID!) { asset(id: $id) { ... on Asset { revision
  pendingTags { attribute }
  tags { attribute value state decidedBy shownMs } } } }"""
CONFIRM = """mutation($i: TagDecisionInput!) { confirmTag(input: $i) { __typename } }"""
# A value the type-ahead finds from a few letters, per attribute a row may hold.
CORRECTIONS = {
    "category": ("peaco", "peacoat"),
    "pattern": ("strip", "stripe"),
    "material": ("mohai", "mohair"),
    "colour": ("black", "black"),
}


def _asset(server: Server, asset_id: str) -> dict[str, Any]:
    asset: dict[str, Any] = server.gql(ASSET, {"id": asset_id}, key=REVIEWER)["asset"]
    return asset


def _tags(server: Server, asset_id: str) -> dict[str, dict[str, Any]]:
    return {t["attribute"]: t for t in _asset(server, asset_id)["tags"]}


def _pending(server: Server, asset_id: str) -> list[str]:
    return sorted(t["attribute"] for t in _asset(server, asset_id)["pendingTags"])


def _current(page: Page) -> str:
    return page.locator("#asset-tags tr.current").get_attribute("data-attribute") or ""


def _shown(page: Page, asset_id: str) -> None:
    expect(page.locator(f"#asset-view[data-asset='{asset_id}']")).to_be_visible()


def _four_pending(asset_id: str, collection: str, low: float) -> A:
    return A(
        id=asset_id,
        sku=asset_id.upper(),
        collection=collection,
        tags=(
            T(attribute="category", value="jumper", probability=low),
            T(attribute="pattern", value="check", probability=0.8),
            T(attribute="material", value="wool", probability=0.78),
            T(attribute="colour", value="navy", probability=0.82),
            T(attribute="neckline", value="crew_neck", probability=0.97),  # applied: no row
        ),
    )


def test_confirm_correct_undo_and_confirm_all(server: Server, tab: Tab) -> None:
    server.create([_four_pending("ba-0", "ba", 0.6), _four_pending("ba-1", "ba", 0.7)])
    page = sign_in(tab, f"{server.url}/review?collection=ba&mode=asset", REVIEWER)
    _shown(page, "ba-0")  # lowest confidence first
    expect(page.locator("#grid")).to_be_hidden()
    expect(page.locator("#counter")).to_have_text("2 assets left")
    pending = _pending(server, "ba-0")
    assert len(pending) == 4
    rows = page.locator("#asset-tags tbody tr")
    expect(rows).to_have_count(len(pending))
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.attribute)")) == pending
    photo = page.locator("#asset-view img.photo")
    expect(photo).to_have_attribute("src", re.compile("^data:image/webp;base64,"))
    expect(page.locator("#asset-view .meta")).to_contain_text("Northwind")

    first = _current(page)
    page.keyboard.press("c")
    expect(page.locator(f"#asset-tags tr[data-attribute='{first}']")).to_have_attribute(
        "data-outcome", "confirmed"
    )
    confirmed = _tags(server, "ba-0")[first]
    assert (confirmed["state"], confirmed["decidedBy"]) == ("confirmed", "rita")
    assert isinstance(confirmed["shownMs"], int)  # the time the row was current

    second = _current(page)
    assert second != first  # the next pending row became current
    letters, value = CORRECTIONS[second]
    before = _tags(server, "ba-0")[second]
    page.keyboard.press("e")
    expect(page.locator("#correct")).to_be_visible()
    page.keyboard.type(letters)
    expect(page.locator("#ta-list li").first).to_have_attribute("data-value", value)
    page.keyboard.press("Enter")
    expect(page.locator(f"#asset-tags tr[data-attribute='{second}']")).to_have_attribute(
        "data-outcome", "corrected"
    )
    assert _tags(server, "ba-0")[second]["value"] == value

    page.keyboard.press("u")  # the correction is undone: the tag is pending again
    expect(page.locator("#status")).to_contain_text("Undone: corrected of 1 tag")
    expect(page.locator("#asset-tags tr.current")).to_have_attribute("data-outcome", "pending")
    assert _current(page) == second
    back = _tags(server, "ba-0")[second]
    assert (back["value"], back["state"]) == (before["value"], before["state"])
    assert second in _pending(server, "ba-0")

    page.keyboard.press("Shift+C")  # confirm the three rows left
    _shown(page, "ba-1")
    expect(page.locator("#counter")).to_have_text("1 asset left")
    assert _pending(server, "ba-0") == []
    states = {a: t["state"] for a, t in _tags(server, "ba-0").items() if a != "neckline"}
    assert states == dict.fromkeys(pending, "confirmed")
    assert not tab.errors


def test_a_stale_revision_is_a_conflict_and_the_asset_reloads(server: Server, tab: Tab) -> None:
    server.create([_four_pending("cfa-0", "cfa", 0.6)])
    page = sign_in(tab, f"{server.url}/review?collection=cfa&mode=asset", REVIEWER)
    _shown(page, "cfa-0")
    first = _current(page)
    before = _tags(server, "cfa-0")[first]["state"]
    other = next(a for a in _pending(server, "cfa-0") if a != first)
    # Someone else decides another row of the same asset: its revision moves on.
    server.gql(
        CONFIRM, {"i": {"assetId": "cfa-0", "attribute": other, "expectedRevision": 1}}, key=OTHER
    )
    page.keyboard.press("c")
    expect(page.locator("#status")).to_contain_text("Conflict")
    expect(page.locator("#status")).to_contain_text("Reloaded at revision 2")
    assert _tags(server, "cfa-0")[first]["state"] == before  # nothing was written
    expect(page.locator(f"#asset-tags tr[data-attribute='{other}']")).to_have_attribute(
        "data-outcome", "confirmed by otto"
    )
    expect(page.locator("#asset-view .meta")).to_contain_text("2")
    assert _current(page) == first  # still to decide, at the new revision

    # Again, behind the page's back, on a tag that is no row (the applied neckline): the
    # one-key confirm stops at its first answer, a conflict, and writes nothing.
    server.gql(
        CONFIRM,
        {"i": {"assetId": "cfa-0", "attribute": "neckline", "expectedRevision": 2}},
        key=OTHER,
    )
    page.keyboard.press("Shift+C")
    stopped = f"confirmed 0 of 3 tags of CFA-0; stopped at {first}"
    expect(page.locator("#status")).to_contain_text(stopped)
    expect(page.locator("#status")).to_contain_text("Reloaded at revision 3")
    assert len(_pending(server, "cfa-0")) == 3
    page.keyboard.press("Shift+C")  # decided again, on the reloaded revision
    expect(page.locator("#asset-view .empty")).to_be_visible()
    assert _pending(server, "cfa-0") == []
    assert not tab.errors


def test_an_asset_whose_tags_are_all_right_takes_at_most_three_keys(
    server: Server, tab: Tab
) -> None:
    server.create([_four_pending("ks-0", "ks", 0.6), _four_pending("ks-1", "ks", 0.7)])
    page = tab.page
    # Count what the page receives, not what the test meant to press.
    page.add_init_script(
        "window.keys = 0; document.addEventListener('keydown', () => { window.keys += 1; }, true);"
    )
    page = sign_in(tab, f"{server.url}/review?collection=ks", REVIEWER)
    expect(page.locator("#grid > li")).to_have_count(8)  # the grid first
    page.evaluate("window.keys = 0")
    page.keyboard.press("a")  # review by asset
    _shown(page, "ks-0")
    assert "mode=asset" in page.url
    page.keyboard.press("Shift+C")
    _shown(page, "ks-1")
    assert page.evaluate("window.keys") <= 3
    assert _pending(server, "ks-0") == []
    page.keyboard.press("a")  # back to the grid: ks-1's four cards
    expect(page.locator("#grid > li")).to_have_count(4)
    assert "mode=asset" not in page.url
    assert not tab.errors
