"""A taxonomy's files as text: what the store keeps of each version in force.

The taxonomy in force is shared by every server of a deployment, so it is stored as the
exact text of its folder's files (``taxonomy.yaml``, ``colours.yaml``, ``brands/*.yaml``);
parsing them again gives the same :class:`~tagtrail.domain.taxonomy.Taxonomy` and version.
"""

from __future__ import annotations

import msgspec


class TaxonomyFile(msgspec.Struct, kw_only=True, frozen=True):
    path: str  # relative to the folder, with "/" ("brands/northwind.yaml")
    text: str


class TaxonomySource(msgspec.Struct, kw_only=True, frozen=True):
    version: str  # the parsed taxonomy's version (its label + a hash of the documents)
    files: tuple[TaxonomyFile, ...]

    def text(self, path: str) -> str | None:
        return next((f.text for f in self.files if f.path == path), None)

    def brand_files(self) -> list[TaxonomyFile]:
        return sorted((f for f in self.files if f.path.startswith("brands/")), key=lambda f: f.path)
