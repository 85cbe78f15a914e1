"""The retraining cadence end to end on the real node, with two servers' runtimes over one
store: decisions arrive, exactly one server trains a challenger, it shadows new photos,
reviewers judge them, and it is promoted (policy auto) or left for an admin (manual); every
step is a head event, listed by ``headEvents`` with why."""

from __future__ import annotations

import asyncio

import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.domain.cadence import HeadEvent
from tagtrail.store import Store
from tagtrail.usecases.champions import CHALLENGER, CHAMPION
from tagtrail.usecases.runtime import Runtime
from tests.api.conftest import Api
from tests.api.test_shadow import _batch, _review

pytestmark = pytest.mark.opensearch

EVENTS = """
query($after: String, $first: Int!) {
  headEvents(attribute: "shot_type", first: $first, after: $after) {
    __typename
    ... on HeadEventsPage { events { step actor version explanation decisions shadowN }
                            endCursor hasMore }
    ... on InvalidInput { message field } } }"""


def _servers(settings: Settings, indexed: AsyncOpenSearch, **policy: object) -> list[Runtime]:
    tuned = settings.with_changes(
        **{"retrain_every": "shot_type=20", "retrain_shadow_decisions": 10, **policy}
    )
    return [Runtime(tuned, Store(tuned, indexed)) for _ in range(2)]


async def _tick_both(servers: list[Runtime]) -> list[HeadEvent]:
    ticks = await asyncio.gather(*(s.cadence.tick() for s in servers))
    return [e for tick in ticks for e in tick]


async def test_the_cadence_trains_shadows_and_promotes_on_its_own(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    servers = _servers(settings, indexed, retrain_promotion="shot_type=auto")
    a, b = servers
    assert a.cadence.holder != b.cadence.holder
    fingerprint = (await a.tagging.tagger()).model_fingerprint
    trained_on = _batch("t", fingerprint, 6, 7)  # 24 photos, 4 shot types
    await api.create([x for x, _ in trained_on])
    await _review(api, trained_on[:12], 1)
    assert await _tick_both(servers) == []  # 12 decisions < 20: nothing is due

    await _review(api, trained_on[12:], 1)
    added = await _tick_both(servers)
    steps = [e.step for e in added]
    assert steps == ["trained", "shadowing"], added  # one server trained; the other waited
    trained = added[0]
    assert trained.decisions == 24
    assert "every 20" in (trained.trigger or "")
    assert trained.actor in (a.cadence.actor, b.cadence.actor)
    version = trained.version
    assert version is not None
    heads = a.store.heads
    assert (await heads.alias(CHALLENGER, "shot_type")).version == version
    assert await _tick_both(servers) == []  # shadowing: no reviewer judged its proposals yet

    # New photos: the champion tags them, the challenger's proposals are kept beside.
    fresh = _batch("n", fingerprint, 5, 8)
    await api.create([x for x, _ in fresh])
    await a.retag.run()
    await _review(api, fresh, 2)
    added = await _tick_both(servers)
    assert [e.step for e in added] == ["promoted"], added
    assert added[0].version == version
    assert "auto promotion" in (added[0].trigger or "")
    assert (await heads.alias(CHAMPION, "shot_type")).version == version

    page = (await api.data(EVENTS, {"first": 2}))["headEvents"]
    assert [e["step"] for e in page["events"]] == ["promoted", "shadowing"]
    assert page["hasMore"]
    rest = (await api.data(EVENTS, {"first": 10, "after": page["endCursor"]}))["headEvents"]
    assert [e["step"] for e in rest["events"]] == ["trained"]
    assert not rest["hasMore"]
    assert rest["endCursor"] is None
    assert "trained " + version in rest["events"][0]["explanation"]
    assert "because 24 reviewer decisions" in rest["events"][0]["explanation"]
    bad = (await api.data(EVENTS, {"first": 1, "after": "nope"}))["headEvents"]
    assert bad["__typename"] == "InvalidInput"
    assert bad["field"] == "after"

    # The 20 judgements of the fresh photos are new decisions: the next round begins.
    again = await _tick_both(servers)
    assert [e.step for e in again] == ["trained", "shadowing"], again
    assert again[0].decisions == 20
    assert again[0].version != version
    assert await _tick_both(servers) == []  # it shadows until reviewers judge its proposals
    for server in servers:
        await server.close()


async def test_a_manual_policy_leaves_the_challenger_for_an_admin(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    servers = _servers(settings, indexed, retrain_shadow_decisions=0)
    a = servers[0]
    fingerprint = (await a.tagging.tagger()).model_fingerprint
    decided = _batch("t", fingerprint, 6, 7)
    await api.create([x for x, _ in decided])
    await _review(api, decided, 1)
    added = await _tick_both(servers)
    assert [e.step for e in added] == ["trained", "shadowing"]
    version = added[0].version
    verdict = await _tick_both(servers)  # no judgements needed: the gate decides now
    assert [e.step for e in verdict] == ["awaiting_admin"], verdict
    assert "awaits an admin" in verdict[0].explanation()
    assert (await a.store.heads.alias(CHAMPION, "shot_type")).version != version
    assert await _tick_both(servers) == []  # said once

    # The admin promotes: that is a head event too.
    promoted = await a.heads.promote("shot_type", version or "", actor="ada")
    assert promoted.promoted
    listed = await a.head_history.events(first=10, attribute="shot_type", steps=("promoted",))
    assert [(e.actor, e.version) for e in listed.events] == [("ada", version)]
    for server in servers:
        await server.close()


async def test_a_challenger_is_judged_before_a_newer_one_replaces_it(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    """Training falls due every 10 decisions but a verdict needs 20 judgements: the
    decisions that judge the waiting challenger must not replace it first (regression: every
    challenger was superseded and none was ever judged)."""
    servers = _servers(settings, indexed, retrain_every="shot_type=10", retrain_shadow_decisions=20)
    a = servers[0]
    fingerprint = (await a.tagging.tagger()).model_fingerprint
    decided = _batch("t", fingerprint, 6, 7)
    await api.create([x for x, _ in decided])
    await _review(api, decided, 1)
    added = await _tick_both(servers)
    assert [e.step for e in added] == ["trained", "shadowing"]
    fresh = _batch("n", fingerprint, 5, 8)  # 20 photos tagged before it: computed proposals
    await api.create([x for x, _ in fresh])
    await _review(api, fresh[:12], 1)
    assert await _tick_both(servers) == []  # 12 judgements: neither judged nor replaced
    await _review(api, fresh[12:], 1)
    verdict = await _tick_both(servers)
    assert [e.step for e in verdict] == ["awaiting_admin"], verdict
    assert verdict[0].version == added[0].version
    assert verdict[0].shadow_n == 20
    for server in servers:
        await server.close()


async def test_a_round_gives_back_its_newest_lease(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    """A round that outlives a third of the lease renews it; the release must name the
    newest renewal, or the lease stays held until it expires (regression)."""
    (a, b) = _servers(settings, indexed, retrain_lease_s=1.0, retrain_shadow_decisions=0)
    fingerprint = (await a.tagging.tagger()).model_fingerprint
    decided = _batch("t", fingerprint, 6, 7)
    await api.create([x for x, _ in decided])
    await _review(api, decided, 1)

    slow = a.cadence._attributes

    async def attributes() -> list[str]:
        await asyncio.sleep(1.2)  # past three renewals' worth of a 1 s lease
        return await slow()

    a.cadence._attributes = attributes  # type: ignore[method-assign]
    assert [e.step for e in await a.cadence.tick()] == ["trained", "shadowing"]
    assert await a.store.leases.holder("retraining") is None  # given back at once
    assert [e.step for e in await b.cadence.tick()] == ["awaiting_admin"]  # b may take it
    for server in (a, b):
        await server.close()
