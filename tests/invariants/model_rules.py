"""The model's rules of the stateful test: retag, and train then promote a head."""

from __future__ import annotations

from hypothesis.stateful import rule

from tagtrail.errors import InvalidInput, TagtrailError
from tagtrail.usecases.heads import promote_head, train_head
from tagtrail.usecases.retag import retag_all
from tests.invariants import checks
from tests.invariants.strategies import FAULT, on


class ModelRules:
    """Mixed into TrailMachine (which provides attempt, run, revisions, ref, services)."""

    @on("retag")
    @rule(fault=FAULT)
    def retag(self, fault: tuple[int, str] | None) -> None:
        before = self.revisions()
        crashed, report = self.attempt(lambda: retag_all(self.services), self.armed(fault))
        if crashed:
            report = self.run(retag_all(self.services))  # resent: the rerun finishes the job
        assert not isinstance(report, TagtrailError), report
        self.one_revision_each(before, "a retag")

    @on("train")
    @rule()
    def train_and_promote(self) -> None:
        taxonomy = self.run(self.services.taxonomy())
        if "category" not in taxonomy.attribute_names:
            return
        trainable = checks.trainable(taxonomy, "category")
        positives = [
            h
            for k, h in self.ref.human_in_force().items()
            if k[1] == "category"
            and k[2] is None
            and h.state != "rejected"
            and h.value in trainable
        ]
        result = self.attempt(lambda: train_head(self.services, "category", actor="ml"), None)[1]
        if not positives:
            assert isinstance(result, InvalidInput), f"trained from no decision: {result!r}"
            return
        assert not isinstance(result, TagtrailError), f"{positives}: {result!r}"
        note = "stateful test: retag with it"
        promoted = self.run(
            promote_head(
                self.services, "category", result.version, actor="ml", force=True, note=note
            )
        )
        assert promoted.promoted or promoted.previous == result.version, promoted
