"""The model's rules of the stateful test: retag, and train then promote a head."""

from __future__ import annotations

from hypothesis.stateful import rule

from tagtrail.errors import InvalidInput, TagtrailError
from tests.invariants import checks
from tests.invariants.strategies import FAULT, on


class ModelRules:
    """Mixed into TrailMachine (which provides attempt, run, revisions, ref, runtime)."""

    @on("retag")
    @rule(fault=FAULT)
    def retag(self, fault: tuple[int, str] | None) -> None:
        before = self.revisions()
        crashed, report = self.attempt(lambda: self.runtime.retag.run(), self.armed(fault))
        if crashed:
            report = self.run(self.runtime.retag.run())  # resent: the rerun finishes the job
        assert not isinstance(report, TagtrailError), report
        self.one_revision_each(before, "a retag")

    @on("train")
    @rule()
    def train_and_promote(self) -> None:
        taxonomy = self.run(self.runtime.taxonomy.current())
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
        result = self.attempt(lambda: self.runtime.heads.train("category", actor="ml"), None)[1]
        if not positives:
            assert isinstance(result, InvalidInput), f"trained from no decision: {result!r}"
            return
        assert not isinstance(result, TagtrailError), f"{positives}: {result!r}"
        note = "stateful test: retag with it"
        promoted = self.run(
            self.runtime.heads.promote(
                "category", result.version, actor="ml", force=True, note=note
            )
        )
        assert promoted.promoted or promoted.previous == result.version, promoted
