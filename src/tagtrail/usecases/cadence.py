"""The retraining cadence: train, shadow, judge and promote on a policy, without an admin.

Every ``retrain_poll_s`` each server tries to take the deployment's ``retraining`` lease
(``store.leases``); the one that holds it runs one :meth:`Cadence.tick` and gives it back, so
with several servers exactly one trains at a time, and a server killed mid-training loses the
lease when it expires (the next tick elsewhere carries on: every step is idempotent). For
each attribute whose policy (``TAGTRAIL_RETRAIN_*``, ``config.RetrainPolicy``) is on, a tick:

1. judges the waiting challenger, if there is one nobody has ruled on: once reviewers
   judged ``shadow_decisions`` of its shadow proposals, the gate (its evaluation against
   the champion on held-out reviewer decisions, with the random hold-out and audit
   answers, never trained on, scored apart: see ``usecases.gate``) and the shadow (not
   clearly worse than the champion on the same photos) decide; it is promoted (policy
   ``auto``), left for an admin (``manual``) or refused, with the reasons. With shadow
   mode off (``TAGTRAIL_SHADOW=false``) the gate alone decides, at once;
2. trains a new challenger when the policy says so (``domain.cadence.training_due``): the
   previous one, if not yet ruled on, is superseded, but not before it could have been
   judged (the decisions that judge it would otherwise replace every challenger).

Each step is a head event (``headEvents``). The cadence's verdicts and shadowing have ids
that name the step and version, so taken twice (two servers, a restart) they are stored
once; a training, and an admin's promotion or refused attempt, is an event each time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

import msgspec

from tagtrail.config import RetrainPolicy, Settings, retrain_policies
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
from tagtrail.store import Lease, LeaseRepository, Store
from tagtrail.tagging.heads import ZeroShotHead
from tagtrail.usecases.champions import CALIBRATION, CHALLENGER, CHAMPION
from tagtrail.usecases.head_history import TrainingCause
from tagtrail.usecases.heads import Heads
from tagtrail.usecases.shadow import Shadow
from tagtrail.usecases.tagger_provider import TaggerProvider

log = logging.getLogger(__name__)

LEASE = "retraining"
#: A round of the cadence (every attribute's step) stops after this long, whatever it is
#: waiting for: a hung store call must not hold the deployment's lease for ever.
ROUND_DEADLINE_S = 1800.0


class _Held:
    """The lease while a round runs: renewed every third of its length (``lease`` is always
    the newest renewal, the one a release must name); ``lost`` once it is not ours any
    more (taken by another server after expiring, or not renewed before it expired)."""

    def __init__(self, leases: LeaseRepository, lease: Lease, ttl_s: float) -> None:
        self._leases = leases
        self._ttl_s = ttl_s
        self.lease = lease
        self.lost = asyncio.Event()

    async def keep(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_s / 3)
            try:
                renewed = await self._leases.renew(self.lease, self._ttl_s)
            except Exception as exc:  # an outage: try again until the lease would expire
                if time.time() * 1000 >= self.lease.expires_at_ms:
                    self.lost.set()
                    return
                log.warning("could not renew the retraining lease (%s); trying again", exc)
                continue
            if renewed is None:
                self.lost.set()
                return
            self.lease = renewed


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
        self._warned = False

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
        added (none when another server holds the lease). The round stops when the lease is
        lost (its new holder carries on) and after ``ROUND_DEADLINE_S`` at the latest."""
        leases, ttl = self._store.leases, self._settings.retrain_lease_s
        lease = await leases.acquire(LEASE, self.holder, ttl)
        if lease is None:
            return []
        held = _Held(leases, lease, ttl)
        renewing = asyncio.create_task(held.keep())
        added: list[HeadEvent] = []
        try:
            async with asyncio.timeout(ROUND_DEADLINE_S):
                for attribute in await self._attributes():
                    if held.lost.is_set():
                        log.warning(
                            "retraining lease lost: %s is left to its new holder", attribute
                        )
                        break
                    added.extend(await self._guarded_step(attribute))
        except TimeoutError:
            log.warning(
                "retraining cadence: the round ran past %.0f s and stopped", ROUND_DEADLINE_S
            )
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await leases.release(held.lease)  # the newest renewal: an older one is stale
        return added

    async def _guarded_step(self, attribute: str) -> list[HeadEvent]:
        """One attribute's step; a failure is logged and the round goes on to the next."""
        try:
            return await self._step(attribute)
        except (TagtrailError, msgspec.ValidationError) as exc:
            log.warning("retraining cadence, %s: %s", attribute, exc)
            return []

    async def _attributes(self) -> list[str]:
        tagger = await self._tagging.tagger()
        names = [a for a, h in tagger.zero_shot_heads.items() if isinstance(h, ZeroShotHead)]
        if COLOUR in tagger.taxonomy.attribute_names and COLOUR not in names:
            names.append(COLOUR)
        named = retrain_policies(self._settings).attributes - {"*"}
        if named - set(names) and not self._warned:
            self._warned = True  # once per process: a typo is not news every poll
            log.warning(
                "TAGTRAIL_RETRAIN_*: %s has no trainable head (trainable: %s)",
                ", ".join(sorted(named - set(names))),
                ", ".join(sorted(names)),
            )
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
        # A failed training counts as one: its decisions are not tried again every poll.
        last = await self._store.head_events.latest(attribute, ("trained", "failed"))
        since = last.at if last is not None else await self._newest_head_at(attribute)
        decisions = await self._store.events.count_since(attribute, sorted(HUMAN_KINDS), since)
        if waiting is not None and decisions < policy.shadow_decisions:
            # Reviewers judging the waiting challenger's proposals make these decisions:
            # replacing it before it could be judged would replace every challenger.
            return []
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
            # The report reads every decision since the challenger was made: count first.
            made = await self._store.events.count_since(
                attribute, sorted(HUMAN_KINDS), doc.created_at
            )
            if made < policy.shadow_decisions:
                return []
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
