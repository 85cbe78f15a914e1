"""The retraining cadence's decisions (pure): when to train, when a shadow has seen enough,
and the head events that record every step.

A head's life under the cadence: ``trained`` (a challenger from the decisions so far) →
``shadowing`` (it predicts beside the champion on new photos, never applied) → a verdict once
reviewers judged enough of its proposals: ``promoted`` (the gate passed, policy ``auto``),
``awaiting_admin`` (the gate passed, policy ``manual``) or ``refused`` (the gate or the
shadow said no, with the reasons). Admins' own trainings and promotions are head events too,
so ``headEvents`` lists every step whoever took it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

import msgspec

from tagtrail.config import RetrainPolicy

HeadStep = Literal[
    "trained", "shadowing", "promoted", "refused", "awaiting_admin", "failed", "superseded"
]
#: Steps after which the cadence leaves a challenger alone (an admin may still promote it).
VERDICTS: frozenset[HeadStep] = frozenset({"promoted", "refused", "awaiting_admin", "superseded"})


class HeadEvent(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One step in the life of a head version (appended, never updated)."""

    event_id: str
    attribute: str
    step: HeadStep
    at: str  # ISO-8601 UTC
    actor: str  # "cadence@<server>" or the admin's key name
    version: str | None = None  # the head version the step is about
    champion: str | None = None  # the champion when the step was taken
    policy: str | None = None  # the cadence policy in force ("every 250 decisions, auto …")
    trigger: str | None = None  # why the step was taken now
    reasons: tuple[str, ...] = ()  # the gate's or shadow's reasons
    decisions: int | None = None  # reviewer decisions since the last training
    n_examples: int | None = None  # training examples (trained)
    shadow_n: int | None = None  # reviewer judgements of the challenger's proposals
    shadow_challenger: float | None = None  # their agreement with the challenger
    shadow_champion: float | None = None  # … and with the champion on the same photos
    forced: bool = False
    note: str | None = None

    def explanation(self) -> str:
        """One sentence an admin can read: what happened, by whom, why."""
        subject = self.version or "no version"
        what = {
            "trained": f"{self.actor} trained {subject}",
            "shadowing": f"{subject} shadows the champion {self.champion or '(zero-shot)'}",
            "promoted": f"{self.actor} promoted {subject} to champion"
            + (" (forced)" if self.forced else ""),
            "refused": f"{subject} was refused promotion",
            "awaiting_admin": f"{subject} passed the gate and awaits an admin (manual policy)",
            "failed": f"{self.actor} could not train",
            "superseded": f"{subject} was superseded by a newer challenger",
        }[self.step]
        rest = [f"because {self.trigger}"] if self.trigger else []
        rest.extend(self.reasons)
        if self.note:
            rest.append(f"note: {self.note}")
        return f"{what} — {'; '.join(rest)}" if rest else what


def training_due(
    policy: RetrainPolicy, decisions: int, last_trained_at: str | None, now: datetime
) -> str | None:
    """Why the cadence should train a challenger now (None: not yet).

    ``decisions`` counts reviewer decisions since ``last_trained_at`` (all of them when the
    attribute was never trained). Nothing is trained without at least one new decision: a
    head trained on the same decisions is the same version.
    """
    if decisions <= 0 or not policy.on:
        return None
    since = f"since {last_trained_at}" if last_trained_at else "so far"
    if policy.every is not None and decisions >= policy.every:
        return f"{decisions} reviewer decisions {since} (policy: every {policy.every})"
    if policy.interval_h is not None:
        if last_trained_at is None:
            return (
                f"never trained and {decisions} reviewer decisions so far "
                f"(policy: every {policy.interval_h:g} h)"
            )
        elapsed = now - datetime.fromisoformat(last_trained_at)
        if elapsed >= timedelta(hours=policy.interval_h):
            hours = elapsed.total_seconds() / 3600
            return (
                f"{hours:.1f} h and {decisions} reviewer decisions {since} "
                f"(policy: every {policy.interval_h:g} h)"
            )
    return None


class ShadowEvidence(msgspec.Struct, kw_only=True, frozen=True):
    """Reviewer judgements of a challenger's shadow proposals, beside the champion's."""

    n: int
    challenger_agreement: float | None
    challenger_high: float  # upper end of its interval
    champion_agreement: float | None
    champion_high: float
    challenger_low: float


def shadow_verdict(policy: RetrainPolicy, shadow: ShadowEvidence) -> tuple[bool, list[str]]:
    """(ready, reasons): whether enough shadow judgements arrived, and what they say.

    Ready with no reasons when the challenger agreed with reviewers at least as well as the
    champion within the noise; ready with a reason (a refusal) when the champion's agreement
    lies above the challenger's whole interval; not ready while fewer than
    ``policy.shadow_decisions`` judgements exist.
    """
    if shadow.n < policy.shadow_decisions:
        return False, [f"shadow: {shadow.n} of {policy.shadow_decisions} reviewer judgements"]
    challenger, champion = shadow.challenger_agreement, shadow.champion_agreement
    worse = challenger is not None and champion is not None and champion > shadow.challenger_high
    if shadow.n and worse:
        return True, [
            f"shadow: reviewers agreed with the challenger on {challenger:.0%} of "
            f"{shadow.n} photos (at most {shadow.challenger_high:.0%}), with the champion "
            f"on {champion:.0%}"
        ]
    return True, []
