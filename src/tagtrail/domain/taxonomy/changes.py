"""What a taxonomy change does to one asset's stored tags (pure; no model, no I/O).

Every tag is carried into the new taxonomy by an event, never silently:

* a renamed or merged value moves to its new value, whoever decided it (``migrated``);
* a split value moves to its first candidate: a confirmation or correction is re-opened for
  review (``flagged``: still applied, queued, its source kept, the candidates in the
  evidence; the model's later opinion is only a proposal beside it), a rejection stays a
  rejection (of every candidate: none is applied unless a reviewer decides), a model tag
  becomes a suggestion until the re-tag decides among the candidates;
* a retired value or attribute is removed (``retired``); the decision stays in the trail;
* any other tag whose label, hierarchy or colour family changed is re-expanded in place
  (``migrated`` with the same value), so reviewed tags are found under their new parent.

Model re-decisions for attributes whose version moved are the re-tag's job and run on the
migrated tags (see ``usecases.taxonomy_change``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from tagtrail.domain.records import Actor, TagEvent, event_id, human_decided, tag_key
from tagtrail.domain.taxonomy.migrations import Migrations
from tagtrail.domain.taxonomy.model import Taxonomy


class TagChange(msgspec.Struct, kw_only=True, frozen=True):
    attribute: str
    slot: str | None = None  # a further value of a multi-valued attribute
    kind: Literal["migrated", "retired"]
    step: str | None  # the migration's id; None: re-expanded under the new hierarchy
    old_value: str | None
    new_value: str | None
    old_state: str
    state: str
    human: bool  # the tag was decided by a reviewer
    candidates: tuple[str, ...] = ()
    note: str = ""


def _expansion(new: Taxonomy, attribute: str, value: str, brand: str | None) -> dict[str, Any]:
    found = new.value(attribute, value, brand)
    return {
        "value": value,
        "label": found.label if found else value,
        "values": new.ancestors(attribute, value, brand),
        "family": new.colour_family(value) if attribute == "colour" else None,
    }


def _same(tag: dict[str, Any], expanded: dict[str, Any]) -> bool:
    return bool(
        tag.get("value") == expanded["value"]
        and tag.get("label") == expanded["label"]
        and tuple(tag.get("values") or ()) == expanded["values"]
        and tag.get("family") == expanded["family"]
    )


def _human(tag: dict[str, Any]) -> bool:
    return human_decided(tag.get("state"), tag.get("source"))


def _change(tag: dict[str, Any], **fields: Any) -> TagChange:
    state = str(tag.get("state"))
    return TagChange(
        attribute=str(tag["attribute"]),
        slot=tag.get("slot"),
        old_value=tag.get("value"),
        old_state=state,
        human=_human(tag),
        **{"state": state, **fields},
    )


def _split_state(tag: dict[str, Any]) -> str:
    """A rejection stays one; another human decision goes back to review (applied); a model
    tag is a suggestion until the model decides among the new values."""
    if tag.get("state") == "rejected":
        return "rejected"
    return "flagged" if _human(tag) else "suggested"


def _reexpanded(
    tag: dict[str, Any], new: Taxonomy, old: Taxonomy | None, brand: str | None
) -> bool:
    """Whether an unmigrated tag reads differently under ``new`` (label, hierarchy, colour
    family, or the words free-text search finds it by)."""
    attribute, value = str(tag["attribute"]), str(tag["value"])
    if not _same(tag, _expansion(new, attribute, value, brand)):
        return True
    if tag.get("taxonomy_version") == new.attribute_version(attribute):
        return False  # already carried into ``new`` (a re-run)
    known = old is not None and old.value(attribute, value, brand) is not None
    if old is None or not known or new.value(attribute, value, brand) is None:
        return False
    return old.search_terms(attribute, value, brand) != new.search_terms(attribute, value, brand)


def tag_changes(
    tags: Sequence[dict[str, Any]],
    new: Taxonomy,
    migrations: Migrations,
    brand: str | None,
    old: Taxonomy | None = None,
) -> list[TagChange]:
    """The migration changes for one asset's stored tags (validated migrations assumed).
    A tag that reads the same under ``new`` gets none (``old``: to compare search words)."""
    out: list[TagChange] = []
    for tag in tags:
        attribute, value = str(tag["attribute"]), tag.get("value")
        retired = migrations.retires_attribute(attribute)
        if retired is not None or attribute not in new.attribute_names:
            note = f"attribute {attribute} left the taxonomy"
            out.append(
                _change(
                    tag,
                    kind="retired",
                    step=retired.id if retired else None,
                    new_value=None,
                    note=note,
                )
            )
            continue
        if value is None:
            continue
        step = migrations.for_value(attribute, value)
        if step is not None and step.op == "merge" and value in step.targets:
            # A merge's target is among its sources but its tags already sit where the merge
            # puts them; treating them as moved would write them again on every re-run (a
            # resumed apply: a second revision for each asset the first attempt migrated).
            step = None
        if step is not None and step.op == "retire":
            note = f"{attribute} {value} retired by migration {step.id}"
            out.append(_change(tag, kind="retired", step=step.id, new_value=None, note=note))
        elif step is not None and step.op == "split":
            state = _split_state(tag)
            verb = "rejected: stays rejected" if state == "rejected" else "choose one"
            out.append(
                _change(
                    tag,
                    kind="migrated",
                    step=step.id,
                    new_value=step.targets[0],
                    state=state,
                    candidates=step.targets,
                    note=f"{value} was split into {', '.join(step.targets)}: {verb}",
                )
            )
        elif step is not None:
            target = step.targets[0]
            out.append(
                _change(
                    tag,
                    kind="migrated",
                    step=step.id,
                    new_value=target,
                    note=f"{step.op} {value} → {target}",
                )
            )
        elif _reexpanded(tag, new, old, brand):
            out.append(
                _change(
                    tag,
                    kind="migrated",
                    step=None,
                    new_value=value,
                    note="re-expanded under the new taxonomy",
                )
            )
    return out


def migrated_tag(
    tag: dict[str, Any], change: TagChange, new: Taxonomy, brand: str | None
) -> dict[str, Any]:
    """The stored tag as it reads after ``change`` (for planning the re-tag on top of it)."""
    expanded = _expansion(new, change.attribute, str(change.new_value), brand)
    return {
        **tag,
        **expanded,
        "state": change.state,
        "taxonomy_version": new.attribute_version(change.attribute),
        "proposed_value": None,
        "proposed_head_version": None,
        "proposed_taxonomy_version": None,
    }


def change_event(
    asset_id: str,
    seq: int,
    index: int,
    at: str,
    tag: dict[str, Any],
    change: TagChange,
    new: Taxonomy,
    brand: str | None,
) -> TagEvent:
    """The event recording ``change``; the evidence links the decision it carries over."""
    evidence = {
        "kind": "migration",
        "migration": change.step,
        "taxonomy_version": new.version,
        "from_value": change.old_value,
        "from_values": list(tag.get("values") or ()),
        "carried_event_id": tag.get("event_id"),
        "decided_by": tag.get("decided_by"),
        "candidates": list(change.candidates),
    }
    actor = Actor(type="migration", id=change.step or f"taxonomy:{new.version}")
    common: dict[str, Any] = {
        "event_id": event_id(asset_id, seq, index),
        "asset_id": asset_id,
        "attribute": change.attribute,
        "slot": change.slot,
        "seq": seq,
        "at": at,
        "actor": actor,
        "previous_value": change.old_value,
        "note": change.note,
        "evidence": evidence,
    }
    if change.kind == "retired":
        return TagEvent(**common, kind="retired", state=change.old_state, value=change.old_value)  # type: ignore[arg-type]
    value = str(change.new_value)
    return TagEvent(
        **common,
        kind="migrated",
        state=change.state,  # type: ignore[arg-type]
        **_expansion(new, change.attribute, value, brand),
        terms=new.search_terms(change.attribute, value, brand),
        taxonomy_version=new.attribute_version(change.attribute),
    )


def change_key(change: TagChange) -> str:
    """The key (:func:`~tagtrail.domain.records.tag_key`) of the tag ``change`` is about."""
    return tag_key(change.attribute, change.slot)
