"""Safe image decoding: limits first, pixels second.

Every upload passes through :func:`decode_image` before anything else touches it. The order
of checks is deliberate: byte size, then the *detected* format (never the file name), then
the pixel count from the header — all before a single pixel is decompressed, so a
decompression bomb is rejected, never decoded. Only then are pixels loaded (forced, so a
truncated file fails here rather than later), orientation applied and the image reduced to
an 8-bit RGB working copy whose short edge is at most ``work_side`` (long edge at most
``max_side``).
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib
from dataclasses import dataclass

import msgspec
import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

from tagtrail.errors import ConfigError, ImageRejected

__all__ = ["DecodeLimits", "DecodedImage", "decode_image", "sha256_hex"]

_ORIENTATION_TAG = 0x0112
# Same table as PIL.ImageOps.exif_transpose; applied to the reduced image instead of the
# full-resolution one because transposing a 80 MP image only to shrink it is wasted work.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Pillow reports multi-picture camera JPEGs as "MPO"; they are JPEGs for every purpose here.
_FORMAT_ALIASES = {"MPO": "JPEG"}
# Exceptions Pillow's decoders raise on corrupt or truncated data.
_CORRUPT = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError)


class DecodeLimits(msgspec.Struct, kw_only=True, frozen=True):
    """Safety limits for one decode; the defaults suit studio product photography."""

    max_bytes: int = 40 * 1024 * 1024
    max_pixels: int = 80_000_000
    formats: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "TIFF")
    # The working copy: the encoder crops 224 px from the short edge and the colour analyser
    # works at ~160 px, so a short edge of 256 loses nothing downstream, while decoding and
    # resizing a 640 px photo to it costs a quarter of what a 512 px copy did. The long edge
    # is capped as well (panoramas, banners).
    work_side: int = 256
    max_side: int = 1024

    def __post_init__(self) -> None:
        for field in ("max_bytes", "max_pixels", "work_side", "max_side"):
            if getattr(self, field) <= 0:
                raise ConfigError(f"DecodeLimits.{field} must be positive")
        if not self.formats:
            raise ConfigError("DecodeLimits.formats must name at least one format")


_DEFAULT_LIMITS = DecodeLimits()  # frozen, so sharing one default instance is safe


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """A decoded image: an RGB working copy plus facts about the original."""

    image: Image.Image  # 8-bit RGB, short edge ~ work_side, long edge <= max_side, upright
    width: int  # original width after EXIF orientation
    height: int  # original height after EXIF orientation
    format: str  # detected format, e.g. "JPEG"
    sha256: str  # hex digest of the raw bytes
    byte_size: int
    had_alpha: bool  # the source carried transparency (alpha channel or tRNS); composited on white


def _working_size(size: tuple[int, int], limits: DecodeLimits) -> tuple[int, int]:
    """Downscale only: the short edge to ``work_side``, the long edge within ``max_side``."""
    w, h = size
    scale = min(1.0, limits.work_side / min(w, h), limits.max_side / max(w, h))
    if scale >= 1.0:
        return size
    return max(1, round(w * scale)), max(1, round(h * scale))


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of raw bytes (the content address of an upload)."""
    return hashlib.sha256(data).hexdigest()


def decode_image(
    data: bytes, *, limits: DecodeLimits = _DEFAULT_LIMITS, name: str = "<bytes>"
) -> DecodedImage:
    """Decode ``data`` into a :class:`DecodedImage` or raise :class:`ImageRejected`.

    The rejection message always names ``name`` and the reason.
    """

    def reject(reason: str) -> ImageRejected:
        return ImageRejected(f"{name}: {reason}", field="image")

    size = len(data)
    if size == 0:
        raise reject("empty file")
    if size > limits.max_bytes:
        raise reject(f"{size} bytes exceeds the limit of {limits.max_bytes} bytes")

    # Pillow signals bombs with a warning below 2x MAX_IMAGE_PIXELS and an error above it;
    # both become rejections. (catch_warnings is process-global; the worst a race can do is
    # leave this stricter filter in place, which only makes other decodes stricter too.)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise reject(f"decompression bomb refused ({exc})") from None
        except UnidentifiedImageError:
            raise reject("not an image or an unknown image format") from None
        except _CORRUPT as exc:
            raise reject(f"corrupt image header ({exc})") from None

        with img:
            fmt = _FORMAT_ALIASES.get(img.format or "", img.format or "unknown")
            if fmt not in limits.formats:
                allowed = ", ".join(limits.formats)
                raise reject(f"format {fmt} is not allowed (allowed: {allowed})")
            width, height = img.size
            if width <= 0 or height <= 0:
                raise reject(f"invalid dimensions {width}x{height}")
            if width * height > limits.max_pixels:
                raise reject(
                    f"{width}x{height} = {width * height} pixels exceeds the limit of "
                    f"{limits.max_pixels} pixels (not decoded)"
                )
            target = _working_size(img.size, limits)
            if fmt == "JPEG" and target != img.size:
                # Fast path: libjpeg decodes directly at 1/2, 1/4 or 1/8 scale, never below
                # the requested size, so quality is preserved for the final resize.
                img.draft("RGB", target)
            try:
                img.seek(0)  # animated / multi-page: the first frame is the product shot
                img.load()  # force the decode so truncated or corrupt data fails here
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise reject(f"decompression bomb refused ({exc})") from None
            except _CORRUPT as exc:
                raise reject(f"corrupt or truncated image data ({exc})") from None
            except MemoryError:
                raise reject("image too large to decode") from None

            try:
                # Read after load(): PngImageFile.getexif() itself loads the pixels.
                orientation = int(img.getexif().get(_ORIENTATION_TAG, 1))
            except _CORRUPT:
                orientation = 1  # a broken EXIF block must not cost the whole image
            if orientation in (5, 6, 7, 8):
                width, height = height, width

            try:
                work, had_alpha = _to_8bit(img)
                icc = img.info.get("icc_profile")
            except _CORRUPT as exc:
                raise reject(f"unsupported pixel data ({exc})") from None

    work_size = _working_size(work.size, limits)
    if work_size != work.size:
        work = work.resize(work_size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if isinstance(icc, bytes) and icc:
        work = _to_srgb(work, icc)
    if work.mode == "RGBA":
        # Product cut-outs are composited onto white, the studio background convention.
        canvas = Image.new("RGB", work.size, (255, 255, 255))
        canvas.paste(work, mask=work.getchannel("A"))
        work = canvas
    elif work.mode != "RGB":
        work = work.convert("RGB")
    transpose = _TRANSPOSE.get(orientation)
    if transpose is not None:
        work = work.transpose(transpose)

    return DecodedImage(
        image=work,
        width=width,
        height=height,
        format=fmt,
        sha256=sha256_hex(data),
        byte_size=size,
        had_alpha=had_alpha,
    )


def _to_8bit(img: Image.Image) -> tuple[Image.Image, bool]:
    """Normalise any Pillow mode to 8-bit L, RGB, RGBA or CMYK; report transparency."""
    mode = img.mode
    if mode in ("RGB", "L", "CMYK") and "transparency" not in img.info:
        return img, False
    if mode.startswith("I;16") or mode == "I":
        # Pillow's own I -> L conversion clips at 255; scale the 16-bit range instead.
        arr = np.asarray(img).astype(np.float64)
        scale = 257.0 if mode.startswith("I;16") or float(arr.max(initial=0)) > 255 else 1.0
        return Image.fromarray(np.clip(arr / scale, 0, 255).round().astype(np.uint8), "L"), False
    if mode == "F":
        # Float data: treat [0, 1] as the nominal range, otherwise [0, 255]; NaN -> black.
        arr = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        scale = 255.0 if float(arr.max(initial=0)) <= 1.0 else 1.0
        return Image.fromarray(np.clip(arr * scale, 0, 255).round().astype(np.uint8), "L"), False
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
        # P + tRNS, L/RGB + colour-key transparency and true alpha all go through RGBA.
        return img.convert("RGBA"), True
    # "1", "P" without transparency, YCbCr, LAB, HSV, I;16 variants Pillow converts itself.
    return img.convert("RGB"), False


def _to_srgb(img: Image.Image, icc: bytes) -> Image.Image:
    """Convert an embedded-profile image to sRGB; colour is measured from these pixels."""
    if img.mode not in ("RGB", "RGBA", "L", "CMYK"):
        return img
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if img.mode in ("RGB", "RGBA") and "srgb" in ImageCms.getProfileDescription(src).lower():
            return img  # already sRGB: skip building a transform
        out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
        if img.mode == "RGBA":
            # LittleCMS transforms colour only; carry alpha across unchanged.
            rgb = ImageCms.profileToProfile(img.convert("RGB"), src, _srgb(), outputMode="RGB")
            if rgb is None:
                return img
            rgb.putalpha(img.getchannel("A"))
            return rgb
        out = ImageCms.profileToProfile(img, src, _srgb(), outputMode=out_mode)
        return out if out is not None else img
    except (ImageCms.PyCMSError, OSError, ValueError):
        return img  # an unusable profile is not a reason to reject a photo


def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
