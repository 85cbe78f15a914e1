"""Relay-style cursor pagination over OpenSearch ``search_after``.

A cursor is the hit's sort values, tagged with the sort it belongs to, as URL-safe base64
JSON. It is opaque to clients; a cursor from another sort (or a mangled one) is rejected
with InvalidInput rather than silently returning the wrong page. Page sizes are capped by
``TAGTRAIL_MAX_PAGE_SIZE``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec
import strawberry

from tagtrail.errors import InvalidInput


class _Cursor(msgspec.Struct, frozen=True):
    s: str  # sort name
    v: list[Any]  # search_after values


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
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = msgspec.json.decode(raw, type=_Cursor)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise InvalidInput("after is not a cursor from this API", field="after") from exc
    if decoded.s != sort:
        raise InvalidInput(f"after is a cursor of sort {decoded.s!r}, not {sort!r}", field="after")
    return decoded.v


def check_page_size(first: int, cap: int, *, field: str = "first") -> int:
    if first < 1:
        raise InvalidInput(f"{field} must be at least 1", field=field)
    if first > cap:
        raise InvalidInput(f"{field} must be at most {cap} (TAGTRAIL_MAX_PAGE_SIZE)", field=field)
    return first


def page(hits: list[dict[str, Any]], size: int) -> tuple[list[dict[str, Any]], bool]:
    """Hits of one page (one extra was fetched to know whether there is a next page)."""
    return hits[:size], len(hits) > size
