"""The engine is real: mappings apply idempotently, filtered k-NN and aggregations work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.store.indices import LOGICAL_INDICES, ensure_indices, load_spec

pytestmark = pytest.mark.opensearch


async def test_node_is_opensearch_2_19_1_with_knn(indexed: AsyncOpenSearch) -> None:
    info = await indexed.info()
    assert info["version"]["number"] == "2.19.1"
    plugins = await indexed.cat.plugins(format="json")
    assert any("KNNPlugin" in p["component"] for p in plugins)


async def test_mappings_apply_idempotently(client: AsyncOpenSearch, settings: Settings) -> None:
    first = await ensure_indices(client, settings)
    second = await ensure_indices(client, settings)
    assert [s.created for s in first] == [True] * len(LOGICAL_INDICES)
    assert [s.created for s in second] == [False] * len(LOGICAL_INDICES)
    aliases = await client.indices.get_alias(index=f"{settings.index_prefix}-*")
    p = settings.index_prefix
    assert aliases == {
        f"{p}-{logical}-v1": {"aliases": {f"{p}-{logical}": {}}} for logical in LOGICAL_INDICES
    }
    mapping = await client.indices.get_mapping(index=f"{settings.index_prefix}-assets")
    vector = next(iter(mapping.values()))["mappings"]["properties"]["vector"]
    assert vector["type"] == "knn_vector"
    assert vector["dimension"] == 512
    assert vector["method"]["engine"] == "lucene"


async def test_mapping_change_is_reindex_plus_alias_swap(
    client: AsyncOpenSearch, settings: Settings, tmp_path: Path
) -> None:
    await ensure_indices(client, settings)
    alias = settings.index_name("tag_events")
    await client.index(index=alias, id="e1", body={"event_id": "e1", "asset_id": "a"}, refresh=True)
    # A v2 of the tag_events mapping appears: same fields plus one.
    mappings = tmp_path / "index_mappings"
    for logical in LOGICAL_INDICES:
        (mappings / logical).mkdir(parents=True)
        source = Path(settings.mappings_dir) / logical / "v1.json"
        (mappings / logical / "v1.json").write_text(source.read_text())
    v2 = json.loads((mappings / "tag_events" / "v1.json").read_text())
    v2["mappings"]["properties"]["reviewer_team"] = {"type": "keyword"}
    (mappings / "tag_events" / "v2.json").write_text(json.dumps(v2))
    moved = settings.with_changes(mappings_dir=str(mappings))
    assert load_spec(moved, "tag_events").concrete.endswith("-v2")
    states = {s.alias: s for s in await ensure_indices(client, moved)}
    state = states[alias]
    assert state.migrated_from == f"{alias}-v1"
    assert state.documents_moved == 1
    assert list((await client.indices.get_alias(name=alias)).keys()) == [f"{alias}-v2"]
    doc = await client.get(index=alias, id="e1")
    assert doc["_source"]["asset_id"] == "a"
    again = {s.alias: s for s in await ensure_indices(client, moved)}
    assert again[alias].migrated_from is None
    assert not again[alias].created


def _unit(v: np.ndarray) -> list[float]:
    return (v / np.linalg.norm(v)).astype(float).tolist()


async def test_filtered_knn_returns_true_nearest_neighbour(
    indexed: AsyncOpenSearch, settings: Settings
) -> None:
    rng = np.random.default_rng(7)
    index = settings.index_name("assets")
    vectors = rng.normal(size=(40, 512))
    brands = ["north" if i % 2 else "south" for i in range(40)]
    body: list[object] = []
    for i, (vec, brand) in enumerate(zip(vectors, brands, strict=True)):
        body.append({"index": {"_index": index, "_id": f"a{i}"}})
        body.append({"asset_id": f"a{i}", "brand": brand, "vector": _unit(vec)})
    await indexed.bulk(body=body, refresh=True)
    query = vectors[3] + rng.normal(scale=0.05, size=512)  # a3 is a "north" asset
    unit = np.array(_unit(query))
    normed = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = normed @ unit
    for brand in ("north", "south"):
        allowed = [i for i in range(40) if brands[i] == brand]
        expected = sorted(allowed, key=lambda i: -sims[i])[:5]
        result = await indexed.search(
            index=index,
            body={
                "size": 5,
                "_source": ["asset_id", "brand"],
                "query": {
                    "knn": {
                        "vector": {
                            "vector": unit.tolist(),
                            "k": 5,
                            "filter": {"term": {"brand": brand}},
                        }
                    }
                },
            },
        )
        hits = result["hits"]["hits"]
        assert len(hits) == 5
        assert all(h["_source"]["brand"] == brand for h in hits)
        assert [h["_id"] for h in hits] == [f"a{i}" for i in expected]
    top = await indexed.search(
        index=index,
        body={
            "size": 1,
            "query": {
                "knn": {
                    "vector": {
                        "vector": unit.tolist(),
                        "k": 1,
                        "filter": {"term": {"brand": "north"}},
                    }
                }
            },
        },
    )
    assert top["hits"]["hits"][0]["_id"] == "a3"


async def test_terms_aggregation_counts(indexed: AsyncOpenSearch, settings: Settings) -> None:
    index = settings.index_name("assets")
    colours = ["navy"] * 5 + ["black"] * 3 + ["cherry"] * 2
    body: list[object] = []
    for i, colour in enumerate(colours):
        body.append({"index": {"_index": index, "_id": f"c{i}"}})
        body.append(
            {
                "asset_id": f"c{i}",
                "applied": {"colour": [colour, "x"]},
                "season": "FW" if i % 2 else "SS",
            }
        )
    await indexed.bulk(body=body, refresh=True)
    result = await indexed.search(
        index=index,
        body={"size": 0, "aggs": {"colour": {"terms": {"field": "applied.colour", "size": 10}}}},
    )
    buckets = {b["key"]: b["doc_count"] for b in result["aggregations"]["colour"]["buckets"]}
    assert buckets == {"navy": 5, "black": 3, "cherry": 2, "x": 10}
    fw = await indexed.search(
        index=index,
        body={
            "size": 0,
            "query": {"term": {"season": "FW"}},
            "aggs": {"colour": {"terms": {"field": "applied.colour"}}},
        },
    )
    fw_buckets = {b["key"]: b["doc_count"] for b in fw["aggregations"]["colour"]["buckets"]}
    assert fw_buckets == {"x": 5, "navy": 2, "black": 2, "cherry": 1}
