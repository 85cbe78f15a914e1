"""Many assets' next revisions in three bulk requests, with the single write's guarantees:
a stale revision or a revision another writer claimed is a conflict that writes nothing, a
cut-short write heals on the next read, and the documents are exactly the fold of events."""

from __future__ import annotations

from typing import Any

import pytest
from opensearchpy import AIOHttpConnection, AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as TransportConnectionError

from tagtrail.domain.records import Actor, TagEvent, event_id, utc_now
from tagtrail.store import Store, StoredAsset
from tagtrail.store.client import GuardedTransport, MsgspecSerializer
from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch


def _confirm(stored: StoredAsset) -> list[TagEvent]:
    tag = next(t for t in stored.source["tags"] if t["attribute"] == "category")
    seq = stored.revision + 1
    return [
        TagEvent(
            event_id=event_id(stored.asset_id, seq, 0),
            asset_id=stored.asset_id,
            attribute="category",
            kind="confirmed",
            seq=seq,
            at=utc_now(),
            state="confirmed",
            actor=Actor(type="human", id="batch"),
            value=tag["value"],
            previous_value=tag["value"],
            values=tuple(tag["values"]),
        )
    ]


async def test_batch_writes_guards_and_conflicts(api: Api) -> None:
    tag = (T(attribute="category", value="jumper", probability=0.8),)
    await api.create([A(id=f"b{i}", tags=tag) for i in range(5)])
    store = Store(api.settings, client=api.client)
    # b1: someone else decided first (stale expected revision); b2: another writer already
    # claimed revision 2; b3: nothing to write; b4: missing.
    await store.assets.apply("b1", 1, _confirm)
    await store.events.append_revision(
        [msgspec_replace(_confirm(await store.assets.get("b2"))[0], actor_id="other")]
    )
    plans = [
        ("b0", 1, _confirm),
        ("b1", 1, _confirm),
        ("b2", 1, _confirm),
        ("b3", 1, lambda _: []),
        ("nope", 1, _confirm),
    ]
    result = await store.apply_batch(plans)
    assert result == {
        "b0": "written",
        "b1": "conflict",
        "b2": "conflict",
        "b3": "unchanged",
        "nope": "missing",
    }
    assert (await api.source("b0"))["revision"] == 2
    assert next(t for t in (await api.source("b0"))["tags"])["state"] == "confirmed"
    assert (await api.source("b3"))["revision"] == 1
    # b2's revision 2 is the other writer's: healed on read, and the batch added nothing.
    events = [e for e in await api.events("b2") if e["seq"] == 2]
    assert [e["actor"]["id"] for e in events] == ["other"]
    for asset_id in ("b0", "b1", "b2"):
        assert await store.assets.reproject(asset_id) is False


def msgspec_replace(event: TagEvent, *, actor_id: str) -> TagEvent:
    import msgspec

    return msgspec.structs.replace(event, actor=Actor(type="human", id=actor_id))


class AnswerLostOnce(AIOHttpConnection):
    """Loses the answer of the first bulk request that creates ``lose``'s id (the request
    has landed): opensearch-py's transport then resends it, as it does on another node when
    one dies mid-request."""

    def __init__(self, *args: Any, lose: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lose = f'"{lose}"'.encode()
        self.lost = False

    async def perform_request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        answer = await super().perform_request(method, url, *args, **kwargs)
        body = args[1] if len(args) > 1 else kwargs.get("body")
        sent = body if isinstance(body, bytes) else str(body or "").encode()
        if not self.lost and url.endswith("/_bulk") and self.lose in sent:
            self.lost = True
            raise TransportConnectionError("N/A", "connection reset before the answer", None)
        return answer


async def test_a_resent_claim_is_the_batchs_own(api: Api) -> None:
    """The claims' bulk request lands, its answer is lost and the transport resends it: the
    409 on the batch's own claim is not a conflict, and the rest of the revision is written."""
    await api.create(
        [
            A(
                id="rs",
                tags=(
                    T(attribute="category", value="jumper", probability=0.8),
                    T(attribute="pattern", value="stripe", probability=0.8),
                ),
            )
        ]
    )
    client = AsyncOpenSearch(
        hosts=list(api.settings.opensearch_urls),
        serializer=MsgspecSerializer(),
        transport_class=GuardedTransport,
        connection_class=AnswerLostOnce,
        lose=event_id("rs", 2, 0),
        max_retries=1,
        retry_on_timeout=False,
    )
    try:
        store = Store(api.settings, client=client)
        result = await store.apply_batch([("rs", 1, _confirm_two)])
        [connection] = client.transport.connection_pool.connections
        assert connection.lost  # the claim was sent twice
    finally:
        await client.close()
    assert result == {"rs": "written"}  # before: "conflict", and only the claim stored
    source = await api.source("rs")
    assert source["revision"] == 2
    assert {t["attribute"]: t["state"] for t in source["tags"]} == {
        "category": "confirmed",
        "pattern": "confirmed",
    }
    assert [e["seq"] for e in await api.events("rs")] == [1, 1, 2, 2]


def _confirm_two(stored: StoredAsset) -> list[TagEvent]:
    seq, at = stored.revision + 1, utc_now()
    return [
        TagEvent(
            event_id=event_id(stored.asset_id, seq, n),
            asset_id=stored.asset_id,
            attribute=t.attribute,
            kind="confirmed",
            seq=seq,
            at=at,
            state="confirmed",
            actor=Actor(type="human", id="batch"),
            value=t.value,
            previous_value=t.value,
            values=t.values,
        )
        for n, t in enumerate(sorted(stored.tags(), key=lambda t: t.attribute))
    ]
