"""Training examples from reviewer decisions (pure: events and vectors in, examples out).

**Values vs model labels.** Reviewers decide taxonomy *values*; heads predict the model's own
*labels*, which rules map to values (sometimes depending on the season or brand). A tuned
head keeps the zero-shot head's label list, row for row, so it is initialised from the
zero-shot text weights and drops in beside it with the mapping unchanged. Each example
therefore names the one model label that produces the decided value *in that asset's
context* (see :func:`labels_from_taxonomy`, which inverts the rules with the same code the
tagger maps with). When several labels map to one value, one canonical label is the target
(a label that maps to that value in every context first, then vocabulary order), so targets
stay consistent across assets and the mapped value is the same either way.

**Which decisions.** Examples come from the same fold of each asset's history as its
document (:func:`decided_tags`), so the training label of every decided tag is the human
value in force under today's taxonomy: a later correction supersedes an earlier
confirmation, an undo takes its decision out (and an undo of that undo brings it back), a
renamed, merged or moved value trains under its new name. confirmed → a positive for the
value; corrected → a positive for the value and a negative for the one it was corrected
from; rejected → a negative for the rejected value. Assets without a vector (for example a
vector from an older encoder, which the caller leaves out) are skipped and counted.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

import msgspec
import numpy as np
import numpy.typing as npt

from tagtrail.domain.projection import decision_stack, fold_tags
from tagtrail.domain.records import HUMAN_STATES, Tag, TagEvent, key_of
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.domain.taxonomy.mapping import AssetContext, matching_rule

Polarity = Literal["positive", "negative"]
FloatArray = npt.NDArray[np.float32]
#: (decision event, taxonomy value) → the model label that yields the value, or None.
LabelFor = Callable[[TagEvent, str], str | None]

HUMAN_KINDS = frozenset({"confirmed", "corrected", "rejected"})
#: Read with the decisions: a reviewer's undo takes the decision it undid out of training.
DECISION_KINDS = HUMAN_KINDS | {"reopened"}


class TrainingExample(msgspec.Struct, kw_only=True, frozen=True):
    """One labelled vector: ``label`` is (positive) or is not (negative) the right answer."""

    example_id: str  # "<event id>:+<value>" or "<event id>:-<value>": unique and stable
    asset_id: str  # the cross-validation group: an asset's examples share a fold
    attribute: str
    value: str  # the taxonomy value the reviewer decided
    label: str  # the model label that maps to ``value`` for this asset
    polarity: Polarity
    row: int = 0  # row of :attr:`TrainingSet.vectors` (set by make_training_set)
    segments: dict[str, str] = {}  # e.g. brand, category_family, season, shot_type
    weight: float = 1.0


class TrainingSet(msgspec.Struct, kw_only=True, frozen=True, eq=False):
    """Examples of one attribute, in canonical order, with one vector row per asset."""

    attribute: str
    examples: tuple[TrainingExample, ...]
    vectors: FloatArray  # (rows, d) float32, L2-normalised
    fingerprint: str
    skipped: dict[str, int] = {}  # reason → count, for the training report

    @property
    def positives(self) -> tuple[TrainingExample, ...]:
        return tuple(e for e in self.examples if e.polarity == "positive")

    def subset(self, keep: Callable[[TrainingExample], bool]) -> TrainingSet:
        """The examples ``keep`` accepts, re-indexed (and re-fingerprinted)."""
        chosen = [e for e in self.examples if keep(e)]
        return make_training_set(
            self.attribute,
            chosen,
            {e.asset_id: self.vectors[e.row] for e in chosen},
            skipped=self.skipped,
        )


def _normalise(rows: np.ndarray) -> FloatArray:
    """Unit rows; rows already unit (as stored vectors are) keep their exact bits.

    Re-normalising a unit vector in float32 can move its last bit, which would change the
    fingerprint (and the head version) of a training set rebuilt from its own vectors.
    """
    out: FloatArray = np.array(rows, dtype=np.float32)
    norms = np.linalg.norm(out.astype(np.float64), axis=1)
    off = np.abs(norms - 1.0) > 1e-6
    out[off] /= np.maximum(norms[off], 1e-12)[:, None].astype(np.float32)
    return out


def training_fingerprint(examples: Sequence[TrainingExample], vectors: np.ndarray) -> str:
    """sha256 over the sorted examples (id, label, value, polarity, weight) and their vectors.

    Vectors are hashed too, so re-encoding with another encoder changes the fingerprint.
    """
    hasher = hashlib.sha256()
    for e in sorted(examples, key=lambda e: e.example_id):
        vector_digest = hashlib.sha256(
            np.ascontiguousarray(vectors[e.row], dtype="<f4").tobytes()
        ).hexdigest()[:16]
        item = [e.example_id, e.attribute, e.label, e.value, e.polarity, e.weight, vector_digest]
        hasher.update(json.dumps(item, ensure_ascii=False).encode())
        hasher.update(b"\n")
    return hasher.hexdigest()


def make_training_set(
    attribute: str,
    examples: Iterable[TrainingExample],
    vectors: Mapping[str, np.ndarray],
    *,
    skipped: Mapping[str, int] | None = None,
) -> TrainingSet:
    """Canonical layout: examples sorted by id, rows in order of first use (``row`` rewritten).

    ``vectors`` maps asset id → vector. Sorting makes training independent of the order
    events or dicts arrived in (float sums depend on order).
    """
    ordered = sorted(examples, key=lambda e: e.example_id)
    if len({e.example_id for e in ordered}) != len(ordered):
        raise ValueError("example ids must be unique")
    rows: dict[str, int] = {}
    out: list[TrainingExample] = []
    for e in ordered:
        if e.attribute != attribute:
            raise ValueError(f"example {e.example_id} is for {e.attribute}, not {attribute}")
        row = rows.setdefault(e.asset_id, len(rows))
        out.append(msgspec.structs.replace(e, row=row))
    if rows:
        matrix = _normalise(np.stack([np.asarray(vectors[a], dtype=np.float32) for a in rows]))
    else:
        matrix = np.zeros((0, 0), dtype=np.float32)
    return TrainingSet(
        attribute=attribute,
        examples=tuple(out),
        vectors=matrix,
        fingerprint=training_fingerprint(out, matrix),
        skipped=dict(sorted((skipped or {}).items())),
    )


def without_undone(events: Iterable[TagEvent]) -> list[TagEvent]:
    """``events`` less the human decisions a later ``reopened`` undid, and the undos.

    Each undo takes back the newest decision on its asset and tag not yet undone (as
    :func:`tagtrail.domain.projection.decision_in_force` finds it).
    """
    ordered = sorted(events, key=lambda e: (e.asset_id, key_of(e), e.seq, e.event_id))
    by_tag: dict[tuple[str, str], list[TagEvent]] = defaultdict(list)
    for event in ordered:
        by_tag[(event.asset_id, key_of(event))].append(event)
    kept = {e.event_id for history in by_tag.values() for e in decision_stack(history)}
    return [
        e
        for e in ordered
        if e.kind != "reopened"
        and (e.event_id in kept or not (e.kind in HUMAN_KINDS and e.actor.type == "human"))
    ]


class DecidedTag(msgspec.Struct, kw_only=True, frozen=True):
    """A tag a human decision is in force on: as the document folds it (value and state
    under today's taxonomy), with the reviewer's event behind it (ids, corrected-from)."""

    tag: Tag
    decision: TagEvent


class _Folded(msgspec.Struct, kw_only=True, frozen=True):
    """One asset's fold of an attribute, with what stands behind its tags."""

    tags: dict[str, Tag]
    #: For each event id a tag stood on, the human decision behind it (an undo restores an
    #: earlier tag, a migration carries one: both keep its decision).
    behind: dict[str, TagEvent]
    #: For each event id a rejected tag stood on, the value it rejects, carried through the
    #: migrations of a re-proposal of it (the tag then shows the model's value instead).
    rejected: dict[str, str]


def _fold_with_decisions(events: Iterable[TagEvent]) -> _Folded:
    tags: dict[str, Tag] = {}
    behind: dict[str, TagEvent] = {}
    rejected: dict[str, str] = {}
    for event in sorted(events, key=lambda e: (e.seq, e.at, e.event_id)):
        before = tags.get(key_of(event))
        tags = fold_tags([event], tags.values())
        after = tags.get(key_of(event))
        if event.kind in HUMAN_KINDS and event.actor.type == "human":
            behind[event.event_id] = event
        elif event.kind == "reopened":
            restored = ((event.evidence or {}).get("restores") or {}).get("event_id")
            if restored in behind:
                behind[event.event_id] = behind[restored]
        elif event.kind == "migrated" and before is not None and before.event_id in behind:
            behind[event.event_id] = behind[before.event_id]
        if after is not None and after.state == "rejected" and after.value is not None:
            rejected[after.event_id] = after.value
        pending = before.reproposal_of if before is not None else None
        if (
            event.kind == "migrated"
            and pending
            and after is not None
            and after.value
            and before is not None
            and before.value == rejected.get(pending)
        ):
            rejected[pending] = after.value
    return _Folded(tags=tags, behind=behind, rejected=rejected)


def _decided(folded: _Folded, tag: Tag) -> DecidedTag | None:
    """The human decision in force on ``tag``: its own, or the rejection a pending
    re-proposal names (a negative until a reviewer decides the re-proposal)."""
    if tag.state in HUMAN_STATES:
        decision = folded.behind.get(tag.event_id)
        return DecidedTag(tag=tag, decision=decision) if decision is not None else None
    rejection = tag.reproposal_of
    decision = folded.behind.get(rejection) if rejection else None
    value = folded.rejected.get(rejection) if rejection else None
    if decision is None or value is None:
        return None
    return DecidedTag(
        tag=msgspec.structs.replace(tag, state="rejected", value=value), decision=decision
    )


def decided_tags(events: Iterable[TagEvent], attribute: str) -> list[DecidedTag]:
    """Every tag of ``attribute`` a human decision is in force on, by asset and slot.

    ``events``: each asset's history of the attribute (model and migration events too: the
    fold needs them to read a tag as its document does)."""
    by_asset: dict[str, list[TagEvent]] = defaultdict(list)
    for event in events:
        if event.attribute == attribute:
            by_asset[event.asset_id].append(event)
    out: list[DecidedTag] = []
    for asset_id in sorted(by_asset):
        folded = _fold_with_decisions(by_asset[asset_id])
        for key in sorted(folded.tags):
            decided = _decided(folded, folded.tags[key])
            if decided is not None:
                out.append(decided)
    return out


def latest_human_decisions(events: Iterable[TagEvent], attribute: str) -> list[TagEvent]:
    """The human decision in force per asset and value slot for ``attribute`` (see
    :func:`decided_tags`), leaving out decisions a reviewer undid."""
    return [d.decision for d in decided_tags(events, attribute)]


def _targets(decided: DecidedTag) -> list[tuple[str, Polarity]]:
    tag, decision = decided.tag, decided.decision
    if tag.value is None:
        return []
    if tag.state == "confirmed":
        return [(tag.value, "positive")]
    if tag.state == "rejected":
        return [(tag.value, "negative")]
    out: list[tuple[str, Polarity]] = [(tag.value, "positive")]
    previous = decision.previous_value if decision.kind == "corrected" else None
    if previous and previous not in (tag.value, decision.value):
        # A value since renamed away has no label today; it is counted as no_label.
        out.append((previous, "negative"))
    return out


def examples_from_events(
    events: Iterable[TagEvent],
    *,
    attribute: str,
    vectors: Mapping[str, np.ndarray],
    label_for: LabelFor,
    segments: Mapping[str, Mapping[str, str]] | None = None,
) -> TrainingSet:
    """The training set of ``attribute`` from tag events (any order, any attributes): each
    decided asset's whole history of the attribute, folded as its document is.

    ``vectors``: asset id → vector from the encoder in force (others are left out by the
    caller and counted here as ``no_vector``). ``segments``: asset id → segment keys
    (brand, category_family, season, shot_type) for per-segment evaluation.
    """
    skipped: Counter[str] = Counter()
    examples: list[TrainingExample] = []
    for decided in decided_tags(events, attribute):
        event = decided.decision
        if event.asset_id not in vectors:
            skipped["no_vector"] += 1
            continue
        for value, polarity in _targets(decided):
            label = label_for(event, value)
            if label is None:
                skipped["no_label"] += 1
                continue
            sign = "+" if polarity == "positive" else "-"
            examples.append(
                TrainingExample(
                    example_id=f"{event.event_id}:{sign}{value}",
                    asset_id=event.asset_id,
                    attribute=attribute,
                    value=value,
                    label=label,
                    polarity=polarity,
                    segments=dict(sorted((segments or {}).get(event.asset_id, {}).items())),
                )
            )
    return make_training_set(attribute, examples, vectors, skipped=skipped)


def labels_from_mapping(mapping: Mapping[str, str]) -> LabelFor:
    """A fixed value → model label table (context-free taxonomies, tests, benchmarks)."""
    table = dict(mapping)
    return lambda _event, value: table.get(value)


def labels_from_taxonomy(
    taxonomy: Taxonomy, contexts: Mapping[str, AssetContext] | None = None
) -> LabelFor:
    """Invert the mapping rules: the label whose rule yields the value in the asset's context.

    ``contexts``: asset id → the context the tagger maps that asset with (brand, season,
    collection, values of other attributes), so conditional rules invert correctly.
    """
    known = dict(contexts or {})
    # Inverting means mapping every label; assets share few contexts, so memoise per context.
    tables: dict[tuple[str, bytes], dict[str, str]] = {}

    def table(attribute: str, context: AssetContext) -> dict[str, str]:
        key = (attribute, msgspec.json.encode(context))
        if key not in tables:
            # Stable labels first: a label that means this value in every context is the
            # consistent target (a cardigan stays "cardigan" in winter, though "longline
            # cardigan" also maps to it then); vocabulary order breaks ties.
            rules = taxonomy.rules_for(attribute, context.brand)
            found: list[tuple[bool, int, str, str]] = []
            for i, model_label in enumerate(taxonomy.vocabulary_for(attribute, context.brand)):
                rule = matching_rule(taxonomy, attribute, model_label.label, context)
                if rule is not None:
                    outcomes = {r.then for r in rules if model_label.label in r.when_label}
                    found.append((len(outcomes) > 1, i, rule.then, model_label.label))
            inverse: dict[str, str] = {}
            for _unstable, _i, value, label in sorted(found):
                inverse.setdefault(value, label)
            tables[key] = inverse
        return tables[key]

    def label_for(event: TagEvent, value: str) -> str | None:
        context = known.get(event.asset_id, AssetContext())
        return table(event.attribute, context).get(value)

    return label_for
