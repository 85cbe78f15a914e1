"""Novelty strata on the real node: an audit round over a catalogue with assets far from a
tuned head's training vectors reports precision for novel and familiar tags apart."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.learning.head import TrainingSummary, TunedHead
from tagtrail.learning.novelty import fit_novelty
from tagtrail.store import HeadDocument, Store
from tagtrail.usecases.runtime import Runtime
from tests.api.conftest import Api
from tests.api.factories import DIM, MODEL, A, T

pytestmark = pytest.mark.opensearch

CONFIRM = """
mutation($input: TagDecisionInput!) { confirmTag(input: $input) { __typename } }"""
CORRECT = """
mutation($input: TagCorrectionInput!) { correctTag(input: $input) { __typename } }"""
REPORT = """
{ auditReport(round: "n1", attribute: "pattern") { ... on AuditReport {
    totals { segment novelty population audited }
    novelty { attribute tier segment novelty population audited correct precision low high }
    strata { segment novelty population } } } }"""
QUEUE = """
{ auditQueue(round: "n1", attribute: "pattern", first: 50) {
  ... on AuditQueue { items { assetId stratum } } } }"""


def _training_vectors(n: int, seed: int = 7) -> np.ndarray:
    """A catalogue's look: vectors around a few directions among the first 32 dimensions."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((3, DIM))
    centres[:, 1:33] = rng.standard_normal((3, 32))
    x = centres[rng.integers(0, 3, n)]
    x[:, 1:33] += 0.3 * rng.standard_normal((n, 32))
    out: np.ndarray = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    return out


def _far(i: int) -> tuple[float, ...]:
    """A vector in dimensions no training vector uses: as unlike the training data as it gets."""
    v = np.zeros(DIM)
    v[300 + i] = 1.0
    v[400 + i] = 0.5
    return tuple(float(x) for x in v / np.linalg.norm(v))


def _head(seed: int, *, novelty: bool) -> TunedHead:
    rng = np.random.default_rng(seed)
    training = TrainingSummary(
        training_fingerprint=f"fp-{seed}",
        taxonomy_version="t",
        base_version="zero-shot@1",
        n_examples=120,
        n_positive=120,
        n_negative=0,
    )
    return TunedHead(
        attribute="pattern",
        labels=("raw stripe", "raw check"),
        weights=rng.standard_normal((2, DIM)).astype(np.float32),
        bias=np.zeros(2, dtype=np.float32),
        scale=100.0,
        training=training,
        novelty=fit_novelty(_training_vectors(120)) if novelty else None,
    )


async def _store(store: Store, head: TunedHead) -> None:
    record = msgspec.to_builtins(head.to_record())
    if head.novelty is None:
        record.pop("novelty", None)  # as a head stored before heads kept a summary
    assert await store.heads.save(
        HeadDocument(
            attribute="pattern",
            version=head.version,
            kind="tuned",
            encoder=MODEL,
            n_examples=120,
            record=record,
        )
    )


async def test_an_audit_round_reports_novel_and_familiar_tags_apart(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    store = Store(settings, client=indexed)
    tuned, legacy = _head(1, novelty=True), _head(2, novelty=False)
    await _store(store, tuned)
    await _store(store, legacy)
    summary = tuned.novelty
    assert summary is not None
    familiar_vectors = _training_vectors(120)[:12]  # assets like those it was trained on
    assert not summary.novel(familiar_vectors).any()

    def tag(head: str) -> tuple[T, ...]:
        return (T(attribute="pattern", value="stripe", head=head),)

    assets = [
        A(id=f"fam{i}", vector=tuple(map(float, v)), tags=tag(tuned.version))
        for i, v in enumerate(familiar_vectors)
    ]
    assets += [A(id=f"far{i}", vector=_far(i), tags=tag(tuned.version)) for i in range(5)]
    assets += [A(id=f"zs{i}", axis=2 + i, tags=tag("zero-shot@1")) for i in range(2)]
    assets += [A(id=f"old{i}", axis=5 + i, tags=tag(legacy.version)) for i in range(2)]
    assets += [A(id="enc0", vector=_far(9), model="clip-other@1", tags=tag(tuned.version))]
    await api.create(assets)
    runtime = Runtime(settings, store=store)

    sampled = await runtime.audits.sample(round="n1", attribute="pattern")
    assert sampled.population == 22
    assert sampled.sampled == 22
    assert {c.stratum.key: c.population for c in sampled.strata} == {
        "pattern/auto_applied/brand=Northwind": 5,  # zero-shot, legacy head, other encoder
        "pattern/auto_applied/brand=Northwind/novelty=familiar": 12,
        "pattern/auto_applied/brand=Northwind/novelty=novel": 5,
    }
    notes = "\n".join(sampled.novelty_notes)
    assert f"{legacy.version}: no novelty summary" in notes
    assert f"{tuned.version}: 1 tags not judged" in notes
    assert "zero-shot@1" not in notes  # a zero-shot head has no training data to judge by
    queue = (await api.data(QUEUE))["auditQueue"]["items"]
    assert {i["assetId"] for i in queue if i["stratum"].endswith("/novelty=novel")} == {
        f"far{i}" for i in range(5)
    }

    # Reviewers: every familiar tag right, two of the five novel ones wrong.
    for asset in [f"fam{i}" for i in range(12)] + ["far0", "far1", "far2"]:
        base = {"assetId": asset, "attribute": "pattern", "expectedRevision": 1}
        assert (await api.data(CONFIRM, {"input": base}))["confirmTag"]["__typename"] == (
            "TagDecision"
        )
    for asset in ("far3", "far4"):
        wrong = {"assetId": asset, "attribute": "pattern", "expectedRevision": 1, "value": "check"}
        assert (await api.data(CORRECT, {"input": wrong}))["correctTag"]["__typename"] == (
            "TagDecision"
        )

    report = await runtime.audits.report(round="n1", attribute="pattern")
    by_novelty = {r.stratum.novelty: r for r in report.novelty}
    assert set(by_novelty) == {"familiar", "novel"}
    novel, familiar = by_novelty["novel"], by_novelty["familiar"]
    assert (novel.population, novel.audited, novel.correct) == (5, 5, 3)
    assert novel.precision == pytest.approx(0.6)
    assert novel.low < 0.6 < novel.high
    assert (familiar.population, familiar.audited, familiar.correct) == (12, 12, 12)
    assert familiar.precision == 1.0
    (total,) = report.totals
    assert (total.population, total.audited) == (22, 17)

    shown = (await api.data(REPORT))["auditReport"]
    rows = {r["novelty"]: r for r in shown["novelty"]}
    assert rows["novel"]["segment"] == "all"
    assert (rows["novel"]["audited"], rows["novel"]["correct"]) == (5, 3)
    assert rows["novel"]["low"] == pytest.approx(novel.low)
    assert shown["totals"][0]["novelty"] is None
    assert [(r["segment"], r["novelty"], r["population"]) for r in shown["strata"]] == [
        ("brand=Northwind", None, 5),
        ("brand=Northwind", "familiar", 12),
        ("brand=Northwind", "novel", 5),
    ]  # by stratum key

    # Without novelty the round is stratified as before.
    plain = await runtime.audits.sample(round="n2", attribute="pattern", novelty=False)
    assert [c.stratum.key for c in plain.strata] == ["pattern/auto_applied/brand=Northwind"]
    assert plain.novelty_notes == ()
