"""The buyer's search page in a real browser: facets with counts, paging, more like this,
and similarity to a photo dropped on the page."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.api.factories import A, T
from tests.web.conftest import REVIEWER, VIEWER, Server, Tab, sign_in
from tests.web.support import photo

pytestmark = [pytest.mark.opensearch, pytest.mark.browser, pytest.mark.slow]


def _catalogue() -> list[A]:
    colours = ["navy", "navy", "black", "tomato", "black", "navy"]
    categories = ["peacoat", "jumper", "peacoat", "jumper", "trench_coat", "trench_coat"]
    return [
        A(
            id=f"s-{i}",
            sku=f"SK-{i}",
            axis=2 + i,
            mix=0.3 if i < 3 else 0.0,
            tags=(
                T(attribute="colour", value=c),
                T(attribute="category", value=k),
                T(attribute="material", value="wool", probability=0.5),
            ),
        )
        for i, (c, k) in enumerate(zip(colours, categories, strict=True))
    ]


def test_facets_filter_with_counts_and_tag_state(server: Server, tab: Tab) -> None:
    server.create(_catalogue())
    page = sign_in(tab, f"{server.url}/search", VIEWER)
    expect(page.locator("#heading")).to_have_text("6 assets")
    colour = page.locator("fieldset[data-facet='attribute:colour']")
    expect(colour.locator("label", has_text="Navy")).to_contain_text("(3)")
    states = page.locator("fieldset[data-facet='tag_state:state']")
    expect(states.locator("label", has_text="auto applied")).to_contain_text("(6)")
    colour.locator("label", has_text="Navy").locator("input").check()
    expect(page.locator("#heading")).to_have_text("3 assets")
    # Multi-select: the colour facet still counts the other colours.
    expect(colour.locator("label", has_text="Black")).to_contain_text("(2)")
    category = page.locator("fieldset[data-facet='attribute:category']")
    expect(category.locator("label", has_text="Trench Coat")).to_contain_text("(1)")
    category.locator("label", has_text="Trench Coat").locator("input").check()
    expect(page.locator("#heading")).to_have_text("1 asset")
    expect(page.locator("#results > li")).to_have_count(1)
    expect(page.locator("#results > li")).to_contain_text("SK-5")
    colour.locator("label", has_text="Black").locator("input").check()  # OR within colour
    expect(page.locator("#heading")).to_have_text("2 assets")
    # Suggestions only count when asked for: material is a suggestion here.
    expect(page.locator("fieldset[data-facet='attribute:material']")).to_have_count(0)
    page.check("#q-suggested")
    page.click("#q-go")
    expect(page.locator("fieldset[data-facet='attribute:material']")).to_contain_text("(2)")
    page.locator("fieldset[data-facet='tag_state:state'] label", has_text="suggested").locator(
        "input"
    ).check()
    expect(page.locator("#heading")).to_have_text("2 assets")
    assert not tab.blocked
    assert not tab.errors


def test_an_asset_without_a_thumbnail_shows_a_placeholder(server: Server, tab: Tab) -> None:
    server.create(
        [A(id="nothumb", sku="NO-THUMB", tags=(T(attribute="colour", value="navy"),))],
        thumbnails=False,
    )
    page = sign_in(tab, f"{server.url}/search", VIEWER)
    card = page.locator("#results > li", has_text="NO-THUMB")
    expect(card.locator("img.thumb")).to_have_class(re.compile("placeholder"))
    expect(card.locator("img.thumb")).to_have_attribute("alt", re.compile("no thumbnail kept"))
    shown = page.locator("#results > li", has_text="SK-0").locator("img.thumb")
    expect(shown).to_have_attribute("src", re.compile("^data:image/webp;base64,"))


def test_free_text_and_more_like_this(server: Server, tab: Tab) -> None:
    page = sign_in(tab, f"{server.url}/search", VIEWER)
    page.fill("#q-text", "peacoat")
    page.click("#q-go")
    expect(page.locator("#heading")).to_have_text(re.compile(r"^\d+ assets?$"))
    expect(page.locator("#status")).to_have_text(re.compile("text matched (lexical|hybrid)"))
    for peacoat in ("SK-0", "SK-2"):  # lexical matches (plus CLIP neighbours when hybrid)
        expect(page.locator("#results > li", has_text=peacoat)).to_have_count(1)
    page.fill("#q-text", "")
    page.click("#q-go")
    page.get_by_role("button", name="More like SK-0").click()
    expect(page.locator("#heading")).to_have_text(re.compile("^Similar to SK-0: "))
    first = page.locator("#results > li").first
    expect(first).to_contain_text(re.compile("SK-[12]"))  # the assets sharing its vector mix
    expect(page.locator("#results > li", has_text="SK-0")).to_have_count(0)  # not itself
    page.click("#back")
    expect(page.locator("#heading")).to_have_text(re.compile("assets?$"))


def test_find_similar_to_a_dropped_photo(server: Server, tab: Tab, tmp_path: Path) -> None:
    # Uploaded photos carry vectors of the server's own encoder (random-init here).
    skus = []
    for n, colour in enumerate([(200, 30, 30), (30, 160, 60), (40, 40, 180)]):
        meta = f'{{"sku": "UP-{n}", "brand": "Kobo"}}'
        response = httpx.post(
            f"{server.url}/assets",
            files={"image": (f"up{n}.jpg", photo(colour), "image/jpeg")},
            data={"metadata": meta},
            headers={"Authorization": f"Bearer {REVIEWER}"},
            timeout=60,
        )
        assert response.status_code == 201, response.text
        skus.append(f"UP-{n}")
    # Uploads become searchable with the index's 1 s refresh; a loaded machine can search
    # before it runs, and this test is about the drop, not about that race.
    url = server.settings.effective_opensearch_url.split(",")[0]
    httpx.post(f"{url}/{server.settings.index_name('assets')}/_refresh", timeout=30)
    dropped = tmp_path / "look-alike.jpg"
    dropped.write_bytes(photo((30, 160, 60)))  # the same bytes as UP-1
    page = sign_in(tab, f"{server.url}/search", VIEWER)
    page.set_input_files("#q-file", str(dropped))
    expect(page.locator("#heading")).to_have_text(re.compile("^Similar to look-alike.jpg: "))
    first = page.locator("#results > li").first
    expect(first).to_contain_text("UP-1")
    expect(first).to_contain_text("similarity 1.000")
    thumb = first.locator("img.thumb")
    expect(thumb).to_have_attribute("src", re.compile("^data:image/webp;base64,"))
    assert not tab.blocked
    assert not tab.errors
