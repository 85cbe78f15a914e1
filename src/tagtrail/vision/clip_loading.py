"""Finding and building a CLIP checkpoint: model specs, offline loading, fingerprints.

torch and transformers are imported inside functions: importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import threading
from pathlib import Path
from typing import Any, Literal, NamedTuple
from urllib.parse import urlparse

import msgspec

from tagtrail.errors import InvalidInput, ModelUnavailable

DEFAULT_MODEL = "openai/clip-vit-base-patch32"
RANDOM_ARCHS = ("vit-b-32", "tiny")
DTYPES = ("float32", "float16", "bfloat16", "int8")
SDPA = "sdpa"  # torch's fused attention kernel, whatever the checkpoint's config says
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
RANDOM_SPEC = re.compile(r"^random-init(?::(?P<arch>[\w.-]+))?(?:@(?P<seed>\d+))?$")
# OpenAI CLIP normalisation constants (identical to transformers' OPENAI_CLIP_MEAN/STD).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
HOW_TO_FIX = (
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
            m = RANDOM_SPEC.match(text)
            arch = (m.group("arch") or "vit-b-32") if m else ""
            if m is None or arch not in RANDOM_ARCHS:
                raise InvalidInput(
                    f"unknown model spec {spec!r}; expected {allowed}", field="model"
                )
            return cls(kind="random", ref=arch, seed=int(m.group("seed") or 0), raw=text)
        path = Path(text).expanduser()
        if text.startswith(("/", "./", "../", "~")) or (text and path.is_dir()):
            return cls(kind="local", ref=str(path), raw=text)
        if HUB_ID.match(text):
            return cls(kind="hub", ref=text, raw=text)
        raise InvalidInput(f"unknown model spec {spec!r}; expected {allowed}", field="model")


class ImageSettings(NamedTuple):
    """CLIP preprocessing: shortest edge -> ``size``, centre crop ``crop``, mean/std."""

    size: int
    crop: int
    mean: tuple[float, ...] = CLIP_MEAN
    std: tuple[float, ...] = CLIP_STD


def build_random(arch: str, seed: int) -> tuple[Any, Any]:
    """The real CLIPModel from a config, weights drawn from a seeded generator."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    tokenizer, bos, eos = offline_tokenizer()
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


def offline_tokenizer() -> tuple[Any, int, int]:
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


def offline_env() -> bool:
    return any(
        os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_reachable(timeout: float = 3.0) -> bool:
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


def load_pretrained(
    spec: ModelSpec,
) -> tuple[Any, Any, str | None, ImageSettings]:
    from transformers import AutoTokenizer, CLIPModel

    if spec.kind == "local" and not Path(spec.ref).is_dir():
        raise ModelUnavailable(f"model directory {spec.ref!r} does not exist. {HOW_TO_FIX}")
    local_only = True
    try:
        model = CLIPModel.from_pretrained(spec.ref, local_files_only=True, attn_implementation=SDPA)
    except Exception as first:  # any failure to load is "unavailable" at this boundary
        if spec.kind == "local" or offline_env():
            why = "offline and no local copy" if spec.kind == "hub" else "cannot be loaded"
            raise ModelUnavailable(
                f"vision model {spec.raw!r}: {why} ({short_error(first)}). {HOW_TO_FIX}"
            ) from None
        if not hub_reachable():
            raise ModelUnavailable(
                f"vision model {spec.raw!r} is not in the local cache and the Hugging Face "
                f"hub cannot be reached. {HOW_TO_FIX}"
            ) from None
        local_only = False
        try:
            model = CLIPModel.from_pretrained(spec.ref, attn_implementation=SDPA)
        except Exception as exc:
            raise ModelUnavailable(
                f"vision model {spec.raw!r} could not be downloaded ({short_error(exc)}). "
                f"{HOW_TO_FIX}"
            ) from None

    tokenizer, tok_error = None, None
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.ref, local_files_only=local_only)
    except Exception as exc:  # images still work; encode_text reports this
        tok_error = short_error(exc)
    return model, tokenizer, tok_error, image_settings(spec, model, local_only)


def image_settings(spec: ModelSpec, model: Any, local_only: bool) -> ImageSettings:
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


def image_settings_without_weights(spec: ModelSpec) -> ImageSettings | None:
    """The preprocessing settings from configs alone (no weights loaded), or None when the
    local files cannot say: distributed ingest's driver needs only these."""
    from types import SimpleNamespace

    from transformers import CLIPConfig, CLIPVisionConfig

    if spec.kind == "random":
        side: Any = CLIPVisionConfig().image_size  # both random-init sizes keep the default
        return ImageSettings(int(side), int(side))
    try:
        config = CLIPConfig.from_pretrained(spec.ref, local_files_only=True)
    except Exception:  # not local: loading the encoder says what is wrong
        return None
    return image_settings(spec, SimpleNamespace(config=config), local_only=True)


def checkpoint_hash(model: Any) -> str:
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


def short_error(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"
