"""The per-deployment collectors: bounded labels, outcomes, timing on the calling thread."""

from __future__ import annotations

from prometheus_client import generate_latest

from tagtrail.errors import Conflict, InvalidInput, NotFound, StoreUnavailable, TaxonomyError
from tagtrail.usecases.metrics import MAX_OPERATION_NAME, MAX_OPERATIONS, Metrics, review_outcome


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_operation_names_are_bounded() -> None:
    m = Metrics()
    assert m.operation_label(None) == "anonymous"
    assert m.operation_label("") == "anonymous"
    assert m.operation_label("Search") == "Search"
    assert m.operation_label('x"} evil{') == "invalid"
    assert m.operation_label("L" * 500) == "L" * MAX_OPERATION_NAME
    for i in range(MAX_OPERATIONS):
        m.operation_label(f"Op{i}")
    assert m.operation_label("Search") == "Search"  # seen before the cap: kept
    assert m.operation_label("BrandNew") == "other"


def test_review_outcomes() -> None:
    assert review_outcome(None) == "ok"
    assert review_outcome(Conflict("stale", current_revision=3)) == "conflict"
    assert review_outcome(NotFound("gone")) == "not_found"
    assert review_outcome(InvalidInput("bad")) == "invalid"
    assert review_outcome(TaxonomyError("bad", file="f", path="p")) == "invalid"
    assert review_outcome(StoreUnavailable("down")) == "unavailable"
    assert review_outcome(RuntimeError("boom")) == "error"
    m = Metrics()
    m.decided("corrected", Conflict("stale"))
    m.decided("corrected")
    m.decided("corrected")
    name = "tagtrail_review_decisions_total"
    assert value(m, name, kind="corrected", outcome="ok") == 2
    assert value(m, name, kind="corrected", outcome="conflict") == 1
    assert value(m, name, kind="confirmed", outcome="ok") == 0  # present from the start


def test_encoder_batches_are_timed_and_sized() -> None:
    m = Metrics()

    def tag(images: list[int], *, scale: int) -> list[int]:
        return [i * scale for i in images]

    timed = m.timed_encoder(tag)
    assert timed([1, 2, 3], scale=2) == [2, 4, 6]
    assert timed([], scale=2) == []  # nothing to encode: no observation
    assert value(m, "tagtrail_encoder_batch_duration_seconds_count") == 1
    assert value(m, "tagtrail_encoder_batch_size_sum") == 3
    assert value(m, "tagtrail_encoder_batch_size_bucket", le="2.0") == 0
    assert value(m, "tagtrail_encoder_batch_size_bucket", le="4.0") == 1


def test_ingest_and_store_errors_and_separate_registries() -> None:
    a, b = Metrics(), Metrics()  # two deployments in one process never collide
    a.ingested(["created", "created", "rejected"])
    a.store_error("unreachable")
    assert value(a, "tagtrail_ingest_items_total", status="created") == 2
    assert value(a, "tagtrail_ingest_items_total", status="rejected") == 1
    assert value(a, "tagtrail_opensearch_errors_total", kind="unreachable") == 1
    assert value(b, "tagtrail_ingest_items_total", status="created") == 0
    assert b"tagtrail_opensearch_errors_total" in generate_latest(b.registry)
