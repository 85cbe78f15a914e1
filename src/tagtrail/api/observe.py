"""Operability at the HTTP edge: request ids, access log lines, Prometheus at ``/metrics``.

Every request gets an id: a sane incoming ``X-Request-ID`` (at most 128 of
``[A-Za-z0-9._-]``) is kept, anything else is replaced by a fresh one. The id is echoed in
the response's ``X-Request-ID`` and carried by every log line written while the request is
handled (see :mod:`tagtrail.api.logs`).

HTTP latency by route comes from Litestar's Prometheus middleware, grouped by path template
so ids in paths cannot explode the label set. It keeps its collectors at class level on
prometheus_client's global registry (created once per process, shared by every app); the
domain metrics live on the per-deployment registry of ``Runtime.metrics``. ``/metrics``
renders both.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Final

from litestar import get
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.response import Response
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from tagtrail.api.bounded import outcome
from tagtrail.api.logs import REQUEST_ID
from tagtrail.usecases.metrics import Metrics
from tagtrail.usecases.quality import QualityGauges

REQUEST_ID_HEADER: Final = "X-Request-ID"
_SANE_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,128}")
_HEADER_KEY: Final = REQUEST_ID_HEADER.lower().encode("latin-1")
# Probes and scrapes arrive every few seconds: logged at DEBUG, not INFO.
_QUIET_PATHS: Final = frozenset({"/healthz", "/readyz", "/metrics"})
SKIP_METRICS_OPT: Final = "skip_request_metrics"

access_log = logging.getLogger("tagtrail.access")


def incoming_request_id(scope: Scope) -> str | None:
    """The client's ``X-Request-ID`` when it is sane, else None."""
    for key, value in scope.get("headers", ()):
        if key.lower() == _HEADER_KEY:
            candidate = value.decode("latin-1")
            return candidate if _SANE_ID.fullmatch(candidate) else None
    return None


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Sets the request id for the request's context, echoes it, writes the access line."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_id = incoming_request_id(scope) or uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500  # when the app fails before it starts a response

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            # A request stopped because its client went away sent nothing: 499 says so.
            _log_access(scope, outcome(scope) or status, time.perf_counter() - started)
            REQUEST_ID.reset(token)

    return middleware


def _log_access(scope: Scope, status: int, seconds: float) -> None:
    path = scope["path"]
    method = scope.get("method", "")
    duration_ms = round(seconds * 1000, 1)
    access_log.log(
        logging.DEBUG if path in _QUIET_PATHS else logging.INFO,
        "%s %s %s %.1fms",
        method,
        path,
        status,
        duration_ms,
        extra={"method": method, "path": path, "status": status, "duration_ms": duration_ms},
    )


def prometheus_config() -> PrometheusConfig:
    """Litestar's request metrics: ``tagtrail_request_duration_seconds`` and friends."""
    return PrometheusConfig(
        app_name="tagtrail",
        prefix="tagtrail",
        group_path=True,  # /assets/{id}, not one series per asset
        exclude_opt_key=SKIP_METRICS_OPT,
    )


class MetricsController(PrometheusController):
    """``GET /metrics`` in the Prometheus text format (unauthenticated, like /healthz)."""

    path = "/metrics"

    @get(include_in_schema=False, opt={SKIP_METRICS_OPT: True})
    async def get(self, metrics: Metrics, quality_gauges: QualityGauges) -> Response[bytes]:
        await quality_gauges.refresh()
        body = generate_latest(REGISTRY) + generate_latest(metrics.registry)
        return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})
