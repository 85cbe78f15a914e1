"""The head event log as use cases see it: record trainings and promotion verdicts, list them.

Whoever takes a step (an admin through ``trainHead``/``promoteHead``, or the retraining
cadence) records it here, so ``headEvents`` is the whole life of every head version.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence

import msgspec

from tagtrail.config import Settings
from tagtrail.domain.cadence import HeadEvent, HeadStep
from tagtrail.domain.records import utc_now
from tagtrail.errors import InvalidInput
from tagtrail.store import HeadEventPage, Store


class TrainingCause(msgspec.Struct, kw_only=True, frozen=True):
    """Why a training ran (the cadence's trigger and policy), for its head event."""

    trigger: str | None = None
    policy: str | None = None
    decisions: int | None = None


class HeadHistory:
    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    async def trained(
        self,
        attribute: str,
        at: str,
        version: str,
        *,
        actor: str,
        champion: str | None,
        n_examples: int,
        reasons: Sequence[str],
        why: TrainingCause | None,
    ) -> None:
        """A training that began reading decisions ``at`` (the time later ones count from)."""
        cause = why or TrainingCause()
        await self._store.head_events.append(
            HeadEvent(
                # Every training is an event, the same version again too: the cadence
                # counts new decisions from the last one.
                event_id=f"trained:{attribute}:{version}:{at}",
                attribute=attribute,
                step="trained",
                at=at,
                actor=actor,
                version=version,
                champion=champion,
                policy=cause.policy,
                trigger=cause.trigger or f"{actor} asked",
                decisions=cause.decisions,
                n_examples=n_examples,
                reasons=tuple(reasons),
            )
        )

    async def promotion(
        self,
        step: HeadStep,
        attribute: str,
        version: str,
        *,
        actor: str,
        champion: str | None,
        reasons: Sequence[str],
        forced: bool = False,
        note: str | None = None,
        trigger: str | None = None,
    ) -> None:
        """A promotion (``promoted``) or a refused attempt (``refused``)."""
        at = utc_now()
        await self._store.head_events.append(
            HeadEvent(
                event_id=f"{step}:{attribute}:{version}:{at}",
                attribute=attribute,
                step=step,
                at=at,
                actor=actor,
                version=version,
                champion=champion,
                reasons=tuple(reasons),
                forced=forced,
                note=note,
                trigger=trigger,
            )
        )

    async def events(
        self,
        *,
        first: int,
        attribute: str | None = None,
        steps: Sequence[str] = (),
        version: str | None = None,
        after: Sequence[object] | None = None,
    ) -> HeadEventPage:
        """Head events, newest first: at most ``first`` (capped by the page size limit),
        after the sort values ``after`` of a previous page's last event."""
        if first < 1:
            raise InvalidInput(f"first must be at least 1, not {first}", field="first")
        known = typing.get_args(HeadStep)
        unknown = [s for s in steps if s not in known]
        if unknown:
            raise InvalidInput(
                f"unknown step {unknown[0]!r}; steps are {', '.join(known)}", field="steps"
            )
        cursor: tuple[int, str] | None = None
        if after is not None:
            at, event_id = tuple(after) if len(after) == 2 else (None, None)
            if not isinstance(at, int) or isinstance(at, bool) or not isinstance(event_id, str):
                raise InvalidInput("after is not a cursor of headEvents", field="after")
            cursor = (at, event_id)
        return await self._store.head_events.page(
            size=min(first, self._settings.max_page_size),
            attribute=attribute,
            steps=tuple(typing.cast("list[HeadStep]", list(steps))),
            version=version,
            after=cursor,
        )
