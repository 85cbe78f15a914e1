"""Reading a taxonomy folder from disk: YAML files in, a validated :class:`Taxonomy` out."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath
from typing import Any

import msgspec

from tagtrail.domain.palette import Palette, parse_palette
from tagtrail.domain.taxonomy.migrations import Migrations, parse_migrations
from tagtrail.domain.taxonomy.model import Taxonomy
from tagtrail.domain.taxonomy.parse import parse_taxonomy_documents
from tagtrail.domain.taxonomy.source import TaxonomyFile, TaxonomySource
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


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaxonomyError(f"cannot read: {exc}", file=str(path), path="$") from exc


def _parse_yaml(text: str, file: str) -> Any:
    import yaml  # local: keeps import-time of the package light for tools that never load

    try:
        # The C loader when present: the same safe subset of YAML, several times faster.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"not valid YAML: {exc}", file=file, path="$") from exc


def _read_yaml(path: Path) -> Any:
    return _parse_yaml(_read_text(path), str(path))


def _folder_files(root: Path) -> list[TaxonomyFile]:
    names = ["taxonomy.yaml", "colours.yaml"]
    brand_dir = root / "brands"
    if brand_dir.is_dir():
        names += [f"brands/{p.name}" for p in sorted(brand_dir.glob("*.yaml"))]
    return [TaxonomyFile(path=name, text=_read_text(root / name)) for name in names]


def load_taxonomy(root: Path) -> Taxonomy:
    """Load and validate a taxonomy folder (taxonomy.yaml, colours.yaml, brands/*.yaml)."""
    return load_taxonomy_source(root)[0]


def load_taxonomy_source(root: Path) -> tuple[Taxonomy, TaxonomySource]:
    """A taxonomy folder, validated, with the text of its files (what the store keeps)."""
    files = _folder_files(Path(root))
    taxonomy = _parse(files, origin=str(Path(root)))
    return taxonomy, TaxonomySource(version=taxonomy.version, files=tuple(files))


def taxonomy_from_source(source: TaxonomySource) -> Taxonomy:
    """Parse a stored taxonomy version again (its errors name ``stored <version>``)."""
    return _parse(list(source.files), origin=f"stored {source.version}")


def _parse(files: list[TaxonomyFile], *, origin: str) -> Taxonomy:
    texts = {f.path: f.text for f in files}
    raw = {
        path: _parse_yaml(text, f"{origin}/{path}")
        for path, text in texts.items()
        if path in ("taxonomy.yaml", "colours.yaml") or path.startswith("brands/")
    }
    for required in ("taxonomy.yaml", "colours.yaml"):
        if required not in raw:
            raise TaxonomyError("missing", file=f"{origin}/{required}", path="$")
    main_raw, palette_raw = raw["taxonomy.yaml"], raw["colours.yaml"]
    palette = parse_palette(palette_raw, file=f"{origin}/colours.yaml")
    brands = sorted(p for p in raw if p.startswith("brands/"))
    parsed = parse_taxonomy_documents(
        main_raw,
        file=f"{origin}/taxonomy.yaml",
        palette=palette,
        overlays=[(f"{origin}/{p}", PurePosixPath(p).stem, raw[p]) for p in brands],
    )
    documents = [("taxonomy.yaml", main_raw), ("colours.yaml", palette_raw)]
    documents += [(p, raw[p]) for p in brands]
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
