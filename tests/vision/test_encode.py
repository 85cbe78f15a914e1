"""Tests for tagtrail.vision.encode.

They use "random-init:tiny": a small, randomly initialised CLIP (the real
transformers.CLIPModel, built from a config with 2-layer, 64-wide vision and text towers
and the standard 512-d projection). Its vectors mean nothing; the tests check shapes,
normalisation, determinism, batching and the loading/error paths, not semantics.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tagtrail.errors import InvalidInput, ModelUnavailable
from tagtrail.vision.encode import ClipEncoder, ModelSpec, load_encoder


@pytest.fixture(scope="module")
def tiny() -> ClipEncoder:
    return load_encoder("random-init:tiny@3", device="cpu", batch_size=4)


def _images(n: int) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    sizes = [(320, 240), (200, 400), (224, 224), (64, 48), (500, 300)]
    return [
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
        for w, h in (sizes[i % len(sizes)] for i in range(n))
    ]


def test_image_vectors_shape_and_unit_norm(tiny: ClipEncoder) -> None:
    vecs = tiny.encode_images(_images(7))
    assert vecs.shape == (7, 512)
    assert vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert tiny.dim == 512
    assert tiny.device == "cpu"


def test_batched_equals_single(tiny: ClipEncoder) -> None:
    images = _images(6)
    batched = tiny.encode_images(images)  # batch_size 4: one full and one partial batch
    single = np.concatenate([tiny.encode_images([img]) for img in images])
    assert np.allclose(batched, single, atol=1e-5)


def test_preprocess_then_forward_equals_encode(tiny: ClipEncoder) -> None:
    images = _images(3)
    pixels = tiny.preprocess(images)
    assert tuple(pixels.shape) == (3, 3, 224, 224)
    assert np.allclose(tiny.forward_pixels(pixels), tiny.encode_images(images), atol=1e-6)


def test_preprocess_matches_transformers_processor(tiny: ClipEncoder) -> None:
    transformers = pytest.importorskip("transformers")
    proc_cls = (
        getattr(transformers, "CLIPImageProcessorPil", None) or transformers.CLIPImageProcessor
    )
    images = _images(5)
    ref = proc_cls()(images=images, return_tensors="pt")["pixel_values"]
    assert np.allclose(tiny.preprocess(images).numpy(), ref.numpy(), atol=1e-4)


def test_empty_input(tiny: ClipEncoder) -> None:
    assert tiny.encode_images([]).shape == (0, 512)
    assert tiny.encode_text([]).shape == (0, 512)


def test_deterministic_for_same_seed(tiny: ClipEncoder) -> None:
    images = _images(2)
    again = load_encoder("random-init:tiny@3", device="cpu")
    other = load_encoder("random-init:tiny@4", device="cpu")
    assert np.array_equal(again.encode_images(images), tiny.encode_images(images))
    assert not np.allclose(other.encode_images(images), tiny.encode_images(images))
    assert again.fingerprint == tiny.fingerprint


def test_fingerprint_says_untrained(tiny: ClipEncoder) -> None:
    assert tiny.fingerprint == "random-init:tiny@3:UNTRAINED"
    assert tiny.untrained
    assert tiny.spec == ModelSpec(kind="random", ref="tiny", seed=3, raw="random-init:tiny@3")


def test_encode_text(tiny: ClipEncoder) -> None:
    texts = ["a photo of a navy cardigan", "a photo of a red dress", "x" * 500, ""]
    vecs = tiny.encode_text(texts)
    assert vecs.shape == (4, 512)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vecs[0], vecs[1])
    assert np.allclose(tiny.encode_text(texts[:1])[0], vecs[0], atol=1e-5)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("random-init", ModelSpec(kind="random", ref="vit-b-32", raw="random-init")),
        ("random-init@7", ModelSpec(kind="random", ref="vit-b-32", seed=7, raw="random-init@7")),
        ("random-init:tiny", ModelSpec(kind="random", ref="tiny", raw="random-init:tiny")),
        (
            "openai/clip-vit-base-patch32",
            ModelSpec(
                kind="hub", ref="openai/clip-vit-base-patch32", raw="openai/clip-vit-base-patch32"
            ),
        ),
        (
            "/opt/models/clip",
            ModelSpec(kind="local", ref="/opt/models/clip", raw="/opt/models/clip"),
        ),
    ],
)
def test_spec_parsing(spec: str, expected: ModelSpec) -> None:
    assert ModelSpec.parse(spec) == expected


@pytest.mark.parametrize("spec", ["random-init:vit-huge", "random-init@x", "", "not a model!"])
def test_invalid_spec(spec: str) -> None:
    with pytest.raises(InvalidInput, match="random-init") as info:
        load_encoder(spec)
    assert repr(spec) in info.value.message


def test_invalid_dtype_and_batch() -> None:
    with pytest.raises(InvalidInput, match="dtype"):
        load_encoder("random-init:tiny", dtype="int4")
    with pytest.raises(InvalidInput, match="batch_size"):
        load_encoder("random-init:tiny", batch_size=0)


def test_offline_hub_id_without_weights_fails_fast(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    start = time.monotonic()
    with pytest.raises(ModelUnavailable) as info:
        load_encoder("tagtrail-tests/no-such-clip-model")
    assert time.monotonic() - start < 10
    message = info.value.message
    assert "tagtrail-tests/no-such-clip-model" in message
    assert "TAGTRAIL_MODEL=/path/to/clip-dir" in message
    assert "random-init" in message


def test_missing_local_dir(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="does not exist"):
        load_encoder(str(tmp_path / "nope"))


def test_local_directory_roundtrip(tiny: ClipEncoder, tmp_path: Path) -> None:
    """A directory written by save_pretrained loads, with a content-hash fingerprint."""
    transformers = pytest.importorskip("transformers")
    proc_cls = (
        getattr(transformers, "CLIPImageProcessorPil", None) or transformers.CLIPImageProcessor
    )
    target = tmp_path / "my-clip"
    tiny._model.save_pretrained(target)
    tiny._tokenizer.save_pretrained(target)
    proc_cls().save_pretrained(target)
    local = load_encoder(str(target), device="cpu")
    assert local.fingerprint.startswith("my-clip@sha256:")
    assert len(local.fingerprint.split(":")[-1]) == 16
    assert not local.untrained
    images = _images(2)
    assert np.allclose(local.encode_images(images), tiny.encode_images(images), atol=1e-5)
    assert np.allclose(local.encode_text(["red"]), tiny.encode_text(["red"]), atol=1e-5)


def test_int8_is_a_cpu_option_with_its_own_fingerprint() -> None:
    from PIL import Image

    exact = load_encoder("random-init:tiny@3", device="cpu")
    quick = load_encoder("random-init:tiny@3", device="cpu", dtype="int8")
    assert quick.fingerprint == exact.fingerprint + "+int8"
    images = [Image.new("RGB", (64, 64), (200, 30, 40)), Image.new("RGB", (64, 64), (20, 30, 200))]
    a = exact.forward_pixels(exact.preprocess(images))
    b = quick.forward_pixels(quick.preprocess(images))
    assert b.shape == a.shape
    cosine = (a * b).sum(axis=1)
    assert cosine.min() > 0.98  # the same embedding, within quantisation error
