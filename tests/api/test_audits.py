"""Sample audits on the real node: a deterministic stratified sample of applied model tags,
answered by ordinary review decisions, reported as precision per stratum (and the CLI)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from opensearchpy import AsyncOpenSearch
from PIL import Image

from tagtrail.api.graphql.audits import AuditItem
from tagtrail.api.graphql.context import Loaders
from tagtrail.cli import main
from tagtrail.config import Settings
from tagtrail.store import Store
from tagtrail.usecases.runtime import Runtime
from tagtrail.vision.thumbnail import make_thumbnail
from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch

DECIDE = """
mutation($input: TagDecisionInput!) { confirmTag(input: $input) { __typename } }"""
CORRECT = """
mutation($input: TagCorrectionInput!) { correctTag(input: $input) { __typename } }"""
QUEUE = """
query($first: Int!) { auditQueue(round: "r1", attribute: "pattern", first: $first) {
  __typename ... on AuditQueue { items { auditId assetId value tier stratum weight revision } }
  ... on InvalidInput { field } } }"""
REPORT = """
{ auditReport(round: "r1") { ... on AuditReport { target
    totals { segment audited precision verdict unaudited }
    strata { segment population audited correct precision low high verdict auditsNeeded } } } }"""


async def test_sample_answer_report(
    api: Api,
    settings: Settings,
    indexed: AsyncOpenSearch,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assets = [
        A(
            id=f"au{i}",
            brand="Kobo" if i < 6 else "Aster",
            tags=(T(attribute="pattern", value="stripe", probability=0.97),),
        )
        for i in range(10)
    ]
    await api.create(assets)
    runtime = Runtime(settings, store=Store(settings, client=indexed))
    sampled = await runtime.audits.sample(round="r1", attribute="pattern")
    assert (sampled.population, sampled.sampled, sampled.added) == (10, 10, 10)  # small: all
    assert [(c.stratum.key, c.population) for c in sampled.strata] == [
        ("pattern/auto_applied/brand=Aster", 4),
        ("pattern/auto_applied/brand=Kobo", 6),
    ]
    again = await runtime.audits.sample(round="r1", attribute="pattern")
    assert again.added == 0  # the same round draws the same sample

    queue = (await api.data(QUEUE, {"first": 20}))["auditQueue"]["items"]
    assert len(queue) == 10
    assert queue[0]["stratum"] == "pattern/auto_applied/brand=Aster"
    assert (queue[0]["value"], queue[0]["revision"], queue[0]["weight"]) == ("stripe", 1, 1.0)
    bad = (await api.data(QUEUE, {"first": 0}))["auditQueue"]
    assert bad == {"__typename": "InvalidInput", "field": "first"}

    for i in range(5):  # reviewers answer with ordinary decisions
        base = {"assetId": f"au{i}", "attribute": "pattern", "expectedRevision": 1}
        assert (await api.data(DECIDE, {"input": base}))["confirmTag"][
            "__typename"
        ] == "TagDecision"
    wrong = {"assetId": "au5", "attribute": "pattern", "expectedRevision": 1, "value": "check"}
    assert (await api.data(CORRECT, {"input": wrong}))["correctTag"]["__typename"] == "TagDecision"

    report = await runtime.audits.report(round="r1", attribute="pattern")
    kobo = next(r for r in report.strata if r.stratum.segment == "brand=Kobo")
    assert (kobo.population, kobo.audited, kobo.correct) == (6, 6, 5)
    assert kobo.precision == pytest.approx(5 / 6)
    assert kobo.low < 5 / 6 < kobo.high
    assert kobo.verdict == "below target"
    aster = next(r for r in report.strata if r.stratum.segment == "brand=Aster")
    assert (aster.audited, aster.precision, aster.verdict) == (0, None, "not enough evidence")
    (total,) = report.totals
    assert total.audited == 6

    left = (await api.data(QUEUE, {"first": 20}))["auditQueue"]["items"]
    assert sorted(i["assetId"] for i in left) == [f"au{i}" for i in range(6, 10)]
    shown = (await api.data(REPORT))["auditReport"]
    assert shown["totals"] == [
        {
            "segment": "all",
            "audited": 6,
            "precision": total.precision,
            "verdict": total.verdict,
            "unaudited": ["brand=Aster: 0 of 4 drawn audits answered (4 tags)"],
        }
    ]
    row = next(r for r in shown["strata"] if r["segment"] == "brand=Kobo")
    assert (row["audited"], row["correct"], row["auditsNeeded"]) == (6, 5, 189)

    monkeypatch.setenv("TAGTRAIL_OPENSEARCH_URL", settings.effective_opensearch_url)
    monkeypatch.setenv("TAGTRAIL_INDEX_PREFIX", settings.index_prefix)
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["audit", "report", "--round", "r1"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["stratum"]["segment"] == "all"
    assert {r["stratum"]["segment"] for r in rows} == {"all", "brand=Kobo", "brand=Aster"}


WITH_ASSET = """
{ auditQueue(round: "r2", attribute: "pattern", first: 10) { ... on AuditQueue {
  items { assetId revision asset { id revision sku brand thumbnail { dataUrl }
                                   tag(attribute: "pattern") { value state } } } } } }"""


async def test_an_audit_item_carries_its_asset(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    kobo = A(id="aa0", sku="SKU-AA0", brand="Kobo", tags=(T(attribute="pattern", value="stripe"),))
    plain = A(id="aa1", sku="SKU-AA1", tags=(T(attribute="pattern", value="check"),))
    await api.create([kobo, plain])
    store = Store(settings, client=indexed)
    await store.thumbnails.put_many([("aa0", make_thumbnail(Image.new("RGB", (64, 80), "navy")))])
    runtime = Runtime(settings, store=store)
    assert (await runtime.audits.sample(round="r2", attribute="pattern")).sampled == 2

    items = (await api.data(WITH_ASSET))["auditQueue"]["items"]
    by_id = {i["assetId"]: i for i in items}
    assert set(by_id) == {"aa0", "aa1"}
    first = by_id["aa0"]["asset"]
    assert (first["id"], first["sku"], first["brand"]) == ("aa0", "SKU-AA0", "Kobo")
    assert first["revision"] == by_id["aa0"]["revision"] == 1
    assert first["tag"] == {"value": "stripe", "state": "auto_applied"}
    assert first["thumbnail"]["dataUrl"].startswith("data:image/webp;base64,")
    second = by_id["aa1"]["asset"]
    assert (second["sku"], second["brand"], second["thumbnail"]) == ("SKU-AA1", "Northwind", None)

    # An asset gone since the queue was read resolves to null (not an error).
    item = AuditItem(
        audit_id="r2:gone:pattern",
        round="r2",
        asset_id="gone",
        attribute="pattern",  # type: ignore[arg-type]
        value="stripe",
        tier="auto_applied",
        stratum="pattern/auto_applied/all",
        weight=1.0,
        revision=1,
    )
    info = SimpleNamespace(context=SimpleNamespace(loaders=Loaders(runtime)))
    assert await item.asset(info) is None  # type: ignore[arg-type]
    kept = AuditItem(
        audit_id="r2:aa1:pattern",
        round="r2",
        asset_id="aa1",
        attribute="pattern",  # type: ignore[arg-type]
        value="check",
        tier="auto_applied",
        stratum="pattern/auto_applied/all",
        weight=1.0,
        revision=1,
    )
    found = await kept.asset(info)  # type: ignore[arg-type]
    assert found is not None
    assert str(found.id) == "aa1"
