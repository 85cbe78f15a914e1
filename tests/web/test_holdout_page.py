"""The review page's random hold-out queue in a real browser: hold-out assets (a share
picked by a hash of the asset id) are served only under Queue "random hold-out", in hash
order, and never in the pending queue (issue 17, item 4)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tagtrail.domain.holdout import holdout_rank, in_holdout
from tests.api.factories import A, T
from tests.web.conftest import REVIEWER, Server, Tab, sign_in, start_server

pytestmark = [pytest.mark.opensearch, pytest.mark.browser, pytest.mark.slow]

SHARE = 0.3
ASSETS = [
    A(
        id=f"hq-{i}",
        collection="hq",
        sku=f"hq-{i}",
        tags=(T(attribute="category", value="jumper", probability=round(0.80 + i * 0.01, 3)),),
    )
    for i in range(12)
]


@pytest.fixture(scope="module")
def server(opensearch_url: str) -> Iterator[Server]:
    yield from start_server(opensearch_url, TAGTRAIL_HOLDOUT_SHARE=str(SHARE))


def _cards(page: Page) -> list[str]:
    return page.eval_on_selector_all("#grid > li", "els => els.map(e => e.dataset.asset)")


def test_the_hold_out_is_reviewed_in_its_own_queue_in_hash_order(server: Server, tab: Tab) -> None:
    server.create(ASSETS)
    held = [a.id for a in ASSETS if in_holdout(a.id, SHARE)]
    rest = [a.id for a in ASSETS if a.id not in held]  # lowest confidence first
    assert len(held) == 4
    by_hash = sorted(held, key=holdout_rank)
    assert by_hash != held  # not the order of confidence

    url = f"{server.url}/review?attribute=category&collection=hq"
    page = sign_in(tab, url, REVIEWER)
    expect(page.locator("#counter")).to_have_text(f"{len(rest)} left")
    assert _cards(page) == rest

    page.goto(f"{url}&queue=HOLDOUT")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#f-queue")).to_have_value("HOLDOUT")
    expect(page.locator("#f-order")).to_be_hidden()  # the hold-out's order is fixed
    expect(page.locator("#counter")).to_have_text(f"{len(held)} left")
    assert _cards(page) == by_hash
    page.keyboard.press("c")  # decided like any pending tag
    expect(page.locator("#counter")).to_have_text(f"{len(held) - 1} left")
    assert _cards(page) == by_hash[1:]
