"""What an undo restores, carried through every taxonomy change since it was in force.

The history of one asset carries a value only through the migrations that moved a value
the asset held then. An undo can return to an older value the asset no longer held at a
migration (it held the reviewer's value), so no event of the asset carried it: it is
carried here through the stored change records instead (each apply's migrations, linked
from the pointer back to the first apply).
"""

from __future__ import annotations

import msgspec

from tagtrail.domain.projection import split_reopened
from tagtrail.domain.records import Tag
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.domain.taxonomy.migrations import MigrationStep, follow
from tagtrail.store import Store

#: The most change records read back for one undo (a store holds one per apply); older
#: applies are not followed, and a value they moved is then refused as no longer in force.
MAX_CHANGES_FOLLOWED = 100


async def carried_forward(store: Store, restore: Tag, taxonomy: Taxonomy) -> Tag:
    """``restore`` with its value moved through every apply since its taxonomy version (a
    retired value stays as it is: the undo refuses it, naming the migration kind)."""
    attribute, version = restore.attribute, restore.taxonomy_version
    if restore.value is None or version in (
        taxonomy.version,
        taxonomy.attribute_version(attribute),
    ):
        return restore  # nothing applied since
    changes = await _changes_since(store, attribute, version)
    followed = follow(attribute, restore.value, changes)
    if followed.value is None or followed.value == restore.value:
        return restore
    if followed.split:
        restore = split_reopened(restore)
    return msgspec.structs.replace(
        restore,
        value=followed.value,
        # A proposal named the old taxonomy's value; the next retag re-proposes.
        proposed_value=None,
        proposed_probability=None,
        proposed_margin=None,
        proposed_head_version=None,
        proposed_taxonomy_version=None,
        proposed_event_id=None,
    )


async def _changes_since(
    store: Store, attribute: str, version: str | None
) -> list[tuple[MigrationStep, ...]]:
    """The migrations of each apply after the one that put ``version`` in force, oldest
    first (all recorded applies when none did: the version is older than the records)."""
    state = await store.taxonomies.in_force()
    found: list[tuple[MigrationStep, ...]] = []
    next_id = state.last_change if state is not None else None
    for _ in range(MAX_CHANGES_FOLLOWED):
        change = await store.taxonomies.change(next_id) if next_id else None
        if change is None or version in (change.version, change.attribute_versions.get(attribute)):
            break
        found.append(change.steps)
        next_id = change.previous
    return found[::-1]
