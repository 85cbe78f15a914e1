"""The report of a taxonomy change: per attribute, old value and segment, with examples."""

from __future__ import annotations

import msgspec

from tagtrail.domain.records import Tag, human_decided
from tagtrail.usecases.sampling import StratifiedSample

OVERALL = "overall"


class ChangeSample(msgspec.Struct, kw_only=True, frozen=True):
    asset_id: str
    old_value: str | None
    new_value: str | None  # None: the tag was retired
    old_state: str | None
    new_state: str | None
    old_tier: str | None
    new_tier: str | None
    human_decided: bool


class ChangeRow(msgspec.Struct, kw_only=True):
    attribute: str
    value: str  # the value before the change ("(none)" for a tag the change adds)
    segment: str  # "overall" or "key=value"
    assets: int = 0
    value_changes: int = 0
    tier_changes: int = 0
    hierarchy_changes: int = 0  # same value, other ancestors, label or colour family
    retired: int = 0
    human_touched: int = 0  # human-decided tags the change moves, re-opens or retires
    sample: list[ChangeSample] = []


class TaxonomyChangeReport(msgspec.Struct, kw_only=True):
    current_version: str
    new_version: str
    attributes_moved: list[str]  # attributes whose version moved: the model re-decides them
    retired_attributes: list[str]
    applied: bool  # False: a preview, nothing was written
    checked: int = 0
    assets_changed: int = 0
    events: int = 0
    human_decisions_touched: int = 0
    conflicts: int = 0  # assets changed meanwhile (apply): run it again to finish them
    other_encoder: int = 0  # vectors of another encoder: migrated, not re-decided
    rows: list[ChangeRow] = []
    # The version in force afterwards (apply: the new one; while conflicts remain it is in
    # force but unfinished, and running apply again finishes it).
    in_force: str | None = None
    # Apply: how long it waited, after putting the new version in force, for every server
    # to follow it (TAGTRAIL_TAXONOMY_REFRESH_S) before migrating the first asset.
    waited_for_servers_s: float = 0.0

    def in_force_line(self) -> str:
        """The CLI's last line: the version in force, and how apply let the servers follow."""
        state = "in force for every server" if self.applied else "compared with: the one in force"
        if self.waited_for_servers_s:
            state += (
                f", after waiting {self.waited_for_servers_s:g} s for every server to "
                "follow it before migrating"
            )
        return f"taxonomy {self.in_force}: {state} (servers follow in TAGTRAIL_TAXONOMY_REFRESH_S)"


def _differs(before: Tag | None, after: Tag | None) -> bool:
    return before != after


class ChangeCollector:
    def __init__(self, sample: int) -> None:
        self.rows: dict[tuple[str, str, str], ChangeRow] = {}
        self.samples: StratifiedSample[ChangeSample] = StratifiedSample(sample, "taxonomy")
        self.human_touched = 0

    def add(
        self,
        asset_id: str,
        segments: dict[str, str],
        before: dict[str, Tag],
        after: dict[str, Tag],
    ) -> None:
        for attribute in sorted(set(before) | set(after)):
            old, new = before.get(attribute), after.get(attribute)
            if not _differs(old, new):
                continue
            human = old is not None and human_decided(old.state, old.source)
            item = ChangeSample(
                asset_id=asset_id,
                old_value=old.value if old else None,
                new_value=new.value if new else None,
                old_state=old.state if old else None,
                new_state=new.state if new else None,
                old_tier=old.tier if old else None,
                new_tier=new.tier if new else None,
                human_decided=human,
            )
            touched = human and (
                new is None
                or (
                    old is not None
                    and (old.value, old.values, old.state) != (new.value, new.values, new.state)
                )
            )
            self.human_touched += touched
            value = (old.value if old else None) or "(none)"
            for segment in (OVERALL, *(f"{k}={v}" for k, v in segments.items())):
                key = (attribute, value, segment)
                row = self.rows.setdefault(
                    key, ChangeRow(attribute=attribute, value=value, segment=segment)
                )
                row.assets += 1
                row.retired += new is None
                row.human_touched += touched
                if old is not None and new is not None:
                    row.value_changes += old.value != new.value
                    row.tier_changes += old.tier != new.tier
                    row.hierarchy_changes += old.value == new.value and (
                        (old.values, old.label, old.family) != (new.values, new.label, new.family)
                    )
                self.samples.offer(key, asset_id, item)

    def finish(self) -> list[ChangeRow]:
        out = []
        for key in sorted(self.rows, key=lambda k: (k[0], k[1], k[2] != OVERALL, k[2])):
            row = self.rows[key]
            row.sample = self.samples.take(key)
            out.append(row)
        return out
