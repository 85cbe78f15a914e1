"""Per-request GraphQL context: the use cases, the caller, and request-scoped loaders.

Authentication happens here, once per request, but never fails the request by itself:
health and version stay public, queries raise UNAUTHENTICATED, and mutations answer with
an ``Unauthenticated``/``Forbidden`` union result — each resolver states the role it needs.
"""

from __future__ import annotations

from typing import Any

import strawberry
from litestar import Request
from strawberry.dataloader import DataLoader
from strawberry.litestar import BaseContext

from tagtrail.api.auth import KeyRing, Principal, Role, key_from_headers, require
from tagtrail.config import Settings
from tagtrail.errors import Unauthorized
from tagtrail.usecases.runtime import Runtime


class Loaders:
    """DataLoaders batch per request: N assets asking for vectors or history → one request."""

    def __init__(self, runtime: Runtime) -> None:
        self.assets = DataLoader(runtime.assets.assets)
        self.vectors = DataLoader(runtime.assets.vectors)
        self.history = DataLoader(runtime.assets.histories)
        self.thumbnails = DataLoader(runtime.thumbnails.get_many)


class Context(BaseContext, kw_only=True):
    runtime: Runtime  # the use cases, built once per process
    principal: Principal | None = None
    auth_error: str | None = None
    loaders: Loaders

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    def require(self, role: Role) -> Principal:
        return require(self.principal, role, auth_error=self.auth_error)


Info = strawberry.Info[Context, None]


async def get_context(
    request: Request[Any, Any, Any], runtime: Runtime, keyring: KeyRing
) -> Context:
    principal: Principal | None = None
    auth_error: str | None = None
    try:
        principal = keyring.authenticate(key_from_headers(request.headers))
    except Unauthorized as exc:
        auth_error = exc.message
    return Context(
        runtime=runtime, principal=principal, auth_error=auth_error, loaders=Loaders(runtime)
    )
