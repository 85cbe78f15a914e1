"""Per-request GraphQL context: the shared services plus request-scoped state."""

from __future__ import annotations

from typing import Any

from litestar import Request
from strawberry.litestar import BaseContext

from tagtrail.services import Services


class Context(BaseContext, kw_only=True):
    services: Services


async def get_context(request: Request[Any, Any, Any]) -> Context:
    return Context(services=request.app.state.services)
