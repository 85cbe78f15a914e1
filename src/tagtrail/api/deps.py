"""Litestar dependency providers: handlers receive services and the caller, not app.state."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from tagtrail.api.auth import KeyRing, Principal, key_from_headers
from tagtrail.usecases.services import Services


def provide_services(state: State) -> Services:
    services: Services = state.services
    return services


def provide_keyring(state: State) -> KeyRing:
    ring: KeyRing = state.keyring
    return ring


def provide_principal(request: Request[Any, Any, Any], keyring: KeyRing) -> Principal | None:
    """The caller (None when no key was sent); Unauthorized for an unknown key."""
    return keyring.authenticate(key_from_headers(request.headers))


DEPENDENCIES = {
    "services": Provide(provide_services, sync_to_thread=False),
    "keyring": Provide(provide_keyring, sync_to_thread=False),
    "principal": Provide(provide_principal, sync_to_thread=False),
}
