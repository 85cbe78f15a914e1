"""A node of a three-node cluster dies (kill -9) under ingest, review and search load.

Every write the store acknowledged is there afterwards, exactly once; searches answer while
the cluster is yellow; of two reviewers deciding on the same revision exactly one wins; the
asset documents are exactly the fold of their events; and the cluster is green again once
the node is back. The numbers are printed (``pytest -s``) so they can be quoted.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tagtrail.config import Settings, load_settings
from tagtrail.demo.catalogue import generate_catalogue
from tagtrail.domain.records import event_id
from tagtrail.embedded.cluster import EmbeddedCluster
from tagtrail.tagging.taxonomy_files import load_palette
from tagtrail.usecases.ingest import IngestItem
from tagtrail.usecases.runtime import Runtime
from tests.cluster.load import Ledger, ingest_all, reviewer, searcher

pytestmark = [pytest.mark.opensearch, pytest.mark.slow]

PHOTOS = 500
BATCH = 25  # per ingest call: bigger batches cost less per photo
REVIEWERS = 3
PHASE_TIMEOUT_S = 240.0


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[IngestItem]:
    out = tmp_path_factory.mktemp("cluster-photos")
    palette = load_palette(Path(Settings().taxonomy_dir) / "colours.yaml")
    # Small renders: the test is about the store, and 500 full-size renders cost a minute.
    generate_catalogue(PHOTOS, out, palette=palette, seed=11, size=96)
    with (out / "manifest.csv").open() as fh:
        rows = {r["filename"]: r for r in csv.DictReader(fh)}
    return [
        IngestItem(
            name=name,
            data=(out / name).read_bytes(),
            metadata={k: rows[name][k] for k in ("sku", "brand", "collection", "shoot_date")},
        )
        for name in sorted(rows)
    ]


async def _until(
    done: Callable[[], bool], tasks: list[asyncio.Task[Any]], what: str, timeout_s: float
) -> None:
    """Wait for ``done`` while the load runs; a load task that failed fails the test now."""
    deadline = time.monotonic() + timeout_s
    while not done():
        for task in tasks:
            if task.done() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def _primary_holder(runtime: Runtime, settings: Settings) -> tuple[int, bool]:
    """The node (0-based) holding most primaries of the asset and event indices, and
    whether it is the elected cluster manager."""
    client = runtime.store.client
    shards = await client.cat.shards(index=f"{settings.index_prefix}-*", format="json")
    primaries = Counter(
        s["node"]
        for s in shards
        if s["prirep"] == "p" and ("-assets-" in s["index"] or "-tag_events-" in s["index"])
    )
    name = primaries.most_common(1)[0][0]
    manager = (await client.cat.cluster_manager(format="json"))[0]["node"]
    return int(name.rsplit("-", 1)[1]) - 1, name == manager


async def _health(cluster: EmbeddedCluster, nodes: int, status: str) -> bool:
    health = await asyncio.to_thread(cluster.health)
    return health is not None and health.number_of_nodes == nodes and health.status == status


async def _repeated_decisions(runtime: Runtime, index: str) -> int:
    """Reviewer decision events beyond the first per note (every decision the load makes
    carries a note of its own): a decision applied twice, say resent after an answer lost
    in the failover and landing at the next revision, shows here."""
    result = await runtime.store.client.search(
        index=index,
        body={
            "size": 10_000,
            "query": {"terms": {"kind": ["confirmed", "rejected", "corrected"]}},
            "_source": ["note"],
        },
    )
    notes = [hit["_source"].get("note") for hit in result["hits"]["hits"]]
    return len(notes) - len(set(notes))


async def _verify(
    runtime: Runtime, settings: Settings, ledger: Ledger, photos: list[IngestItem]
) -> dict[str, int]:
    client, store = runtime.store.client, runtime.store
    await store.refresh()
    assets, events = settings.index_name("assets"), settings.index_name("tag_events")
    expected = {hashlib.sha256(p.data).hexdigest() for p in photos}
    assert set(ledger.assets) == expected  # every photo was acknowledged in the end
    docs = await client.mget(index=assets, body={"ids": sorted(expected)}, _source="content_hash")
    lost_assets = [d["_id"] for d in docs["docs"] if not d.get("found")]
    stored_assets = int((await client.count(index=assets))["count"])
    found = await client.mget(index=events, body={"ids": sorted(ledger.decisions)})
    lost_decisions = [
        d["_id"]
        for d in found["docs"]
        if not d.get("found") or d["_source"].get("note") != ledger.decisions[d["_id"]]
    ]
    numbers = {
        "lost": len(lost_assets) + len(lost_decisions),
        # Asset ids are content hashes, so a photo stored twice can only show in the count.
        "duplicates": await _repeated_decisions(runtime, events) + stored_assets - len(expected),
    }
    assert lost_assets == [], lost_assets
    assert lost_decisions == [], lost_decisions
    assert numbers["duplicates"] == 0
    for race in ledger.races:
        claim = await store.events.get(event_id(race.asset_id, race.revision + 1, 0))
        stored = claim.note if claim is not None and claim.note in race.notes else None
        assert len(race.winners) <= 1, race
        if race.winners:
            assert stored == race.winners[0], race  # the one told it won is the one kept
        if race.conflicts:
            assert stored is not None, race  # a loser lost to the other racer
        if race.outages == 0:
            assert (len(race.winners), race.conflicts) == (1, 1), race
    report = await runtime.admin.reproject(sorted(expected))
    assert (report.checked, report.changed) == (len(expected), 0)
    return numbers


async def test_node_kill_loses_no_acknowledged_write(
    cluster: EmbeddedCluster, photos: list[IngestItem]
) -> None:
    started = time.monotonic()
    settings = load_settings(
        environ={},
        opensearch_url=cluster.url_list,
        index_prefix=f"tt-cluster-{uuid.uuid4().hex[:8]}",
        dev=True,
        model="random-init:tiny",
        batch_size=8,
    )
    runtime = Runtime(settings)
    try:
        await runtime.store.ensure_indices()
        index_settings = await runtime.store.client.indices.get_settings(
            index=settings.index_name("assets")
        )
        (only,) = index_settings.values()
        assert only["settings"]["index"]["number_of_replicas"] == "1"  # chosen automatically
        await asyncio.to_thread(cluster.wait, statuses=("green",))

        ledger, queue, stop = Ledger(), asyncio.Queue[tuple[int, str] | None](), asyncio.Event()
        tasks = [
            asyncio.create_task(ingest_all(runtime, ledger, photos, BATCH, queue)),
            asyncio.create_task(searcher(runtime, ledger, stop)),
            *(asyncio.create_task(reviewer(runtime, ledger, queue)) for _ in range(REVIEWERS)),
        ]
        await _until(
            lambda: len(ledger.assets) >= PHOTOS // 4 and len(ledger.decisions) >= 20,
            tasks,
            "load before the kill",
            PHASE_TIMEOUT_S,
        )
        victim, was_manager = await _primary_holder(runtime, settings)
        before = (len(ledger.assets), len(ledger.decisions))
        killed_at = time.monotonic()
        assert cluster.nodes[victim].kill()
        while not await _health(cluster, 2, "yellow"):
            assert time.monotonic() - killed_at < 120, "the cluster never became yellow"
            await asyncio.sleep(0.2)
        ledger.node_down = True
        await _until(
            lambda: (
                len(ledger.assets) >= before[0] + PHOTOS // 5
                and len(ledger.decisions) >= before[1] + 40
                and ledger.searches_ok_while_down >= 5
            ),
            tasks,
            "load while the node was down",
            PHASE_TIMEOUT_S,
        )
        ledger.node_down = False
        down_s = time.monotonic() - killed_at
        during = (len(ledger.assets) - before[0], len(ledger.decisions) - before[1])
        await asyncio.to_thread(cluster.start_node, victim)

        await _until(lambda: ledger.ingest_done, tasks, "the end of ingest", PHASE_TIMEOUT_S)
        for _ in range(REVIEWERS):
            queue.put_nowait(None)
        await asyncio.gather(*tasks[2:])
        stop.set()
        await asyncio.gather(*tasks)
        await asyncio.to_thread(cluster.wait, statuses=("green",), timeout_s=180)
        numbers = await _verify(runtime, settings, ledger, photos)
    finally:
        await runtime.close()
    print(
        f"\ncluster failover: ingested={len(ledger.assets)} (created={ledger.created}) "
        f"decisions={len(ledger.decisions) + len(ledger.landed)} "
        f"(acknowledged={len(ledger.decisions)}, landed after an outage answer="
        f"{len(ledger.landed)}) races={len(ledger.races)} "
        f"(one winner each; clean={sum(r.outages == 0 for r in ledger.races)}) "
        f"retries={sum(ledger.retries.values())} {dict(ledger.retries)} "
        f"lost={numbers['lost']} duplicates={numbers['duplicates']} "
        f"searches ok={ledger.searches_ok} (while down={ledger.searches_ok_while_down}) "
        f"failed={ledger.searches_failed}; killed node {victim + 1} "
        f"(cluster manager: {was_manager}) for {down_s:.0f}s, meanwhile +{during[0]} photos "
        f"+{during[1]} decisions; {time.monotonic() - started:.0f}s"
    )
    assert len(ledger.decisions) >= 200
    assert ledger.searches_ok_while_down >= 5
