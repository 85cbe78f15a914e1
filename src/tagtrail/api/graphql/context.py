"""Per-request GraphQL context: shared services, the caller, and request-scoped loaders.

Authentication happens here, once per request, but never fails the request by itself:
health and version stay public, queries raise UNAUTHENTICATED, and mutations answer with
an ``Unauthenticated``/``Forbidden`` union result — each resolver states the role it needs.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import strawberry
from litestar import Request
from strawberry.dataloader import DataLoader
from strawberry.litestar import BaseContext

from tagtrail.api.auth import KeyRing, Principal, Role, key_from_headers, require
from tagtrail.config import Settings
from tagtrail.errors import Unauthorized
from tagtrail.usecases.assets import get_assets, get_histories, get_vectors
from tagtrail.usecases.services import Services
from tagtrail.usecases.thumbnails import get_thumbnails


class Loaders:
    """DataLoaders batch per request: N assets asking for vectors or history → one request."""

    def __init__(self, services: Services) -> None:
        self.assets = DataLoader(partial(get_assets, services))
        self.vectors = DataLoader(partial(get_vectors, services))
        self.history = DataLoader(partial(get_histories, services))
        self.thumbnails = DataLoader(partial(get_thumbnails, services))


class Context(BaseContext, kw_only=True):
    services: Services
    principal: Principal | None = None
    auth_error: str | None = None
    loaders: Loaders

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def require(self, role: Role) -> Principal:
        return require(self.principal, role, auth_error=self.auth_error)


Info = strawberry.Info[Context, None]


async def get_context(
    request: Request[Any, Any, Any], services: Services, keyring: KeyRing
) -> Context:
    principal: Principal | None = None
    auth_error: str | None = None
    try:
        principal = keyring.authenticate(key_from_headers(request.headers))
    except Unauthorized as exc:
        auth_error = exc.message
    return Context(
        services=services, principal=principal, auth_error=auth_error, loaders=Loaders(services)
    )
