"""The input checks of tagtrail.domain.limits, without a server."""

from __future__ import annotations

import datetime as dt

import pytest

from tagtrail.domain.limits import (
    MAX_ID_BYTES,
    check_date_range,
    check_free_text,
    check_id,
    check_int_range,
    check_values,
    date_bounds,
    shorten,
)
from tagtrail.errors import InvalidInput

UTC = dt.UTC


def test_iso_dates_cover_their_whole_period() -> None:
    assert date_bounds("2024", "d") == (
        dt.datetime(2024, 1, 1, tzinfo=UTC),
        dt.datetime(2024, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    )
    low, high = date_bounds("2024-02", "d") or (None, None)
    assert high == dt.datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC)  # a leap year
    low, high = date_bounds("2024-05-01T10:30", "d") or (None, None)
    assert (low, high) == (
        dt.datetime(2024, 5, 1, 10, 30, tzinfo=UTC),
        dt.datetime(2024, 5, 1, 10, 30, 59, 999_999, tzinfo=UTC),
    )
    low, _ = date_bounds("2024-05-01T10:00:00+02:00", "d") or (None, None)
    assert low == dt.datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert date_bounds("9999-12", "d") is not None  # the calendar's end, not an overflow
    assert date_bounds("now-3y/y", "d") is None  # relative: no fixed bounds
    assert date_bounds("2024-01-01||+1M/d", "d") is None


@pytest.mark.parametrize("bad", ["2024-1-1", "now-", "now-3Y", "2024-02-30", "", "x" * 65])
def test_bad_dates_name_the_field(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        date_bounds(bad, "filter.shootDate.gte")
    assert caught.value.field == "filter.shootDate.gte"


def test_ranges() -> None:
    check_date_range("2024-05-15", "2024-05", "r")  # lte covers all of May
    check_date_range("now-1y", "2020", "r")  # date math: not compared
    with pytest.raises(InvalidInput, match="after"):
        check_date_range("2024-06", "2024-05", "r")
    check_int_range(2024, 2024, "y")
    with pytest.raises(InvalidInput):
        check_int_range(2025, 2024, "y")


def test_ids_values_and_text() -> None:
    assert check_id("a" * MAX_ID_BYTES, "id")
    for bad in ("é" * (MAX_ID_BYTES // 2 + 1), "a\x00", "\ud800", "tab\there"):
        with pytest.raises(InvalidInput) as caught:
            check_id(bad, "id")
        assert caught.value.field == "id"
    assert check_values(None, "f") == ()
    with pytest.raises(InvalidInput, match="at most 2 values"):
        check_values(["a", "b", "c"], "f", max_values=2)
    assert check_free_text("  two\nlines\t ", "note", max_chars=20) == "two\nlines"
    assert check_free_text("   ", "note", max_chars=20) is None
    with pytest.raises(InvalidInput):
        check_free_text("a\x07", "note", max_chars=20)
    assert shorten("x" * 100).endswith("…")
    assert len(shorten("x" * 100)) == 61
