"""The quality report's arithmetic: windows, the reliability diagram's ECE, worst first."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from tagtrail.domain.quality import (
    DEFAULT_DAYS,
    MAX_DAYS,
    BinCount,
    SegmentCorrections,
    bin_edges,
    quality_window,
    reliability,
    worst_first,
)
from tagtrail.errors import InvalidInput

NOW = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)


def test_the_window_defaults_to_the_last_days_before_now() -> None:
    window = quality_window(None, None, NOW)
    assert window.until == NOW
    assert window.since == NOW - dt.timedelta(days=DEFAULT_DAYS)


def test_a_window_is_turned_to_utc() -> None:
    plus_one = dt.timezone(dt.timedelta(hours=1))
    window = quality_window(dt.datetime(2026, 1, 1, 1, tzinfo=plus_one), None, NOW)
    assert window.since == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("since", "until", "field"),
    [
        (NOW, NOW, "since"),  # empty
        (NOW - dt.timedelta(days=MAX_DAYS + 1), NOW, "since"),  # too long
        (dt.datetime(2026, 1, 1), NOW, "since"),  # no time zone
        (None, dt.datetime(2026, 1, 1), "until"),
    ],
)
def test_bad_windows_are_named(
    since: dt.datetime | None, until: dt.datetime | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        quality_window(since, until, NOW)
    assert raised.value.field == field


def test_bins_cover_zero_to_one_in_fifteen() -> None:
    edges = bin_edges()
    assert len(edges) == 15
    assert edges[0][0] == 0.0
    assert edges[-1][1] == 1.0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(edges))


def test_ece_weighs_each_bin_by_its_share() -> None:
    bins = (
        BinCount(lo=0.0, hi=0.5, n=4, confidence_sum=1.2, right=2),  # 0.30 vs 0.50
        BinCount(lo=0.5, hi=1.0, n=6, confidence_sum=5.4, right=6),  # 0.90 vs 1.00
        BinCount(lo=0.5, hi=1.0),
    )
    found = reliability(bins)
    assert found.n == 10
    assert found.ece == pytest.approx((4 * 0.2 + 6 * 0.1) / 10)
    assert bins[2].mean_confidence is None
    assert bins[2].observed_rate is None
    assert reliability((BinCount(lo=0.0, hi=1.0),)).ece is None


def _row(segment: str, rate: float, decided: int) -> SegmentCorrections:
    corrected = round(rate * decided)
    return SegmentCorrections(
        dimension="brand",
        segment=segment,
        decided=decided,
        corrected=corrected,
        rate=rate,
        low=0.0,
        high=1.0,
    )


def test_the_worst_segment_comes_first_and_ties_go_to_the_surer() -> None:
    rows = [_row("a", 0.1, 10), _row("b", 0.5, 2), _row("c", 0.5, 10), _row("d", 0.0, 3)]
    assert [r.segment for r in worst_first(rows)] == ["c", "b", "a", "d"]
