"""Tests for tagtrail.vision.decode: formats, modes, orientation and every rejection path."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from tagtrail.errors import ImageRejected, InvalidInput
from tagtrail.vision.decode import DecodedImage, DecodeLimits, decode_image, sha256_hex


def _save(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def _gradient(w: int, h: int) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None].repeat(w, 1)
    arr = np.stack([x, y, np.full_like(x, 128)], axis=-1).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` 1-bit pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _check(d: DecodedImage, data: bytes, fmt: str, w: int, h: int) -> None:
    assert d.format == fmt
    assert (d.width, d.height) == (w, h)
    assert d.image.mode == "RGB"
    assert min(d.image.size) <= 256
    assert d.sha256 == sha256_hex(data)
    assert d.byte_size == len(data)


@pytest.mark.parametrize(
    ("fmt", "params"),
    [("JPEG", {"quality": 90}), ("PNG", {}), ("WEBP", {"quality": 90}), ("TIFF", {})],
)
def test_allowed_formats_decode(fmt: str, params: dict[str, object]) -> None:
    data = _save(_gradient(300, 200), fmt, **params)
    d = decode_image(data, name="shot.bin")
    _check(d, data, fmt, 300, 200)
    assert d.image.size == (300, 200)  # small images are not upscaled
    assert not d.had_alpha


def test_large_jpeg_is_downscaled_with_aspect_kept() -> None:
    data = _save(_gradient(2400, 1600), "JPEG", quality=85)
    d = decode_image(data)
    _check(d, data, "JPEG", 2400, 1600)
    assert d.image.size == (384, 256)  # the short edge at work_side, aspect kept
    # the gradient survives the draft + resize path (left dark, right bright in red)
    px = np.asarray(d.image)
    assert px[128, 4, 0] < 20
    assert px[128, 379, 0] > 235


def test_max_side_is_configurable() -> None:
    data = _save(_gradient(1000, 500), "PNG")
    d = decode_image(data, limits=DecodeLimits(max_side=160))
    assert d.image.size == (160, 80)
    assert (d.width, d.height) == (1000, 500)


def test_exif_orientation_6_swaps_dimensions() -> None:
    img = Image.new("RGB", (400, 200), (255, 255, 255))
    img.paste((255, 0, 0), (0, 0, 40, 200))  # red stripe on the stored left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    data = _save(img, "JPEG", quality=95, exif=exif.tobytes())
    d = decode_image(data)
    assert (d.width, d.height) == (200, 400)
    assert d.image.size == (200, 400)
    top = np.asarray(d.image)[:20, 100]
    assert top[:, 0].mean() > 200
    assert top[:, 1].mean() < 60  # the left edge is now on top


def test_cmyk_jpeg() -> None:
    img = Image.new("CMYK", (64, 48), (0, 255, 255, 0))  # pure red in CMYK
    data = _save(img, "JPEG", quality=95)
    d = decode_image(data)
    _check(d, data, "JPEG", 64, 48)
    r, g, b = np.asarray(d.image)[24, 32]
    assert r > 200
    assert g < 60
    assert b < 60


def test_palette_with_transparency_composited_on_white() -> None:
    img = Image.new("P", (32, 32), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * (254 * 3))
    img.paste(1, (0, 0, 16, 32))
    data = _save(img, "PNG", transparency=0)
    d = decode_image(data)
    assert d.had_alpha
    px = np.asarray(d.image)
    assert tuple(px[5, 5]) == (255, 0, 0)
    assert tuple(px[5, 25]) == (255, 255, 255)  # transparent black became white


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_composited_on_white(mode: str) -> None:
    img = Image.new("RGBA", (20, 10), (0, 0, 0, 0))
    img.paste((0, 0, 0, 255), (0, 0, 10, 10))
    data = _save(img.convert(mode), "PNG")
    d = decode_image(data)
    assert d.had_alpha
    px = np.asarray(d.image)
    assert tuple(px[5, 2]) == (0, 0, 0)
    assert tuple(px[5, 15]) == (255, 255, 255)


def test_16bit_png_is_scaled_not_clipped() -> None:
    arr = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (8, 1))
    data = _save(Image.fromarray(arr), "PNG")
    d = decode_image(data)
    _check(d, data, "PNG", 256, 8)
    row = np.asarray(d.image)[4, :, 0].astype(int)
    assert row[0] == 0
    assert row[-1] == 255
    assert 120 <= row[128] <= 135  # mid-grey, not clipped to white


def test_float_tiff_and_grayscale() -> None:
    f = np.tile(np.linspace(0.0, 1.0, 64, dtype=np.float32), (4, 1))
    d = decode_image(_save(Image.fromarray(f, "F"), "TIFF"))
    row = np.asarray(d.image)[2, :, 1].astype(int)
    assert row[0] == 0
    assert row[-1] == 255
    g = decode_image(_save(Image.new("L", (10, 10), 77), "PNG"))
    assert tuple(np.asarray(g.image)[0, 0]) == (77, 77, 77)


def test_animated_webp_uses_first_frame() -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255))]
    data = _save(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    d = decode_image(data)
    assert tuple(np.asarray(d.image)[8, 8]) == (255, 0, 0)


def _rejected(data: bytes, match: str, **kw: object) -> ImageRejected:
    with pytest.raises(ImageRejected, match=match) as info:
        decode_image(data, name="upload.jpg", **kw)  # type: ignore[arg-type]
    assert "upload.jpg" in info.value.message
    assert isinstance(info.value, InvalidInput)
    return info.value


def test_empty_rejected() -> None:
    _rejected(b"", "empty")


def test_oversize_bytes_rejected() -> None:
    data = _save(_gradient(64, 64), "PNG")
    _rejected(data, "exceeds the limit", limits=DecodeLimits(max_bytes=100))


def test_text_file_rejected() -> None:
    _rejected(b"hello, this is not an image\n" * 10, "unknown image format")


@pytest.mark.parametrize("fmt", ["GIF", "BMP"])
def test_formats_outside_allow_list_rejected(fmt: str) -> None:
    # the file name says .jpg; the detected format decides
    _rejected(_save(Image.new("RGB", (8, 8)), fmt), f"format {fmt} is not allowed")


def test_truncated_jpeg_rejected() -> None:
    assert not ImageFile.LOAD_TRUNCATED_IMAGES
    data = _save(_gradient(256, 256), "JPEG", quality=90)
    _rejected(data[: len(data) // 2], "truncated")


def test_corrupt_png_rejected() -> None:
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    data = bytearray(_save(Image.fromarray(noise), "PNG"))
    data[2000:2100] = b"\xff" * 100  # smash the middle of the compressed stream
    _rejected(bytes(data), "corrupt")


def test_decompression_bomb_rejected_without_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decode(self: Image.Image) -> None:
        raise AssertionError("pixels of a bomb must never be decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    # Above our 80 MP limit but below Pillow's own threshold: our header check catches it.
    small_bomb = _png_header_only(9000, 9000)
    assert len(small_bomb) < 200
    _rejected(small_bomb, "exceeds the limit of 80000000 pixels")
    # Far above Pillow's threshold: Pillow's DecompressionBombError becomes a rejection.
    _rejected(_png_header_only(50000, 50000), "decompression bomb")
    # Pillow's warning band (between 1x and 2x MAX_IMAGE_PIXELS) is also a rejection.
    _rejected(
        _png_header_only(10000, 10000),
        "decompression bomb",
        limits=DecodeLimits(max_pixels=10**9),
    )


def test_pixel_limit_is_configurable() -> None:
    data = _save(_gradient(100, 100), "PNG")
    _rejected(data, "pixels", limits=DecodeLimits(max_pixels=9999))
    assert decode_image(data, limits=DecodeLimits(max_pixels=10000)).width == 100
