"""Administration: the GraphQL schema file and API keys."""

from __future__ import annotations

from pathlib import Path


def export_schema(out: Path) -> int:
    from tagtrail.api.graphql.schema import build_schema

    out.write_text(build_schema().as_str() + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


def create_api_key(name: str, role: str) -> int:
    from tagtrail.api import auth

    print(auth.apikey_create_text(name, role))
    return 0
