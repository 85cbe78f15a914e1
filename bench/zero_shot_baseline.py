"""Zero-shot tagging: the obvious transformers pipeline loop vs tagtrail's batched way.

    python bench/zero_shot_baseline.py [--images 32] [--arch vit-b-32] [--smoke] [--figures F]

Baseline (what a user would write first): a transformers "zero-shot-image-classification"
pipeline, called once per image and per attribute. Every call re-preprocesses the image,
re-runs the vision tower and re-encodes that attribute's prompts.

tagtrail's way: encode every image once, in batches (ClipEncoder), encode every prompt of
every attribute once, then one matrix product + a softmax per attribute.

Both use the same random-init CLIP (the real transformers CLIPModel with random weights,
UNTRAINED: the labels it picks mean nothing, but speed does not depend on the weights)
and the same preprocessing and tokenizer, so their top labels must agree; that is
checked. Target: >= 5x images/s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np
import torch
from figures import Figures, add_common_arguments
from PIL import Image

from tagtrail.vision.encode import load_encoder

TARGET = 5.0
TEMPLATE = "a photo of a {}"
ATTRIBUTES: dict[str, list[str]] = {
    "garment": ["dress", "shirt", "coat", "cardigan", "jeans", "skirt", "jacket", "sweater"],
    "neckline": [
        "v-neck",
        "crew neck",
        "turtleneck",
        "scoop neck",
        "collar",
        "boat neck",
        "halter",
        "off-shoulder",
    ],
    "sleeve": [
        "sleeveless",
        "short sleeve",
        "long sleeve",
        "three-quarter sleeve",
        "cap sleeve",
        "puff sleeve",
        "raglan sleeve",
        "bell sleeve",
    ],
    "colour": ["black", "white", "navy", "red", "green", "beige", "grey", "pink"],
    "material": ["wool", "cotton", "silk", "denim", "leather", "linen", "polyester", "cashmere"],
    "pattern": [
        "solid",
        "striped",
        "checked",
        "floral",
        "polka dot",
        "animal print",
        "paisley",
        "camouflage",
    ],
    "season": [
        "spring",
        "summer",
        "autumn",
        "winter",
        "resort",
        "pre-fall",
        "holiday",
        "all season",
    ],
    "shot": [
        "flat-lay",
        "on-model",
        "ghost mannequin",
        "detail",
        "back view",
        "side view",
        "lifestyle",
        "packshot",
    ],
}


def synthetic_images(n: int) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 255, (480, 360, 3), dtype=np.uint8)) for _ in range(n)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--arch", default="vit-b-32", choices=["vit-b-32", "tiny"])
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.smoke:
        args.images, args.arch = 2, "tiny"

    import transformers
    from transformers import pipeline

    encoder = load_encoder(f"random-init:{args.arch}", device="cpu", batch_size=32)
    model = encoder._model
    proc_cls = (
        getattr(transformers, "CLIPImageProcessorPil", None) or transformers.CLIPImageProcessor
    )
    classify = pipeline(
        task="zero-shot-image-classification",
        model=model,
        tokenizer=encoder._tokenizer,
        image_processor=proc_cls(),
        device="cpu",
    )
    images = synthetic_images(args.images)
    n_labels = sum(len(v) for v in ATTRIBUTES.values())
    print(
        f"{encoder.fingerprint}: {len(images)} images x {len(ATTRIBUTES)} attributes "
        f"({n_labels} labels)"
    )

    # Warm both paths once so neither pays first-call costs in the timing.
    classify(images[0], candidate_labels=ATTRIBUTES["colour"], hypothesis_template=TEMPLATE)
    encoder.encode_images(images[:2])

    start = time.perf_counter()
    baseline: list[dict[str, str]] = []
    for img in images:
        top = {}
        for attr, labels in ATTRIBUTES.items():
            result = classify(img, candidate_labels=labels, hypothesis_template=TEMPLATE)
            top[attr] = result[0]["label"]
        baseline.append(top)
    base_s = time.perf_counter() - start

    start = time.perf_counter()
    image_vecs = encoder.encode_images(images)
    names = list(ATTRIBUTES)
    prompts = [TEMPLATE.format(label) for attr in names for label in ATTRIBUTES[attr]]
    text_vecs = encoder.encode_text(prompts)
    scale = float(model.logit_scale.detach().exp())
    logits = scale * image_vecs @ text_vecs.T  # (images, all labels): one product
    ours: list[dict[str, str]] = [{} for _ in images]
    offset = 0
    for attr in names:
        labels = ATTRIBUTES[attr]
        block = torch.from_numpy(logits[:, offset : offset + len(labels)]).softmax(dim=-1)
        for i, j in enumerate(block.argmax(dim=-1).tolist()):
            ours[i][attr] = labels[j]
        offset += len(labels)
    ours_s = time.perf_counter() - start

    agree = sum(b[a] == o[a] for b, o in zip(baseline, ours, strict=True) for a in names)
    total = len(images) * len(names)
    base_ips, ours_ips = len(images) / base_s, len(images) / ours_s
    speedup = ours_ips / base_ips
    print(f"pipeline per image x attribute: {base_ips:8.2f} images/s ({base_s:.1f} s)")
    print(f"tagtrail batched:               {ours_ips:8.2f} images/s ({ours_s:.1f} s)")
    print(f"top-label agreement: {agree}/{total}")
    verdict = "PASS" if speedup >= TARGET and agree >= 0.95 * total else "FAIL"
    print(f"speed-up {speedup:.1f}x (target >= {TARGET:.0f}x) {verdict}")
    figures = Figures("zero_shot_baseline")
    figures.add("pipeline per image × attribute", base_ips, "images/s", better="higher")
    figures.add("tagtrail batched", ours_ips, "images/s", better="higher")
    figures.add("batched/pipeline", speedup, "×", better="higher", ratio=True, target=TARGET)
    figures.add("top-label agreement", agree / total, "", better="higher", ratio=True, target=0.95)
    figures.write(args.figures)
    return 0 if verdict == "PASS" or args.smoke else 1


if __name__ == "__main__":
    raise SystemExit(main())
