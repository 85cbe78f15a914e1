"""Liveness and readiness endpoints."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Response
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from tagtrail import __version__
from tagtrail.services import Services
from tagtrail.store.indices import missing_indices


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process is up (says nothing about OpenSearch)."""
    return {"status": "ok", "version": __version__}


@get("/readyz")
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Ready when OpenSearch answers and tagtrail's indices exist; 503 with the reason if not."""
    services: Services = request.app.state.services
    url = services.settings.effective_opensearch_url
    try:
        info = await services.client.info()
        missing = await missing_indices(services.client, services.settings)
    except Exception as exc:  # any transport failure means "not ready", said plainly
        return Response(
            {
                "status": "unavailable",
                "opensearch": url,
                "reason": f"OpenSearch at {url} is unreachable: {type(exc).__name__}: {exc}",
            },
            status_code=HTTP_503_SERVICE_UNAVAILABLE,
        )
    if missing:
        return Response(
            {
                "status": "unavailable",
                "opensearch": url,
                "reason": f"indices missing: {', '.join(missing)}",
                "missing": missing,
            },
            status_code=HTTP_503_SERVICE_UNAVAILABLE,
        )
    return Response(
        {
            "status": "ready",
            "opensearch": url,
            "opensearch_version": info.get("version", {}).get("number"),
            "pipeline": services.pipeline_state,
        },
        status_code=HTTP_200_OK,
    )
