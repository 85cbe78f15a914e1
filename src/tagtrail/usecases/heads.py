"""Heads that learn from reviewers: train, evaluate, promote and list head versions.

* :meth:`Heads.train` reads every human decision on an attribute from ``tag_events``, joins
  the assets' stored vectors (only those of the encoder in force) and segments, trains a
  head from the zero-shot one, evaluates it and the current champion on the same decisions,
  stores the version (content-addressed, put-if-absent) and points ``challenger`` at it.
* :meth:`Heads.promote` runs the promotion gate on the stored evaluation and moves
  ``champion`` (or, with ``force`` and a note, moves it anyway and records why).
* ``champions.install_champions`` swaps each attribute's champion into a new tagger;
  ``head_data.training_set`` builds the training set.

Deterministic: the same decisions and vectors give the same head version.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from threadpoolctl import threadpool_limits

from tagtrail.config import Settings
from tagtrail.domain.governance import Governance
from tagtrail.domain.records import utc_now
from tagtrail.errors import InvalidInput, NotFound
from tagtrail.learning.colour import COLOUR
from tagtrail.learning.dataset import TrainingSet
from tagtrail.learning.evaluate import Comparison, GateDecision
from tagtrail.learning.head import TunedHead
from tagtrail.store import HeadDocument, Promotion, Store
from tagtrail.tagging.heads import Head, ZeroShotHead
from tagtrail.tagging.pipeline import Tagger
from tagtrail.usecases import champions
from tagtrail.usecases import colour_calibration as colour_cal
from tagtrail.usecases import gate as gating
from tagtrail.usecases.champions import CALIBRATION, CHALLENGER, CHAMPION, calibration_evaluation
from tagtrail.usecases.gate import StoredEvaluation as StoredEvaluation  # re-exported
from tagtrail.usecases.head_data import training_set
from tagtrail.usecases.head_history import HeadHistory, TrainingCause
from tagtrail.usecases.head_results import EvaluateResult as EvaluateResult  # re-exported
from tagtrail.usecases.head_results import HeadInfo as HeadInfo
from tagtrail.usecases.head_results import PromoteResult as PromoteResult
from tagtrail.usecases.head_results import TrainResult as TrainResult
from tagtrail.usecases.holdout import KeptOut, kept_out
from tagtrail.usecases.tagger_provider import TaggerProvider
from tagtrail.usecases.workers import Worker


def _compare(
    base: ZeroShotHead,
    champion: Head,
    data: TrainingSet,
    kept: KeptOut,
    taxonomy_version: str,
    governance: Governance,
) -> tuple[Comparison, StoredEvaluation]:
    with threadpool_limits(limits=1):  # the training thread shares two cores with the server
        return gating.evaluate_candidate(base, champion, data, kept, taxonomy_version, governance)


def _base_head(tagger: Tagger, attribute: str) -> ZeroShotHead:
    base = tagger.zero_shot_heads.get(attribute)
    if not isinstance(base, ZeroShotHead):
        known = ", ".join(
            sorted(a for a, h in tagger.zero_shot_heads.items() if isinstance(h, ZeroShotHead))
        )
        raise InvalidInput(
            f"attribute {attribute!r} has no trainable head; trainable: {known}",
            field="attribute",
        )
    return base


class Heads:
    """Train, evaluate, promote and list head versions."""

    def __init__(
        self,
        store: Store,
        tagging: TaggerProvider,
        training: Worker,
        settings: Settings,
        history: HeadHistory,
    ) -> None:
        self._store = store
        self._history = history
        self._tagging = tagging
        self._training = training
        self._settings = settings

    def _gate(self, evaluation: StoredEvaluation) -> GateDecision:
        return gating.decide(self._settings, evaluation)

    async def train(
        self, attribute: str, *, actor: str, why: TrainingCause | None = None
    ) -> TrainResult:
        """Train a challenger for ``attribute`` from reviewer decisions and evaluate it.

        For ``colour`` (measured, not predicted) the analyser's calibration is what learns.
        Every training is a ``trained`` head event (``why``: what the cadence saw), dated
        when it began to read the decisions: a decision made while it trained is counted
        toward the next training.
        """
        began = utc_now()
        result = await self._train(attribute, actor=actor)
        await self._history.trained(
            attribute,
            began,
            result.version,
            actor=actor,
            champion=(await self._store.heads.alias(CHAMPION, attribute)).version,
            n_examples=result.n_examples,
            reasons=result.gate.reasons,
            why=why,
        )
        return result

    async def _train(self, attribute: str, *, actor: str) -> TrainResult:
        if attribute == COLOUR:
            fitted = await colour_cal.train_colour_calibration(
                self._store, await self._tagging.tagger(), self._training, actor=actor
            )
            await self._point(CHALLENGER, attribute, fitted.version, actor=actor)
            return TrainResult(
                attribute=attribute,
                version=fitted.version,
                created=fitted.created,
                n_examples=fitted.n_examples,
                skipped=fitted.skipped,
                evaluation=None,
                gate=fitted.gate,
                calibration=fitted.evaluation,
            )
        tagger = await self._tagging.tagger()
        base = _base_head(tagger, attribute)
        data = await training_set(self._store.assets, self._store.events, attribute, tagger)
        if not data.positives:
            raise InvalidInput(
                f"no reviewer decisions on {attribute!r} with vectors of the current encoder "
                f"({tagger.model_fingerprint}) to train from",
                field="attribute",
            )
        champion = tagger.heads[attribute]  # the champion in force, or the zero-shot head
        taxonomy = tagger.taxonomy
        comparison, evaluation = await self._training.run(
            _compare,
            base,
            champion,
            data,
            await kept_out(
                self._store, attribute, self._settings.holdout_share
            ),  # audits and the hold-out: scored, not trained on
            taxonomy.attribute_version(attribute),
            taxonomy.attribute(attribute).governance,
        )
        head = comparison.candidate
        created = await self.store_head(
            head, evaluation, actor=actor, encoder=tagger.encoder.fingerprint
        )
        await self._point(CHALLENGER, attribute, head.version, actor=actor)
        self._tagging.invalidate()  # shadow mode: the new challenger predicts from now on
        return TrainResult(
            attribute=attribute,
            version=head.version,
            created=created,
            n_examples=head.training.n_examples,
            skipped=dict(data.skipped),
            evaluation=evaluation,
            gate=self._gate(evaluation),
        )

    async def store_head(
        self,
        head: TunedHead,
        evaluation: StoredEvaluation,
        *,
        actor: str,
        encoder: str,
    ) -> bool:
        """Store a head version with its evaluation (put-if-absent); False when it existed."""
        training = head.training
        return await self._store.heads.save(
            HeadDocument(
                attribute=head.attribute,
                version=head.version,
                kind="tuned",
                created_at=utc_now(),
                created_by=actor,
                taxonomy_version=training.taxonomy_version,
                encoder=encoder,
                training_fingerprint=training.training_fingerprint,
                n_examples=training.n_examples,
                record=msgspec.to_builtins(head.to_record()),
                evaluation=msgspec.to_builtins(evaluation),
            )
        )

    async def _point(
        self,
        alias: str,
        attribute: str,
        version: str,
        *,
        actor: str,
        forced: bool = False,
        note: str | None = None,
        reasons: Sequence[str] = (),
    ) -> str | None:
        """Move ``alias`` to ``version`` (no-op when it is there); returns the previous version."""
        heads = self._store.heads
        expected = await heads.alias(alias, attribute)
        if expected.version == version:
            return version
        promotion = Promotion(
            created_at=utc_now(),
            created_by=actor,
            forced=forced,
            previous_version=expected.version,
            reasons=tuple(reasons),
            note=note,
        )
        await heads.move_alias(alias, attribute, version, expected=expected, promotion=promotion)
        return expected.version

    async def _stored(self, attribute: str, version: str) -> HeadDocument:
        doc = await self._store.heads.get(version)
        if doc is None or doc.attribute != attribute:
            raise NotFound(f"no head version {version!r} for attribute {attribute!r}")
        return doc

    async def evaluate(self, attribute: str, version: str | None = None) -> EvaluateResult:
        """The stored evaluation of ``version`` (default: the challenger) and the gate's verdict."""
        if version is None:
            version = (await self._store.heads.alias(CHALLENGER, attribute)).version
            if version is None:
                raise NotFound(f"{attribute!r} has no challenger; train one first")
        doc = await self._stored(attribute, version)
        champion = (await self._store.heads.alias(CHAMPION, attribute)).version
        if doc.kind == CALIBRATION:
            calibration = calibration_evaluation(doc)
            return EvaluateResult(
                attribute=attribute,
                version=version,
                evaluation=None,
                gate=colour_cal.gate_of(doc),
                champion=champion,
                calibration=calibration,
            )
        evaluation = _evaluation(doc)
        if evaluation is None:
            raise NotFound(f"head version {version!r} has no stored evaluation")
        return EvaluateResult(
            attribute=attribute,
            version=version,
            evaluation=evaluation,
            gate=self._gate(evaluation),
            champion=champion,
        )

    async def promote(
        self,
        attribute: str,
        version: str,
        *,
        actor: str,
        force: bool = False,
        note: str | None = None,
        trigger: str | None = None,
    ) -> PromoteResult:
        """Move ``champion`` to ``version`` if the gate agrees (or, forced, with a note).

        Either way a head event records it (``promoted`` or ``refused``, with the reasons).

        A refusal is a result with the gate's reasons, not an exception. The tagger of this
        process is rebuilt on next use; other processes pick the champion up when they start.
        """
        note = (note or "").strip() or None
        if force and note is None:
            raise InvalidInput("a forced promotion needs a note saying why", field="note")
        doc = await self._stored(attribute, version)
        tagger = await self._tagging.tagger()
        champions.refuse_unfit(doc, tagger)  # even forced: it would be ignored
        current = (await self._store.heads.alias(CHAMPION, attribute)).version
        if current == version:
            return PromoteResult(
                attribute=attribute,
                version=version,
                promoted=False,
                previous=current,
                reasons=(f"{version} is already the champion of {attribute}",),
            )
        allowed, reasons = self._verdict(doc, tagger, current)
        if not allowed and not force:
            await self._history.promotion(
                "refused", attribute, version, actor=actor, champion=current, reasons=reasons
            )
            return PromoteResult(
                attribute=attribute,
                version=version,
                promoted=False,
                reasons=tuple(reasons),
                previous=current,
            )
        previous = await self._point(
            CHAMPION,
            attribute,
            version,
            actor=actor,
            forced=not allowed,
            note=note,
            reasons=reasons,
        )
        self._tagging.invalidate()
        await self._history.promotion(
            "promoted",
            attribute,
            version,
            actor=actor,
            champion=previous,
            reasons=reasons,
            forced=not allowed,
            note=note,
            trigger=trigger,
        )
        return PromoteResult(
            attribute=attribute,
            version=version,
            promoted=True,
            forced=not allowed,
            reasons=tuple(reasons),
            previous=previous,
            note=note,
        )

    async def verdict(self, attribute: str, version: str) -> tuple[bool, list[str]]:
        """Whether the gate would let ``version`` replace the champion now, and why."""
        doc = await self._stored(attribute, version)
        tagger = await self._tagging.tagger()
        current = (await self._store.heads.alias(CHAMPION, attribute)).version
        return self._verdict(doc, tagger, current)

    def _verdict(
        self, doc: HeadDocument, tagger: Tagger, current: str | None
    ) -> tuple[bool, list[str]]:
        """Whether the gate lets ``doc`` replace the champion ``current``, and why."""
        if doc.kind == CALIBRATION:
            return colour_cal.calibration_verdict(tagger, doc)
        evaluation = _evaluation(doc)
        if evaluation is None:
            return False, [f"{doc.version} has no stored evaluation"]
        decision = self._gate(evaluation)
        reasons = list(decision.reasons)
        evaluated_against = evaluation.champion.head_version
        head = tagger.heads.get(doc.attribute)
        if (
            current not in (None, evaluated_against)
            and head is not None
            and head.version == current
        ):
            reasons.insert(
                0,
                f"it was evaluated against {evaluated_against}, but the champion is now "
                f"{current}; train again",
            )
            return False, reasons
        return decision.promote, reasons

    async def versions(self, attribute: str | None = None) -> list[HeadInfo]:
        """Stored head versions (newest first) with their alias flags and evaluations."""
        docs = await self._store.heads.versions(attribute)
        champions = await self._store.heads.aliases(CHAMPION)
        challengers = await self._store.heads.aliases(CHALLENGER)
        return [self._info(doc, champions, challengers) for doc in docs]

    async def info(self, version: str) -> HeadInfo | None:
        """One stored head version (explainTag: which head decided and how good it measured)."""
        doc = await self._store.heads.get(version)
        if doc is None:
            return None
        attribute = doc.attribute
        heads = self._store.heads
        champion = (await heads.alias(CHAMPION, attribute)).version
        challenger = (await heads.alias(CHALLENGER, attribute)).version
        return self._info(doc, {attribute: champion or ""}, {attribute: challenger or ""})

    def _info(
        self,
        doc: HeadDocument,
        champions: dict[str, str],
        challengers: dict[str, str],
    ) -> HeadInfo:
        attr, version = doc.attribute, doc.version
        calibration = calibration_evaluation(doc) if doc.kind == CALIBRATION else None
        evaluation = None if calibration else _evaluation(doc)
        if calibration is not None:
            decision: GateDecision | None = colour_cal.gate_of(doc)
        else:
            decision = self._gate(evaluation) if evaluation is not None else None
        return HeadInfo(
            attribute=attr,
            version=version,
            kind=doc.kind,
            created_at=doc.created_at,
            created_by=doc.created_by,
            taxonomy_version=doc.taxonomy_version,
            encoder=doc.encoder,
            n_examples=doc.n_examples,
            champion=champions.get(attr) == version,
            challenger=challengers.get(attr) == version,
            evaluation=evaluation,
            gate=decision,
            calibration=calibration,
        )


def _evaluation(doc: HeadDocument) -> StoredEvaluation | None:
    return msgspec.convert(doc.evaluation, StoredEvaluation) if doc.evaluation else None
