"""The random hold-out: a fixed share of assets that review-queue ordering never touches.

The review queue serves the least sure or oldest tags first, so even a random sample of
reviewers' decisions is a sample of what the queue chose. A hold-out asset is chosen by a
hash of its id alone (independent of the model, its confidence and when it arrived): its
pending tags are served only in their own queue, in hash order, and its decisions are
never trained on; the gate scores heads on them (``usecases.gate``).

The same hash runs inside OpenSearch (``store.holdout``, Painless over ``asset_id``), so it
works on 32-bit words and UTF-16 code units, as Java strings do.
"""

from __future__ import annotations

_MASK = 0xFFFFFFFF
_FNV_OFFSET = 2166136261
_FNV_PRIME = 16777619
_MIX1 = 0x85EBCA6B
_MIX2 = 0xC2B2AE35


def holdout_rank(asset_id: str) -> float:
    """A number in [0, 1) fixed by ``asset_id``: FNV-1a over its UTF-16 code units, then
    MurmurHash3's finaliser (FNV alone leaves the high bits of short ids poorly mixed)."""
    data = asset_id.encode("utf-16-le", "surrogatepass")  # lone surrogates: as Java sees them
    h = _FNV_OFFSET
    for i in range(0, len(data), 2):
        h = ((h ^ int.from_bytes(data[i : i + 2], "little")) * _FNV_PRIME) & _MASK
    h ^= h >> 16
    h = (h * _MIX1) & _MASK
    h ^= h >> 13
    h = (h * _MIX2) & _MASK
    h ^= h >> 16
    return h / 4294967296.0


def in_holdout(asset_id: str, share: float) -> bool:
    """Whether ``asset_id`` is in a hold-out of ``share`` (0: none) of all assets."""
    return holdout_rank(asset_id) < share
