"""A revision's claim carries the whole revision, so anyone who finds it can finish it.

A write stores its claim (event 0 of the revision) and the revision's other events in
separate requests (or in one bulk request, whose items land one by one). A reader that
arrives in between must not fold the claim alone: that would make part of a revision the
asset's document. So the stored claim carries the other events (``siblings``, a field
OpenSearch keeps but does not index): whoever finds a claim writes the siblings that are
missing, put-if-absent and identical to the writer's, and only then folds the revision.

A claim stored before claims carried their revision has no ``siblings`` at all (None, not
an empty list); its revision is read by id as it was then.
"""

from __future__ import annotations

from collections.abc import Sequence

from tagtrail.domain.records import TagEvent, shared_fields


class Claim(TagEvent, kw_only=True, frozen=True, omit_defaults=True):
    """Event 0 of a revision as stored: the event itself plus the revision's other events."""

    siblings: tuple[TagEvent, ...] | None = None


def claimed_revision(events: Sequence[TagEvent]) -> list[TagEvent]:
    """The revision as written: its first event as a :class:`Claim` carrying the rest."""
    if not events:
        return []
    rest = tuple(plain(e) for e in events[1:])
    return [Claim(**shared_fields(events[0], TagEvent), siblings=rest), *rest]


def plain(event: TagEvent) -> TagEvent:
    """The event without what a claim carries (what every caller is given)."""
    if isinstance(event, Claim):
        return TagEvent(**shared_fields(event, TagEvent))
    return event


def whole(claim: Claim) -> list[TagEvent]:
    """Every event of a claim's revision, claim first (a claim that carries its siblings)."""
    return [plain(claim), *(claim.siblings or ())]
