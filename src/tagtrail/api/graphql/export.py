"""Export the SDL: ``python -m tagtrail.api.graphql.export [PATH]`` (default: stdout).

The committed ``schema.graphql`` at the repository root must equal this output; a test
keeps them in step. Hook for the CLI: ``tagtrail export-schema`` → :func:`export_schema`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tagtrail.api.graphql.schema import build_schema
from tagtrail.config import load_settings

REPO_SCHEMA = Path(__file__).resolve().parents[4] / "schema.graphql"


def schema_sdl() -> str:
    # Default settings: limits do not change the SDL, and no environment is needed.
    return build_schema(load_settings(environ={})).as_str() + "\n"


def export_schema(path: Path | None = None) -> str:
    """Write the SDL to ``path`` (when given) and return it."""
    sdl = schema_sdl()
    if path is not None:
        Path(path).write_text(sdl, encoding="utf-8")
    return sdl


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    sdl = export_schema(Path(args[0]) if args else None)
    if not args:
        sys.stdout.write(sdl)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
