"""Not a test (pytest does not collect it): draws ``docs/quality.png``, the quality page of
one attribute on a made-up month of a catalogue: tags first seen each day, reviewer
decisions, an answered audit round, two promotions and a taxonomy apply. With OpenSearch up,
from the repository root:

    PYTHONPATH=src:. ~/.cache/tagtrail/venv/bin/python -m tests.web.screenshot_quality
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from tagtrail.config import Settings
from tagtrail.domain.cadence import HeadEvent, HeadStep
from tagtrail.store import Store, TaxonomyChange
from tests.api.factories import A, T
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, REVIEWER, VIEWER, Server, start_server
from tests.web.support import append_head_events, run, sample_round

OUT = Path(__file__).resolve().parents[2] / "docs" / "quality.png"
DAYS = 28
BRANDS = ("Northwind", "Kobo", "Alder & Finch")
VALUES = ("jumper", "cardigan", "coat", "dress", "shirt")
CONFIRM = "mutation($i: TagDecisionInput!) { r: confirmTag(input: $i) { __typename } }"
CORRECT = "mutation($i: TagCorrectionInput!) { r: correctTag(input: $i) { __typename } }"
NOW = dt.datetime.now(dt.UTC)


def _at(days_ago: float) -> str:
    return (NOW - dt.timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _catalogue(rng: random.Random) -> list[A]:
    """Six assets a day on average; the machine grows surer over the month."""
    assets = []
    for i in range(170):
        days_ago = rng.randrange(DAYS)
        sureness = 0.55 + 0.4 * (DAYS - days_ago) / DAYS
        p = min(0.995, rng.uniform(sureness - 0.25, sureness + 0.1))
        tag = T(attribute="category", value=rng.choice(VALUES), probability=p)
        brand = rng.choice(BRANDS)
        assets.append(A(id=f"shot-{i}", brand=brand, at=_at(days_ago + 0.5), tags=(tag,)))
    return assets


def _decide(server: Server, asset: A, rng: random.Random) -> None:
    """A reviewer keeps the machine's value about as often as its probability says."""
    tag = asset.tags[0]
    given = {"assetId": asset.id, "attribute": "category", "expectedRevision": 1}
    given["shownMs"] = rng.randint(2_000, 20_000)  # as the review page times a card
    if rng.random() < tag.probability - 0.05:
        server.gql(CONFIRM, {"i": given}, key=REVIEWER)
        return
    other = rng.choice([v for v in VALUES if v != tag.value])
    server.gql(CORRECT, {"i": given | {"value": other}}, key=REVIEWER)


async def _taxonomy_applied(settings: Settings) -> None:
    store = Store(settings)
    try:
        change = TaxonomyChange(id="change:t2", version="t2", replaces="t1", created_at=_at(14))
        await store.taxonomies.record_change(change)
        await store.client.indices.refresh(index=settings.index_name("taxonomies"))
    finally:
        await store.close()


def _step(step: HeadStep, days_ago: float, version: str, champion: str | None = None) -> HeadEvent:
    return HeadEvent(
        event_id=f"{step}:{version}",
        attribute="category",
        step=step,
        at=_at(days_ago),
        actor="cadence@web-1",
        version=version,
        champion=champion,
    )


HISTORY = [
    _step("trained", 21, "tuned:category:1"),
    _step("promoted", 20, "tuned:category:1"),
    _step("trained", 9, "tuned:category:2", champion="tuned:category:1"),
    _step("promoted", 8, "tuned:category:2", champion="tuned:category:1"),
]


def populate(server: Server) -> None:
    rng = random.Random(20)
    assets = _catalogue(rng)
    server.create(assets, thumbnails=False)
    for asset in assets[:90]:
        _decide(server, asset, rng)
    run(sample_round(server.settings, "r1", "category"))
    for asset in assets[90:130]:  # the round's draws among them are answered this week
        _decide(server, asset, rng)
    run(append_head_events(server.settings, HISTORY))
    run(_taxonomy_applied(server.settings))


def shoot(server: Server) -> None:
    since = (NOW - dt.timedelta(days=DAYS)).date()
    url = f"{server.url}/quality?attribute=category&since={since}&until={NOW.date()}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1320, "height": 900})
        page.goto(url)
        page.fill("#api-key", VIEWER)
        page.click("form.signin button[type=submit]")
        page.wait_for_selector("body[data-ready=true]")
        page.screenshot(path=str(OUT), full_page=True)
        browser.close()


def main() -> None:
    servers = start_server(os.environ.get("TAGTRAIL_OPENSEARCH_URL", "http://127.0.0.1:9200"))
    server = next(servers)
    try:
        populate(server)
        shoot(server)
    finally:
        servers.close()  # stops the server and drops its indices
    print(f"{OUT}: {OUT.stat().st_size // 1024} KiB", file=sys.stderr)


if __name__ == "__main__":
    main()
