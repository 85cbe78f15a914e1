"""Plain HTTP endpoints besides GraphQL (ingest lives here)."""

from __future__ import annotations

from typing import Any


def rest_handlers() -> list[Any]:
    return []
