"""Shadow mode's report: how often a challenger agreed with reviewers, beside the champion.

A shadow proposal is stored in a model event's evidence (``evidence.shadow``) when a trained
challenger predicted beside the champion; it is never applied. When a reviewer later decides
that tag, the decision says what the right value was: confirmed → the champion's value,
corrected → the new value. Rejections say only what it was not, so they are left out.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator

import msgspec

from tagtrail.domain.records import TagEvent, key_of
from tagtrail.learning.dataset import HUMAN_KINDS, without_undone
from tagtrail.learning.stats import wilson_interval


class ShadowReport(msgspec.Struct, kw_only=True, frozen=True):
    attribute: str
    version: str
    n: int  # reviewer decisions on tags that carried this challenger's shadow proposal
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


def shadow_report(events: Iterable[TagEvent], attribute: str, version: str) -> ShadowReport:
    """Agreement of ``version``'s shadow proposals and of the champion with reviewers."""
    n = challenger = champion = 0
    for model, human in judged_pairs(events, attribute):
        shadow = (model.evidence or {}).get("shadow") or {}
        if shadow.get("head_version") != version or human.kind == "rejected":
            continue
        n += 1
        challenger += shadow.get("value") == human.value
        champion += model.value == human.value
    ch_low, ch_high = wilson_interval(challenger, n) if n else (0.0, 1.0)
    cp_low, cp_high = wilson_interval(champion, n) if n else (0.0, 1.0)
    return ShadowReport(
        attribute=attribute,
        version=version,
        n=n,
        challenger_agreed=challenger,
        champion_agreed=champion,
        challenger_agreement=round(challenger / n, 4) if n else None,
        challenger_low=round(ch_low, 4),
        challenger_high=round(ch_high, 4),
        champion_agreement=round(champion / n, 4) if n else None,
        champion_low=round(cp_low, 4),
        champion_high=round(cp_high, 4),
    )
