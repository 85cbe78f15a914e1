"""Prometheus collectors of one deployment: ingest, encoder, OpenSearch, review, GraphQL.

Each :class:`Metrics` (owned by :class:`~tagtrail.usecases.runtime.Runtime`) registers on
its own ``CollectorRegistry``, so the many apps a test process builds never collide on
prometheus_client's global registry. ``/metrics`` renders this registry after the global
one, which holds Litestar's HTTP request metrics and the process collectors.

Label values are bounded: statuses, kinds and outcomes are fixed sets; GraphQL operation
names are client-chosen, so only the first :data:`MAX_OPERATIONS` distinct names are kept
(later ones count as ``other``).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterable
from typing import Final, ParamSpec, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tagtrail.errors import Conflict, InvalidInput, NotFound, StoreUnavailable

P = ParamSpec("P")
T = TypeVar("T")

INGEST_STATUSES: Final = ("created", "exists", "rejected", "failed")
REVIEW_KINDS: Final = ("confirmed", "rejected", "corrected", "reopened")
STORE_ERROR_KINDS: Final = (
    "unreachable",
    "timeout",
    "overloaded",
    "not_found",
    "conflict",
    "client_error",
    "server_error",
)
MAX_OPERATIONS: Final = 100
MAX_OPERATION_NAME: Final = 64
_NAME: Final = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")

# Forward passes take tens of milliseconds (tiny model, one image) to tens of seconds (large
# model, a full batch on CPU); the default buckets stop at 10 s.
ENCODER_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_SIZE_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def review_outcome(exc: BaseException | None) -> str:
    """The ``outcome`` label of one review decision (``ok`` when ``exc`` is None)."""
    if exc is None:
        return "ok"
    if isinstance(exc, Conflict):
        return "conflict"
    if isinstance(exc, NotFound):
        return "not_found"
    if isinstance(exc, InvalidInput):
        return "invalid"
    if isinstance(exc, StoreUnavailable):
        return "unavailable"
    return "error"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.ingest_items = Counter(
            "tagtrail_ingest_items",
            "Images through ingest (uploads and batch ingest), by outcome",
            ["status"],
            registry=r,
        )
        self.encoder_seconds = Histogram(
            "tagtrail_encoder_batch_duration_seconds",
            "One ingest batch through the encoder and heads, on the inference thread",
            buckets=ENCODER_BUCKETS,
            registry=r,
        )
        self.encoder_images = Histogram(
            "tagtrail_encoder_batch_size",
            "Images in one encoder forward batch",
            buckets=BATCH_SIZE_BUCKETS,
            registry=r,
        )
        self.store_errors = Counter(
            "tagtrail_opensearch_errors",
            "Failed OpenSearch requests, by kind (unreachable/timeout/overloaded answer 503)",
            ["kind"],
            registry=r,
        )
        self.review_decisions = Counter(
            "tagtrail_review_decisions",
            "Reviewer decisions on one asset, by kind and outcome",
            ["kind", "outcome"],
            registry=r,
        )
        self.graphql_seconds = Histogram(
            "tagtrail_graphql_operation_duration_seconds",
            "GraphQL operations, by operation name and type",
            ["operation", "type"],
            registry=r,
        )
        self.graphql_errors = Counter(
            "tagtrail_graphql_operation_errors",
            "GraphQL operations answered with errors (not union results), by name and type",
            ["operation", "type"],
            registry=r,
        )
        self.auto_share = Gauge(
            "tagtrail_auto_applied_share",
            "Share of the machine tags first seen in the last 90 days that were auto-applied, "
            "per attribute (refreshed from OpenSearch at most once a minute, on scrape)",
            ["attribute"],
            registry=r,
        )
        self.audited_precision = Gauge(
            "tagtrail_audited_precision",
            "Population-weighted precision of the audits answered in the last 90 days, per "
            "attribute and tier (refreshed with tagtrail_auto_applied_share)",
            ["attribute", "tier"],
            registry=r,
        )
        # Zero series from the start, so rates and alerts work before the first event.
        for status in INGEST_STATUSES:
            self.ingest_items.labels(status)
        for kind in STORE_ERROR_KINDS:
            self.store_errors.labels(kind)
        for kind in REVIEW_KINDS:
            self.review_decisions.labels(kind, "ok")
        self._operations: set[str] = set()

    def ingested(self, statuses: Iterable[str]) -> None:
        for status in statuses:
            self.ingest_items.labels(status).inc()

    def store_error(self, kind: str) -> None:
        """Observer for the store's transport (called from the event loop)."""
        self.store_errors.labels(kind).inc()

    def decided(self, kind: str, exc: BaseException | None = None) -> None:
        self.review_decisions.labels(kind, review_outcome(exc)).inc()

    def timed_encoder(self, fn: Callable[P, list[T]]) -> Callable[P, list[T]]:
        """``fn`` (one batch through the tagger) timed where it runs: the inference thread,
        so time spent queueing behind other torch work is not counted."""

        @functools.wraps(fn)
        def timed(*args: P.args, **kwargs: P.kwargs) -> list[T]:
            started = time.perf_counter()
            out = fn(*args, **kwargs)
            if out:  # an all-duplicates batch runs no forward pass
                self.encoder_seconds.observe(time.perf_counter() - started)
                self.encoder_images.observe(len(out))
            return out

        return timed

    def operation_label(self, name: str | None) -> str:
        """A bounded label for a client-chosen GraphQL operation name."""
        if not name:
            return "anonymous"
        if not _NAME.fullmatch(name):
            return "invalid"
        name = name[:MAX_OPERATION_NAME]
        if name not in self._operations:
            if len(self._operations) >= MAX_OPERATIONS:
                return "other"
            self._operations.add(name)
        return name

    def graphql_operation(self, name: str, op_type: str, seconds: float, *, failed: bool) -> None:
        self.graphql_seconds.labels(name, op_type).observe(seconds)
        if failed:
            self.graphql_errors.labels(name, op_type).inc()
