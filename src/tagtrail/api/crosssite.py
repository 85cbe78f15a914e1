"""Cross-site requests cannot change state.

A web page on another site can make the visitor's browser POST a ``multipart/form-data``
or ``text/plain`` body to tagtrail without a CORS preflight (a "simple" request): in open
development mode, or with a key a browser sends by itself, that would act for the visitor.
Browsers say where a request comes from (``Sec-Fetch-Site``, ``Origin``); a request that
may change state (any method but GET, HEAD, OPTIONS) from another origin is refused unless
that origin is allowed by ``TAGTRAIL_CORS_ORIGINS``. Clients that are not browsers (curl,
a DAM's server, scripts) send neither header and are not affected.
"""

from __future__ import annotations

from typing import Final

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from tagtrail.api.dto import ErrorOut
from tagtrail.config import Settings

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
# "none": the user typed the address or used a bookmark; nothing cross-site about it.
SAME_ORIGIN: Final = frozenset({b"same-origin", b"none"})


def refusal(scope: Scope, allowed_origins: tuple[str, ...]) -> str | None:
    """Why this request is refused as cross-site, or None when it may go on."""
    if scope.get("method", "GET") in SAFE_METHODS:
        return None
    headers = dict((k.lower(), v) for k, v in scope.get("headers", ()))
    origin = headers.get(b"origin")
    site = headers.get(b"sec-fetch-site")
    if origin is not None and {"*", origin.decode("latin-1")} & set(allowed_origins):
        return None  # a site the operator allowed
    if site is not None:
        if site in SAME_ORIGIN:
            return None
    elif origin is None:
        return None  # not a browser
    elif origin == _own_origin(scope, headers.get(b"host")):
        return None
    shown = (origin or b"unknown").decode("latin-1")
    return (
        f"cross-site request refused: a page on {shown} may not change state here "
        "(add its origin to TAGTRAIL_CORS_ORIGINS to allow it)"
    )


def _own_origin(scope: Scope, host: bytes | None) -> bytes:
    return f"{scope.get('scheme', 'http')}://".encode() + (host or b"")


def crosssite_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            settings: Settings = scope["litestar_app"].state.settings
            why = refusal(scope, settings.cors_origin_list)
            if why is not None:
                body = msgspec.json.encode(ErrorOut(error="forbidden", message=why))
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ]
                await send({"type": "http.response.start", "status": 403, "headers": headers})
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
        await app(scope, receive, send)

    return middleware
