"""Litestar application factory and lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.logging.config import LoggingConfig
from strawberry.litestar import make_graphql_controller

from tagtrail.api.auth import KeyRing
from tagtrail.api.bounded import bounded_middleware
from tagtrail.api.crosssite import crosssite_middleware
from tagtrail.api.deps import DEPENDENCIES
from tagtrail.api.dto import ErrorOut
from tagtrail.api.graphql.context import get_context
from tagtrail.api.graphql.schema import build_schema
from tagtrail.api.health import healthz, readyz
from tagtrail.api.logs import litestar_logging
from tagtrail.api.observe import MetricsController, prometheus_config, request_id_middleware
from tagtrail.api.pages import graphiql_html, openapi_config, page_handlers
from tagtrail.config import Settings, load_settings
from tagtrail.errors import (
    Conflict,
    Forbidden,
    ImageRejected,
    InvalidInput,
    ModelUnavailable,
    NotFound,
    StoreUnavailable,
    TagtrailError,
    TaxonomyError,
    Unauthorized,
)
from tagtrail.usecases.runtime import Runtime

log = logging.getLogger(__name__)

_STATUS: dict[type[TagtrailError], int] = {
    InvalidInput: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    ModelUnavailable: 503,
    StoreUnavailable: 503,
}


def _status_for(exc: TagtrailError) -> int:
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500


def tagtrail_error_handler(_: Request[Any, Any, Any], exc: TagtrailError) -> Response[Any]:
    body = ErrorOut(error=exc.code, message=exc.message, field=getattr(exc, "field", None))
    headers = {}
    if isinstance(exc, StoreUnavailable):
        headers["Retry-After"] = str(exc.retry_after_s)
    return Response(body, status_code=_status_for(exc), headers=headers)


def cors_config(settings: Settings) -> CORSConfig | None:
    """Browsers on these origins may call the API (TAGTRAIL_CORS_ORIGINS; none by default)."""
    origins = settings.cors_origin_list
    if not origins:
        return None
    return CORSConfig(
        allow_origins=list(origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID", "ETag", "Retry-After"],
        max_age=600,
    )


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Litestar:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        live = runtime or Runtime(settings)
        app.state.runtime = live
        try:
            await live.admin.ensure_indices()
        except TagtrailError as exc:  # keep serving: /readyz reports the store as unavailable
            log.warning("could not apply index mappings at start-up: %s", exc)
        # Load the model and build the heads in the background: the first search by text or
        # upload does not pay for it, and an unusable model is reported at start-up.
        warm = asyncio.create_task(live.warm_up())
        # The retraining cadence, when a policy is set (TAGTRAIL_RETRAIN_*): every server
        # polls; the one holding the lease trains.
        cadence = asyncio.create_task(live.cadence.run()) if live.settings.cadence_on else None
        try:
            yield
        finally:
            warm.cancel()
            if cadence is not None:
                cadence.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await cadence
            if runtime is None:
                await live.close()

    base_controller = make_graphql_controller(
        build_schema(settings),
        path="/graphql",
        graphql_ide="graphiql" if settings.dev else None,
        context_getter=get_context,
        multipart_uploads_enabled=True,  # similarAssets(by: {image: Upload})
    )

    class GraphQLController(base_controller):  # type: ignore[valid-type,misc]
        """Strawberry's controller, with a GraphiQL page that loads nothing from a CDN."""

        @property
        def graphql_ide_html(self) -> str:
            return graphiql_html()

    from tagtrail.api.rest import rest_handlers

    state = State({"settings": settings, "keyring": KeyRing(settings)})
    if runtime is not None:
        state.runtime = runtime
    return Litestar(
        route_handlers=[
            healthz,
            readyz,
            MetricsController,
            GraphQLController,
            *rest_handlers(),
            *page_handlers(settings),
        ],
        middleware=[
            request_id_middleware,
            crosssite_middleware,  # before any work: a cross-site write changes nothing
            prometheus_config().middleware,  # outside: a deadline's 503 is counted
            bounded_middleware,  # deadline, hang-up cancellation, store share
        ],
        lifespan=[lifespan],
        dependencies=DEPENDENCIES,
        state=state,
        exception_handlers={TagtrailError: tagtrail_error_handler},
        request_max_body_size=settings.max_request_bytes,
        cors_config=cors_config(settings),
        openapi_config=openapi_config(),
        logging_config=LoggingConfig(
            **litestar_logging(settings.log_format or "json"),  # JSON lines with the request id
            loggers={
                "litestar": {"level": "INFO", "handlers": ["queue_listener"], "propagate": False},
                "tagtrail": {"level": "INFO"},
                # opensearch-py logs every request at INFO: far too costly on the hot path.
                "opensearch": {"level": "WARNING"},
            },
            # Unexpected errors are logged with their traceback; expected ones (bad input,
            # auth, not found, conflicts, limits) are answered, not logged as failures.
            log_exceptions="always",
            disable_stack_trace={
                InvalidInput,
                ImageRejected,
                TaxonomyError,
                NotFound,
                Conflict,
                Unauthorized,
                Forbidden,
                StoreUnavailable,  # an outage: one line per request, not a traceback each
                400,
                401,
                403,
                404,
                405,
                409,
                413,
                415,
                422,
                429,
            },
        ),
        debug=False,
    )
