"""The quality page in a real browser (issue 20): per attribute, the tiers over time, the
reliability diagram and the corrections per segment are drawn with the marks the
``qualityReport`` answer calls for, their tables hold the same rows, and the filters ask
again. A viewer may read it; nothing is fetched from anywhere but the server."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.api.factories import A, T
from tests.web.conftest import REVIEWER, VIEWER, Server, Tab, sign_in

pytestmark = [pytest.mark.opensearch, pytest.mark.browser, pytest.mark.slow]

REPORT = """query($attribute: String, $segment: QualitySegment, $since: DateTime,
    $until: DateTime) {
  qualityReport(attribute: $attribute, segment: $segment, since: $since, until: $until) {
    __typename
    ... on QualityReport { attributes { attribute
      tiersByDay { day autoApplied flagged suggested total }
      reliability { n bins { n right } }
      corrections { dimension segment decided corrected } } }
    ... on InvalidInput { message field }
  }
}"""
CONFIRM = "mutation($i: TagDecisionInput!) { r: confirmTag(input: $i) { __typename } }"
REJECT = "mutation($i: TagDecisionInput!) { r: rejectTag(input: $i) { __typename } }"
CORRECT = "mutation($i: TagCorrectionInput!) { r: correctTag(input: $i) { __typename } }"
TIERS = {"auto_applied": "autoApplied", "flagged": "flagged", "suggested": "suggested"}
TODAY = dt.datetime.now(dt.UTC).date()
SINCE = TODAY - dt.timedelta(days=6)


def _asset(
    i: int, brand: str, category: tuple[str, float], pattern: tuple[str, float] | None = None
) -> A:
    """Asset qp-<i> with a category tag (value, probability) and maybe a pattern tag, first
    seen 0, 1 or 2 days ago."""
    tags = [T(attribute="category", value=category[0], probability=category[1])]
    if pattern:
        tags.append(T(attribute="pattern", value=pattern[0], probability=pattern[1]))
    day = TODAY - dt.timedelta(days=i % 3)
    return A(
        id=f"qp-{i}", sku=f"qp-{i}", brand=brand, at=f"{day}T00:00:00.000000Z", tags=tuple(tags)
    )


# Category: 2 auto-applied, 3 flagged, 1 suggested; pattern: 1 flagged, 1 suggested.
ASSETS = [
    _asset(0, "Northwind", ("jumper", 0.97), ("solid", 0.90)),
    _asset(1, "Northwind", ("jumper", 0.90)),
    _asset(2, "Northwind", ("coat", 0.80)),
    _asset(3, "Kobo", ("coat", 0.60)),
    _asset(4, "Kobo", ("jumper", 0.99), ("solid", 0.70)),
    _asset(5, "Kobo", ("coat", 0.85)),
]
# (mutation, asset, attribute, expected revision, corrected value): category decided on all
# but qp-4, one correction and one rejection; pattern kept on qp-0, corrected on qp-4.
DECISIONS = [
    (CONFIRM, "qp-0", "category", 1, None),
    (CONFIRM, "qp-1", "category", 1, None),
    (CORRECT, "qp-2", "category", 1, "jumper"),
    (REJECT, "qp-3", "category", 1, None),
    (CONFIRM, "qp-5", "category", 1, None),
    (CONFIRM, "qp-0", "pattern", 2, None),
    (CORRECT, "qp-4", "pattern", 1, "stripe"),
]


@pytest.fixture(scope="module")
def seeded(server: Server) -> Server:
    """The server with the known store: ASSETS created, then DECISIONS taken."""
    server.create(ASSETS, thumbnails=False)
    for mutation, asset, attribute, revision, value in DECISIONS:
        given = {"assetId": asset, "attribute": attribute, "expectedRevision": revision}
        data = server.gql(
            mutation, {"i": given | ({"value": value} if value else {})}, key=REVIEWER
        )
        assert data["r"]["__typename"] == "TagDecision", (asset, attribute, data)
    return server


def _report(server: Server, variables: dict[str, Any]) -> list[dict[str, Any]]:
    result = server.gql(REPORT, variables, key=VIEWER)["qualityReport"]
    assert result["__typename"] == "QualityReport", result
    return result["attributes"]  # type: ignore[no-any-return]


def _shown(page: Page, variables: dict[str, Any]) -> None:
    """Wait until the page shows the report it asked for with exactly ``variables``."""
    sent = json.dumps(variables, separators=(",", ":"))
    expect(page.locator("#report")).to_have_attribute("data-variables", sent)


def _count(page: Page, chart: str, attribute: str, marks: str) -> int:
    return page.locator(f'[data-chart={chart}][data-attribute="{attribute}"] {marks}').count()


def _table(page: Page, kind: str, attribute: str) -> list[list[str]]:
    selector = f'table[data-table={kind}][data-attribute="{attribute}"] tbody tr'
    script = "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    return page.eval_on_selector_all(selector, script)  # type: ignore[no-any-return]


def _tier_rows(a: dict[str, Any]) -> list[list[str]]:
    days = a["tiersByDay"]
    return [[d["day"], t, str(d[f])] for d in days for t, f in TIERS.items() if d[f] > 0]


def _assert_drawn(page: Page, attributes: list[dict[str, Any]]) -> None:
    """Every chart and table of the page holds exactly the rows of the API's answer."""
    shown = page.eval_on_selector_all("section.attribute", "s => s.map(e => e.dataset.attribute)")
    assert shown == [a["attribute"] for a in attributes]
    for a in attributes:
        name = a["attribute"]
        tiers = _tier_rows(a)
        bins = [b for b in a["reliability"]["bins"] if b["n"] > 0]
        rows = a["corrections"]
        assert _count(page, "tiers", name, "g[aria-label=bar] rect") == len(tiers)
        assert _count(page, "reliability", name, "g[aria-label=dot] circle") == len(bins)
        assert _count(page, "corrections", name, "g[aria-label=dot] circle") == len(rows)
        assert [r[:3] for r in _table(page, "tiers", name)] == tiers
        assert [r[2:4] for r in _table(page, "reliability", name)] == [
            [str(b["n"]), str(b["right"])] for b in bins
        ]
        assert [r[:4] for r in _table(page, "corrections", name)] == [
            [r["dimension"], r["segment"], str(r["decided"]), str(r["corrected"])] for r in rows
        ]


def _window(attribute: str | None = None, segment: dict[str, str] | None = None) -> dict[str, Any]:
    """The variables the page sends for the test's week (until: the end of today)."""
    return {
        "attribute": attribute,
        "segment": segment,
        "since": f"{SINCE}T00:00:00Z",
        "until": f"{TODAY}T23:59:59.999Z",
    }


def test_the_charts_draw_the_report_and_follow_the_filters(seeded: Server, tab: Tab) -> None:
    server = seeded
    failed: list[str] = []
    tab.page.on("requestfailed", lambda r: failed.append(r.url))
    page = sign_in(tab, f"{server.url}/quality?since={SINCE}&until={TODAY}", VIEWER)

    everything = _window()
    _shown(page, everything)
    attributes = _report(server, everything)
    category = next(a for a in attributes if a["attribute"] == "category")
    # The known store: every mark count below is more than zero.
    assert sum(d["total"] for d in category["tiersByDay"]) == 6
    assert category["reliability"]["n"] == 5
    assert {(r["segment"], r["decided"], r["corrected"]) for r in category["corrections"]} >= {
        ("Northwind", 3, 1),
        ("Kobo", 2, 1),
    }
    _assert_drawn(page, attributes)
    caption = page.locator("[data-chart=reliability][data-attribute=category] figcaption")
    expect(caption).to_contain_text("n 5")

    page.select_option("#f-attribute", "pattern")
    _shown(page, _window("pattern"))
    pattern = _report(server, _window("pattern"))
    assert [a["attribute"] for a in pattern] == ["pattern"]
    _assert_drawn(page, pattern)

    page.select_option("#f-attribute", "")
    page.select_option("#f-dimension", "BRAND")
    page.fill("#f-value", "Kobo")
    page.press("#f-value", "Enter")
    kobo = _window(segment={"dimension": "BRAND", "value": "Kobo"})
    _shown(page, kobo)
    attributes = _report(server, kobo)
    assert {
        r["segment"] for a in attributes for r in a["corrections"] if r["dimension"] == "brand"
    } == {"Kobo"}
    _assert_drawn(page, attributes)

    assert not tab.blocked, tab.blocked
    assert not failed, failed
    assert not tab.errors


def test_the_numbers_download_as_csv(seeded: Server, tab: Tab) -> None:
    server = seeded
    page = sign_in(
        tab, f"{server.url}/quality?attribute=category&since={SINCE}&until={TODAY}", VIEWER
    )
    _shown(page, _window("category"))
    rows = _table(page, "corrections", "category")
    assert rows
    link = page.locator("[data-chart=corrections][data-attribute=category] a.csv")
    expect(link).to_have_attribute("download", "category-corrections.csv")
    text = page.evaluate("async (href) => (await fetch(href)).text()", link.get_attribute("href"))
    lines = text.strip().split("\n")
    assert lines[0] == "dimension,segment,decided,corrected,rate,low,high"
    assert [line.split(",")[:4] for line in lines[1:]] == [r[:4] for r in rows]
    assert not tab.blocked


def test_a_refused_filter_is_said_in_words(server: Server, tab: Tab) -> None:
    page = sign_in(tab, f"{server.url}/quality?attribute=sparkle", VIEWER)
    status = page.locator("#status")
    expect(status).to_have_attribute("data-kind", "error")
    expect(status).to_contain_text("sparkle")
    expect(page.locator("section.attribute")).to_have_count(0)
