"""The retraining cadence: train, shadow, judge and promote on a policy, without an admin.

Every ``retrain_poll_s`` each server tries to take the deployment's ``retraining`` lease
(``store.leases``); the one that holds it runs one :meth:`Cadence.tick` and gives it back, so
with several servers exactly one trains at a time, and a server killed mid-training loses the
lease when it expires (the next tick elsewhere carries on: every step is idempotent). For
each attribute whose policy (``TAGTRAIL_RETRAIN_*``, ``config.RetrainPolicy``) is on, a tick:

1. judges the waiting challenger, if there is one the cadence has not ruled on: once
   reviewers judged ``shadow_decisions`` of its shadow proposals, the gate (its evaluation
   on the independent stream: the random hold-out and audit answers) and the shadow (not
   clearly worse than the champion on the same photos) decide; it is promoted (policy
   ``auto``), left for an admin (``manual``) or refused, with the reasons;
2. trains a new challenger when the policy says so (``domain.cadence.training_due``): the
   previous one, if not yet ruled on, is superseded.

Each step is a head event (``headEvents``) whose id names the step and version, so a step
taken twice (two servers, a restart) is stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from tagtrail.config import RetrainPolicy, Settings
from tagtrail.domain.cadence import (
    VERDICTS,
    HeadEvent,
    HeadStep,
    ShadowEvidence,
    shadow_verdict,
    training_due,
)
from tagtrail.domain.records import utc_now
from tagtrail.errors import TagtrailError
from tagtrail.learning.colour import COLOUR
from tagtrail.learning.dataset import HUMAN_KINDS
from tagtrail.store import Lease, Store
from tagtrail.tagging.heads import ZeroShotHead
from tagtrail.usecases.champions import CALIBRATION, CHALLENGER, CHAMPION
from tagtrail.usecases.head_history import TrainingCause
from tagtrail.usecases.heads import Heads
from tagtrail.usecases.shadow import Shadow
from tagtrail.usecases.tagger_provider import TaggerProvider

log = logging.getLogger(__name__)

LEASE = "retraining"


class Cadence:
    """One server's share of the retraining cadence (``holder`` names the server)."""

    def __init__(
        self,
        store: Store,
        heads: Heads,
        shadow: Shadow,
        tagging: TaggerProvider,
        settings: Settings,
        *,
        holder: str,
    ) -> None:
        self._store = store
        self._heads = heads
        self._shadow = shadow
        self._tagging = tagging
        self._settings = settings
        self.holder = holder
        self.actor = f"cadence@{holder}"

    async def run(self) -> None:
        """Tick every ``retrain_poll_s`` until cancelled; a failed tick is logged, not fatal."""
        while True:
            try:
                await self.tick()
            except TagtrailError as exc:
                log.warning("retraining cadence: %s", exc)
            except Exception:
                log.exception("retraining cadence failed; trying again next poll")
            await asyncio.sleep(self._settings.retrain_poll_s)

    async def tick(self) -> list[HeadEvent]:
        """One round over every attribute with a policy, under the lease; the head events it
        added (none when another server holds the lease)."""
        leases, ttl = self._store.leases, self._settings.retrain_lease_s
        lease = await leases.acquire(LEASE, self.holder, ttl)
        if lease is None:
            return []
        renewing = asyncio.create_task(self._keep(lease))
        try:
            added: list[HeadEvent] = []
            for attribute in await self._attributes():
                added.extend(await self._step(attribute))
            return added
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await leases.release(lease)

    async def _keep(self, lease: Lease) -> None:
        """Renew the lease every third of its length while the tick runs."""
        ttl = self._settings.retrain_lease_s
        while True:
            await asyncio.sleep(ttl / 3)
            renewed = await self._store.leases.renew(lease, ttl)
            if renewed is None:
                log.warning("retraining lease lost (expired and taken); finishing this step")
                return
            lease = renewed

    async def _attributes(self) -> list[str]:
        tagger = await self._tagging.tagger()
        names = [a for a, h in tagger.zero_shot_heads.items() if isinstance(h, ZeroShotHead)]
        if COLOUR in tagger.taxonomy.attribute_names and COLOUR not in names:
            names.append(COLOUR)
        return sorted(a for a in names if self._settings.retrain_policy(a).on)

    async def _step(self, attribute: str) -> list[HeadEvent]:
        policy = self._settings.retrain_policy(attribute)
        heads = self._store.heads
        champion = (await heads.alias(CHAMPION, attribute)).version
        challenger = (await heads.alias(CHALLENGER, attribute)).version
        waiting = None
        if challenger and challenger != champion and not await self._ruled(attribute, challenger):
            waiting = challenger
            judged = await self._judge(attribute, challenger, champion, policy)
            if judged:
                return judged
        return await self._train_if_due(attribute, policy, waiting)

    async def _ruled(self, attribute: str, version: str) -> bool:
        found = await self._store.head_events.page(
            size=1, attribute=attribute, version=version, steps=tuple(VERDICTS)
        )
        return bool(found.events)

    async def _train_if_due(
        self, attribute: str, policy: RetrainPolicy, waiting: str | None
    ) -> list[HeadEvent]:
        last = await self._store.head_events.latest(attribute, ("trained",))
        since = last.at if last is not None else await self._newest_head_at(attribute)
        decisions = await self._store.events.count_since(attribute, sorted(HUMAN_KINDS), since)
        why = training_due(policy, decisions, since, datetime.now(UTC))
        if why is None:
            return []
        cause = TrainingCause(trigger=why, policy=policy.describe(), decisions=decisions)
        try:
            result = await self._heads.train(attribute, actor=self.actor, why=cause)
        except TagtrailError as exc:
            failed = self._event(
                f"failed:{attribute}:{since}:{decisions}",
                attribute,
                "failed",
                None,
                policy=policy,
                trigger=why,
                reasons=(exc.message,),
                decisions=decisions,
            )
            return [failed] if await self._store.head_events.append(failed) else []
        trained = await self._store.head_events.latest(attribute, ("trained",))
        added = [trained] if trained is not None else []
        champion = trained.champion if trained is not None else None
        follow: list[HeadEvent] = []
        if waiting is not None and waiting != result.version:
            follow.append(
                self._event(
                    f"superseded:{attribute}:{waiting}",
                    attribute,
                    "superseded",
                    waiting,
                    policy=policy,
                    trigger=f"{result.version} was trained from newer decisions",
                )
            )
        if result.evaluation is not None and self._settings.shadow:
            follow.append(
                self._event(
                    f"shadowing:{attribute}:{result.version}",
                    attribute,
                    "shadowing",
                    result.version,
                    policy=policy,
                    trigger=f"it waits for {policy.shadow_decisions} reviewer judgements of "
                    "its proposals on photos it saw",
                    champion=champion,
                )
            )
        added.extend([e for e in follow if await self._store.head_events.append(e)])
        return added

    async def _newest_head_at(self, attribute: str) -> str | None:
        """When the newest stored head of ``attribute`` was trained (before the cadence
        recorded trainings), or None."""
        versions = await self._store.heads.versions(attribute)
        return versions[0].created_at if versions else None

    async def _judge(
        self, attribute: str, version: str, champion: str | None, policy: RetrainPolicy
    ) -> list[HeadEvent]:
        """The verdict on a waiting challenger, as head events; none while it still shadows."""
        doc = await self._store.heads.get(version)
        if doc is None:
            return []
        reasons: list[str] = []
        shadow: ShadowEvidence | None = None
        if doc.kind != CALIBRATION and self._settings.shadow:
            report = await self._shadow.challenger_agreement(attribute, version)
            shadow = ShadowEvidence(
                n=report.n,
                challenger_agreement=report.challenger_agreement,
                challenger_low=report.challenger_low,
                challenger_high=report.challenger_high,
                champion_agreement=report.champion_agreement,
                champion_high=report.champion_high,
            )
            ready, reasons = shadow_verdict(policy, shadow)
            if not ready:
                return []
        allowed, gate = await self._heads.verdict(attribute, version)
        passed = allowed and not reasons  # ``reasons`` so far: the shadow's refusal
        reasons.extend(gate)
        if passed and policy.promotion == "auto":
            seen = _shadow_summary(shadow)
            trigger = f"policy: {policy.describe()}" + (f"; {seen}" if seen else "")
            result = await self._heads.promote(
                attribute, version, actor=self.actor, trigger=trigger
            )
            promoted = await self._store.head_events.latest(attribute, ("promoted",))
            return [promoted] if result.promoted and promoted is not None else []
        step: HeadStep = "awaiting_admin" if passed else "refused"
        trigger = "the gate and the shadow passed" if passed else "the gate or the shadow said no"
        seen = _shadow_summary(shadow)
        trigger += f" ({seen})" if seen else ""
        event = self._event(
            f"{step}:{attribute}:{version}",
            attribute,
            step,
            version,
            policy=policy,
            trigger=trigger,
            reasons=tuple(reasons),
            shadow=shadow,
            champion=champion,
        )
        return [event] if await self._store.head_events.append(event) else []

    def _event(
        self,
        event_id: str,
        attribute: str,
        step: HeadStep,
        version: str | None,
        *,
        policy: RetrainPolicy,
        trigger: str | None = None,
        reasons: tuple[str, ...] = (),
        decisions: int | None = None,
        shadow: ShadowEvidence | None = None,
        champion: str | None = None,
    ) -> HeadEvent:
        return HeadEvent(
            event_id=event_id,
            attribute=attribute,
            step=step,
            at=utc_now(),
            actor=self.actor,
            version=version,
            champion=champion,
            policy=policy.describe(),
            trigger=trigger,
            reasons=reasons,
            decisions=decisions,
            shadow_n=shadow.n if shadow else None,
            shadow_challenger=shadow.challenger_agreement if shadow else None,
            shadow_champion=shadow.champion_agreement if shadow else None,
        )


def _shadow_summary(shadow: ShadowEvidence | None) -> str | None:
    """What the shadow saw, for a verdict's trigger (None: no shadow evidence)."""
    if shadow is None or not shadow.n:
        return None

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{x:.0%}"

    return (
        f"shadow: reviewers agreed with it on {pct(shadow.challenger_agreement)} of {shadow.n} "
        f"photos, with the champion on {pct(shadow.champion_agreement)}"
    )
