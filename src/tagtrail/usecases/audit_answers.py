"""Audit answers, read once from the trail and then kept with the audit.

Reviewers answer a sampled tag with an ordinary decision. The answer is the first human
decision on the tag after the model event that was drawn, compared with the value as
drawn (followed through taxonomy migrations, so a rename is the same value): a
confirmation or correction to that value is right, anything else wrong. It is stored on
the audit (``answered``, ``correct``, ``answer_event_id``, by whom and when), so a later
rename or retag of the tag cannot turn a right answer into a wrong one, and an answered
audit leaves the queue. Only an undo of the answer itself (a mis-keyed answer taken back)
opens the audit again.
"""

from __future__ import annotations

from collections.abc import Sequence

from tagtrail.domain.records import TagEvent
from tagtrail.store import Store
from tagtrail.store.audits import AuditDocument, RecordedAnswer

_HUMAN = frozenset({"confirmed", "corrected", "rejected"})
_BATCH = 200  # audits settled per history read


def answer_of(audit: AuditDocument, events: Sequence[TagEvent]) -> RecordedAnswer | None:
    """The answer to ``audit`` in its asset's events (fold order); None: not yet."""
    mine = [e for e in events if e.attribute == audit.attribute and e.slot is None]
    drawn = next((i for i, e in enumerate(mine) if e.event_id == audit.tag_event_id), None)
    if drawn is None:  # an audit stored without its event: what happened after the draw
        later = [e for e in mine if e.at >= (audit.sampled_at or "")]
    else:
        later = mine[drawn + 1 :]
    value = audit.value
    answers: list[tuple[TagEvent, str]] = []  # decisions not undone, with the value as drawn
    for event in later:
        if event.kind == "migrated" and event.previous_value == value:
            value = event.value or value  # the same tag under its new name
        elif event.kind in _HUMAN:
            answers.append((event, value))
        elif event.kind == "reopened" and answers:
            answers.pop()  # an undo takes back the newest decision (a mis-keyed answer)
    if not answers:
        return None
    event, as_drawn = answers[0]
    return RecordedAnswer(
        correct=event.kind != "rejected" and event.value == as_drawn,
        answer_event_id=event.event_id,
        answered_by=event.actor.id,
        answered_at=event.at,
    )


async def settle(store: Store, audits: Sequence[AuditDocument]) -> list[AuditDocument]:
    """``audits`` with the answers found in the trail recorded (stored and returned)."""
    out: list[AuditDocument] = []
    for start in range(0, len(audits), _BATCH):
        chunk = audits[start : start + _BATCH]
        open_ = [a for a in chunk if not a.answered]
        docs = await store.assets.get_many([a.asset_id for a in open_])
        revisions = {
            a.asset_id: d.revision for a, d in zip(open_, docs, strict=True) if d is not None
        }
        history = await store.events.history(revisions)
        found: list[tuple[str, RecordedAnswer]] = []
        for audit in chunk:
            answer = None
            if not audit.answered:
                answer = answer_of(audit, history.get(audit.asset_id, []))
            if answer is not None:
                found.append((audit.audit_id, answer))
            out.append(audit if answer is None else audit.with_answer(answer))
        await store.audits.settle(found)
    return out


async def answered_assets(store: Store, attribute: str) -> frozenset[str]:
    """Assets whose ``attribute`` tag was answered in an audit of any round: the gate
    scores heads on these answers and keeps them out of training."""
    out: set[str] = set()
    async for page in store.audits.scan(attribute=attribute):
        out.update(a.asset_id for a in await settle(store, page) if a.answered)
    return frozenset(out)
