"""The quality page in a real browser (issue 20): per attribute, the tiers over time, the
reliability diagram, the corrections per segment and the audited precision by week are drawn
with the marks the ``qualityReport`` answer calls for, promotions and taxonomy applies mark
the time axes, their tables hold the same rows, the head history is ``headEvents``' and the
filters ask again. A viewer may read it; nothing is fetched from anywhere but the server."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tagtrail.domain.cadence import HeadEvent
from tests.api.factories import A, T
from tests.web.conftest import REVIEWER, VIEWER, Server, Tab, sign_in
from tests.web.support import append_head_events, run, sample_round

pytestmark = [pytest.mark.opensearch, pytest.mark.browser, pytest.mark.slow]

REPORT = """query($attribute: String, $segment: QualitySegment, $since: DateTime,
    $until: DateTime) {
  qualityReport(attribute: $attribute, segment: $segment, since: $since, until: $until) {
    __typename
    ... on QualityReport { attributes { attribute
      tiersByDay { day autoApplied flagged suggested total }
      reliability { n bins { n right } }
      corrections { dimension segment decided corrected }
      audits { week tier answered correct } }
      markers { at kind attribute version label }
      effort { overall { ...effort } reviewers { ...effort }
        fullyReviewedAssets medianSecondsPerAsset } }
    ... on InvalidInput { message field }
  }
}"""
EFFORT = """fragment effort on ReviewerEffort {
  reviewer decisions timedDecisions activeHours medianSecondsPerDecision }"""
HEADS = """query($attribute: String) { headEvents(attribute: $attribute, first: 20) {
  ... on HeadEventsPage { events {
    at attribute step actor version champion reasons explanation } } } }"""
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


def _instant(days_ago: int) -> str:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Audited: neckline on four assets of today, two auto-applied and two flagged; an audit round
# draws all four, reviewers find one flagged tag wrong.
AUDITED = [
    A(
        id=f"qp-n{i}",
        sku=f"qp-n{i}",
        brand="Kobo",
        at=_instant(0),
        tags=(T(attribute="neckline", value="crew_neck", probability=p),),
    )
    for i, p in enumerate((0.97, 0.98, 0.85, 0.80))
]
SHOWN_MS = (4_000, 6_000, 8_000, 10_000)  # how long each neckline card was shown
HEAD_STEPS = [
    HeadEvent(
        event_id="qp:trained",
        attribute="neckline",
        step="trained",
        at=_instant(3),
        actor="cadence@web",
        version="tuned:neckline:1",
        reasons=("250 decisions",),
    ),
    HeadEvent(
        event_id="qp:promoted:category",
        attribute="category",
        step="promoted",
        at=_instant(2),
        actor="admin",
        version="tuned:category:2",
    ),
    HeadEvent(
        event_id="qp:promoted:neckline",
        attribute="neckline",
        step="promoted",
        at=_instant(1),
        actor="admin",
        version="tuned:neckline:1",
        champion="zero-shot",
        reasons=("beats the champion on every segment",),
    ),
]


@pytest.fixture(scope="module")
def audited(seeded: Server) -> Server:
    """The known store plus an answered audit round of neckline and HEAD_STEPS."""
    server = seeded
    server.create(AUDITED, thumbnails=False)
    run(sample_round(server.settings, "r1", "neckline"))
    for asset, shown in zip(AUDITED[:3], SHOWN_MS[:3], strict=True):
        given = {"assetId": asset.id, "attribute": "neckline", "expectedRevision": 1}
        given["shownMs"] = shown
        assert server.gql(CONFIRM, {"i": given}, key=REVIEWER)["r"]["__typename"] == "TagDecision"
    wrong = {"assetId": "qp-n3", "attribute": "neckline", "expectedRevision": 1}
    wrong |= {"value": "v_neck", "shownMs": SHOWN_MS[3]}
    assert server.gql(CORRECT, {"i": wrong}, key=REVIEWER)["r"]["__typename"] == "TagDecision"
    _report(server, _window("neckline"))  # records the answers on their audits
    run(append_head_events(server.settings, HEAD_STEPS))
    return server


def _report(server: Server, variables: dict[str, Any]) -> dict[str, Any]:
    result = server.gql(REPORT + EFFORT, variables, key=VIEWER)["qualityReport"]
    assert result["__typename"] == "QualityReport", result
    return result  # type: ignore[no-any-return]


def _shown(page: Page, variables: dict[str, Any]) -> None:
    """Wait until the page shows the report it asked for with exactly ``variables``."""
    sent = json.dumps(variables, separators=(",", ":"))
    expect(page.locator("#report")).to_have_attribute("data-variables", sent)


def _count(page: Page, chart: str, attribute: str, marks: str) -> int:
    return page.locator(f'[data-chart={chart}][data-attribute="{attribute}"] {marks}').count()


def _rows(page: Page, table: str) -> list[list[str]]:
    script = "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    return page.eval_on_selector_all(f"{table} tbody tr", script)  # type: ignore[no-any-return]


def _table(page: Page, kind: str, attribute: str) -> list[list[str]]:
    return _rows(page, f'table[data-table={kind}][data-attribute="{attribute}"]')


def _tier_rows(a: dict[str, Any]) -> list[list[str]]:
    days = a["tiersByDay"]
    return [[d["day"], t, str(d[f])] for d in days for t, f in TIERS.items() if d[f] > 0]


def _marker_rules(page: Page, chart: str, attribute: str) -> list[tuple[str, str]]:
    """(kind, tooltip) of each marker rule drawn on a chart."""
    selector = f'[data-chart={chart}][data-attribute="{attribute}"] g.marker line'
    script = "ls => ls.map(l => [l.parentNode.classList[1], l.textContent])"
    return sorted(tuple(r) for r in page.eval_on_selector_all(selector, script))


def _assert_marked(page: Page, a: dict[str, Any], markers: list[dict[str, Any]]) -> None:
    """The time axes of an attribute's charts carry a rule per marker that concerns it."""
    name = a["attribute"]
    concern = [m for m in markers if m["attribute"] in (None, name)]
    expected = sorted((m["kind"], m["label"]) for m in concern)
    for chart, rows in (("tiers", a["tiersByDay"]), ("audits", a["audits"])):
        assert _marker_rules(page, chart, name) == (expected if rows else []), (chart, name)


def _assert_drawn(page: Page, report: dict[str, Any]) -> None:
    """Every chart and table of the page holds exactly the rows of the API's answer."""
    attributes = report["attributes"]
    shown = page.eval_on_selector_all("section.attribute", "s => s.map(e => e.dataset.attribute)")
    assert shown == [a["attribute"] for a in attributes]
    for a in attributes:
        name = a["attribute"]
        tiers = _tier_rows(a)
        bins = [b for b in a["reliability"]["bins"] if b["n"] > 0]
        rows = a["corrections"]
        audits = a["audits"]
        assert _count(page, "tiers", name, "g[aria-label=bar] rect") == len(tiers)
        assert _count(page, "reliability", name, "g[aria-label=dot] circle") == len(bins)
        assert _count(page, "corrections", name, "g[aria-label=dot] circle") == len(rows)
        assert _count(page, "audits", name, "g[aria-label=dot] circle") == len(audits)
        assert _count(page, "audits", name, "g.interval line") == len(audits)
        assert [r[:4] for r in _table(page, "audits", name)] == [
            [w["week"], w["tier"], str(w["answered"]), str(w["correct"])] for w in audits
        ]
        _assert_marked(page, a, report["markers"])
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
    report = _report(server, everything)
    category = next(a for a in report["attributes"] if a["attribute"] == "category")
    # The known store: every mark count below is more than zero.
    assert sum(d["total"] for d in category["tiersByDay"]) == 6
    assert category["reliability"]["n"] == 5
    assert {(r["segment"], r["decided"], r["corrected"]) for r in category["corrections"]} >= {
        ("Northwind", 3, 1),
        ("Kobo", 2, 1),
    }
    _assert_drawn(page, report)
    caption = page.locator("[data-chart=reliability][data-attribute=category] figcaption")
    expect(caption).to_contain_text("n 5")

    page.select_option("#f-attribute", "pattern")
    _shown(page, _window("pattern"))
    pattern = _report(server, _window("pattern"))
    assert [a["attribute"] for a in pattern["attributes"]] == ["pattern"]
    _assert_drawn(page, pattern)

    page.select_option("#f-attribute", "")
    page.select_option("#f-dimension", "BRAND")
    page.fill("#f-value", "Kobo")
    page.press("#f-value", "Enter")
    kobo = _window(segment={"dimension": "BRAND", "value": "Kobo"})
    _shown(page, kobo)
    report = _report(server, kobo)
    assert {
        r["segment"]
        for a in report["attributes"]
        for r in a["corrections"]
        if r["dimension"] == "brand"
    } == {"Kobo"}
    _assert_drawn(page, report)

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


def _heads(server: Server, attribute: str | None) -> list[list[str]]:
    """headEvents' newest 20 as the head history table shows them."""
    found = server.gql(HEADS, {"attribute": attribute}, key=VIEWER)["headEvents"]["events"]
    return [
        [
            e["at"],
            e["attribute"],
            e["step"],
            e["actor"],
            e["version"] or "–",
            e["champion"] or "–",
            "; ".join(e["reasons"]),
            e["explanation"],
        ]
        for e in found
    ]


def _assert_effort(page: Page, effort: dict[str, Any]) -> None:
    """The effort table: a row per reviewer, then everyone's; the known store's times."""
    overall = effort["overall"]
    # Eleven decisions by rita, the four neckline ones timed: medians of 4, 6, 8 and 10 s.
    assert (overall["decisions"], overall["timedDecisions"]) == (11, 4)
    assert overall["medianSecondsPerDecision"] == 7.0
    assert (effort["fullyReviewedAssets"], effort["medianSecondsPerAsset"]) == (4, 7.0)
    rows = [*effort["reviewers"], overall]
    assert [r[:4] for r in _rows(page, "table[data-table=effort]")] == [
        [r["reviewer"], str(r["decisions"]), str(r["timedDecisions"]), str(r["activeHours"])]
        for r in rows
    ]
    per_asset = page.locator("[data-panel=effort] .per-asset")
    expect(per_asset).to_have_text("Fully reviewed assets: 4; median time per asset 7.0 s.")


def test_audits_markers_and_head_history_are_the_apis(audited: Server, tab: Tab) -> None:
    server = audited
    page = sign_in(tab, f"{server.url}/quality?since={SINCE}&until={TODAY}", VIEWER)
    _shown(page, _window())
    report = _report(server, _window())
    (neckline,) = [a for a in report["attributes"] if a["attribute"] == "neckline"]
    # The known store: two tiers answered this week; both promotions in the window.
    assert [(w["tier"], w["answered"], w["correct"]) for w in neckline["audits"]] == [
        ("auto_applied", 2, 2),
        ("flagged", 2, 1),
    ]
    promoted = [(m["attribute"], m["version"]) for m in report["markers"]]
    assert ("category", "tuned:category:2") in promoted
    assert ("neckline", "tuned:neckline:1") in promoted
    _assert_drawn(page, report)
    assert _rows(page, "table[data-table=markers]") == [
        [m["at"], m["kind"], m["attribute"] or "all", m["version"], m["label"]]
        for m in report["markers"]
    ]
    _assert_effort(page, report["effort"])
    everyone = _heads(server, None)
    assert len(everyone) == 3
    assert _table(page, "head-events", "") == everyone

    page.select_option("#f-attribute", "neckline")
    _shown(page, _window("neckline"))
    report = _report(server, _window("neckline"))
    _assert_drawn(page, report)
    mine = _heads(server, "neckline")
    assert [row[2] for row in mine] == ["promoted", "trained"]  # newest first
    assert _table(page, "head-events", "neckline") == mine
    assert not tab.errors
