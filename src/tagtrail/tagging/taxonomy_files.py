"""Reading a taxonomy folder from disk: YAML files in, a validated :class:`Taxonomy` out."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import msgspec

from tagtrail.domain.palette import Palette, parse_palette
from tagtrail.domain.taxonomy.migrations import Migrations, parse_migrations
from tagtrail.domain.taxonomy.model import Taxonomy
from tagtrail.domain.taxonomy.parse import parse_taxonomy_documents
from tagtrail.errors import TaxonomyError


def _canonical_hash(documents: list[tuple[str, Any]]) -> str:
    digest = hashlib.sha256()
    for rel, data in sorted(documents, key=lambda d: d[0]):
        digest.update(rel.encode())
        digest.update(b"\0")
        body = json.dumps(
            data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
        )
        digest.update(body.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def _read_yaml(path: Path) -> Any:
    import yaml  # local: keeps import-time of the package light for tools that never load

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaxonomyError(f"cannot read: {exc}", file=str(path), path="$") from exc
    try:
        # The C loader when present: the same safe subset of YAML, several times faster.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"not valid YAML: {exc}", file=str(path), path="$") from exc


def load_taxonomy(root: Path) -> Taxonomy:
    """Load and validate a taxonomy folder (taxonomy.yaml, colours.yaml, brands/*.yaml)."""
    root = Path(root)
    main_file = root / "taxonomy.yaml"
    palette_file = root / "colours.yaml"
    main_raw = _read_yaml(main_file)
    palette_raw = _read_yaml(palette_file)
    palette = parse_palette(palette_raw, file=str(palette_file))
    brand_dir = root / "brands"
    overlays = (
        [(p, _read_yaml(p)) for p in sorted(brand_dir.glob("*.yaml"))] if brand_dir.is_dir() else []
    )
    documents = [("taxonomy.yaml", main_raw), ("colours.yaml", palette_raw)]
    documents += [(f"brands/{p.name}", raw) for p, raw in overlays]
    parsed = parse_taxonomy_documents(
        main_raw,
        file=str(main_file),
        palette=palette,
        overlays=[(str(p), p.stem, raw) for p, raw in overlays],
    )
    return Taxonomy(
        name=parsed.name,
        label=parsed.label,
        version=f"{parsed.label}+{_canonical_hash(documents)}",
        attributes=parsed.attributes,
        palette=palette,
        brands=parsed.brands,
        mapping_order=parsed.mapping_order,
        attribute_versions=attribute_versions(parsed, palette_raw),
    )


def attribute_versions(parsed: Any, palette_raw: Any) -> dict[str, str]:
    """``name+attribute:hash`` per attribute, over what its tags depend on (dependencies
    first: a rule reading another attribute changes when that attribute's version does).
    The taxonomy's release ``label`` is not in it: relabelling the release moves nothing."""
    versions: dict[str, str] = {}
    by_name = {a.name: a for a in parsed.attributes}
    for name in dict.fromkeys((*parsed.mapping_order, *by_name)):
        attribute = by_name[name]
        depends = sorted({c.key for r in attribute.rules for c in r.when if c.key in by_name})
        overlays = [
            (b.id, b.label, list(b.aliases), msgspec.to_builtins(b.overlay(name)))
            for b in parsed.brands
            if b.overlay(name) is not None
        ]
        document: list[Any] = [
            msgspec.to_builtins(attribute),
            overlays,
            {d: versions.get(d, "") for d in depends if d != name},
        ]
        if attribute.source == "colour_analyser":
            document.append(palette_raw)
        versions[name] = f"{parsed.name}+{name}:{_canonical_hash([(name, document)])}"
    return versions


def load_palette(path: Path) -> Palette:
    """Load and validate a palette file (``colours.yaml``) on its own."""
    return parse_palette(_read_yaml(path), file=str(path))


def load_migrations(root: Path) -> Migrations:
    """``migrations.yaml`` of a taxonomy folder (none: no migrations)."""
    path = Path(root) / "migrations.yaml"
    if not path.exists():
        return Migrations()
    return parse_migrations(_read_yaml(path), file=str(path))
