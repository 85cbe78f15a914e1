"""The cadence's pure decisions: policies from the environment, when training is due, when
a shadow has seen enough, and head events that explain themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagtrail.config import RetrainPolicy, load_settings
from tagtrail.domain.cadence import HeadEvent, ShadowEvidence, shadow_verdict, training_due
from tagtrail.errors import ConfigError

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_policies_per_attribute_with_a_default() -> None:
    settings = load_settings(
        {
            "TAGTRAIL_RETRAIN_EVERY": "category=100, *=500",
            "TAGTRAIL_RETRAIN_INTERVAL_H": "pattern=24",
            "TAGTRAIL_RETRAIN_PROMOTION": "category=auto",
            "TAGTRAIL_RETRAIN_SHADOW_DECISIONS": "5",
        }
    )
    assert settings.retrain_policy("category") == RetrainPolicy(
        every=100, promotion="auto", shadow_decisions=5
    )
    pattern = settings.retrain_policy("pattern")
    assert (pattern.every, pattern.interval_h, pattern.promotion) == (500, 24.0, "manual")
    assert pattern.describe() == "every 500 decisions or every 24 h, manual promotion"
    assert settings.cadence_on
    off = load_settings({})
    assert not off.cadence_on
    assert not off.retrain_policy("category").on
    assert off.retrain_policy("category").describe() == "no cadence"


@pytest.mark.parametrize(
    ("variable", "value", "names"),
    [
        ("TAGTRAIL_RETRAIN_EVERY", "0", "1 to 10,000,000"),
        ("TAGTRAIL_RETRAIN_EVERY", "category=ten", "category=ten"),
        ("TAGTRAIL_RETRAIN_EVERY", "Category=10", "'Category' is not an attribute"),
        ("TAGTRAIL_RETRAIN_EVERY", "category=10,category=20", "given twice"),
        ("TAGTRAIL_RETRAIN_INTERVAL_H", "0", "hours"),
        ("TAGTRAIL_RETRAIN_PROMOTION", "sometimes", "auto or manual"),
    ],
)
def test_a_bad_policy_fails_at_start_up_naming_the_variable(
    variable: str, value: str, names: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({variable: value})
    assert variable in str(caught.value)
    assert names in str(caught.value)


def test_training_is_due_after_enough_decisions_or_time() -> None:
    every = RetrainPolicy(every=100)
    assert training_due(every, 99, "2026-12-07T00:00:00+00:00", NOW) is None
    why = training_due(every, 100, "2026-12-07T00:00:00+00:00", NOW)
    assert why is not None
    assert "100 reviewer decisions" in why
    assert "every 100" in why
    hourly = RetrainPolicy(interval_h=6)
    recent = (NOW - timedelta(hours=5)).isoformat()
    assert training_due(hourly, 3, recent, NOW) is None
    stale = (NOW - timedelta(hours=7)).isoformat()
    assert "7.0 h" in (training_due(hourly, 3, stale, NOW) or "")
    assert training_due(hourly, 1, None, NOW) is not None  # never trained
    assert training_due(RetrainPolicy(), 10**6, None, NOW) is None  # no policy


@given(
    every=st.integers(1, 1000),
    interval=st.none() | st.floats(0.01, 100),
    hours=st.floats(0, 200),
    decisions=st.integers(-5, 2000),
)
def test_nothing_is_trained_without_a_new_decision(
    every: int, interval: float | None, hours: float, decisions: int
) -> None:
    policy = RetrainPolicy(every=every, interval_h=interval)
    last = (NOW - timedelta(hours=hours)).isoformat()
    due = training_due(policy, decisions, last, NOW)
    if decisions <= 0:
        assert due is None
    elif decisions >= every:
        assert due is not None
    elif interval is None:
        assert due is None


def _shadow(n: int, challenger: float, high: float, champion: float) -> ShadowEvidence:
    return ShadowEvidence(
        n=n,
        challenger_agreement=challenger,
        challenger_low=max(0.0, 2 * challenger - high),
        challenger_high=high,
        champion_agreement=champion,
        champion_high=min(1.0, champion + 0.1),
    )


def test_a_shadow_waits_for_judgements_then_refuses_only_a_clearly_worse_challenger() -> None:
    policy = RetrainPolicy(every=10, shadow_decisions=20)
    ready, reasons = shadow_verdict(policy, _shadow(19, 0.9, 0.97, 0.5))
    assert not ready
    assert "19 of 20" in reasons[0]
    assert shadow_verdict(policy, _shadow(20, 0.9, 0.97, 0.5)) == (True, [])
    assert shadow_verdict(policy, _shadow(20, 0.6, 0.8, 0.7)) == (True, [])  # within noise
    ready, reasons = shadow_verdict(policy, _shadow(40, 0.5, 0.65, 0.9))
    assert ready
    assert "with the champion on 90%" in reasons[0]
    assert shadow_verdict(RetrainPolicy(every=1), _shadow(0, 0.0, 1.0, 0.0)) == (True, [])


def test_head_events_explain_themselves() -> None:
    event = HeadEvent(
        event_id="refused:category:tuned:category:1",
        attribute="category",
        step="refused",
        at="2026-12-07T12:00:00.000000Z",
        actor="cadence@a",
        version="tuned:category:1",
        trigger="the gate or the shadow said no",
        reasons=("segment brand=Kobo: macro-F1 0.41 < champion 0.52 − 0.05",),
    )
    text = event.explanation()
    assert text.startswith("tuned:category:1 was refused promotion — because the gate")
    assert "brand=Kobo" in text
    promoted = HeadEvent(
        event_id="p",
        attribute="category",
        step="promoted",
        at="2026-12-07T12:00:00.000000Z",
        actor="ada",
        version="v2",
        forced=True,
        note="seasonal catalogue",
    )
    expected = "ada promoted v2 to champion (forced) — note: seasonal catalogue"
    assert promoted.explanation() == expected
