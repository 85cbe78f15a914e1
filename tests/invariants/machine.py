"""The rules of the stateful test (see test_trail_state_machine.py for how it is run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tagtrail.config import Settings
from tagtrail.domain.decisions import Decision
from tagtrail.domain.records import event_id
from tagtrail.errors import Conflict, InvalidInput, TagtrailError
from tagtrail.usecases.ingest import IngestItem
from tests.invariants import checks
from tests.invariants.model_rules import ModelRules
from tests.invariants.reference import HUMAN, Before, Human, Key, Reference
from tests.invariants.strategies import ACTOR, CHECKS, FAULT, PICK, on
from tests.invariants.taxonomy_edits import OPS, Migration, leaves, plan, write_folder
from tests.invariants.world import Crash, World


class TrailMachine(ModelRules, RuleBasedStateMachine):
    def __init__(
        self,
        base: Settings,
        encoder: Any,
        photos: list[bytes],
        tmp: Path,
        groups: frozenset[str],
        checked: frozenset[str] = frozenset(CHECKS),
        ops: frozenset[str] = frozenset(OPS),
    ) -> None:
        super().__init__()
        self.world = World(base, encoder, photos, tmp)
        self.groups = groups
        self.checked = checked
        self.ops = ops
        self.ref = Reference()
        self.ids: list[str] = []
        self.docs: dict[str, dict[str, Any]] = {}
        self.proposals: dict[Key, str | None] = {}
        self.serial = 0

    def teardown(self) -> None:
        self.world.close()

    # -- helpers --------------------------------------------------------------------------
    @property
    def runtime(self) -> Any:
        return self.world.runtime

    def run(self, coro: Any) -> Any:
        return self.world.run(coro)

    def armed(self, fault: tuple[int, str] | None) -> tuple[int, str] | None:
        if fault is None or "faults" not in self.groups:
            return None
        return fault

    def attempt(self, make: Any, fault: tuple[int, str] | None) -> tuple[bool, Any]:
        """Run ``make()`` with the fault armed; (crashed, result or exception)."""
        faults = self.world.faults
        faults.reader = self.read_everything
        if fault is not None:
            mode, _, at = fault[1].partition("@")
            # A batch write makes three bulk requests: claims, the rest, the documents.
            faults.arm(fault[0] % 3 if at else fault[0], mode, match=f"_{at}" if at else None)
        try:
            return False, self.run(make())
        except Crash as exc:
            return True, exc
        except TagtrailError as exc:
            return False, exc
        finally:
            faults.disarm()

    async def read_everything(self) -> None:
        await self.runtime.store.assets.get_many(self.ids)

    def tags(self) -> dict[Key, dict[str, Any]]:
        out: dict[Key, dict[str, Any]] = {}
        for doc in self.docs.values():
            out.update(checks.tags_of(doc))
        return out

    def choose(self, keys: list[Key], pick: int) -> Key | None:
        return (
            sorted(keys, key=lambda k: (k[0], k[1], k[2] or ""))[pick % len(keys)] if keys else None
        )

    def claimed(self, asset_id: str, revision: int) -> bool:
        """Whether the write of ``revision`` landed (its claim, event 0, is stored)."""
        found = self.run(self.runtime.store.events.get(event_id(asset_id, revision, 0)))
        return found is not None

    # -- rules: ingest --------------------------------------------------------------------
    @initialize()
    def first_uploads(self) -> None:
        for photo in (0, 1):
            self.upload(photo, None)

    @rule(photo=PICK, fault=FAULT)
    def upload(self, photo: int, fault: tuple[int, str] | None) -> None:
        data = self.world.photos[photo % len(self.world.photos)]
        item = IngestItem(name=f"photo-{photo % len(self.world.photos)}.png", data=data)
        crashed, result = self.attempt(lambda: self.runtime.ingest.batch([item]), self.armed(fault))
        if crashed or result[0].status == "failed":
            # Resent: the same bytes again (the client retries after a failure).
            result = self.run(self.runtime.ingest.batch([item]))
        (outcome,) = result
        assert outcome.status in ("created", "exists"), outcome
        stored = self.run(self.runtime.store.assets.get(str(outcome.asset_id)))
        if stored.revision == 0:
            # A crash left the document untagged and the resend came within
            # RESUME_AFTER_S: "exists" (it may be an upload in flight; tests/store/
            # test_healing.py). A later ingest resumes it; until then it is not tracked.
            return
        if outcome.asset_id not in self.ids:
            self.ids.append(str(outcome.asset_id))
            self.ref.revisions[str(outcome.asset_id)] = 1

    # -- rules: review --------------------------------------------------------------------
    def decidable(self, kind: str) -> list[Key]:
        tags = self.tags()
        if kind == "reopened":
            return [k for k, t in tags.items() if t["state"] in HUMAN]
        if kind == "corrected":
            return [k for k, t in tags.items() if k[2] is None]
        return [k for k, t in tags.items() if t.get("value") and t["state"] != "rejected"]

    def correction(self, key: Key, pick: int) -> str:
        taxonomy = self.run(self.runtime.taxonomy.current())
        values = leaves(taxonomy, key[1])
        current = self.tags()[key].get("value")
        if key[1] == "category":
            values = sorted(set(values) & checks.trainable(taxonomy, "category")) or values
        others = [v for v in values if v != current] or values
        return others[pick % len(others)]

    def decided(self, key: Key, kind: str, value: str, before_tag: dict[str, Any] | None) -> None:
        if kind == "reopened":
            return
        before = Before(
            human=checks.human_of(before_tag),
            value=before_tag.get("value") if before_tag else None,
            absent=before_tag is None,
        )
        self.ref.decided(key, Human(state=kind, value=value), before)

    @on("decide")
    @rule(
        kind=st.sampled_from(["confirmed", "rejected", "corrected"]),
        pick=PICK,
        value=PICK,
        fault=FAULT,
    )
    def review(
        self,
        kind: str,
        pick: int,
        value: int,
        fault: tuple[int, str] | None,
        only: str | None = None,
    ) -> None:
        keys = [k for k in self.decidable(kind) if only is None or k[1] == only]
        key = self.choose(keys, pick)
        if key is None:
            return
        tag = self.tags()[key]
        chosen = self.correction(key, value) if kind == "corrected" else str(tag["value"])
        decision = Decision(
            kind=kind,
            attribute=key[1],
            slot=key[2],  # type: ignore[arg-type]
            value=chosen if kind == "corrected" else None,
        )
        self.one_decision(key, decision, chosen, fault)

    @on("decide")
    @rule(
        kind=st.sampled_from(["confirmed", "rejected", "corrected"]),
        pick=PICK,
        value=PICK,
        fault=FAULT,
    )
    def review_category(self, kind: str, pick: int, value: int, fault: Any) -> None:
        """Category, where migrations, training and dependent rules meet, gets more decisions."""
        self.review(kind, pick, value, fault, only="category")

    def one_decision(
        self, key: Key, decision: Decision, value: str, fault: tuple[int, str] | None
    ) -> Any:
        """Decide, with a fault armed; after a crash, resend the same request."""
        asset_id, revision = key[0], int(self.docs[key[0]]["revision"])
        before_tag = self.tags().get(key)

        def send() -> Any:
            return self.runtime.review.decide(asset_id, revision, decision, ACTOR)

        fault = self.armed(fault)
        crashed, result = self.attempt(send, fault)
        lost = fault is not None and fault[1].startswith("crash") and not crashed
        if lost and self.world.faults.fired is None:
            # The write ended before the fault: its answer is lost and the client resends.
            resent = self.attempt(send, None)[1]
            if "resend" in self.checked:
                assert isinstance(resent, Conflict), f"resent after a landed write: {resent!r}"
        if crashed:
            landed = self.claimed(asset_id, revision + 1)
            resent = self.attempt(send, None)[1]
            if landed:
                assert isinstance(resent, Conflict), f"resent after a landed write: {resent!r}"
                claim_id = event_id(asset_id, revision + 1, 0)
                claim = self.run(self.runtime.store.events.get(claim_id))
                key, result = (asset_id, key[1], claim.slot), None
            else:
                result = resent
        if result is not None:
            assert not isinstance(result, TagtrailError), f"{decision} refused: {result!r}"
            assert result.event.seq == revision + 1, result.event.event_id
            assert result.asset.revision == revision + 1, "a decision is one revision"
            key = (asset_id, key[1], result.event.slot)
        self.decided(key, decision.kind, value, before_tag)
        return result

    @on("bulk")
    @rule(kind=st.sampled_from(["confirmed", "rejected"]), pick=PICK, n=st.integers(2, 4))
    def review_many(self, kind: str, pick: int, n: int) -> None:
        keys = [k for k in self.decidable(kind) if k[2] is None]
        attribute = self.choose(keys, pick)
        if attribute is None:
            return
        chosen = [k for k in keys if k[1] == attribute[1]][:n]
        before = {k: self.tags()[k] for k in chosen}
        items = [(k[0], int(self.docs[k[0]]["revision"]), None) for k in chosen]
        decision = Decision(kind=kind, attribute=attribute[1])  # type: ignore[arg-type]
        results = self.run(self.runtime.review.decide_many(items, decision, ACTOR))
        for key, result in zip(chosen, results, strict=True):
            assert not isinstance(result, TagtrailError), f"{key}: {result!r}"
            self.decided(key, kind, str(before[key]["value"]), before[key])

    @on("values")
    @rule(add=st.booleans(), pick=PICK, value=PICK, fault=FAULT)
    def further_value(self, add: bool, pick: int, value: int, fault: Any) -> None:
        tags = self.tags()
        if add:
            taxonomy = self.run(self.runtime.taxonomy.current())
            keys = [k for k in tags if k[2] is None and k[1] in ("colour", "material")]
            key = self.choose(keys, pick)
            if key is None:
                return
            held = {t.get("value") for k, t in tags.items() if k[:2] == key[:2]}
            free = [v for v in leaves(taxonomy, key[1]) if v not in held]
            chosen = free[value % len(free)]
            decision = Decision(kind="corrected", attribute=key[1], value=chosen, add=True)
            self.one_decision((key[0], key[1], "<new>"), decision, chosen, fault)
            return
        keys = [k for k, t in tags.items() if k[2] is not None and t["state"] != "rejected"]
        key = self.choose(keys, pick)
        if key is not None:
            decision = Decision(kind="rejected", attribute=key[1], slot=key[2])
            self.one_decision(key, decision, str(tags[key]["value"]), fault)

    @on("reopen")
    @rule(pick=PICK, fault=FAULT)
    def reopen(self, pick: int, fault: tuple[int, str] | None) -> None:
        key = self.choose(self.decidable("reopened"), pick)
        if key is None:
            return
        top = self.ref.tags.get(key)
        decision = Decision(kind="reopened", attribute=key[1], slot=key[2])
        if top is None or not top.stack or top.stack[-1].before.absent:
            revision = int(self.docs[key[0]]["revision"])
            refused = self.attempt(
                lambda: self.runtime.review.decide(key[0], revision, decision, ACTOR), None
            )[1]
            assert isinstance(refused, InvalidInput), f"{key}: nothing to undo, got {refused!r}"
            return
        restored = self.ref.undone(key)
        assert restored is not None
        self.one_decision(key, decision, "", fault)
        doc = self.run(self.runtime.store.assets.get(key[0])).public_source()
        tag = checks.tags_of(doc).get(key)
        assert tag is not None, f"{key}: undo removed the tag"
        if "undo" in self.checked:
            checks.check_restored(key, restored, tag)

    # -- rules: the model -----------------------------------------------------------------
    def revisions(self) -> dict[str, int]:
        docs = self.run(checks.stored_docs(self.runtime, self.ids))
        return {a: int(d.get("revision", 0)) for a, d in docs.items()}

    def one_revision_each(self, before: dict[str, int], what: str) -> None:
        after = self.revisions()
        jumps = {a: after[a] - r for a, r in before.items() if after[a] - r not in (0, 1)}
        assert not jumps, f"{what} moved assets by more than one revision: {jumps}"

    # -- rules: the taxonomy --------------------------------------------------------------
    @on("taxonomy")
    @rule(op=st.sampled_from(OPS), pick=PICK, fault=FAULT)
    def change_taxonomy(self, op: str, pick: int, fault: tuple[int, str] | None) -> None:
        if op not in self.ops:  # narrowed by TAGTRAIL_STATEFUL_OPS
            op = sorted(self.ops)[pick % len(self.ops)]
        taxonomy = self.run(self.runtime.taxonomy.current())
        humans = self.ref.human_in_force()
        in_use = [h.value for h in humans.values()] + sorted(
            {str(t["value"]) for t in self.tags().values() if t.get("value")}
        )
        m = plan(taxonomy, op, pick, self.serial, in_use)
        if not m.attribute:
            return  # every retirable attribute is retired already
        self.serial += 1
        out = self.world.tmp / f"taxonomy-{self.serial}"
        folder = write_folder(self.world.taxonomy_dir, out, m, self.serial)
        split = {
            k: h
            for k, h in humans.items()
            if m.op == "split" and k[1] == m.attribute and h.value == m.source
        }
        before = self.revisions()
        preview = self.attempt(lambda: self.runtime.taxonomy_changes.preview(folder), None)[1]
        crashed, applied = self.attempt(
            lambda: self.runtime.taxonomy_changes.apply(folder), self.armed(fault)
        )
        if isinstance(preview, InvalidInput):
            self.refused(m, preview, applied, split, before)
            return
        assert not isinstance(preview, TagtrailError), f"{m}: preview refused: {preview!r}"
        if crashed:
            applied = self.run(
                self.runtime.taxonomy_changes.apply(folder)
            )  # resent: a rerun finishes
        else:
            assert not isinstance(applied, TagtrailError), f"{m}: apply refused: {applied!r}"
            if "preview" in self.checked:
                checks.check_preview(preview, applied, m)
        self.one_revision_each(before, f"taxonomy apply of {m}")
        self.world.switch_taxonomy(folder)
        self.migrated(m, split if "split" in self.checked else {})

    def refused(
        self,
        m: Migration,
        preview: Any,
        applied: Any,
        split: dict[Key, Human],
        before: dict[str, int],
    ) -> None:
        """A refusal is right only for what the product calls ambiguous: a split of a value
        reviewers rejected; it names the migration and writes nothing."""
        assert any(h.state == "rejected" for h in split.values()), f"{m}: refused: {preview!r}"
        assert isinstance(applied, InvalidInput), f"{m}: preview refused, apply: {applied!r}"
        assert f"gen-{self.serial}-" in preview.message, preview.message
        assert self.revisions() == before, "a refused change wrote something"

    def migrated(self, m: Migration, split: dict[Key, Human]) -> None:
        """Carry the reference through ``m`` and check what a split must do."""
        self.ref.migrate(m, split_rejections_kept=True)
        docs = self.run(checks.stored_docs(self.runtime, self.ids))
        stored: dict[Key, dict[str, Any]] = {}
        for doc in docs.values():
            stored.update(checks.tags_of(doc))
        for key, value in checks.check_split(m, split, stored).items():
            self.ref.tags[key].human = Human(state="rejected", value=value)

    # -- rules: readers -------------------------------------------------------------------
    @on("read")
    @rule()
    def read(self) -> None:
        self.run(self.runtime.store.assets.get_many(self.ids))
        self.run(self.runtime.store.assets.lookup(self.ids))

    # -- invariants -----------------------------------------------------------------------
    @invariant()
    def trail_holds(self) -> None:
        if not self.ids:
            return
        docs = self.run(checks.stored_docs(self.runtime, self.ids))
        events = self.run(checks.all_events(self.runtime))
        self.docs = docs
        if "revisions" in self.checked:
            checks.check_revisions(docs, events)
        if "fold" in self.checked:
            checks.check_fold(docs, events)
        if "unchanged" in self.checked:
            checks.check_no_unchanged_events(events)
        if "humans" in self.checked:
            checks.check_humans(self.ref, docs)
        self.note_proposals()
        taxonomy = self.run(self.runtime.taxonomy.current())
        if "hierarchy" in self.checked:
            checks.check_hierarchy(taxonomy, docs)
        if "training" in self.checked and "category" in taxonomy.attribute_names:
            self.run(checks.check_training(self.runtime, self.ref, "category"))

    def note_proposals(self) -> None:
        """A model proposal made after a decision is what an undo of it returns to."""
        for key, tag in self.tags().items():
            seen = tag.get("proposed_event_id")
            if seen is not None and seen != self.proposals.get(key):
                self.ref.proposed(key, tag.get("proposed_value"))
            self.proposals[key] = seen
