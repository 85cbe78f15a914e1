"""The invariants of the trail, read from the real store after every step of the machine.

Each check raises AssertionError with a message that names the asset, the tag and the
break, so a shrunk failure reads as a bug report.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgspec

from tagtrail.domain.projection import fold_tags, projection_fields
from tagtrail.domain.records import Tag, TagEvent, key_of
from tagtrail.usecases.head_data import training_set
from tagtrail.usecases.runtime import Runtime
from tests.invariants.reference import HUMAN, UNKNOWN, Before, Human, Key, Reference

# Tag fields a machine event must change for it to be written at all (an unchanged tag
# writes no event). Probabilities, versions, ids and times are provenance of the same tag.
SIGNIFICANT = (
    "value",
    "state",
    "tier",
    "values",
    "label",
    "family",
    "rule_id",
    "head_version",
    "model_version",
    "proposed_value",
    "proposed_head_version",
    "reproposal_of",
)


async def stored_docs(runtime: Runtime, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Every asset as a reader sees it (``get`` rolls a cut-short write forward)."""
    return {a: (await runtime.store.assets.get(a)).public_source() for a in ids}


async def all_events(runtime: Runtime) -> dict[str, list[TagEvent]]:
    """Every stored event by asset, in fold order, read directly from the index."""
    index = runtime.settings.index_name("tag_events")
    client = runtime.store.client
    await client.indices.refresh(index=index)
    body = {
        "query": {"match_all": {}},
        "size": 10000,
        "sort": [{"seq": "asc"}, {"event_id": "asc"}],
    }
    hits = (await client.search(index=index, body=body))["hits"]["hits"]
    grouped: dict[str, list[TagEvent]] = defaultdict(list)
    for hit in hits:
        event = msgspec.convert(hit["_source"], TagEvent)
        grouped[event.asset_id].append(event)
    return grouped


def tags_of(doc: dict[str, Any]) -> dict[Key, dict[str, Any]]:
    aid = str(doc["asset_id"])
    return {(aid, str(t["attribute"]), t.get("slot")): t for t in doc.get("tags") or ()}


def check_revisions(docs: dict[str, dict[str, Any]], events: dict[str, list[TagEvent]]) -> None:
    """Revisions 1..N each hold one claim (event 0) and contiguous events; none beyond N."""
    for asset_id, doc in docs.items():
        by_seq: dict[int, list[int]] = defaultdict(list)
        for e in events.get(asset_id, ()):
            by_seq[e.seq].append(int(e.event_id.rsplit(":", 1)[1]))
        revision = int(doc.get("revision", 0))
        assert sorted(by_seq) == list(range(1, revision + 1)), (
            f"{asset_id}: document at revision {revision}, events at revisions {sorted(by_seq)}"
        )
        for seq, indexes in by_seq.items():
            assert sorted(indexes) == list(range(len(indexes))), (
                f"{asset_id}: revision {seq} holds event indexes {sorted(indexes)}"
            )


def check_fold(docs: dict[str, dict[str, Any]], events: dict[str, list[TagEvent]]) -> None:
    """The stored document equals the fold of its events (reproject changes nothing)."""
    for asset_id, doc in docs.items():
        folded = projection_fields(events.get(asset_id, ()))
        differs = {k: (doc.get(k), v) for k, v in folded.items() if doc.get(k) != v}
        if "tags" in differs:
            stored = {key_of(msgspec.convert(t, Tag)): t for t in doc.get("tags") or ()}
            fold = {key_of(msgspec.convert(t, Tag)): t for t in folded["tags"]}
            differs["tags"] = {
                k: (stored.get(k), fold.get(k))
                for k in stored.keys() | fold
                if stored.get(k) != fold.get(k)
            }
        assert not differs, f"{asset_id}: stored document differs from the fold: {differs}"


def check_no_unchanged_events(events: dict[str, list[TagEvent]]) -> None:
    """Every machine event (model, analyser, migration) changes the tag it is about."""
    for asset_id, history in events.items():
        for seq in sorted({e.seq for e in history}):
            before = fold_tags(e for e in history if e.seq < seq)
            after = fold_tags(e for e in history if e.seq <= seq)
            for e in history:
                if e.seq != seq or e.actor.type == "human" or e.seq == 1:
                    continue
                old, new = before.get(key_of(e)), after.get(key_of(e))
                same = (
                    old is not None
                    and new is not None
                    and all(getattr(old, f) == getattr(new, f) for f in SIGNIFICANT)
                )
                assert not same, (
                    f"{asset_id}: {e.kind} event {e.event_id} ({e.actor.type}) on {key_of(e)} "
                    f"changes nothing of the tag (value {old.value if old else None})"
                )


def check_humans(ref: Reference, docs: dict[str, dict[str, Any]]) -> None:
    """No human decision is lost or overridden by a model event; no tag is human-decided
    that the reference says nobody decided."""
    stored: dict[Key, dict[str, Any]] = {}
    for doc in docs.values():
        stored.update(tags_of(doc))
    for key, human in ref.human_in_force().items():
        tag = stored.get(key)
        assert tag is not None, f"{key}: the human decision {human} in force is gone"
        reproposed = tag.get("reproposal_of") and human.state == "rejected"
        state = "rejected" if reproposed else tag["state"]
        value = human.value if human.value == UNKNOWN else tag.get("value")
        assert (state, value) == (human.state, human.value), (
            f"{key}: reference says {human.state} {human.value!r}, the store says "
            f"{tag['state']} {tag.get('value')!r} (decided by {tag.get('decided_by')})"
        )
    for key, tag in stored.items():
        if tag["state"] in HUMAN:
            assert key in ref.human_in_force(), (
                f"{key}: the store says {tag['state']} {tag.get('value')!r}, but no decision "
                "of a reviewer is in force there"
            )


def check_restored(key: Key, restored: tuple[Before, str | None], tag: dict[str, Any]) -> None:
    """An undo restores exactly the state before the decision it undoes (through migrations)."""
    before, _shown_beside = restored
    if before.human is not None:
        want = (before.human.state, before.human.value)
        got = (tag["state"], tag.get("value") if before.human.value != UNKNOWN else UNKNOWN)
        assert got == want, f"{key}: undo should restore {want}, the store says {got}"
        return
    assert tag["state"] not in HUMAN, (
        f"{key}: undo should restore the model's proposal, the store says {tag['state']} "
        f"{tag.get('value')!r}"
    )
    # The state before the decision: the proposal the reviewer judged, not a newer head's
    # proposal made while the decision was in force (that was only shown beside it).
    value = before.value
    if value not in (None, UNKNOWN):
        assert tag.get("value") == value, (
            f"{key}: undo should restore the proposal {value!r}, the store says "
            f"{tag.get('value')!r}"
        )


async def check_training(runtime: Runtime, ref: Reference, attribute: str) -> None:
    """The training label of every decided tag is the human value in force today."""
    tagger = await runtime.tagging.tagger()
    data = await training_set(runtime.store.assets, runtime.store.events, attribute, tagger)
    positives = {(e.asset_id, e.value) for e in data.examples if e.polarity == "positive"}
    negatives = {(e.asset_id, e.value) for e in data.examples if e.polarity == "negative"}
    usable = trainable(tagger.taxonomy, attribute)
    want: set[tuple[str, str]] = set()
    rejected: set[tuple[str, str]] = set()
    for (asset_id, attr, slot), human in ref.human_in_force().items():
        if attr != attribute or slot is not None or human.value not in usable:
            continue
        (rejected if human.state == "rejected" else want).add((asset_id, human.value))
    assert positives == want, (
        f"{attribute}: training positives {sorted(positives)}, human values in force {sorted(want)}"
    )
    assert rejected <= negatives, (
        f"{attribute}: rejections in force {sorted(rejected - negatives)} are not negatives"
    )


def trainable(taxonomy: Any, attribute: str) -> set[str]:
    """Values some model label maps to (the others cannot be training labels)."""
    from tagtrail.learning.dataset import labels_from_taxonomy

    label_for = labels_from_taxonomy(taxonomy)
    found = set()
    for value in taxonomy.attribute(attribute).values:
        event = _Probe(asset_id="", attribute=attribute)
        if label_for(event, value.id) is not None:  # type: ignore[arg-type]
            found.add(value.id)
    return found


class _Probe(msgspec.Struct, kw_only=True, frozen=True):
    asset_id: str
    attribute: str


def human_of(tag: dict[str, Any] | None) -> Human | None:
    if tag is None or tag["state"] not in HUMAN:
        return None
    return Human(state=str(tag["state"]), value=str(tag.get("value")))


def check_preview(preview: Any, applied: Any, change: Any) -> None:
    """Preview equals apply: same rows, assets, events and human decisions touched."""

    def facts(report: Any) -> Any:
        rows = [msgspec.to_builtins(r) for r in report.rows]
        return (rows, report.assets_changed, report.events, report.human_decisions_touched)

    assert facts(preview) == facts(applied), (
        f"{change}: preview {facts(preview)[1:]} differs from apply {facts(applied)[1:]}"
    )


def check_hierarchy(taxonomy: Any, docs: dict[str, dict[str, Any]]) -> None:
    """Every tag holds a value of today's taxonomy, expanded under today's hierarchy (so
    hierarchy filters find it)."""
    for doc in docs.values():
        for key, tag in tags_of(doc).items():
            value, attribute = tag.get("value"), key[1]
            if value is None or attribute == "colour":
                continue  # colours expand to a family, checked by the palette's own tests
            assert attribute in taxonomy.attribute_names, (
                f"{key}: {attribute!r} is not an attribute of taxonomy {taxonomy.version}"
            )
            found = taxonomy.value(attribute, value, doc.get("brand"))
            assert found is not None, (
                f"{key}: {value!r} ({tag['state']}) is not a value of taxonomy {taxonomy.version}"
            )
            want = list(taxonomy.ancestors(attribute, value, doc.get("brand")))
            assert tag.get("values") == want, f"{key}: expanded as {tag.get('values')}, not {want}"


def check_split(
    m: Any, split: dict[Key, Human], stored: dict[Key, dict[str, Any]]
) -> dict[Key, str]:
    """A split sends a confirmed or corrected decision back to review (flagged, holding a
    candidate) and keeps a rejection; returns the kept rejections' values by key."""
    kept: dict[Key, str] = {}
    for key, human in split.items():
        tag = stored.get(key)
        assert tag is not None, f"{key}: the split {m.source} → {m.targets} removed it"
        got = (tag["state"], tag.get("value"), tag.get("decided_by"))
        if human.state == "rejected":
            assert tag["state"] == "rejected", (
                f"{key}: the split {m.source} → {m.targets} dropped the rejection (now {got})"
            )
            kept[key] = str(tag.get("value"))
            continue
        assert (tag["state"], tag.get("value") in m.targets) == ("flagged", True), (
            f"{key}: the split {m.source} → {m.targets} should send the {human.state} "
            f"decision back to review (flagged, a candidate); the store says {got}"
        )
    return kept
