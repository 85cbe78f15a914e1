"""Sample audits on the real node: a deterministic stratified sample of applied model tags,
answered by ordinary review decisions, reported as precision per stratum (and the CLI)."""

from __future__ import annotations

import asyncio
import json

import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.cli import main
from tagtrail.config import Settings
from tagtrail.store import Store
from tagtrail.usecases.audits import audit_report, sample_audits
from tagtrail.usecases.services import Services
from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch

DECIDE = """
mutation($input: TagDecisionInput!) { confirmTag(input: $input) { __typename } }"""
CORRECT = """
mutation($input: TagCorrectionInput!) { correctTag(input: $input) { __typename } }"""


async def test_sample_answer_report(
    api: Api, settings: Settings, indexed: AsyncOpenSearch, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assets = [
        A(id=f"au{i}", brand="Kobo" if i < 6 else "Aster",
          tags=(T(attribute="pattern", value="stripe", probability=0.97),))
        for i in range(10)
    ]  # fmt: skip
    await api.create(assets)
    services = Services(settings, store=Store(settings, client=indexed))
    sampled = await sample_audits(services, round="r1", attribute="pattern")
    assert (sampled.population, sampled.sampled, sampled.added) == (10, 10, 10)  # small: all
    assert [(c.stratum.key, c.population) for c in sampled.strata] == [
        ("pattern/auto_applied/brand=Aster", 4),
        ("pattern/auto_applied/brand=Kobo", 6),
    ]
    again = await sample_audits(services, round="r1", attribute="pattern")
    assert again.added == 0  # the same round draws the same sample

    for i in range(5):  # reviewers answer with ordinary decisions
        base = {"assetId": f"au{i}", "attribute": "pattern", "expectedRevision": 1}
        assert (await api.data(DECIDE, {"input": base}))["confirmTag"][
            "__typename"
        ] == "TagDecision"
    wrong = {"assetId": "au5", "attribute": "pattern", "expectedRevision": 1, "value": "check"}
    assert (await api.data(CORRECT, {"input": wrong}))["correctTag"]["__typename"] == "TagDecision"

    report = await audit_report(services, round="r1", attribute="pattern")
    kobo = next(r for r in report.strata if r.stratum.segment == "brand=Kobo")
    assert (kobo.population, kobo.audited, kobo.correct) == (6, 6, 5)
    assert kobo.precision == pytest.approx(5 / 6)
    assert kobo.low < 5 / 6 < kobo.high
    assert kobo.verdict == "below target"
    aster = next(r for r in report.strata if r.stratum.segment == "brand=Aster")
    assert (aster.audited, aster.precision, aster.verdict) == (0, None, "not enough evidence")
    (total,) = report.totals
    assert total.audited == 6

    monkeypatch.setenv("TAGTRAIL_OPENSEARCH_URL", settings.effective_opensearch_url)
    monkeypatch.setenv("TAGTRAIL_INDEX_PREFIX", settings.index_prefix)
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["audit", "report", "--round", "r1"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["stratum"]["segment"] == "all"
    assert {r["stratum"]["segment"] for r in rows} == {"all", "brand=Kobo", "brand=Aster"}
