"""Taxonomy migrations as data: where the tags of changed values go.

A new taxonomy folder may hold ``migrations.yaml``, in the spirit of Shopify's product
taxonomy mapping files::

    migrations:
      - {id: coatigan-name, attribute: category, rename: {from: coatigan, to: longline_coat}}
      - {id: vests, attribute: category, merge: {from: [gilet, vest], to: gilet}}
      - {id: knit-split, attribute: category, split: {from: jumper, to: [sweater, pullover]}}
      - {id: no-mohair, attribute: material, retire: [mohair]}
      - {id: no-necklines, retire_attribute: neckline}

A move (same id, another parent) needs no entry: every tag is re-expanded under the new
hierarchy. What does need one is a value or an attribute that disappears: without an entry
saying where its tags go, :func:`validate_migrations` refuses the change, naming the value,
so no human decision is ever dropped by a typo.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from tagtrail.domain.taxonomy.model import Taxonomy
from tagtrail.errors import InvalidInput, TaxonomyError

Op = Literal["rename", "merge", "split", "retire", "retire_attribute"]
_OPS: tuple[Op, ...] = ("rename", "merge", "split", "retire", "retire_attribute")


class MigrationStep(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    op: Op
    attribute: str
    sources: tuple[str, ...] = ()  # old values (empty for retire_attribute)
    targets: tuple[str, ...] = ()  # new values (one for rename/merge, several for split)


class Migrations(msgspec.Struct, kw_only=True, frozen=True):
    steps: tuple[MigrationStep, ...] = ()

    def for_value(self, attribute: str, value: str) -> MigrationStep | None:
        for step in self.steps:
            if step.attribute == attribute and value in step.sources:
                return step
        return None

    def retires_attribute(self, attribute: str) -> MigrationStep | None:
        for step in self.steps:
            if step.op == "retire_attribute" and step.attribute == attribute:
                return step
        return None


def _strings(raw: Any, file: str, path: str) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(i, str) and i for i in items):
        raise TaxonomyError("expected a value id or a list of value ids", file=file, path=path)
    return tuple(items)


def _step(raw: Any, file: str, path: str) -> MigrationStep:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
        raise TaxonomyError("each migration needs an id", file=file, path=path)
    ops = [op for op in _OPS if op in raw]
    if len(ops) != 1:
        raise TaxonomyError(f"exactly one of {', '.join(_OPS)} per migration", file=file, path=path)
    op = ops[0]
    unknown = set(raw) - {"id", "attribute", "note", op}
    if unknown:
        raise TaxonomyError(f"unknown keys {sorted(unknown)}", file=file, path=path)
    body = raw[op]
    if op == "retire_attribute":
        return MigrationStep(id=raw["id"], op=op, attribute=_strings(body, file, f"{path}.{op}")[0])
    if not isinstance(raw.get("attribute"), str):
        raise TaxonomyError(f"{op} needs the attribute it applies to", file=file, path=path)
    if op == "retire":
        return MigrationStep(
            id=raw["id"],
            op=op,
            attribute=raw["attribute"],
            sources=_strings(body, file, f"{path}.retire"),
        )
    if not isinstance(body, dict) or set(body) != {"from", "to"}:
        raise TaxonomyError(f"{op} needs from: and to:", file=file, path=f"{path}.{op}")
    sources = _strings(body["from"], file, f"{path}.{op}.from")
    targets = _strings(body["to"], file, f"{path}.{op}.to")
    if op in ("rename", "merge") and len(targets) != 1:
        raise TaxonomyError(f"{op} goes to exactly one value", file=file, path=f"{path}.{op}.to")
    if op == "rename" and len(sources) != 1:
        raise TaxonomyError("rename takes one value; merge takes several", file=file, path=path)
    if op == "split" and (len(sources) != 1 or len(targets) < 2):
        raise TaxonomyError("split goes from one value to several", file=file, path=path)
    return MigrationStep(
        id=raw["id"], op=op, attribute=raw["attribute"], sources=sources, targets=targets
    )


def parse_migrations(raw: Any, *, file: str) -> Migrations:
    """Validate a decoded ``migrations.yaml`` (shape only; see :func:`validate_migrations`)."""
    if raw is None:
        return Migrations()
    if not isinstance(raw, dict) or set(raw) != {"migrations"}:
        raise TaxonomyError("expected a top-level migrations: list", file=file, path="$")
    entries = raw["migrations"] or []
    if not isinstance(entries, list):
        raise TaxonomyError("expected a list", file=file, path="migrations")
    steps = tuple(_step(e, file, f"migrations[{i}]") for i, e in enumerate(entries))
    ids = [s.id for s in steps]
    if len(set(ids)) != len(ids):
        raise TaxonomyError("migration ids must be unique", file=file, path="migrations")
    return Migrations(steps=steps)


def _values(taxonomy: Taxonomy, attribute: str) -> set[str]:
    found = {v.id for v in taxonomy.attribute(attribute).values}
    for brand in taxonomy.brands:
        overlay = brand.overlay(attribute)
        found |= {v.id for v in overlay.values} if overlay else set()
    return found


def validate_migrations(old: Taxonomy, new: Taxonomy, migrations: Migrations) -> None:
    """Refuse a change that would drop tags nobody said where to put, or that says where
    they go ambiguously (each refusal names the migration)."""
    _refuse_overlaps(migrations)
    for step in migrations.steps:
        # Re-applying the version in force (a resent apply) finds the attribute gone already.
        resent = step.op == "retire_attribute" and old.version == new.version
        if step.attribute not in old.attribute_names and not resent:
            raise InvalidInput(
                f"migration {step.id!r}: {step.attribute!r} is not an attribute of the "
                f"current taxonomy",
                field="migrations",
            )
        if step.op == "retire_attribute":
            if step.attribute in new.attribute_names:
                raise InvalidInput(
                    f"migration {step.id!r} retires {step.attribute!r}, but the new "
                    f"taxonomy still has it",
                    field="migrations",
                )
            continue
        if step.attribute not in new.attribute_names:
            raise InvalidInput(
                f"migration {step.id!r}: the new taxonomy has no {step.attribute!r}; "
                f"retire it with retire_attribute",
                field="migrations",
            )
        gone = [t for t in step.targets if t not in _values(new, step.attribute)]
        if gone:
            raise InvalidInput(
                f"migration {step.id!r}: {step.attribute} {', '.join(gone)} is not a value "
                f"of the new taxonomy",
                field="migrations",
            )
        _refuse_ambiguous(step, _values(old, step.attribute), _values(new, step.attribute))
    for attribute in old.attribute_names:
        if attribute not in new.attribute_names:
            if migrations.retires_attribute(attribute) is None:
                raise InvalidInput(
                    f"attribute {attribute!r} is gone from the new taxonomy; add "
                    f"'retire_attribute: {attribute}' to migrations.yaml to remove its tags",
                    field="migrations",
                )
            continue
        vanished = sorted(_values(old, attribute) - _values(new, attribute))
        lost = [v for v in vanished if migrations.for_value(attribute, v) is None]
        if lost:
            raise InvalidInput(
                f"{attribute} values {', '.join(lost)} are gone from the new taxonomy and no "
                f"migration says where their tags go (rename, merge, split or retire)",
                field="migrations",
            )


def _refuse(step: MigrationStep, problem: str) -> InvalidInput:
    return InvalidInput(f"migration {step.id!r}: {problem}", field="migrations")


def _refuse_ambiguous(step: MigrationStep, old: set[str], new: set[str]) -> None:
    """A step must say one thing: its sources leave the taxonomy (a merge may keep its
    target among them), a rename goes to a new value, a split to distinct new values."""
    kept = [s for s in step.sources if s in new and not (step.op == "merge" and s in step.targets)]
    if kept:
        raise _refuse(
            step,
            (
                f"{step.attribute} {', '.join(kept)} stays in the new taxonomy, so its tags "
                f"cannot also {step.op} (remove it from the new taxonomy, or drop the migration)"
            ),
        )
    if len(set(step.targets)) != len(step.targets):
        raise _refuse(step, f"{step.op} names a value twice")
    existing = [t for t in step.targets if t in old]
    if step.op == "rename" and existing and set(step.sources) <= old:
        # Moving decisions onto a value that already has its own is a merge: say so.
        raise _refuse(
            step,
            (
                f"rename onto {step.attribute} {existing[0]}, a value that already exists, "
                f"would merge their tags; write it as merge: {{from: [{step.sources[0]}, "
                f"{existing[0]}], to: {existing[0]}}}"
            ),
        )


def _refuse_overlaps(migrations: Migrations) -> None:
    """Each old value has one fate: no value in two migrations, no chain or cycle (a value
    one migration moves tags to and another moves them away from)."""
    owner: dict[tuple[str, str], MigrationStep] = {}
    for step in migrations.steps:
        for source in step.sources:
            other = owner.setdefault((step.attribute, source), step)
            if other is not step:
                raise _refuse(
                    step,
                    (
                        f"{step.attribute} {source} is also in migration {other.id!r}; say "
                        f"where its tags go once"
                    ),
                )
    for step in migrations.steps:
        for target in step.targets:
            onward = owner.get((step.attribute, target))
            if onward is not None and onward is not step:
                raise _refuse(
                    step,
                    (
                        f"{step.op} to {step.attribute} {target}, which migration {onward.id!r} "
                        f"moves on: a chain or cycle; say where each value ends in one step"
                    ),
                )


class Followed(msgspec.Struct, kw_only=True, frozen=True):
    """Where a value went through a series of applies (None: retired), and whether a split
    chose its target (the first of the split's values)."""

    value: str | None
    split: bool = False


def follow(attribute: str, value: str, changes: Sequence[Sequence[MigrationStep]]) -> Followed:
    """Where ``value`` of ``attribute`` went through ``changes`` (each one apply's steps,
    oldest first), as an asset holding it would have been migrated: a rename or merge to
    its target, a split to its first target; None when one retired it (or its attribute)."""
    split = False
    for steps in changes:
        step = next(
            (
                s
                for s in steps
                if s.attribute == attribute and (value in s.sources or s.op == "retire_attribute")
            ),
            None,
        )
        if step is None:
            continue
        if step.op in ("retire", "retire_attribute"):
            return Followed(value=None, split=split)
        split = split or step.op == "split"
        value = step.targets[0]
    return Followed(value=value, split=split)


def follow_value(
    attribute: str, value: str, changes: Sequence[Sequence[MigrationStep]]
) -> str | None:
    """:func:`follow`'s value."""
    return follow(attribute, value, changes).value
