"""Leases: one holder at a time for work every server could do (the retraining cadence).

A lease is one document in the ``heads`` index (id ``lease:<name>``): who holds it and until
when. It is taken with put-if-absent, or, once expired, replaced under ``if_seq_no``, and
renewed and released the same way, so two servers that race for it cannot both win, and a
holder that was killed (and so stopped renewing) loses it when it expires. Expiry compares
the servers' wall clocks: they must agree to well within the lease's length (NTP does).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import msgspec
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError

from tagtrail.config import Settings


class Lease(msgspec.Struct, kw_only=True, frozen=True):
    """A lease held now, with the document version that guards renewing or releasing it."""

    name: str
    holder: str
    expires_at_ms: int
    seq_no: int
    primary_term: int


class LeaseHolder(msgspec.Struct, kw_only=True, frozen=True):
    """Who holds a lease (read by anyone, for reports)."""

    name: str
    holder: str
    expires_at_ms: int

    def expired(self, now_ms: int) -> bool:
        return self.expires_at_ms <= now_ms


def _now_ms() -> int:
    return int(time.time() * 1000)


class LeaseRepository:
    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self.client = client
        self.index = settings.index_name("heads")

    @staticmethod
    def _id(name: str) -> str:
        return f"lease:{name}"

    def _body(self, name: str, holder: str, ttl_s: float) -> tuple[dict[str, object], int]:
        expires = _now_ms() + int(ttl_s * 1000)
        body: dict[str, object] = {
            "doc_type": "lease",
            "holder": holder,
            "expires_at": expires,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        return body, expires

    async def holder(self, name: str) -> LeaseHolder | None:
        try:
            hit = await self.client.get(index=self.index, id=self._id(name))
        except NotFoundError:
            return None
        source = hit["_source"]
        return LeaseHolder(name=name, holder=source["holder"], expires_at_ms=source["expires_at"])

    async def acquire(self, name: str, holder: str, ttl_s: float) -> Lease | None:
        """The lease for ``holder`` for ``ttl_s`` seconds, or None while another holds it."""
        body, expires = self._body(name, holder, ttl_s)
        try:
            hit = await self.client.get(index=self.index, id=self._id(name))
        except NotFoundError:
            try:
                done = await self.client.create(index=self.index, id=self._id(name), body=body)
            except ConflictError:
                return None  # another server took it first
            return self._lease(name, holder, expires, done)
        source = hit["_source"]
        if source["holder"] != holder and source["expires_at"] > _now_ms():
            return None
        return await self._replace(name, holder, expires, body, hit)

    async def renew(self, lease: Lease, ttl_s: float) -> Lease | None:
        """The lease extended by ``ttl_s`` from now; None when it was lost (taken after
        expiring: the holder must stop what the lease guards)."""
        body, expires = self._body(lease.name, lease.holder, ttl_s)
        guard = {"_seq_no": lease.seq_no, "_primary_term": lease.primary_term}
        return await self._replace(lease.name, lease.holder, expires, body, guard)

    async def release(self, lease: Lease) -> None:
        """Give the lease up now (nothing when it was lost meanwhile)."""
        try:
            await self.client.delete(
                index=self.index,
                id=self._id(lease.name),
                if_seq_no=lease.seq_no,
                if_primary_term=lease.primary_term,
            )
        except (ConflictError, NotFoundError):
            return

    async def _replace(
        self,
        name: str,
        holder: str,
        expires: int,
        body: dict[str, object],
        guard: Mapping[str, object],
    ) -> Lease | None:
        try:
            done = await self.client.index(
                index=self.index,
                id=self._id(name),
                body=body,
                if_seq_no=guard["_seq_no"],
                if_primary_term=guard["_primary_term"],
            )
        except (ConflictError, NotFoundError):
            return None
        return self._lease(name, holder, expires, done)

    @staticmethod
    def _lease(name: str, holder: str, expires: int, done: dict[str, object]) -> Lease:
        return Lease(
            name=name,
            holder=holder,
            expires_at_ms=expires,
            seq_no=int(str(done["_seq_no"])),
            primary_term=int(str(done["_primary_term"])),
        )
