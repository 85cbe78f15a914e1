"""Relay-style cursor pagination over OpenSearch ``search_after``.

A cursor is the hit's sort values, tagged with the sort it belongs to, as URL-safe base64
JSON. It is opaque to clients; a cursor from another sort (or a mangled one) is rejected
with InvalidInput rather than silently returning the wrong page. A crafted cursor — valid
base64 JSON of the wrong shape, nested objects, a huge payload — is refused here too
(``InvalidInput(field="after")``): its values go to OpenSearch as ``search_after``, where they
would otherwise come back as OpenSearch's own parse errors. The search use cases check the
values' count and kinds against the sort (:func:`tagtrail.usecases.search.check_after`).
Page sizes are capped by ``TAGTRAIL_MAX_PAGE_SIZE``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec
import strawberry

from tagtrail.domain.limits import MAX_CURSOR_CHARS, MAX_VALUE_CHARS, shorten
from tagtrail.errors import InvalidInput

#: Sort values are scalars: epoch millis, scores, keywords (null for a missing one).
SortValue = str | int | float | None
_MAX_SORT_VALUES = 4
_INT64 = 2**63


class _Cursor(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    s: str  # sort name
    v: list[SortValue]  # search_after values


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def encode_cursor(sort: str, values: list[Any]) -> str:
    raw = msgspec.json.encode(_Cursor(s=sort, v=values))
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None, sort: str) -> list[Any] | None:
    if cursor is None:
        return None
    bad = InvalidInput("after is not a cursor from this API", field="after")
    if len(cursor) > MAX_CURSOR_CHARS:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = msgspec.json.decode(raw, type=_Cursor)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise bad from exc
    if decoded.s != sort:
        raise InvalidInput(
            f"after is a cursor of sort {shorten(decoded.s)!r}, not {sort!r}", field="after"
        )
    if not 1 <= len(decoded.v) <= _MAX_SORT_VALUES or not all(map(_plausible, decoded.v)):
        raise bad
    return list(decoded.v)


def _plausible(value: SortValue) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_VALUE_CHARS
    if isinstance(value, int):
        return -_INT64 <= value < _INT64  # OpenSearch longs; bigger cannot be a sort value
    return True


def check_page_size(first: int, cap: int, *, field: str = "first") -> int:
    if first < 1:
        raise InvalidInput(f"{field} must be at least 1", field=field)
    if first > cap:
        raise InvalidInput(f"{field} must be at most {cap} (TAGTRAIL_MAX_PAGE_SIZE)", field=field)
    return first


def page(hits: list[dict[str, Any]], size: int) -> tuple[list[dict[str, Any]], bool]:
    """Hits of one page (one extra was fetched to know whether there is a next page)."""
    return hits[:size], len(hits) > size
