"""Product metadata that arrives with an image (REST JSON part or a manifest CSV row)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

import msgspec

from tagtrail.domain.limits import check_free_text, check_value
from tagtrail.errors import InvalidInput

_COLLECTION = re.compile(r"^(?P<season>SS|FW|AW|PF|RE)\s*(?P<year>\d{2}|\d{4})\b", re.I)
MAX_FIELD_LENGTH = 256
MAX_FREE_FIELDS = 50
#: season_year is an integer field: a number beyond it would be refused by OpenSearch at
#: write time, after the tagging work, and look like a store failure.
YEARS = range(1000, 10_000)

#: Metadata as it arrives (a JSON object from a client, a manifest row): checked by
#: :func:`parse_metadata`, which names the field at fault.
RawMetadata = Mapping[str, object]


class AssetMetadata(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    sku: str | None = None
    brand: str | None = None
    collection: str | None = None
    season: str | None = None  # "SS" | "FW" (AW is read as FW)
    season_year: int | None = None
    photographer: str | None = None
    shoot_date: str | None = None  # ISO date
    filename: str | None = None
    fields: dict[str, str] = {}


_KNOWN = {f.name for f in msgspec.structs.fields(AssetMetadata)}


def _text(raw: RawMetadata, key: str) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int | float):
        raise InvalidInput(f"metadata field {key!r} must be a string", field=key)
    text = str(value).strip()
    if len(text) > MAX_FIELD_LENGTH:
        raise InvalidInput(
            f"metadata field {key!r} is longer than {MAX_FIELD_LENGTH} characters", field=key
        )
    check_value(text, key)  # no control characters in what search and facets show
    return text or None


def parse_metadata(raw: RawMetadata | None, *, filename: str | None = None) -> AssetMetadata:
    """Validate loose metadata; unknown keys go to ``fields`` (free fields)."""
    if raw is not None and not isinstance(raw, Mapping):
        raise InvalidInput("metadata must be a JSON object")
    raw = dict(raw or {})
    collection = _text(raw, "collection")
    season = _text(raw, "season")
    season_year: int | None = None
    year = raw.get("season_year")
    if year not in (None, ""):
        try:
            season_year = int(year) if isinstance(year, int | float | str) else None
        except (ValueError, OverflowError) as exc:  # "abc", NaN; ±inf
            raise InvalidInput(
                "season_year must be a year such as 2026", field="season_year"
            ) from exc
        if season_year not in YEARS:
            raise InvalidInput("season_year must be a year such as 2026", field="season_year")
    match = _COLLECTION.match(collection or "")
    if match:
        season = season or match.group("season")
        year = int(match.group("year"))
        season_year = season_year or (2000 + year if year < 100 else year)
    if season is not None:
        season = season.upper()
        season = "FW" if season == "AW" else season
        if season not in ("SS", "FW", "PF", "RE"):
            raise InvalidInput(
                f"season {season!r} is not one of SS, FW, AW, PF, RE", field="season"
            )
    shoot_date = _text(raw, "shoot_date")
    if shoot_date is not None:
        try:
            shoot_date = dt.date.fromisoformat(shoot_date[:10]).isoformat()
        except ValueError as exc:
            raise InvalidInput(
                f"shoot_date {shoot_date!r} is not an ISO date (YYYY-MM-DD)", field="shoot_date"
            ) from exc
    free_raw = raw.get("fields") or {}
    if not isinstance(free_raw, dict):
        raise InvalidInput("metadata 'fields' must be an object of strings", field="fields")
    free = {str(k): str(v) for k, v in free_raw.items()}
    for key, value in raw.items():
        if key not in _KNOWN and value not in (None, ""):
            free[str(key)] = str(value)
    if len(free) > MAX_FREE_FIELDS:
        raise InvalidInput(f"at most {MAX_FREE_FIELDS} free fields", field="fields")
    for key, value in free.items():
        if len(key) > 64 or len(value) > MAX_FIELD_LENGTH:
            raise InvalidInput(f"free field {key[:64]!r} is too long", field=f"fields.{key[:64]}")
        check_value(key, "fields")
        check_free_text(value, f"fields.{key}", max_chars=MAX_FIELD_LENGTH)
    return AssetMetadata(
        sku=_text(raw, "sku"),
        brand=_text(raw, "brand"),
        collection=collection,
        season=season,
        season_year=season_year,
        photographer=_text(raw, "photographer"),
        shoot_date=shoot_date,
        filename=_text(raw, "filename") or filename,
        fields=free,
    )
