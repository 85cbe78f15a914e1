"""The vision encoder: a CLIP model from transformers, behind one small interface.

The model comes from one of three places (see :class:`ModelSpec`): a Hugging Face hub id,
a local directory written by ``save_pretrained``, or ``random-init`` — the real
``transformers.CLIPModel`` built from a config with random weights. random-init is for
demos and tests on machines without weights; its vectors carry no meaning and its
fingerprint says ``UNTRAINED`` so nothing downstream can mistake it for a real model.

torch and transformers are imported inside functions: importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple
from urllib.parse import urlparse

import msgspec
import numpy as np

from tagtrail.errors import InvalidInput, ModelUnavailable

if TYPE_CHECKING:
    import torch
    from PIL import Image

__all__ = ["DEFAULT_MODEL", "ClipEncoder", "ImageSettings", "ModelSpec", "load_encoder"]

DEFAULT_MODEL = "openai/clip-vit-base-patch32"
RANDOM_ARCHS = ("vit-b-32", "tiny")
_DTYPES = ("float32", "float16", "bfloat16")
_SDPA = "sdpa"  # torch's fused attention kernel, whatever the checkpoint's config says
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
_RANDOM = re.compile(r"^random-init(?::(?P<arch>[\w.-]+))?(?:@(?P<seed>\d+))?$")
# OpenAI CLIP normalisation constants (identical to transformers' OPENAI_CLIP_MEAN/STD).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_HOW_TO_FIX = (
    "Point tagtrail at a local model with TAGTRAIL_MODEL=/path/to/clip-dir (a directory "
    "holding config.json and the weights written by CLIPModel.save_pretrained, plus the "
    "processor and tokenizer files), or set TAGTRAIL_MODEL=random-init for an untrained "
    "demo model."
)


class ModelSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Where the model comes from, parsed from a TAGTRAIL_MODEL-style string."""

    kind: Literal["hub", "local", "random"]
    ref: str  # hub id, directory path, or random-init architecture
    seed: int = 0  # random-init only
    raw: str = ""

    @classmethod
    def parse(cls, spec: str) -> ModelSpec:
        text = spec.strip()
        allowed = (
            "a Hugging Face id such as 'openai/clip-vit-base-patch32', a local directory "
            "path, or 'random-init[:ARCH][@SEED]' with ARCH in " + ", ".join(RANDOM_ARCHS)
        )
        if text.startswith("random-init"):
            m = _RANDOM.match(text)
            arch = (m.group("arch") or "vit-b-32") if m else ""
            if m is None or arch not in RANDOM_ARCHS:
                raise InvalidInput(
                    f"unknown model spec {spec!r}; expected {allowed}", field="model"
                )
            return cls(kind="random", ref=arch, seed=int(m.group("seed") or 0), raw=text)
        path = Path(text).expanduser()
        if text.startswith(("/", "./", "../", "~")) or (text and path.is_dir()):
            return cls(kind="local", ref=str(path), raw=text)
        if _HUB_ID.match(text):
            return cls(kind="hub", ref=text, raw=text)
        raise InvalidInput(f"unknown model spec {spec!r}; expected {allowed}", field="model")


class ImageSettings(NamedTuple):
    """CLIP preprocessing: shortest edge -> ``size``, centre crop ``crop``, mean/std."""

    size: int
    crop: int
    mean: tuple[float, ...] = CLIP_MEAN
    std: tuple[float, ...] = CLIP_STD


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
        import torch
        from PIL import Image

        crop = self.image.crop
        batch = np.empty((len(images), crop, crop, 3), dtype=np.uint8)
        for i, img in enumerate(images):
            rgb = img if img.mode == "RGB" else img.convert("RGB")
            w, h = rgb.size
            short = self.image.size
            # Same arithmetic as transformers' get_resize_output_image_size (truncation).
            size = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
            size = (max(size[0], crop), max(size[1], crop))
            if size != rgb.size:
                rgb = rgb.resize(size, Image.Resampling.BICUBIC)
            left, top = (size[0] - crop) // 2, (size[1] - crop) // 2
            batch[i] = np.asarray(rgb.crop((left, top, left + crop, top + crop)))
        pixels = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255.0)
        mean = torch.tensor(self.image.mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(self.image.std, dtype=torch.float32).view(1, 3, 1, 1)
        return pixels.sub_(mean).div_(std).contiguous()

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
                f"encoded ({self._tokenizer_error}). {_HOW_TO_FIX}"
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
    if dtype not in _DTYPES:
        raise InvalidInput(f"unknown dtype {dtype!r}; expected one of {_DTYPES}", field="dtype")
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
    torch_dtype = getattr(torch, dtype)

    if parsed.kind == "random":
        model, tokenizer = _build_random(parsed.ref, parsed.seed)
        fingerprint = f"random-init:{parsed.ref}@{parsed.seed}:UNTRAINED"
        side = int(model.config.vision_config.image_size)
        image, tok_error = ImageSettings(side, side), None
    else:
        model, tokenizer, tok_error, image = _load_pretrained(parsed)
        name = parsed.ref if parsed.kind == "hub" else Path(parsed.ref).name
        fingerprint = f"{name}@sha256:{_checkpoint_hash(model)[:16]}"
    model = model.to(device=torch_device, dtype=torch_dtype).eval()
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


# ---------------------------------------------------------------------------- random-init


def _build_random(arch: str, seed: int) -> tuple[Any, Any]:
    """The real CLIPModel from a config, weights drawn from a seeded generator."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    tokenizer, bos, eos = _offline_tokenizer()
    text: dict[str, Any] = {"bos_token_id": bos, "eos_token_id": eos, "pad_token_id": eos}
    vision: dict[str, Any] = {}
    if arch == "tiny":
        small = {"hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2}
        text |= small | {"num_attention_heads": 2, "vocab_size": len(tokenizer)}
        vision |= small | {"num_attention_heads": 2}
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=512)
    # fork_rng: seeding must not disturb the caller's global torch RNG state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIPModel(config)
    return model, tokenizer


def _offline_tokenizer() -> tuple[Any, int, int]:
    """An UNTRAINED stand-in tokenizer for random-init models, built without downloads.

    It is a genuine transformers CLIPTokenizer (same normalisation, byte-level
    pre-tokenisation, <|startoftext|>/<|endoftext|> framing, 77-token limit) but with no
    BPE merges: its vocabulary is the 256 byte symbols, each also in end-of-word form, so
    text is split into characters. Deterministic, offline, and only meaningful together
    with random weights.
    """
    from tokenizers import pre_tokenizers
    from transformers import CLIPTokenizer

    symbols = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {s: i for i, s in enumerate(symbols)}
    vocab |= {s + "</w>": len(symbols) + i for i, s in enumerate(symbols)}
    bos, eos = len(vocab), len(vocab) + 1
    vocab |= {"<|startoftext|>": bos, "<|endoftext|>": eos}
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    return tokenizer, bos, eos


# ------------------------------------------------------------------------ hub / local dir


def _offline_env() -> bool:
    return any(
        os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _hub_reachable(timeout: float = 3.0) -> bool:
    """One TCP connect to the hub, DNS included, within ``timeout``: huggingface_hub
    retries an unreachable host with backoff (~25 s), so probe first to fail fast."""
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme != "http" else 80)
    ok: list[bool] = []

    def probe() -> None:
        with contextlib.suppress(OSError):
            socket.create_connection((host, port), timeout=timeout).close()
            ok.append(True)

    worker = threading.Thread(target=probe, daemon=True)  # getaddrinfo has no timeout
    worker.start()
    worker.join(timeout)
    return bool(ok)


def _load_pretrained(
    spec: ModelSpec,
) -> tuple[Any, Any, str | None, ImageSettings]:
    from transformers import AutoTokenizer, CLIPModel

    if spec.kind == "local" and not Path(spec.ref).is_dir():
        raise ModelUnavailable(f"model directory {spec.ref!r} does not exist. {_HOW_TO_FIX}")
    local_only = True
    try:
        model = CLIPModel.from_pretrained(
            spec.ref, local_files_only=True, attn_implementation=_SDPA
        )
    except Exception as first:  # any failure to load is "unavailable" at this boundary
        if spec.kind == "local" or _offline_env():
            why = "offline and no local copy" if spec.kind == "hub" else "cannot be loaded"
            raise ModelUnavailable(
                f"vision model {spec.raw!r}: {why} ({_short(first)}). {_HOW_TO_FIX}"
            ) from None
        if not _hub_reachable():
            raise ModelUnavailable(
                f"vision model {spec.raw!r} is not in the local cache and the Hugging Face "
                f"hub cannot be reached. {_HOW_TO_FIX}"
            ) from None
        local_only = False
        try:
            model = CLIPModel.from_pretrained(spec.ref, attn_implementation=_SDPA)
        except Exception as exc:
            raise ModelUnavailable(
                f"vision model {spec.raw!r} could not be downloaded ({_short(exc)}). {_HOW_TO_FIX}"
            ) from None

    tokenizer, tok_error = None, None
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.ref, local_files_only=local_only)
    except Exception as exc:  # images still work; encode_text reports this
        tok_error = _short(exc)
    return model, tokenizer, tok_error, _image_settings(spec, model, local_only)


def _image_settings(spec: ModelSpec, model: Any, local_only: bool) -> ImageSettings:
    """Resize/crop/mean/std from the checkpoint's preprocessor config, else CLIP defaults."""
    default = int(model.config.vision_config.image_size)
    import transformers

    # 5.x: the PIL backend (the default one needs torchvision); 4.x: the only one there is.
    processor: Any = getattr(transformers, "CLIPImageProcessorPil", None)
    if processor is None:
        processor = transformers.CLIPImageProcessor
    try:
        proc = processor.from_pretrained(spec.ref, local_files_only=local_only)
    except Exception:
        return ImageSettings(default, default)
    size, crop = dict(proc.size or {}), dict(proc.crop_size or {})
    short = int(size.get("shortest_edge") or size.get("height") or default)
    return ImageSettings(
        short,
        int(crop.get("height") or short) if proc.do_center_crop else short,
        tuple(float(v) for v in proc.image_mean or CLIP_MEAN),
        tuple(float(v) for v in proc.image_std or CLIP_STD),
    )


def _checkpoint_hash(model: Any) -> str:
    """sha256 of config.json + the weight files the model was loaded from (safetensors
    preferred), so it names the checkpoint whatever dtype it runs in. Falls back to the
    loaded tensors when the files cannot be located."""
    import torch

    digest = hashlib.sha256()
    try:
        root = Path(str(model.config._name_or_path))
        if not root.is_dir():
            from transformers.utils.hub import cached_file

            found = cached_file(str(root), "config.json", local_files_only=True)
            root = Path(str(found)).parent
        weights = sorted(root.glob("*.safetensors")) or sorted(root.glob("*.bin"))
        if not weights:
            raise FileNotFoundError(f"no weight files in {root}")
        for path in [root / "config.json", *weights]:
            digest.update(path.name.encode())
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    except (OSError, ValueError):
        digest = hashlib.sha256(model.config.to_json_string(use_diff=True).encode())
        for key, tensor in sorted(model.state_dict().items()):
            digest.update(key.encode())
            raw = tensor.detach().cpu().contiguous().view(-1).view(torch.uint8)
            digest.update(raw.numpy().tobytes())
    return digest.hexdigest()


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"
