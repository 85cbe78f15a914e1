"""The review grid in a real browser: sign in, filter, keyboard decisions, type-ahead
correction (with a brand's own values), conflicts, bulk ranges, undo, the "why?" panel, the
disagreement and audit queues, and roles."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.api.factories import A, T
from tests.web.conftest import OTHER, REVIEWER, VIEWER, Server, Tab, sign_in
from tests.web.support import newer_head_says, run, sample_round

pytestmark = [pytest.mark.opensearch, pytest.mark.browser, pytest.mark.slow]

TAG = """query($id: ID!, $a: String!) { asset(id: $id) { ... on Asset { revision
  tag(attribute: $a) { value state decidedBy } history(attribute: $a) { kind toValue note } } } }"""


def _tag(server: Server, asset_id: str, attribute: str = "category") -> dict:  # type: ignore[type-arg]
    data = server.gql(TAG, {"id": asset_id, "a": attribute}, key=REVIEWER)
    return data["asset"]  # type: ignore[no-any-return]


CONFIRM = """mutation($i: TagDecisionInput!) { confirmTag(input: $i) { __typename } }"""
PROPOSAL = """query($id: ID!) { asset(id: $id) { ... on Asset {
  tag(attribute: "category") { value state decidedBy disagreement proposedValue } } } }"""
AUDIT = """query($round: String!, $a: String!) {
  auditQueue(round: $round, attribute: $a, first: 50) {
    ... on AuditQueue { items { assetId } } } }"""


def _audited(server: Server, round: str, attribute: str) -> list[str]:
    data = server.gql(AUDIT, {"round": round, "a": attribute}, key=REVIEWER)
    return [i["assetId"] for i in data["auditQueue"]["items"]]


def _cards(page: Page) -> list[str]:
    return page.eval_on_selector_all("#grid > li", "els => els.map(e => e.dataset.asset)")


def _assets(
    collection: str,
    n: int,
    *,
    attribute: str = "category",
    value: str = "jumper",
    start: float = 0.80,
    step: float = 0.01,
) -> list[A]:
    return [
        A(
            id=f"{collection}-{i}",
            collection=collection,
            sku=f"{collection}-{i}",
            tags=(T(attribute=attribute, value=value, probability=round(start + i * step, 3)),),
        )
        for i in range(n)
    ]


def test_sign_in_and_filter_the_queue(server: Server, tab: Tab) -> None:
    server.create(
        [
            *_assets("flt", 3),
            A(
                id="flt-s",
                collection="flt",
                tags=(T(attribute="category", value="coat", probability=0.5),),
            ),
            A(
                id="flt-p",
                collection="flt",
                tags=(T(attribute="pattern", value="check", probability=0.8),),
            ),
        ]
    )
    page = tab.page
    page.goto(f"{server.url}/review?collection=flt&attribute=category")
    page.fill("#api-key", "tt_wrong")
    page.click("form.signin button[type=submit]")
    expect(page.locator(".signin-error")).to_contain_text("Key refused")
    page.fill("#api-key", REVIEWER)
    page.click("form.signin button[type=submit]")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator(".who")).to_have_text("Signed in as rita (reviewer)")
    assert sorted(_cards(page)) == ["flt-0", "flt-1", "flt-2", "flt-s"]
    expect(page.locator("#counter")).to_have_text("4 left")
    assert _cards(page)[0] == "flt-s"  # lowest confidence first
    thumb = page.locator("#grid > li img.thumb").first  # inlined in the queue's answer
    expect(thumb).to_have_attribute("src", re.compile("^data:image/webp;base64,"))
    assert page.evaluate("document.querySelector('#grid img.thumb').naturalWidth") > 0
    page.select_option("#f-tier", "SUGGESTED")
    page.click("#f-load")
    expect(page.locator("#counter")).to_have_text("1 left")
    assert _cards(page) == ["flt-s"]
    page.select_option("#f-tier", "")
    page.select_option("#f-attribute", "")
    page.select_option("#f-order", "OLDEST_FIRST")
    page.click("#f-load")
    expect(page.locator("#grid > li")).to_have_count(5)
    # Smallest margin first (flt-s: 0.5 against 0.5), then margins 0.6 (flt-0, flt-p), ...
    page.select_option("#f-order", "UNCERTAINTY_FIRST")
    page.click("#f-load")
    expect(page.locator("#grid > li").first).to_have_attribute("data-asset", "flt-s")
    assert _cards(page) == ["flt-s", "flt-0", "flt-p", "flt-1", "flt-2"]
    # Most expected value first: flagged at 0.80 (0.2 each), 0.81, 0.82, then the
    # suggestion at 0.5 (0.5 · 1/3).
    page.select_option("#f-order", "EXPECTED_VALUE_FIRST")
    page.click("#f-load")
    expect(page.locator("#grid > li").first).to_have_attribute("data-asset", "flt-0")
    assert _cards(page) == ["flt-0", "flt-p", "flt-1", "flt-2", "flt-s"]
    assert not tab.blocked
    assert not tab.errors


def test_keyboard_confirm_reject_and_undo(server: Server, tab: Tab) -> None:
    server.create(_assets("kbd", 3))
    page = sign_in(tab, f"{server.url}/review?collection=kbd&attribute=category", REVIEWER)
    expect(page.locator("#counter")).to_have_text("3 left")
    page.keyboard.press("c")
    expect(page.locator("#counter")).to_have_text("2 left")
    assert _cards(page) == ["kbd-1", "kbd-2"]  # the next one took its place
    expect(page.locator("#grid > li.active")).to_have_attribute("data-asset", "kbd-1")
    assert _tag(server, "kbd-0")["tag"] == {
        "value": "jumper",
        "state": "confirmed",
        "decidedBy": "rita",
    }
    page.keyboard.press("x")
    expect(page.locator("#counter")).to_have_text("1 left")
    assert _tag(server, "kbd-1")["tag"]["state"] == "rejected"
    page.keyboard.press("u")  # undo the rejection: a new event puts the proposal back
    expect(page.locator("#status")).to_contain_text("Undone: rejected of 1 item")
    expect(page.locator("#counter")).to_have_text("2 left")
    expect(page.locator("#grid > li.active")).to_have_attribute("data-asset", "kbd-1")
    after = _tag(server, "kbd-1")
    assert after["tag"]["value"] == "jumper"
    assert after["tag"]["state"] == "flagged"  # pending again, as before the rejection
    kinds = [h["kind"] for h in after["history"]]
    assert kinds == ["model_tagged", "rejected", "reopened"]  # nothing deleted
    assert after["history"][-1]["note"] == "undo of rejected"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("c")
    expect(page.locator("#counter")).to_have_text("1 left")
    assert _tag(server, "kbd-2")["tag"]["state"] == "confirmed"
    assert not tab.errors


SHOWN = """query($id: ID!) { asset(id: $id) { ... on Asset { tag(attribute: "category") {
  state shownMs } } } }"""


def _shown_ms(server: Server, asset_id: str) -> int | None:
    tag = server.gql(SHOWN, {"id": asset_id}, key=REVIEWER)["asset"]["tag"]
    assert tag["state"] == "confirmed", (asset_id, tag)
    return tag["shownMs"]  # type: ignore[no-any-return]


def test_a_decision_says_how_long_its_card_was_shown(server: Server, tab: Tab) -> None:
    server.create(_assets("shown", 4))
    page = sign_in(tab, f"{server.url}/review?collection=shown&attribute=category", REVIEWER)
    page.wait_for_timeout(800)
    page.keyboard.press("c")
    expect(page.locator("#counter")).to_have_text("3 left")
    page.wait_for_timeout(300)  # the next card's clock started when it took the place
    page.keyboard.press("c")
    expect(page.locator("#counter")).to_have_text("2 left")
    first, second = _shown_ms(server, "shown-0"), _shown_ms(server, "shown-1")
    assert first is not None
    assert second is not None
    assert 800 <= first < 30_000
    assert 300 <= second < first  # not counted from the page's start: reset on the move
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("c")
    expect(page.locator("#counter")).to_have_text("0 left")
    assert [_shown_ms(server, f"shown-{i}") for i in (2, 3)] == [None, None]  # a range: untimed
    assert not tab.errors


def test_correct_through_the_type_ahead(server: Server, tab: Tab) -> None:
    server.create(_assets("ta", 1, value="coat"))
    page = sign_in(tab, f"{server.url}/review?collection=ta&attribute=category", REVIEWER)
    page.keyboard.press("e")
    expect(page.locator("#correct")).to_be_visible()
    page.keyboard.type("peaco")
    option = page.locator("#ta-list li").first
    expect(option).to_have_attribute("data-value", "peacoat")
    expect(option.locator(".path")).to_contain_text("›")  # the hierarchy is shown
    page.keyboard.press("Enter")
    expect(page.locator("#counter")).to_have_text("0 left")
    assert _tag(server, "ta-0")["tag"] == {
        "value": "peacoat",
        "state": "corrected",
        "decidedBy": "rita",
    }


def test_a_concurrent_decision_is_a_conflict_and_the_item_reloads(server: Server, tab: Tab) -> None:
    both = (
        T(attribute="category", value="jumper", probability=0.8),
        T(attribute="pattern", value="check", probability=0.8),
    )
    server.create([A(id="cf-0", collection="cf", tags=both), *_assets("cfx", 1)])
    page = sign_in(tab, f"{server.url}/review?collection=cf&attribute=category", REVIEWER)
    # Someone else decides another attribute of the same asset: its revision moves on.
    confirm = """mutation($i: TagDecisionInput!) { confirmTag(input: $i) { __typename } }"""
    server.gql(
        confirm,
        {"i": {"assetId": "cf-0", "attribute": "pattern", "expectedRevision": 1}},
        key=OTHER,
    )
    page.keyboard.press("c")
    expect(page.locator("#status")).to_contain_text("Conflict")
    expect(page.locator("#status")).to_contain_text("Reloaded at revision 2")
    expect(page.locator("#grid > li.conflict.active")).to_have_count(1)  # reloaded in place
    expect(page.locator("#grid > li")).to_have_count(1)
    assert _tag(server, "cf-0")["tag"]["state"] == "flagged"  # nothing was written
    page.keyboard.press("c")  # decided again, on the reloaded revision
    expect(page.locator("#counter")).to_have_text("0 left")
    assert _tag(server, "cf-0")["tag"]["state"] == "confirmed"


def test_a_tag_decided_elsewhere_leaves_the_queue_with_a_message(server: Server, tab: Tab) -> None:
    server.create(_assets("gone", 2))
    page = sign_in(tab, f"{server.url}/review?collection=gone&attribute=category", REVIEWER)
    reject = """mutation($i: TagDecisionInput!) { rejectTag(input: $i) { __typename } }"""
    server.gql(
        reject,
        {"i": {"assetId": "gone-0", "attribute": "category", "expectedRevision": 1}},
        key=OTHER,
    )
    page.keyboard.press("c")
    expect(page.locator("#status")).to_contain_text(re.compile("Conflict.*rejected.*by otto"))
    assert _cards(page) == ["gone-1"]
    assert _tag(server, "gone-0")["tag"]["state"] == "rejected"


def test_bulk_confirm_a_range_then_undo(server: Server, tab: Tab) -> None:
    server.create(_assets("bulk", 4))
    page = sign_in(tab, f"{server.url}/review?collection=bulk&attribute=category", REVIEWER)
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    expect(page.locator("#badge")).to_have_text("applies to 3")
    expect(page.locator("#grid > li[aria-selected=true]")).to_have_count(3)
    page.keyboard.press("c")
    expect(page.locator("#counter")).to_have_text("1 left")
    assert _cards(page) == ["bulk-3"]
    assert [_tag(server, f"bulk-{i}")["tag"]["state"] for i in range(4)] == [
        "confirmed",
        "confirmed",
        "confirmed",
        "flagged",
    ]
    expect(page.locator("#badge")).to_be_hidden()
    page.keyboard.press("u")  # the three come back, pending again on the server too
    expect(page.locator("#grid > li")).to_have_count(4)
    expect(page.locator("#counter")).to_have_text("4 left")
    assert [_tag(server, f"bulk-{i}")["tag"]["state"] for i in range(4)] == ["flagged"] * 4
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("x")
    expect(page.locator("#status")).to_contain_text("rejected 2 of 2")
    states = [_tag(server, f"bulk-{i}")["tag"]["state"] for i in range(2)]
    assert states == ["rejected", "rejected"]


def test_the_why_panel_explains_a_colour(server: Server, tab: Tab) -> None:
    server.create(
        [
            A(
                id="why-0",
                collection="why",
                tags=(T(attribute="colour", value="navy", probability=0.8),),
            )
        ]
    )
    page = sign_in(tab, f"{server.url}/review?collection=why&attribute=colour", REVIEWER)
    # Northwind calls navy "Midnight": the brand's label, beside the palette swatch.
    expect(page.locator("#grid > li .swatch-name")).to_have_text("Midnight")
    expect(page.locator("#grid > li .swatch")).to_have_attribute("title", re.compile("^#"))
    page.keyboard.press("w")
    panel = page.locator("#panel")
    expect(panel).to_be_visible()
    evidence = panel.locator("table.colour-evidence")
    expect(evidence).to_contain_text("measured #1C2643")
    expect(evidence).to_contain_text("black 9.7")
    expect(evidence).to_contain_text("1.2")
    expect(panel.locator("ol.history")).to_contain_text("model_tagged")
    expect(panel).to_contain_text("raw navy")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()


def test_a_viewer_sees_no_decision_buttons_and_keys_decide_nothing(
    server: Server, tab: Tab
) -> None:
    server.create(_assets("view", 1))
    page = sign_in(tab, f"{server.url}/review?collection=view&attribute=category", VIEWER)
    expect(page.locator("#grid > li")).to_have_count(1)
    expect(page.locator("#grid button.decide").first).to_be_hidden()
    expect(page.get_by_role("button", name="Why?")).to_be_visible()
    page.keyboard.press("c")
    page.wait_for_timeout(300)
    assert _tag(server, "view-0")["tag"]["state"] == "flagged"
    expect(page.locator("#counter")).to_have_text("1 left")


def test_a_queue_of_fifty_is_cleared_with_the_keyboard_alone(server: Server, tab: Tab) -> None:
    server.create(_assets("fifty", 53, start=0.76, step=0.003))
    page = sign_in(tab, f"{server.url}/review?collection=fifty&attribute=category", REVIEWER)
    expect(page.locator("#counter")).to_have_text("53 left")
    expect(page.locator("#grid > li")).to_have_count(50)  # one page; the rest follow
    for _ in range(53):
        page.keyboard.press("c")  # pressed faster than answered: applied in order
    expect(page.locator("#counter")).to_have_text("0 left", timeout=60_000)
    expect(page.locator("#grid > li")).to_have_count(0)
    states = {_tag(server, f"fifty-{i}")["tag"]["state"] for i in range(53)}
    assert states == {"confirmed"}


def test_the_disagreement_queue_confirms_again_or_takes_the_proposal(
    server: Server, tab: Tab
) -> None:
    disputed = [
        A(
            id="dis-0",
            collection="dis",
            sku="DIS-0",
            tags=(T(attribute="category", value="peacoat", probability=0.9),),
        ),
        A(
            id="dis-1",
            collection="dis",
            sku="DIS-1",
            tags=(T(attribute="category", value="parka", probability=0.9),),
        ),
    ]
    server.create(disputed)
    for asset in disputed:  # a reviewer decided them, then a newer head disagrees
        server.gql(
            CONFIRM,
            {"i": {"assetId": asset.id, "attribute": "category", "expectedRevision": 1}},
            key=OTHER,
        )
    for asset, value, p in [(disputed[0], "trench_coat", 0.95), (disputed[1], "overcoat", 0.99)]:
        proposal = T(attribute="category", value=value, probability=p)
        run(newer_head_says(server.settings, asset, proposal, 2))
    url = f"{server.url}/review?queue=DISAGREEMENT&attribute=category&collection=dis"
    page = sign_in(tab, url, REVIEWER)
    expect(page.locator("#f-queue")).to_have_value("DISAGREEMENT")
    expect(page.locator("#f-tier")).to_be_hidden()  # pending-only filters are hidden
    expect(page.locator("#f-round")).to_be_hidden()
    expect(page.locator("#f-collection")).to_have_value("dis")
    expect(page.locator("#counter")).to_have_text("2 left")
    assert _cards(page) == ["dis-0", "dis-1"]  # the least sure proposal first
    first = page.locator("#grid > li").first
    expect(first).to_contain_text("Peacoat")  # the human value in force, and who decided it
    expect(first.locator(".tier")).to_have_text("confirmed")
    expect(first).to_contain_text("by otto")
    expect(first.locator(".proposal")).to_have_text(
        "newer head proposes Trench Coat (95 %, tuned:category:0a1b2c3d)"
    )
    page.keyboard.press("c")  # confirmed again: a new decision, the proposal is cleared
    expect(page.locator("#counter")).to_have_text("1 left")
    assert _cards(page) == ["dis-1"]
    expect(page.locator("#grid > li.active")).to_have_attribute("data-asset", "dis-1")
    tag = server.gql(PROPOSAL, {"id": "dis-0"}, key=REVIEWER)["asset"]["tag"]
    assert tag == {
        "value": "peacoat",
        "state": "confirmed",
        "decidedBy": "rita",
        "disagreement": False,
        "proposedValue": None,
    }

    page.keyboard.press("e")  # the proposal is offered first: Enter takes it
    expect(page.locator("#correct")).to_be_visible()
    expect(page.locator("#ta-list li[aria-selected=true]")).to_have_attribute(
        "data-value", "overcoat"
    )
    page.keyboard.press("Enter")
    expect(page.locator("#counter")).to_have_text("0 left")
    tag = server.gql(PROPOSAL, {"id": "dis-1"}, key=REVIEWER)["asset"]["tag"]
    assert (tag["value"], tag["state"], tag["disagreement"]) == ("overcoat", "corrected", False)

    page.keyboard.press("u")  # undo: the disagreement is back as it was
    expect(page.locator("#status")).to_contain_text("Undone: corrected of 1 item")
    expect(page.locator("#counter")).to_have_text("1 left")
    assert _cards(page) == ["dis-1"]
    expect(page.locator("#grid > li .proposal")).to_contain_text("newer head proposes Overcoat")
    after = _tag(server, "dis-1")
    assert [h["kind"] for h in after["history"]][-2:] == ["corrected", "reopened"]
    tag = server.gql(PROPOSAL, {"id": "dis-1"}, key=REVIEWER)["asset"]["tag"]
    assert (tag["state"], tag["disagreement"], tag["proposedValue"]) == (
        "confirmed",
        True,
        "overcoat",
    )
    assert not tab.errors


def test_an_audit_round_is_answered_from_the_grid(server: Server, tab: Tab) -> None:
    server.create(
        [
            A(
                id=f"aud-{i}",
                collection="aud",
                sku=f"AUD-{i}",
                tags=(T(attribute="neckline", value="crew_neck" if i else "v_neck"),),
            )
            for i in range(3)
        ]
    )
    run(sample_round(server.settings, "web-a1", "neckline"))
    page = sign_in(tab, f"{server.url}/review?attribute=neckline", REVIEWER)
    expect(page.locator("#counter")).to_have_text("0 left")  # auto-applied: nothing pending
    expect(page.locator("#f-round")).to_be_hidden()
    page.select_option("#f-queue", "AUDIT")  # the round's name is asked for
    expect(page.locator("#f-round")).to_be_visible()
    expect(page.locator("#f-round")).to_have_value("r1")
    expect(page.locator("#f-brand")).to_be_hidden()  # auditQueue filters on attribute only
    page.fill("#f-round", "web-a1")
    page.click("#f-load")
    expect(page.locator("#counter")).to_have_text("3 left")
    assert _cards(page) == ["aud-0", "aud-1", "aud-2"]
    first = page.locator("#grid > li").first
    expect(first).to_contain_text("neckline:")
    expect(first).to_contain_text("V-Neck")
    expect(first.locator(".audit")).to_contain_text("audit · auto_applied")
    expect(first.locator(".audit")).to_contain_text("neckline/auto_applied/brand=Northwind")
    expect(first).to_contain_text("AUD-0 · Northwind")
    thumb = first.locator("img.thumb")  # AuditItem.asset brings the thumbnail
    expect(thumb).to_have_attribute("src", re.compile("^data:image/webp;base64,"))

    page.keyboard.press("c")  # right
    expect(page.locator("#counter")).to_have_text("2 left")
    assert _cards(page) == ["aud-1", "aud-2"]
    assert _tag(server, "aud-0", "neckline")["tag"]["state"] == "confirmed"
    page.keyboard.press("x")  # wrong
    expect(page.locator("#counter")).to_have_text("1 left")
    assert _tag(server, "aud-1", "neckline")["tag"]["state"] == "rejected"
    assert _audited(server, "web-a1", "neckline") == ["aud-2"]
    page.keyboard.press("u")  # undone: undecided again, so back in the round's queue
    expect(page.locator("#counter")).to_have_text("2 left")
    expect(page.locator("#grid > li.active")).to_have_attribute("data-asset", "aud-1")
    assert _tag(server, "aud-1", "neckline")["tag"]["state"] == "auto_applied"
    assert _audited(server, "web-a1", "neckline") == ["aud-1", "aud-2"]
    page.click("#f-load")  # asked again: what the server still holds
    expect(page.locator("#counter")).to_have_text("2 left")
    assert _cards(page) == ["aud-1", "aud-2"]
    page.goto(f"{server.url}/review?queue=AUDIT&round=web-a1&attribute=neckline")
    page.wait_for_selector("body[data-ready=true]")  # the URL chooses the queue and round
    expect(page.locator("#f-round")).to_have_value("web-a1")
    assert _cards(page) == ["aud-1", "aud-2"]
    server.gql(
        CONFIRM,
        {"i": {"assetId": "aud-2", "attribute": "neckline", "expectedRevision": 1}},
        key=OTHER,
    )
    page.keyboard.press("ArrowRight")
    page.keyboard.press("c")  # someone else answered it first: it leaves the round's queue
    expect(page.locator("#status")).to_contain_text(re.compile("Conflict.*confirmed.*by otto"))
    assert _cards(page) == ["aud-1"]
    expect(page.locator("#counter")).to_have_text("1 left")
    assert not tab.errors


def test_the_type_ahead_offers_the_brand_s_own_values(server: Server, tab: Tab) -> None:
    server.create(
        [
            A(
                id="brta-0",
                collection="brta",
                brand="Northwind",
                tags=(T(attribute="category", value="parka", probability=0.80),),
            ),
            A(
                id="brta-1",
                collection="brta",
                brand="Kobo",
                tags=(T(attribute="category", value="parka", probability=0.81),),
            ),
        ]
    )
    page = sign_in(tab, f"{server.url}/review?collection=brta&attribute=category", REVIEWER)
    assert _cards(page) == ["brta-0", "brta-1"]
    page.keyboard.press("Shift+ArrowRight")  # two brands: the base values
    page.keyboard.press("e")
    expect(page.locator("#correct")).to_be_visible()
    page.keyboard.type("storm")
    expect(page.locator("#ta-count")).to_have_text("0 matches")
    page.keyboard.press("Escape")
    expect(page.locator("#correct")).to_be_hidden()
    page.keyboard.press("ArrowLeft")  # Northwind alone: its labels and its own values
    page.keyboard.press("e")
    expect(page.locator("#correct")).to_be_visible()
    page.keyboard.type("storm")
    option = page.locator("#ta-list li").first
    expect(option).to_have_attribute("data-value", "storm_parka")
    expect(option).to_contain_text("Storm Parka")
    page.fill("#ta-input", "puffer")
    puffer = page.locator("#ta-list li[data-value=puffer_jacket]")
    expect(puffer).to_contain_text("Down Jacket")  # Northwind's name for a puffer jacket
    page.fill("#ta-input", "storm p")
    expect(option).to_have_attribute("data-value", "storm_parka")
    page.keyboard.press("Enter")
    expect(page.locator("#counter")).to_have_text("1 left")
    assert _tag(server, "brta-0")["tag"] == {
        "value": "storm_parka",
        "state": "corrected",
        "decidedBy": "rita",
    }
    page.keyboard.press("e")  # Kobo has no overlay: the base list, asked once more
    expect(page.locator("#correct")).to_be_visible()
    page.keyboard.type("puffer")
    expect(puffer).to_contain_text("Puffer Jacket")
    page.keyboard.press("Escape")
    assert not tab.errors


def test_a_viewer_sees_the_audit_round_without_decision_buttons(server: Server, tab: Tab) -> None:
    server.create(
        [A(id="vaud-0", collection="vaud", tags=(T(attribute="shot_type", value="flat_lay"),))]
    )
    run(sample_round(server.settings, "web-v1", "shot_type"))
    page = sign_in(tab, f"{server.url}/review?queue=AUDIT&round=web-v1&attribute=shot_type", VIEWER)
    expect(page.locator("#grid > li")).to_have_count(1)
    expect(page.locator("#grid button.decide").first).to_be_hidden()
    page.keyboard.press("c")
    page.wait_for_timeout(300)
    assert _tag(server, "vaud-0", "shot_type")["tag"]["state"] == "auto_applied"
    expect(page.locator("#counter")).to_have_text("1 left")


def test_an_audit_round_longer_than_the_grid_is_asked_again(server: Server, tab: Tab) -> None:
    server.create(
        [
            A(
                id=f"big-{i:02d}",
                collection="big",
                tags=(T(attribute="season_window", value="all_season"),),
            )
            for i in range(53)
        ],
        thumbnails=False,
    )
    run(sample_round(server.settings, "web-big", "season_window"))
    page = sign_in(
        tab, f"{server.url}/review?queue=AUDIT&round=web-big&attribute=season_window", REVIEWER
    )
    expect(page.locator("#grid > li")).to_have_count(50)
    expect(page.locator("#counter")).to_have_text("50+ left")  # no count: maybe more
    for _ in range(30):
        page.keyboard.press("c")
    # Half the grid decided, the round was asked again: the three unseen ones joined.
    expect(page.locator("#counter")).to_have_text("23 left", timeout=60_000)
    assert _cards(page)[-3:] == ["big-50", "big-51", "big-52"]
    assert len(set(_cards(page))) == 23
    assert _audited(server, "web-big", "season_window") == [f"big-{i:02d}" for i in range(30, 53)]


def test_a_further_value_is_its_own_card_decided_and_undone_alone(server: Server, tab: Tab) -> None:
    server.create(
        [
            A(
                id="multi-0",
                collection="multi",
                tags=(
                    T(attribute="material", value="wool", probability=0.6, cap="suggested"),
                    T(
                        attribute="material",
                        value="polyester",
                        probability=0.4,
                        cap="suggested",
                        slot="polyester",
                    ),
                ),
            )
        ]
    )
    page = sign_in(tab, f"{server.url}/review?collection=multi&attribute=material", REVIEWER)
    expect(page.locator("#grid > li")).to_have_count(2)
    expect(page.locator("#grid > li").nth(1)).to_contain_text("material (also):")
    expect(page.locator("#grid > li").nth(1)).to_contain_text("Polyester")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("c")
    expect(page.locator("#grid > li")).to_have_count(1)
    polyester = server.gql(MATERIAL, {"id": "multi-0", "slot": "polyester"}, key=REVIEWER)
    wool = server.gql(MATERIAL, {"id": "multi-0", "slot": None}, key=REVIEWER)
    assert polyester["asset"]["tag"] == {"value": "polyester", "state": "confirmed"}
    assert wool["asset"]["tag"] == {"value": "wool", "state": "suggested"}
    page.keyboard.press("u")
    expect(page.locator("#grid > li")).to_have_count(2)
    polyester = server.gql(MATERIAL, {"id": "multi-0", "slot": "polyester"}, key=REVIEWER)
    assert polyester["asset"]["tag"] == {"value": "polyester", "state": "suggested"}
    assert not tab.errors


MATERIAL = """query($id: ID!, $slot: String) { asset(id: $id) { ... on Asset {
  tag(attribute: "material", slot: $slot) { value state } } } }"""


SLOW_KEYLESS = """
const plain = window.fetch;
window.fetch = (url, options = {}) => {
  const keyless = String(url).endsWith("/graphql") && !(options.headers || {}).Authorization;
  const wait = new Promise((done) => setTimeout(done, keyless ? 1500 : 0));
  return wait.then(() => plain(url, options));
};"""


def test_a_key_typed_before_the_first_check_answers_is_kept(server: Server, tab: Tab) -> None:
    # The page asks "who am I?" without a key at once; on a busy machine its refusal can
    # arrive after the reviewer has signed in. It must not throw the new key away.
    server.create(_assets("race", 2))
    tab.page.add_init_script(SLOW_KEYLESS)
    page = sign_in(tab, f"{server.url}/review?collection=race&attribute=category", REVIEWER)
    expect(page.locator(".who")).to_have_text("Signed in as rita (reviewer)")
    expect(page.locator("#grid > li")).to_have_count(2)
    assert page.evaluate("sessionStorage.getItem('tagtrail.apiKey')") == REVIEWER
    assert not tab.errors
