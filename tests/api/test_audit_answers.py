"""Audits that do not overstate (issue 17), on the real node: every drawn audit stays in the
queue until answered, and an answer is the decision on the tag as drawn, kept for good."""

from __future__ import annotations

from typing import Any

import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.domain.records import Actor, TagEvent
from tagtrail.store import Store
from tagtrail.store.audits import AuditDocument
from tagtrail.usecases.audit_answers import answer_of
from tagtrail.usecases.runtime import Runtime
from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch

DECIDE = """mutation($input: TagDecisionInput!) { confirmTag(input: $input) { __typename } }"""
CORRECT = """
mutation($input: TagCorrectionInput!) { correctTag(input: $input) { __typename } }"""
REOPEN = """mutation($input: TagDecisionInput!) { reopenTag(input: $input) { __typename } }"""


def _runtime(settings: Settings, client: AsyncOpenSearch) -> Runtime:
    return Runtime(settings, store=Store(settings, client=client))


async def _decide(api: Api, mutation: str, asset_id: str, revision: int, **more: Any) -> None:
    base = {"assetId": asset_id, "attribute": "pattern", "expectedRevision": revision, **more}
    answer = await api.data(mutation, {"input": base})
    assert next(iter(answer.values()))["__typename"] == "TagDecision", answer


async def test_the_queue_keeps_every_unanswered_audit_of_the_round(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    # Issue 17: 41 drawn, 20 answered, and auditQueue(first: 1) answered nothing: it looked
    # through 10 pages of 2 audits, all of them answered ones.
    ids = [f"q{i:02d}" for i in range(41)]
    await api.create([A(id=i, tags=(T(attribute="pattern", value="stripe"),)) for i in ids])
    runtime = _runtime(settings, indexed)
    assert (await runtime.audits.sample(round="r1", attribute="pattern")).sampled == 41
    for asset_id in ids[:20]:
        await _decide(api, DECIDE, asset_id, 1)

    (first,) = await runtime.audits.queue(round="r1", attribute="pattern", first=1)
    assert first.asset_id == "q20"
    left = await runtime.audits.queue(round="r1", attribute="pattern", first=50)
    assert [q.asset_id for q in left] == ids[20:]
    # Another round's audits neither fill this round's queue nor hide it.
    await runtime.audits.sample(round="r0", attribute="pattern")
    again = await runtime.audits.queue(round="r1", attribute="pattern", first=50)
    assert [q.asset_id for q in again] == ids[20:]
    report = await runtime.audits.report(round="r1", attribute="pattern")
    (total,) = report.totals
    assert (total.audited, total.correct) == (20, 20)
    assert total.unaudited == ("brand=Northwind: 20 of 41 drawn audits answered (41 tags)",)


async def test_an_answer_is_kept_as_drawn_whatever_happens_to_the_tag_later(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    # Issue 17: the answer was read from the tag's current state, so a later decision or an
    # undo turned a right answer into a wrong one (or into no answer at all).
    await api.create(
        [A(id=f"k{i}", tags=(T(attribute="pattern", value="stripe"),)) for i in range(3)]
    )
    runtime = _runtime(settings, indexed)
    await runtime.audits.sample(round="r1", attribute="pattern")
    await _decide(api, DECIDE, "k0", 1)  # right
    await _decide(api, DECIDE, "k1", 1)  # right
    await _decide(api, CORRECT, "k2", 1, value="check")  # wrong
    first = await runtime.audits.report(round="r1", attribute="pattern")
    assert [(r.audited, r.correct) for r in first.strata] == [(3, 2)]

    await _decide(api, CORRECT, "k0", 2, value="check")  # a later change of mind
    await _decide(api, REOPEN, "k0", 3)  # undoing the later decision only
    later = await runtime.audits.report(round="r1", attribute="pattern")
    assert [(r.audited, r.correct) for r in later.strata] == [(3, 2)]
    assert await runtime.audits.queue(round="r1", attribute="pattern", first=10) == []
    stored = [a async for page in runtime.store.audits.scan(round="r1") for a in page]
    assert {a.asset_id: (a.answered, a.correct) for a in stored} == {
        "k0": (True, True),
        "k1": (True, True),
        "k2": (True, False),
    }
    assert all(a.answered_by and a.answer_event_id for a in stored)

    # Undoing the answer itself (a mis-keyed answer taken back) opens the audit again.
    await _decide(api, REOPEN, "k1", 2)
    reopened = await runtime.audits.queue(round="r1", attribute="pattern", first=10)
    assert [item.asset_id for item in reopened] == ["k1"]
    again = await runtime.audits.report(round="r1", attribute="pattern")
    assert [(r.audited, r.correct) for r in again.strata] == [(2, 1)]


def _event(kind: str, value: str, seq: int, previous: str | None = None) -> TagEvent:
    human = kind in ("confirmed", "corrected", "rejected")
    return TagEvent(
        event_id=f"a:{seq}:0",
        asset_id="a",
        attribute="category",
        value=value,
        previous_value=previous,
        kind=kind,
        seq=seq,  # type: ignore[arg-type]
        at=f"2026-01-0{seq}T00:00:00.000000Z",
        state="confirmed" if human else "flagged",
        actor=Actor(type="human" if human else "model", id="ana" if human else "m"),
    )


def test_an_answer_follows_a_rename_of_the_drawn_value() -> None:
    audit = AuditDocument(
        audit_id="r1:a:category",
        round="r1",
        asset_id="a",
        attribute="category",
        value="coatigan",
        tier="auto_applied",
        stratum="category/auto_applied/all",
        tag_event_id="a:1:0",
    )
    drawn = _event("model_tagged", "coatigan", 1)
    renamed = _event("migrated", "longline_coat", 2, previous="coatigan")
    confirmed = _event("confirmed", "longline_coat", 3)
    assert answer_of(audit, [drawn]) is None  # nobody answered yet
    answer = answer_of(audit, [drawn, renamed, confirmed])
    assert answer is not None
    assert (answer.correct, answer.answer_event_id, answer.answered_by) == (
        True,
        "a:3:0",
        "ana",
    )
    corrected = _event("corrected", "parka", 3)
    wrong = answer_of(audit, [drawn, renamed, corrected])
    assert wrong is not None
    assert wrong.correct is False
