"""Liveness and readiness endpoints."""

from __future__ import annotations

from litestar import get
from litestar.response import Response
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from tagtrail import __version__
from tagtrail.usecases.health import Health, Readiness


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process is up (says nothing about OpenSearch)."""
    return {"status": "ok", "version": __version__}


@get("/readyz")
async def readyz(health: Health) -> Response[Readiness]:
    """Ready when OpenSearch answers and tagtrail's indices exist; 503 with the reason if not."""
    ready = await health.readiness()
    status = HTTP_200_OK if ready.status == "ready" else HTTP_503_SERVICE_UNAVAILABLE
    return Response(ready, status_code=status)
