"""Thumbnails: a small WebP derivative of the decoded working copy, kept in the store.

The working copy from :func:`~tagtrail.vision.decode.decode_image` is already upright (EXIF
orientation applied), converted to sRGB from its embedded profile and composited onto white,
so a thumbnail only needs shrinking into a ``side`` × ``side`` box (never enlarged) and
encoding. Its ETag is the sha256 of the encoded bytes: the same photo always gives the same
thumbnail, so browsers and proxies may keep it for a long time.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence

import msgspec
from PIL import Image

THUMBNAIL_SIDE = 384
THUMBNAIL_QUALITY = 80
MEDIA_TYPE = "image/webp"


class Thumbnail(msgspec.Struct, kw_only=True, frozen=True):
    data: bytes
    media_type: str
    width: int
    height: int
    etag: str  # sha256 hex of ``data``


def make_thumbnail(
    image: Image.Image, *, side: int = THUMBNAIL_SIDE, quality: int = THUMBNAIL_QUALITY
) -> Thumbnail:
    """Shrink ``image`` (8-bit RGB, upright, sRGB) into a ``side`` box and encode it as WebP."""
    if side <= 0:
        raise ValueError("side must be positive")
    thumb = image if image.mode == "RGB" else image.convert("RGB")
    if max(thumb.size) > side:
        thumb = thumb.copy()
        thumb.thumbnail((side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # method=2: within 3 % of method=4's size at 40 % of its time (2.4 ms for a demo photo
    # here); no metadata is written.
    thumb.save(out, format="WEBP", quality=quality, method=2)
    data = out.getvalue()
    return Thumbnail(
        data=data,
        media_type=MEDIA_TYPE,
        width=thumb.width,
        height=thumb.height,
        etag=hashlib.sha256(data).hexdigest(),
    )


def make_thumbnails(images: Sequence[Image.Image]) -> list[Thumbnail]:
    """One thumbnail per image, in order (CPU work: call it off the event loop)."""
    return [make_thumbnail(image) for image in images]
