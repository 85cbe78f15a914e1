"""The vision encoder: a CLIP model from transformers, behind one small interface.

The model comes from one of three places (see :class:`ModelSpec`): a Hugging Face hub id,
a local directory written by ``save_pretrained``, or ``random-init`` — the real
``transformers.CLIPModel`` built from a config with random weights. random-init is for
demos and tests on machines without weights; its vectors carry no meaning and its
fingerprint says ``UNTRAINED`` so nothing downstream can mistake it for a real model.

torch and transformers are imported inside functions: importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tagtrail.errors import InvalidInput, ModelUnavailable
from tagtrail.vision.clip_loading import (
    DEFAULT_MODEL,
    DTYPES,
    HOW_TO_FIX,
    ImageSettings,
    ModelSpec,
    build_random,
    checkpoint_hash,
    load_pretrained,
)

if TYPE_CHECKING:
    import torch
    from PIL import Image

__all__ = [
    "DEFAULT_MODEL",
    "ClipEncoder",
    "ImageSettings",
    "ModelSpec",
    "crop_images",
    "load_encoder",
    "normalise_crops",
    "set_cpu_threads",
]


@dataclass(frozen=True, eq=False)
class ClipEncoder:
    """Images and texts to L2-normalised float32 vectors in CLIP's joint space.

    Built by :func:`load_encoder`; the public fields are read-only.
    """

    spec: ModelSpec
    fingerprint: str  # names the weights; random-init ones end in ":UNTRAINED"
    device: str
    batch_size: int
    image: ImageSettings
    _model: Any = field(repr=False)
    _tokenizer: Any = field(repr=False)  # None when the checkpoint ships none
    _dtype: Any = field(repr=False)
    _tokenizer_error: str | None = field(default=None, repr=False)

    @property
    def dim(self) -> int:
        return int(self._model.config.projection_dim)

    @property
    def untrained(self) -> bool:
        return self.spec.kind == "random"

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """CLIP preprocessing on the CPU: shortest edge resize (bicubic), centre crop,
        scale to [0, 1], normalise with the model's mean/std. Returns (n, 3, crop, crop).

        Same arithmetic as transformers' CLIP image processor (tests check equality) and
        about as fast, but independent of its torchvision/PIL backend split across versions.
        """
        return normalise_crops(crop_images(images, self.image), self.image)

    def forward_pixels(self, pixel_values: torch.Tensor) -> np.ndarray:
        """Run the vision tower + projection in batches; returns (n, dim) unit vectors."""
        import torch

        n = int(pixel_values.shape[0])
        out = np.empty((n, self.dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, n, self.batch_size):
                chunk = pixel_values[start : start + self.batch_size]
                x = chunk.to(self.device, dtype=self._dtype, non_blocking=True).contiguous()
                feats = _pooled(self._model.get_image_features(pixel_values=x))
                feats = torch.nn.functional.normalize(feats.float(), dim=-1)
                out[start : start + len(chunk)] = feats.cpu().numpy()
        return out

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Preprocess + forward, batch by batch (bounded memory for long lists)."""
        parts = [
            self.forward_pixels(self.preprocess(images[i : i + self.batch_size]))
            for i in range(0, len(images), self.batch_size)
        ]
        return np.concatenate(parts) if parts else np.empty((0, self.dim), np.float32)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Tokenise (max 77 tokens) and embed texts; returns (n, dim) unit vectors."""
        import torch

        if self._tokenizer is None:
            raise ModelUnavailable(
                f"model {self.spec.raw!r} has no usable tokenizer, so text cannot be "
                f"encoded ({self._tokenizer_error}). {HOW_TO_FIX}"
            )
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        step = max(self.batch_size, 64)  # text is cheap: larger batches
        with torch.inference_mode():
            for start in range(0, len(texts), step):
                chunk = list(texts[start : start + step])
                tok = self._tokenizer(
                    chunk, padding=True, truncation=True, max_length=77, return_tensors="pt"
                )
                feats = _pooled(
                    self._model.get_text_features(
                        input_ids=tok["input_ids"].to(self.device),
                        attention_mask=tok["attention_mask"].to(self.device),
                    )
                )
                feats = torch.nn.functional.normalize(feats.float(), dim=-1)
                out[start : start + len(chunk)] = feats.cpu().numpy()
        return out


def load_encoder(
    spec: str, *, device: str | None = None, dtype: str = "float32", batch_size: int = 32
) -> ClipEncoder:
    """Load the encoder named by ``spec``; raises InvalidInput or ModelUnavailable."""
    import torch

    parsed = ModelSpec.parse(spec)
    if dtype not in DTYPES:
        raise InvalidInput(f"unknown dtype {dtype!r}; expected one of {DTYPES}", field="dtype")
    if batch_size < 1:
        raise InvalidInput("batch_size must be at least 1", field="batch_size")
    auto = "cuda" if torch.cuda.is_available() else "cpu"
    dev = auto if device in (None, "", "auto") else str(device)
    try:
        torch_device = torch.device(dev)
    except RuntimeError as exc:
        raise InvalidInput(f"unknown device {dev!r}: {exc}", field="device") from None
    if torch_device.type == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailable(f"device {dev!r} requested but CUDA is not available")
    if dtype == "int8" and torch_device.type != "cpu":
        raise InvalidInput("dtype int8 (dynamic quantisation) runs on the CPU only", field="dtype")
    torch_dtype = torch.float32 if dtype == "int8" else getattr(torch, dtype)

    if parsed.kind == "random":
        model, tokenizer = build_random(parsed.ref, parsed.seed)
        fingerprint = f"random-init:{parsed.ref}@{parsed.seed}:UNTRAINED"
        side = int(model.config.vision_config.image_size)
        image, tok_error = ImageSettings(side, side), None
    else:
        model, tokenizer, tok_error, image = load_pretrained(parsed)
        name = parsed.ref if parsed.kind == "hub" else Path(parsed.ref).name
        fingerprint = f"{name}@sha256:{checkpoint_hash(model)[:16]}"
    model = model.to(device=torch_device, dtype=torch_dtype).eval()
    if dtype == "int8":
        model = quantize_int8(model)
        # Vectors differ slightly from float32 ones (cosine ~0.9995): heads and re-tagging
        # must know which they were made by, so the fingerprint says so.
        fingerprint += "+int8"
    return ClipEncoder(
        spec=parsed,
        fingerprint=fingerprint,
        device=str(torch_device),
        batch_size=batch_size,
        image=image,
        _model=model,
        _tokenizer=tokenizer,
        _dtype=torch_dtype,
        _tokenizer_error=tok_error,
    )


def quantize_int8(model: Any) -> Any:
    """Dynamic int8 quantisation of every Linear layer (weights int8, activations quantised
    per batch): on a 2-core AVX2 CPU it halves a single image's forward pass."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notice; the API still works
        quantize: Any = torch.ao.quantization.quantize_dynamic
        return quantize(model, {torch.nn.Linear}, dtype=torch.qint8)


def _pooled(output: Any) -> torch.Tensor:
    """get_*_features returns a tensor in transformers 4.x and a BaseModelOutputWithPooling
    (projected embeddings in ``pooler_output``) in 5.x; accept both."""
    import torch

    if isinstance(output, torch.Tensor):
        return output
    pooled = getattr(output, "pooler_output", None)
    if isinstance(pooled, torch.Tensor):
        return pooled
    raise ModelUnavailable(f"unexpected feature output type {type(output).__name__}")


# -------------------------------------------------------------- pixels without a model


def set_cpu_threads(threads: int) -> None:
    """Threads for torch's CPU kernels in this process (Ray starts workers with one)."""
    import torch

    torch.set_num_threads(max(1, threads))


def crop_images(images: Sequence[Image.Image], settings: ImageSettings) -> np.ndarray:
    """The resize + centre crop half of :meth:`ClipEncoder.preprocess`: (n, crop, crop, 3)
    uint8. Needs no model, so distributed ingest runs it in CPU tasks and ships a quarter of
    the bytes that normalised float pixels would take."""
    from PIL import Image

    crop = settings.crop
    batch = np.empty((len(images), crop, crop, 3), dtype=np.uint8)
    for i, img in enumerate(images):
        rgb = img if img.mode == "RGB" else img.convert("RGB")
        w, h = rgb.size
        short = settings.size
        # Same arithmetic as transformers' get_resize_output_image_size (truncation).
        size = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
        size = (max(size[0], crop), max(size[1], crop))
        if size != rgb.size:
            rgb = rgb.resize(size, Image.Resampling.BICUBIC)
        left, top = (size[0] - crop) // 2, (size[1] - crop) // 2
        batch[i] = np.asarray(rgb.crop((left, top, left + crop, top + crop)))
    return batch


def normalise_crops(crops: np.ndarray, settings: ImageSettings) -> torch.Tensor:
    """(n, crop, crop, 3) uint8 → (n, 3, crop, crop) float32 normalised pixel values."""
    import torch

    # (level / 255 - mean) / std per channel as a 256-entry table: one gather per channel
    # instead of four passes of float arithmetic over the batch (identical values).
    levels = np.arange(256, dtype=np.float32)[:, None] / np.float32(255.0)
    mean = np.asarray(settings.mean, dtype=np.float32)
    std = np.asarray(settings.std, dtype=np.float32)
    table = (levels - mean) / std
    n, crop = crops.shape[0], crops.shape[1]
    out = np.empty((n, 3, crop, crop), dtype=np.float32)
    for c in range(3):
        np.take(table[:, c], crops[..., c], out=out[:, c])
    return torch.from_numpy(out)
