"""Thumbnails: WebP inside a 384 px box, never enlarged, upright, content-hashed ETag."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from tagtrail.vision.decode import decode_image
from tagtrail.vision.thumbnail import make_thumbnail


def _jpeg(size: tuple[int, int], *, orientation: int | None = None) -> bytes:
    img = Image.new("RGB", size, (200, 30, 30))
    img.paste((20, 20, 200), (0, 0, size[0] // 2, size[1]))  # left half blue
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    img.save(out, format="JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def test_thumbnail_is_webp_in_a_384_box_with_a_content_etag() -> None:
    decoded = decode_image(_jpeg((1600, 900)))
    thumb = make_thumbnail(decoded.image)
    assert thumb.media_type == "image/webp"
    assert max(thumb.width, thumb.height) == 384
    assert thumb.etag == hashlib.sha256(thumb.data).hexdigest()
    with Image.open(io.BytesIO(thumb.data)) as img:
        assert img.format == "WEBP"
        assert img.size == (thumb.width, thumb.height)
    assert make_thumbnail(decoded.image) == thumb  # the same pixels, the same bytes


def test_small_images_are_not_enlarged() -> None:
    thumb = make_thumbnail(Image.new("RGB", (120, 80), (10, 10, 10)))
    assert (thumb.width, thumb.height) == (120, 80)


def test_exif_orientation_is_applied() -> None:
    # Orientation 6: stored landscape, shown portrait (rotated 90° clockwise).
    thumb = make_thumbnail(decode_image(_jpeg((800, 400), orientation=6)).image)
    assert thumb.height > thumb.width
    with Image.open(io.BytesIO(thumb.data)) as img:
        top = img.convert("RGB").getpixel((img.width // 2, 5))
    assert top[2] > 150
    assert top[0] < 100


def test_bad_side_is_refused() -> None:
    with pytest.raises(ValueError, match="side"):
        make_thumbnail(Image.new("RGB", (10, 10)), side=0)
