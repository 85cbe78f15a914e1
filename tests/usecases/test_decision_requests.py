"""What one reviewer decision and one upload ask of the store: the asset is read once; a
confirm is four requests (read the asset, claim its next revision, read the kept tags' terms,
write the document), an upload five (its thumbnail, one read, three bulk writes). Counted at
the store client's transport, on the real node."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tagtrail.domain.decisions import Decision
from tagtrail.errors import Conflict
from tagtrail.store import Store
from tagtrail.usecases.runtime import Runtime
from tests.api.conftest import Api
from tests.api.factories import A, T
from tests.web.support import photo

pytestmark = pytest.mark.opensearch


@contextmanager
def requests_of(client: Any) -> Iterator[list[tuple[str, str]]]:
    """(method, path) of every request the client sends inside the block."""
    transport = client.transport
    inner = transport.perform_request
    seen: list[tuple[str, str]] = []

    async def recording(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        seen.append((method, url.split("?")[0]))
        return await inner(method, url, *args, **kwargs)

    transport.perform_request = recording
    try:
        yield seen
    finally:
        transport.perform_request = inner


async def _runtime(api: Api) -> Runtime:
    # The taxonomy is read once per process (and on its refresh interval), not per decision.
    settings = api.settings.with_changes(taxonomy_refresh_s=3600.0)
    runtime = Runtime(settings, store=Store(settings, client=api.client))
    await runtime.taxonomy.current()
    return runtime


def _asset_reads(api: Api, seen: list[tuple[str, str]], asset_id: str) -> list[tuple[str, str]]:
    path = f"/{api.settings.index_name('assets')}/_doc/{asset_id}"
    return [r for r in seen if r == ("GET", path)]


async def test_a_confirm_reads_the_asset_once_in_four_requests(api: Api) -> None:
    await api.create([A(id="q1", tags=(T(attribute="category", value="jumper", probability=0.8),))])
    runtime = await _runtime(api)
    with requests_of(api.client) as seen:
        decided = await runtime.review.decide(
            "q1", 1, Decision(kind="confirmed", attribute="category"), "rita"
        )
    assert decided.asset.revision == 2
    assert len(_asset_reads(api, seen, "q1")) == 1, seen
    events = api.settings.index_name("tag_events")
    assets = api.settings.index_name("assets")
    assert [(m, *p.split("/")[1:3]) for m, p in seen] == [
        ("GET", assets, "_doc"),  # the asset, once
        ("PUT", events, "_create"),  # the claim of revision 2
        ("POST", events, "_mget"),  # the kept tags' free-text terms, for the fold
        ("PUT", assets, "_doc"),  # the document, guarded by its sequence number
    ], seen


async def test_a_stale_revision_is_one_read_and_nothing_written(api: Api) -> None:
    # Older than the document's (a newer one could be a cut-short write's: that read heals).
    await api.create([A(id="q2", tags=(T(attribute="category", value="jumper", probability=0.8),))])
    runtime = await _runtime(api)
    with requests_of(api.client) as seen, pytest.raises(Conflict) as raised:
        await runtime.review.decide(
            "q2", 0, Decision(kind="rejected", attribute="category"), "rita"
        )
    assert raised.value.current_revision == 1
    assert seen == [("GET", f"/{api.settings.index_name('assets')}/_doc/q2")]


async def test_an_undo_reads_the_asset_once(api: Api) -> None:
    await api.create([A(id="q3", tags=(T(attribute="category", value="jumper", probability=0.8),))])
    runtime = await _runtime(api)
    confirm = Decision(kind="confirmed", attribute="category")
    await runtime.review.decide("q3", 1, confirm, "rita")
    with requests_of(api.client) as seen:
        undone = await runtime.review.decide(
            "q3", 2, Decision(kind="reopened", attribute="category"), "rita"
        )
    assert undone.event.kind == "reopened"
    assert len(_asset_reads(api, seen, "q3")) == 1, seen


async def test_an_upload_reads_the_store_once_and_writes_in_four_bulk_requests(api: Api) -> None:
    runtime = await _runtime(api)
    await runtime.tagging.tagger()  # built once per process (server start-up), not per upload
    with requests_of(api.client) as seen:
        uploaded = await runtime.uploads.upload(photo((40, 60, 120)), "navy.jpg", {"sku": "Q-4"})
    assert uploaded.status == "created"
    assert uploaded.asset.sku == "Q-4"
    assets = api.settings.index_name("assets")
    assert [(m, *p.split("/")[1:3]) for m, p in seen] == [
        ("POST", "_bulk"),  # the thumbnail, put-if-absent
        ("POST", assets, "_mget"),  # these bytes stored before? (the one read)
        ("POST", "_bulk"),  # the document at revision 0, put-if-absent
        ("POST", "_bulk"),  # its revision-1 events
        ("POST", "_bulk"),  # the document at revision 1: the fold of those events
    ], seen
