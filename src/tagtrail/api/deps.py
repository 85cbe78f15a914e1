"""Litestar dependency providers: each handler names the use case it calls and the caller.

The process's :class:`~tagtrail.usecases.runtime.Runtime` (built by the app's lifespan, or
handed in by a test) is the only thing kept in ``app.state``; handlers never see it whole.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from tagtrail.api.auth import KeyRing, Principal, key_from_headers
from tagtrail.usecases.health import Health
from tagtrail.usecases.metrics import Metrics
from tagtrail.usecases.quality import QualityGauges
from tagtrail.usecases.runtime import Runtime
from tagtrail.usecases.thumbnails import Thumbnails
from tagtrail.usecases.upload import Uploads


def provide_runtime(state: State) -> Runtime:
    runtime: Runtime = state.runtime
    return runtime


def provide_uploads(runtime: Runtime) -> Uploads:
    return runtime.uploads


def provide_thumbnails(runtime: Runtime) -> Thumbnails:
    return runtime.thumbnails


def provide_health(runtime: Runtime) -> Health:
    return runtime.health


def provide_metrics(runtime: Runtime) -> Metrics:
    return runtime.metrics


def provide_quality_gauges(runtime: Runtime) -> QualityGauges:
    return runtime.quality_gauges


def provide_keyring(state: State) -> KeyRing:
    ring: KeyRing = state.keyring
    return ring


def provide_principal(request: Request[Any, Any, Any], keyring: KeyRing) -> Principal | None:
    """The caller (None when no key was sent); Unauthorized for an unknown key."""
    return keyring.authenticate(key_from_headers(request.headers))


DEPENDENCIES = {
    "runtime": Provide(provide_runtime, sync_to_thread=False),
    "uploads": Provide(provide_uploads, sync_to_thread=False),
    "thumbnails": Provide(provide_thumbnails, sync_to_thread=False),
    "health": Provide(provide_health, sync_to_thread=False),
    "metrics": Provide(provide_metrics, sync_to_thread=False),
    "quality_gauges": Provide(provide_quality_gauges, sync_to_thread=False),
    "keyring": Provide(provide_keyring, sync_to_thread=False),
    "principal": Provide(provide_principal, sync_to_thread=False),
}
