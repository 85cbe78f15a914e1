"""The taxonomy in force for the whole deployment (``taxonomies``).

Each version is stored once as the text of its files (put-if-absent, by version), so every
server parses the same taxonomy. One pointer document names the version in force; it is
moved only under ``if_seq_no``, so of two applies started together one wins and the other
is told Conflict. While an apply migrates the catalogue the pointer already names the new
version (servers refuse retired values from then on) and keeps the version it replaces,
so an apply that stopped half-way can be resumed from it.
"""

from __future__ import annotations

import contextlib

import msgspec
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError

from tagtrail.config import Settings
from tagtrail.domain.taxonomy.migrations import MigrationStep
from tagtrail.domain.taxonomy.source import TaxonomyFile, TaxonomySource
from tagtrail.errors import Conflict

POINTER_ID = "in_force"


class InForce(msgspec.Struct, kw_only=True, frozen=True):
    """The pointer as read, with the document version that guards moving it."""

    version: str | None = None  # None: nothing in force yet (a fresh store)
    replaces: str | None = None  # the version the last apply migrated from
    applying: bool = False  # True until that apply has migrated every asset
    created_at: str | None = None
    created_by: str | None = None
    last_change: str | None = None  # the id of the last apply's TaxonomyChange
    seq_no: int | None = None
    primary_term: int | None = None


class TaxonomyChange(msgspec.Struct, kw_only=True, frozen=True):
    """One apply, as stored: its migrations and the attribute versions it carried assets
    into, linked to the apply before it (so an undo can carry an older value forward)."""

    id: str
    version: str
    replaces: str | None = None
    previous: str | None = None  # the id of the change before this one (None: the first)
    steps: tuple[MigrationStep, ...] = ()
    attribute_versions: dict[str, str] = {}
    created_at: str | None = None


def _version_id(version: str) -> str:
    return f"version:{version}"


class TaxonomyRepository:
    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self.client = client
        self.index = settings.index_name("taxonomies")

    async def in_force(self) -> InForce | None:
        """The pointer, read in real time; None when the index does not exist (indices
        not initialised), an empty InForce when no version was put in force yet."""
        try:
            hit = await self.client.get(index=self.index, id=POINTER_ID)
        except NotFoundError as exc:
            if exc.error == "index_not_found_exception":
                return None
            return InForce()
        source = hit["_source"]
        return InForce(
            version=source.get("version"),
            replaces=source.get("replaces"),
            applying=bool(source.get("applying")),
            created_at=source.get("created_at"),
            created_by=source.get("created_by"),
            last_change=source.get("last_change"),
            seq_no=int(hit["_seq_no"]),
            primary_term=int(hit["_primary_term"]),
        )

    async def save(self, source: TaxonomySource, *, at: str, by: str) -> None:
        """Store a version's files (a version stored before is left as it is)."""
        files = [msgspec.to_builtins(f) for f in source.files]
        body = {
            "doc_type": "version",
            "version": source.version,
            "files": files,
            "created_at": at,
            "created_by": by,
        }
        # Content-addressed: a version stored before holds these very files.
        with contextlib.suppress(ConflictError):
            await self.client.create(index=self.index, id=_version_id(source.version), body=body)

    async def source(self, version: str) -> TaxonomySource | None:
        try:
            hit = await self.client.get(index=self.index, id=_version_id(version))
        except NotFoundError:
            return None
        files = msgspec.convert(hit["_source"].get("files") or [], tuple[TaxonomyFile, ...])
        return TaxonomySource(version=version, files=files)

    async def record_change(self, change: TaxonomyChange) -> None:
        """Store an apply's change record (put-if-absent: a resent one is the same)."""
        body = {"doc_type": "change", **msgspec.to_builtins(change)}
        body.pop("id")
        with contextlib.suppress(ConflictError):
            await self.client.create(index=self.index, id=change.id, body=body)

    async def changes_between(self, since: str, until: str, size: int) -> list[TaxonomyChange]:
        """Up to ``size`` applies made at or after ``since`` and before ``until``, oldest
        first."""
        query = {
            "bool": {
                "filter": [
                    {"term": {"doc_type": "change"}},
                    {"range": {"created_at": {"gte": since, "lt": until}}},
                ]
            }
        }
        body = {"query": query, "size": size, "sort": [{"created_at": "asc"}]}
        hits = (await self.client.search(index=self.index, body=body))["hits"]["hits"]
        return [
            msgspec.convert(
                {**{k: v for k, v in h["_source"].items() if k != "doc_type"}, "id": h["_id"]},
                TaxonomyChange,
            )
            for h in hits
        ]

    async def change(self, change_id: str) -> TaxonomyChange | None:
        try:
            hit = await self.client.get(index=self.index, id=change_id)
        except NotFoundError:
            return None
        fields = {k: v for k, v in hit["_source"].items() if k != "doc_type"}
        return msgspec.convert({**fields, "id": change_id}, TaxonomyChange)

    async def move(
        self,
        expected: InForce,
        version: str,
        *,
        replaces: str | None,
        applying: bool,
        at: str,
        by: str,
        last_change: str | None = None,
    ) -> InForce:
        """Put ``version`` in force; Conflict when the pointer moved since ``expected``."""
        body = {
            "doc_type": "pointer",
            "version": version,
            "replaces": replaces,
            "applying": applying,
            "created_at": at,
            "created_by": by,
            "last_change": last_change,
        }
        try:
            if expected.seq_no is None:
                result = await self.client.create(index=self.index, id=POINTER_ID, body=body)
            else:
                result = await self.client.index(
                    index=self.index,
                    id=POINTER_ID,
                    body=body,
                    if_seq_no=expected.seq_no,
                    if_primary_term=expected.primary_term,
                )
        except ConflictError as exc:
            raise Conflict(
                "the taxonomy in force changed meanwhile (another apply or server start): "
                "run the command again"
            ) from exc
        return InForce(
            version=version,
            replaces=replaces,
            applying=applying,
            created_at=at,
            created_by=by,
            last_change=last_change,
            seq_no=int(result["_seq_no"]),
            primary_term=int(result["_primary_term"]),
        )
