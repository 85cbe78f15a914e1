"""Shadow mode's report: how often a challenger agreed with reviewers, beside the champion.

A shadow proposal is stored in a model event's evidence (``evidence.shadow``) when a trained
challenger predicted beside the champion; it is never applied. When a reviewer later decides
that tag, the decision says what the right value was: confirmed → the champion's value,
corrected → the new value. Rejections say only what it was not, so they are left out.

Photos ingested before the challenger existed carry no recorded proposal (a retag writes
only what changed for the champion). For a decision on such a photo made after the
challenger was created, its proposal is *computed* from the stored vector: the head is
deterministic and never applied, so that is the proposal it would have recorded. Only
decisions made after the challenger was created count, so none of them trained it.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping

import msgspec

from tagtrail.domain.records import TagEvent, key_of
from tagtrail.learning.dataset import HUMAN_KINDS, without_undone
from tagtrail.learning.stats import wilson_interval


class ShadowReport(msgspec.Struct, kw_only=True, frozen=True):
    attribute: str
    version: str
    n: int  # reviewer decisions on tags that carried this challenger's shadow proposal
    computed: int = 0  # of them, proposals computed from the stored vector (older photos)
    challenger_agreed: int
    champion_agreed: int
    challenger_agreement: float | None
    challenger_low: float
    challenger_high: float
    champion_agreement: float | None
    champion_low: float
    champion_high: float


def judged_pairs(events: Iterable[TagEvent], attribute: str) -> Iterator[tuple[TagEvent, TagEvent]]:
    """(model event, human decision) for each decision that judged a model proposal directly."""
    by_asset: dict[tuple[str, str], list[TagEvent]] = defaultdict(list)
    for event in without_undone(events):
        if event.attribute == attribute:
            by_asset[(event.asset_id, key_of(event))].append(event)
    for asset_id in sorted(by_asset):
        history = sorted(by_asset[asset_id], key=lambda e: (e.seq, e.at, e.event_id))
        for before, event in itertools.pairwise(history):
            if event.kind not in HUMAN_KINDS or event.actor.type != "human":
                continue
            if before.kind == "model_tagged" and before.value == event.previous_value:
                yield before, event


def judged_since(
    events: Iterable[TagEvent], attribute: str, since: str | None
) -> Iterator[tuple[TagEvent, TagEvent]]:
    """Judged pairs whose decision says what the value was (not a rejection), made at or
    after ``since`` (ISO UTC times compare as strings)."""
    for model, human in judged_pairs(events, attribute):
        if human.kind != "rejected" and (since is None or human.at >= since):
            yield model, human


def recorded_proposal(model: TagEvent, version: str) -> tuple[bool, str | None]:
    """(whether ``version`` recorded a proposal on this model event, its value)."""
    shadow = (model.evidence or {}).get("shadow") or {}
    if shadow.get("head_version") != version:
        return False, None
    value = shadow.get("value")
    return True, value if isinstance(value, str) else None


def unrecorded(
    events: Iterable[TagEvent], attribute: str, version: str, since: str | None
) -> list[TagEvent]:
    """Model events judged after ``since`` on which ``version`` recorded no proposal: the
    ones whose proposal is computed from the stored vector."""
    return [
        model
        for model, _ in judged_since(events, attribute, since)
        if not recorded_proposal(model, version)[0]
    ]


def shadow_report(
    events: Iterable[TagEvent],
    attribute: str,
    version: str,
    *,
    since: str | None = None,
    computed: Mapping[str, str | None] | None = None,
) -> ShadowReport:
    """Agreement of ``version``'s proposals and of the champion with reviewers.

    ``computed``: proposals computed from stored vectors, by model event id, for events on
    which ``version`` recorded none (see :func:`unrecorded`)."""
    n = challenger = champion = n_computed = 0
    for model, human in judged_since(events, attribute, since):
        recorded, value = recorded_proposal(model, version)
        if not recorded:
            if computed is None or model.event_id not in computed:
                continue
            value = computed[model.event_id]
            n_computed += 1
        n += 1
        challenger += value == human.value
        champion += model.value == human.value
    ch_low, ch_high = wilson_interval(challenger, n) if n else (0.0, 1.0)
    cp_low, cp_high = wilson_interval(champion, n) if n else (0.0, 1.0)
    return ShadowReport(
        attribute=attribute,
        version=version,
        n=n,
        computed=n_computed,
        challenger_agreed=challenger,
        champion_agreed=champion,
        challenger_agreement=round(challenger / n, 4) if n else None,
        challenger_low=round(ch_low, 4),
        challenger_high=round(ch_high, 4),
        champion_agreement=round(champion / n, 4) if n else None,
        champion_low=round(cp_low, 4),
        champion_high=round(cp_high, 4),
    )
