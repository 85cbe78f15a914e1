"""Input caps and checks, in one place: what a caller may send before anything is stored or
searched.

Everything here runs *before* a request reaches OpenSearch, so a bad value is answered with
an InvalidInput naming the caller's field, never with OpenSearch's own 400 (or a string it
cannot even encode) surfacing as an internal error. ``field`` is always the name the caller
used (``filter.shootDate.gte``), chosen by the API layer.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from typing import Final

from tagtrail.errors import InvalidInput

#: Ids, attribute names, filter values: OpenSearch's own _id limit is 512 bytes.
MAX_ID_BYTES: Final = 512
MAX_VALUE_CHARS: Final = 512
#: Free text: searchAssets(text) and similarAssets(by: {text}) (CLIP reads 77 tokens anyway).
MAX_TEXT_CHARS: Final = 500
#: A reviewer's note on a decision.
MAX_NOTE_CHARS: Final = 2000
#: Values in one filter list (tags[].values, brand, collection, sku, ..., tagState lists).
MAX_FILTER_VALUES: Final = 100
#: Attribute filters (filter.tags) and attributes named in one review-queue request.
MAX_ATTRIBUTE_FILTERS: Final = 20
#: Facets requested by one search, and buckets per facet.
MAX_FACETS: Final = 20
MAX_FACET_SIZE: Final = 200
#: An opaque pagination cursor (its sort values are a few short scalars).
MAX_CURSOR_CHARS: Final = 2048
# How long a review card may have been shown before its decision (a day): a longer time is
# a clock or a client bug, not review effort.
MAX_SHOWN_MS: Final = 86_400_000
MAX_DATE_CHARS: Final = 64

_FREE_TEXT_CONTROLS: Final = frozenset("\t\n\r")


def shorten(value: str, limit: int = 60) -> str:
    """``value`` for an error message: never echo a megabyte back at the caller."""
    return value if len(value) <= limit else value[:limit] + "…"


def _bad_character(value: str, allowed: frozenset[str] = frozenset()) -> str | None:
    """The first control character or lone surrogate in ``value``, if any.

    Lone surrogates arrive through JSON escapes (``"\\ud800"``) and cannot be encoded to
    UTF-8, so OpenSearch would never see the request; control characters have no business
    in ids and values (and make log lines lie).
    """
    for c in value:
        if c in allowed:
            continue
        if unicodedata.category(c) in ("Cc", "Cs"):
            return c
    return None


def check_value(value: str, field: str, *, max_chars: int = MAX_VALUE_CHARS) -> str:
    """A short identifier-like string (attribute name, filter value): bounded, printable."""
    if len(value) > max_chars:
        raise InvalidInput(f"{field} is longer than {max_chars} characters", field=field)
    bad = _bad_character(value)
    if bad is not None:
        raise InvalidInput(f"{field} contains the control character {bad!r}", field=field)
    return value


def check_id(value: str, field: str) -> str:
    """An asset id as sent; InvalidInput when too long or not printable.

    Empty ids are left to the caller: an empty id names no asset (NotFound), which is what
    the asset, review and explain operations answer.
    """
    if len(value.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise InvalidInput(f"{field} is longer than {MAX_ID_BYTES} bytes", field=field)
    return check_value(value, field, max_chars=MAX_ID_BYTES)


def check_free_text(value: str | None, field: str, *, max_chars: int) -> str | None:
    """Free text (search text, a note): stripped, None when empty; tabs and newlines allowed."""
    value = (value or "").strip() or None
    if value is None:
        return None
    if len(value) > max_chars:
        raise InvalidInput(f"{field} is longer than {max_chars} characters", field=field)
    bad = _bad_character(value, _FREE_TEXT_CONTROLS)
    if bad is not None:
        raise InvalidInput(f"{field} contains the control character {bad!r}", field=field)
    return value


def check_values(
    values: Sequence[str] | None, field: str, *, max_values: int = MAX_FILTER_VALUES
) -> tuple[str, ...]:
    """A filter list: at most ``max_values`` values, each a bounded printable string."""
    if not values:
        return ()
    if len(values) > max_values:
        raise InvalidInput(f"{field} takes at most {max_values} values", field=field)
    return tuple(check_value(v, field) for v in values)


# -- dates ---------------------------------------------------------------------------------
# strict_date_optional_time, the default format of OpenSearch date fields: a year, then
# optionally month, day, hour, minutes, seconds, a fraction and a zone (Z or ±hh[[:]mm]).
_ISO: Final = re.compile(
    r"(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?"
    r"(?P<z>Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?"
)
# Date math: an anchor (now, or an ISO date followed by ||), then additions/subtractions of
# whole units and roundings (/d). The units are OpenSearch's: y M w d h H m s.
_MATH_OPS: Final = re.compile(r"(?:[+-]\d{1,6}[yMwdhHms]|/[yMwdhHms]){0,8}")


def _last_instant(start: dt.datetime, step: dt.timedelta) -> dt.datetime:
    try:
        return start + step - dt.timedelta(microseconds=1)
    except OverflowError:  # the year 9999: the period ends with the calendar
        return dt.datetime.max.replace(tzinfo=start.tzinfo)


def _iso_bounds(m: re.Match[str]) -> tuple[dt.datetime, dt.datetime]:
    """The first and last instant an ISO date of this precision covers (UTC).

    OpenSearch rounds ``gte: "2024-05"`` down to 1 May and ``lte: "2024-05"`` up to the end
    of May, so a range is empty only when gte's first instant is after lte's last one.
    """
    year = int(m["y"])
    month = int(m["mo"] or 1)
    day = int(m["d"] or 1)
    hour, minute, second = int(m["h"] or 0), int(m["mi"] or 0), int(m["s"] or 0)
    micro = int((m["f"] or "0").ljust(6, "0")[:6])
    zone = dt.UTC
    if m["z"] and m["z"] != "Z":
        sign = -1 if m["z"][0] == "-" else 1
        digits = m["z"][1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        if offset > dt.timedelta(hours=18):
            raise ValueError("zone offset beyond ±18:00")
        zone = dt.timezone(sign * offset)
    start = dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
    if m["f"]:
        return start, start
    if m["s"]:
        step = dt.timedelta(seconds=1)
    elif m["mi"]:
        step = dt.timedelta(minutes=1)
    elif m["h"]:
        step = dt.timedelta(hours=1)
    elif m["d"]:
        step = dt.timedelta(days=1)
    elif m["mo"]:
        step = dt.timedelta(days=calendar.monthrange(year, month)[1])
    else:
        step = dt.timedelta(days=366 if calendar.isleap(year) else 365)
    return start, _last_instant(start, step)


def date_bounds(value: str, field: str) -> tuple[dt.datetime, dt.datetime] | None:
    """Check an ISO date/datetime or OpenSearch date math; the ISO date's bounds (None for
    date math, which is relative to ``now`` or already checked in its anchor)."""
    hint = 'an ISO date (2024-05-01, 2024-05-01T10:00:00Z) or date math ("now-3y/y")'
    if len(value) > MAX_DATE_CHARS:
        raise InvalidInput(f"{field} is longer than {MAX_DATE_CHARS} characters", field=field)
    anchor, sep, ops = value.partition("||")
    if not sep and value.startswith("now"):
        anchor, ops = "now", value[3:]
    is_math = bool(sep) or anchor == "now"
    if is_math and not _MATH_OPS.fullmatch(ops):
        raise InvalidInput(f"{field}: {shorten(value)!r} is not {hint}", field=field)
    if anchor == "now" and not sep:
        return None
    m = _ISO.fullmatch(anchor)
    if m is None:
        raise InvalidInput(f"{field}: {shorten(value)!r} is not {hint}", field=field)
    try:
        bounds = _iso_bounds(m)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(
            f"{field}: {shorten(value)!r} is not a valid date: {exc}", field=field
        ) from exc
    return None if is_math else bounds


def check_date_range(gte: str | None, lte: str | None, field: str) -> None:
    """Both bounds valid, and not an empty range (gte after lte) when both are plain dates."""
    low = date_bounds(gte, f"{field}.gte") if gte is not None else None
    high = date_bounds(lte, f"{field}.lte") if lte is not None else None
    if low is not None and high is not None and low[0] > high[1]:
        raise InvalidInput(f"{field}: gte {gte!r} is after lte {lte!r}", field=field)


def check_int_range(gte: int | None, lte: int | None, field: str) -> None:
    if gte is not None and lte is not None and gte > lte:
        raise InvalidInput(f"{field}: gte {gte} is greater than lte {lte}", field=field)
