"""Two real ``tagtrail serve`` processes on different ports over one store.

Each process keeps its own caches (the tagger and its champion heads), so this is where a
second server could let a stale revision through, or keep tagging with a head the other one
replaced. Same-revision decisions sent to both at once: exactly one wins, the other is told
Conflict (never a 500), the trail holds one decision per race and both servers answer the
same tag. A head promoted through A: B serves it as champion and tags its uploads with it
within its heads refresh interval.
"""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from opensearchpy import AsyncOpenSearch
from PIL import Image

from tagtrail.api.auth import hash_key
from tagtrail.config import Settings
from tagtrail.domain.taxonomy import Taxonomy
from tests.api.factories import A, create_assets
from tests.api.test_heads import CORRECT, DECIDE, HEADS, PROMOTE, TRAIN, _catalogue
from tests.support.server import ServerProcess, serving

pytestmark = [pytest.mark.opensearch, pytest.mark.slow]

# One reviewer per server, so the trail says which server's decision won.
RITA, OTTO, ADA = "tt_two-rita", "tt_two-otto", "tt_two-ada"
KEYS = ",".join(
    [
        f"rita:reviewer:{hash_key(RITA)}",
        f"otto:reviewer:{hash_key(OTTO)}",
        f"ada:admin:{hash_key(ADA)}",
    ]
)
HEADS_REFRESH_S = 1.0

RESULT = """{ __typename
    ... on TagDecision { revision event { eventId kind actorId seq } }
    ... on Conflict { message currentRevision } }"""
MUTATIONS = {
    kind: f"mutation($input: TagDecisionInput!) {{ {kind}Tag(input: $input) {RESULT} }}"
    for kind in ("confirm", "reject")
}
STATE = """
query($id: ID!, $attribute: String!) {
  asset(id: $id) { ... on Asset { revision
    tag(attribute: $attribute) { value state eventId decidedBy source } } }
  explainTag(assetId: $id, attribute: $attribute) {
    ... on TagExplanation { decision { eventId kind actorId } history { kind actorId } } }
}"""
SHOT = """
query($id: ID!) {
  asset(id: $id) { ... on Asset { tag(attribute: "shot_type") { headVersion eventId } } }
  explainTag(assetId: $id, attribute: "shot_type") {
    ... on TagExplanation { decision { headVersion } head { version champion } } }
}"""
HUMAN = {"confirmed", "rejected", "corrected"}


def _photo(n: int) -> bytes:
    """A small JPEG, different bytes (so a different asset) for every n: its width says n."""
    img = Image.new("RGB", (320 + n, 400), (236, 234, 230))
    img.paste(((37 * n) % 256, (91 * n + 40) % 256, (53 * n + 90) % 256), (64, 60, 256, 340))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90)
    return out.getvalue()


class Client:
    """GraphQL and uploads against one server process."""

    def __init__(self, http: httpx.AsyncClient, server: ServerProcess) -> None:
        self.http = http
        self.server = server

    async def gql(self, query: str, variables: dict[str, Any], *, key: str) -> dict[str, Any]:
        response = await self.http.post(
            f"{self.server.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {key}"},
        )
        # A lost race is an answer (Conflict), never a server error.
        assert response.status_code == 200, (self.server.name, response.text)
        body: dict[str, Any] = response.json()
        assert not body.get("errors"), (self.server.name, body["errors"])
        data: dict[str, Any] = body["data"]
        return data

    async def upload(self, data: bytes, *, key: str) -> dict[str, Any]:
        response = await self.http.post(
            f"{self.server.url}/assets",
            files={"image": ("photo.jpg", data, "image/jpeg")},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 201, (self.server.name, response.text)
        asset: dict[str, Any] = response.json()["asset"]
        return asset


async def review_on_both(a: Client, b: Client, catalogue: list[tuple[A, str]]) -> None:
    """Reviewers on both servers decide each asset's shot type, each on their own assets
    (no conflicts): confirm when the model was right, else correct it."""

    async def review(n: int) -> None:
        asset, truth = catalogue[n]
        c, key = (a, RITA) if n % 2 else (b, OTTO)
        base = {"assetId": asset.id, "attribute": "shot_type", "expectedRevision": 1}
        if asset.tags[0].value == truth:
            answer = (await c.gql(DECIDE, {"input": base}, key=key))["confirmTag"]
        else:
            answer = await c.gql(CORRECT, {"input": {**base, "value": truth}}, key=key)
            answer = answer["correctTag"]
        assert answer["__typename"] == "TagDecision", answer

    await asyncio.gather(*(review(n) for n in range(len(catalogue))))


async def _decision_events(
    client: AsyncOpenSearch, settings: Settings, asset_id: str
) -> list[dict[str, Any]]:
    index = settings.index_name("tag_events")
    await client.indices.refresh(index=index)
    found = await client.search(
        index=index,
        body={"query": {"term": {"asset_id": asset_id}}, "size": 100, "sort": [{"seq": "asc"}]},
    )
    return [h["_source"] for h in found["hits"]["hits"] if h["_source"]["kind"] in HUMAN]


async def _race(
    a: Client, b: Client, asset_id: str, attribute: str, revision: int, a_kind: str
) -> tuple[str, dict[str, Any]]:
    """A decides ``a_kind``, B the other kind, both at ``revision``, at the same moment.
    Returns the winning server's name and its decision."""
    b_kind = "reject" if a_kind == "confirm" else "confirm"
    base = {"assetId": asset_id, "attribute": attribute, "expectedRevision": revision}
    answers = await asyncio.gather(
        a.gql(MUTATIONS[a_kind], {"input": base}, key=RITA),
        b.gql(MUTATIONS[b_kind], {"input": base}, key=OTTO),
    )
    results = [answer[f"{kind}Tag"] for answer, kind in zip(answers, (a_kind, b_kind), strict=True)]
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["Conflict", "TagDecision"], (asset_id, attribute, results)
    winner = 0 if results[0]["__typename"] == "TagDecision" else 1
    won, lost = results[winner], results[1 - winner]
    assert won["revision"] == revision + 1
    assert lost["currentRevision"] == revision + 1, lost
    return ("A", "B")[winner], won


async def test_two_servers_race_and_share_the_champion(
    settings: Settings, client: AsyncOpenSearch, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    started = time.monotonic()
    env = {
        "TAGTRAIL_OPENSEARCH_URL": settings.effective_opensearch_url,
        "TAGTRAIL_INDEX_PREFIX": settings.index_prefix,
        "TAGTRAIL_MODEL": "random-init:tiny",
        "TAGTRAIL_BATCH_SIZE": "8",
        "TAGTRAIL_API_KEYS": KEYS,
        "TAGTRAIL_API_KEYS_FILE": "",
        "TAGTRAIL_DEV": "false",
        "TAGTRAIL_HEADS_REFRESH_S": str(HEADS_REFRESH_S),
        "TAGTRAIL_LOG_FORMAT": "text",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        # Two servers, a test and OpenSearch share the cores: one torch thread each.
        "OMP_NUM_THREADS": "1",
    }
    # Both start at once on an empty prefix: each creates the indices (the loser of that
    # race must take the other's indices, not fail).
    async with (
        serving(["A", "B"], env, tmp_path) as (server_a, server_b),
        httpx.AsyncClient(timeout=60) as http,
    ):
        a, b = Client(http, server_a), Client(http, server_b)
        ready = time.monotonic()

        # --- Same-revision decisions raced at both servers --------------------------------
        assets = await asyncio.gather(*(a.upload(_photo(n), key=RITA) for n in range(4)))
        fingerprint = assets[0]["modelFingerprint"]
        assert fingerprint.startswith("random-init:tiny")
        plan: list[tuple[str, list[str]]] = []
        for asset in assets:
            assert asset["revision"] == 1
            attributes = [
                t["attribute"]
                for t in asset["tags"]
                if t["slot"] is None and t["attribute"] != "shot_type" and not t["reviewed"]
            ]
            assert len(attributes) >= 2, asset["tags"]
            plan.append((asset["id"], attributes[:2]))

        async def race_asset(n: int, asset_id: str, attributes: list[str]) -> list[Any]:
            # Two races per asset, the second at the revision the first one produced;
            # which server confirms and which rejects alternates.
            outcomes = []
            for r, attribute in enumerate(attributes):
                kind = ("confirm", "reject")[(n + r) % 2]
                name, won = await _race(a, b, asset_id, attribute, 1 + r, kind)
                outcomes.append((asset_id, attribute, name, won))
            return outcomes

        rounds = await asyncio.gather(*(race_asset(n, i, at) for n, (i, at) in enumerate(plan)))
        races = [race for outcomes in rounds for race in outcomes]
        winners = [name for _, _, name, _ in races]

        for asset_id, attributes in plan:
            decisions = await _decision_events(client, settings, asset_id)
            # One decision per race: the loser wrote nothing, at any revision.
            assert [(e["attribute"], e["seq"]) for e in decisions] == [
                (attributes[0], 2),
                (attributes[1], 3),
            ], decisions
        for asset_id, attribute, name, won in races:
            reviewer = "rita" if name == "A" else "otto"
            event = won["event"]
            assert event["actorId"] == reviewer
            state = "confirmed" if event["kind"] == "confirmed" else "rejected"
            seen = [
                await c.gql(STATE, {"id": asset_id, "attribute": attribute}, key=RITA)
                for c in (a, b)
            ]
            assert seen[0] == seen[1], (asset_id, attribute, seen)
            tag = seen[0]["asset"]["tag"]
            assert (tag["state"], tag["eventId"], tag["decidedBy"]) == (
                state,
                event["eventId"],
                reviewer,
            )
            explained = seen[0]["explainTag"]
            assert explained["decision"] == {
                "eventId": event["eventId"],
                "kind": event["kind"],
                "actorId": reviewer,
            }
            humans = [h for h in explained["history"] if h["kind"] in HUMAN]
            assert humans == [{"kind": event["kind"], "actorId": reviewer}]
        raced = time.monotonic()

        # --- A head trained and promoted through A; B follows ------------------------------
        # test_heads' catalogue: vectors clustered per true shot type under this encoder's
        # fingerprint, so the trained head passes the promotion gate without force.
        catalogue = _catalogue(fingerprint)
        await create_assets(client, settings, taxonomy, [asset for asset, _ in catalogue])

        await review_on_both(a, b, catalogue)

        before = await a.upload(_photo(100), key=RITA)
        zero_shot = next(t for t in before["tags"] if t["attribute"] == "shot_type")["headVersion"]
        trained = (await a.gql(TRAIN, {}, key=ADA))["trainHead"]
        assert trained["__typename"] == "HeadTrained", trained
        version = trained["head"]["version"]
        assert version != zero_shot
        promoted = (await a.gql(PROMOTE, {"version": version, "force": False}, key=ADA))[
            "promoteHead"
        ]
        assert promoted["__typename"] == "HeadPromoted", promoted
        promoted_at = time.monotonic()

        # Both list it as the champion (read from the store, so at once).
        for c in (a, b):
            listed = (await c.gql(HEADS, {}, key=RITA))["heads"]
            assert listed == [{"version": version, "champion": True, "challenger": True}], listed

        # A uses it at once; B at its next champion check (every HEADS_REFRESH_S): a photo
        # uploaded to B after that is tagged by the new champion.
        on_a = await a.upload(_photo(200), key=RITA)
        assert _shot_head(on_a) == version
        deadline = promoted_at + HEADS_REFRESH_S + 20  # the refresh, plus a loaded machine
        n = 300
        while True:
            on_b = await b.upload(_photo(n), key=OTTO)
            if _shot_head(on_b) == version:
                break
            assert time.monotonic() < deadline, f"B still tags with {_shot_head(on_b)}"
            n += 1
            await asyncio.sleep(0.2)
        followed_s = time.monotonic() - promoted_at
        for c in (a, b):
            shot = await c.gql(SHOT, {"id": on_b["id"]}, key=RITA)
            assert shot["asset"]["tag"]["headVersion"] == version
            assert shot["explainTag"]["decision"]["headVersion"] == version
            assert shot["explainTag"]["head"] == {"version": version, "champion": True}

        # Both processes are still up: nothing above was answered by a dying server.
        assert server_a.proc.poll() is None
        assert server_b.proc.poll() is None
    print(
        f"\nstart {ready - started:.1f}s, races {raced - ready:.1f}s (winners {winners}), "
        f"B followed the promotion after {followed_s:.1f}s, total {time.monotonic() - started:.1f}s"
    )


def _shot_head(asset: dict[str, Any]) -> str | None:
    tag = next(t for t in asset["tags"] if t["attribute"] == "shot_type")
    version: str | None = tag["headVersion"]
    return version
