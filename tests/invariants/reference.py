"""The reference model of the trail, in plain Python: what every human-decided tag must be.

The model's own proposals are inputs (random-init heads decide them); the reference tracks
what the governance rules fix: the human decision in force on each tag (its value under
today's taxonomy), the undo stack (what each decision replaced, carried through migrations),
and what a split must do. ``Key`` is ``(asset id, attribute, slot)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.invariants.taxonomy_edits import Migration

Key = tuple[str, str, str | None]
HUMAN = frozenset({"confirmed", "corrected", "rejected"})
UNKNOWN = "<unknown>"  # a value a split or a retirement made ambiguous


@dataclass
class Human:
    state: str  # confirmed, corrected or rejected
    value: str


@dataclass
class Before:
    """The tag as it stood right before a decision: an earlier human decision, a machine
    proposal (``value``), or nothing (a further value a reviewer added)."""

    human: Human | None
    value: str | None
    absent: bool = False


@dataclass
class Entry:
    decision: Human
    before: Before
    # The newest model proposal made after the decision (shown beside it; an undo returns
    # to ``before``, not to this).
    proposal: str | None = None


@dataclass
class TagRef:
    human: Human | None = None
    stack: list[Entry] = field(default_factory=list)


def _map(m: Migration, attribute: str, value: str | None) -> str | None:
    """``value`` under the new taxonomy; UNKNOWN where a split or retirement leaves none."""
    if value is None or value == UNKNOWN:
        return value
    if m.op == "palette_rename" and attribute == "colour":
        return m.targets[0] if value == m.source else value
    found = m.maps(attribute, value)
    if found is None or len(found) != 1:
        return UNKNOWN
    return found[0]


def _map_human(m: Migration, attribute: str, human: Human | None) -> Human | None:
    if human is None:
        return None
    return Human(state=human.state, value=_map(m, attribute, human.value) or UNKNOWN)


def _migrated_before(m: Migration, attribute: str, before: Before) -> Before:
    """What an undo returns to, under the new taxonomy. A split chooses the target of a
    confirmation or correction, so it comes back to review (no human value in force), as a
    split does to a decision in force; a rejection stays a rejection."""
    human = before.human
    split_here = m.op == "split" and human is not None and human.value == m.source
    if split_here and human is not None and human.state != "rejected":
        return Before(human=None, value=UNKNOWN, absent=before.absent)
    return Before(
        human=_map_human(m, attribute, human),
        value=_map(m, attribute, before.value),
        absent=before.absent,
    )


@dataclass
class Reference:
    tags: dict[Key, TagRef] = field(default_factory=dict)
    revisions: dict[str, int] = field(default_factory=dict)

    def ref(self, key: Key) -> TagRef:
        return self.tags.setdefault(key, TagRef())

    def decided(self, key: Key, human: Human, before: Before) -> None:
        tag = self.ref(key)
        tag.stack.append(Entry(decision=human, before=before))
        tag.human = human

    def proposed(self, key: Key, value: str | None) -> None:
        """A model event proposed ``value`` beside the decision in force."""
        tag = self.tags.get(key)
        if tag is not None and tag.stack:
            tag.stack[-1].proposal = value

    def undone(self, key: Key) -> tuple[Before, str | None] | None:
        """Pop the decision in force: what the tag must return to (None: nothing to undo)."""
        tag = self.tags.get(key)
        if tag is None or not tag.stack:
            return None
        entry = tag.stack.pop()
        tag.human = entry.before.human
        return entry.before, entry.proposal

    def migrate(self, m: Migration, split_rejections_kept: bool) -> None:
        """Carry every tag through ``m``: renamed and merged decisions move, a split sends a
        confirmed or corrected decision back to review, retirements remove the tag."""
        for key in list(self.tags):
            _asset_id, attribute, _slot = key
            tag = self.tags[key]
            if attribute != m.attribute:
                continue
            if m.op == "retire_attribute" or (
                m.op == "retire" and tag.human is not None and tag.human.value == m.source
            ):
                del self.tags[key]
                continue
            split_here = m.op == "split" and tag.human is not None and tag.human.value == m.source
            if split_here and not (
                tag.human is not None and tag.human.state == "rejected" and split_rejections_kept
            ):
                self.tags[key] = TagRef()
                continue
            tag.human = _map_human(m, attribute, tag.human)
            for entry in tag.stack:
                entry.decision = _map_human(m, attribute, entry.decision) or entry.decision
                entry.before = _migrated_before(m, attribute, entry.before)
                entry.proposal = _map(m, attribute, entry.proposal)

    def human_in_force(self) -> dict[Key, Human]:
        return {k: t.human for k, t in self.tags.items() if t.human is not None}

    def drop_retired(self, present: dict[Key, Any]) -> None:
        """Forget tags of assets the reference never saw decided (kept small)."""
        for key in [k for k, t in self.tags.items() if t.human is None and not t.stack]:
            if key not in present:
                del self.tags[key]
