"""Cross-attribute rules go through governance: they use only applied or human-decided values
(colour from the analyser included) and the decision records what it used, and from whom."""

from __future__ import annotations

import shutil
from typing import Any

import numpy as np
import pytest
import yaml

from tagtrail.domain.metadata import AssetMetadata
from tagtrail.domain.records import LabelScore, ModelDecision
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.domain.taxonomy.dependencies import EVIDENCE_KEY, Known, dependents
from tagtrail.tagging.heads import HeadPrediction
from tagtrail.tagging.pipeline import Tagger
from tagtrail.tagging.taxonomy_files import load_taxonomy
from tagtrail.vision.colour import ColourAnalyser, ColourAnalysis, ColourFinding
from tests.domain.test_mapping import DEFAULT_ROOT

HEAD = "fixed/1"


class Encoder:
    """What the decisions need of the encoder: its fingerprint (vectors are given)."""

    fingerprint = "enc@test"


class FixedHead:
    """A head that predicts one label at one probability for every row."""

    def __init__(self, attribute: str, label: str, probability: float) -> None:
        self.attribute, self.label, self.probability = attribute, label, probability
        self.version = HEAD
        self.labels = (label,)

    def predict(self, vectors: np.ndarray) -> list[HeadPrediction]:
        top = (LabelScore(label=self.label, score=self.probability),)
        return [
            HeadPrediction(
                attribute=self.attribute,
                label=self.label,
                probability=self.probability,
                top_k=top,
                head_version=HEAD,
            )
            for _ in range(len(vectors))
        ]


@pytest.fixture(scope="module")
def taxonomy(tmp_path_factory: pytest.TempPathFactory) -> Taxonomy:
    """The default taxonomy plus a rule on colour: a black longline cardigan is outerwear."""
    root = tmp_path_factory.mktemp("tx") / "t"
    shutil.copytree(DEFAULT_ROOT, root)
    path = root / "taxonomy.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["attributes"]["category"]["rules"][:0] = [
        {
            "id": "black_longline",
            "when_label": "longline cardigan",
            "when": {"colour": "black"},
            "then": "coatigan",
        }
    ]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_taxonomy(root)


def tag(
    taxonomy: Taxonomy,
    heads: dict[str, tuple[str, float]],
    *,
    colour: float | None = None,
    known: dict[str, Known] | None = None,
) -> dict[str, ModelDecision]:
    head_set: dict[str, Any] = {a: FixedHead(a, lb, p) for a, (lb, p) in heads.items()}
    tagger = Tagger(taxonomy, Encoder(), {None: head_set}, ColourAnalyser(taxonomy.palette))  # type: ignore[arg-type]
    analysis = None
    if colour is not None:
        finding = ColourFinding(
            name="black",
            label="Black",
            family="black",
            hex="#111111",
            measured_hex="#121212",
            lab=(5.0, 0.0, 0.0),
            coverage=0.8,
            delta_e=0.5,
            alternatives=(),
            confidence=colour,
        )
        analysis = ColourAnalysis(
            analyser="colour/test",
            findings=(finding,),
            foreground_share=0.5,
            background_hex="#ffffff",
        )
    (result,) = tagger.tag_vectors(
        np.ones((1, 4), dtype=np.float32),
        [AssetMetadata(brand="Northwind")],
        [analysis],
        [known] if known is not None else None,
    )
    return {d.attribute: d for d in result.decisions}


def used(decision: ModelDecision) -> dict[str, Any]:
    assert decision.evidence is not None
    out: dict[str, Any] = decision.evidence[EVIDENCE_KEY]
    return out


def test_a_suggested_season_window_cannot_make_outerwear(taxonomy: Taxonomy) -> None:
    out = tag(
        taxonomy,
        {"category": ("longline cardigan", 0.97), "season_window": ("summer clothing", 0.3)},
    )
    assert out["season_window"].tier == "suggested"
    category = out["category"]
    assert (category.value, category.rule_id) == ("cardigan", "longline_cardigan_default")
    assert category.tier == "auto_applied"
    record = used(category)
    assert record["depends_on"] == []
    (skipped,) = record["not_used"]
    assert skipped["attribute"] == "season_window"
    assert skipped["value"] == "spring_summer"
    assert skipped["state"] == "suggested"
    assert "only a suggestion (p 0.3)" in skipped["why"]


def test_an_applied_season_window_is_used_and_recorded(taxonomy: Taxonomy) -> None:
    out = tag(
        taxonomy,
        {"category": ("longline cardigan", 0.97), "season_window": ("summer clothing", 0.8)},
    )
    category = out["category"]
    assert (category.value, category.rule_id) == ("coatigan", "longline_cardigan_ss_window")
    assert used(category) == {
        "rule_id": "longline_cardigan_ss_window",
        "depends_on": [
            {
                "attribute": "season_window",
                "value": "spring_summer",
                "source": "model",
                "state": "flagged",
                "probability": 0.8,
            }
        ],
        "not_used": [],
    }


def test_a_human_value_wins_over_the_models(taxonomy: Taxonomy) -> None:
    human = Known(
        attribute="season_window",
        value="spring_summer",
        source="human",
        state="corrected",
        event_id="a:000002:00",
        locked=True,
    )
    heads = {"category": ("longline cardigan", 0.97), "season_window": ("winter clothing", 0.99)}
    category = tag(taxonomy, heads, known={"season_window": human})["category"]
    assert category.value == "coatigan"
    (dependency,) = used(category)["depends_on"]
    assert (dependency["source"], dependency["state"]) == ("human", "corrected")
    assert dependency["event_id"] == "a:000002:00"
    # A rejected value is no dependency at all, even when the model is sure of it.
    rejected = Known(
        attribute="season_window",
        value="spring_summer",
        source="human",
        state="rejected",
        locked=True,
    )
    heads["season_window"] = ("summer clothing", 0.99)
    category = tag(taxonomy, heads, known={"season_window": rejected})["category"]
    assert category.value == "cardigan"
    assert used(category)["not_used"][0]["why"] == "a human rejected it"


def test_rules_on_colour_fire_on_the_analysers_applied_colour(taxonomy: Taxonomy) -> None:
    assert dependents(taxonomy, "colour", None) == ("category",)
    applied = tag(taxonomy, {"category": ("longline cardigan", 0.97)}, colour=0.85)
    assert applied["colour"].tier == "flagged"
    category = applied["category"]
    assert (category.value, category.rule_id) == ("coatigan", "black_longline")
    (dependency,) = used(category)["depends_on"]
    assert (dependency["attribute"], dependency["value"]) == ("colour", "black")
    assert (dependency["source"], dependency["state"]) == ("analyser", "flagged")
    unsure = tag(taxonomy, {"category": ("longline cardigan", 0.97)}, colour=0.3)
    assert unsure["colour"].tier == "suggested"
    assert unsure["category"].value == "cardigan"
    # Re-tagging has no pixels: the stored, applied colour stands in for the analyser.
    stored = Known(attribute="colour", value="black", source="analyser", state="auto_applied")
    retag = tag(taxonomy, {"category": ("longline cardigan", 0.97)}, known={"colour": stored})
    assert retag["category"].rule_id == "black_longline"
