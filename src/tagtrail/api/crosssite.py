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

import ipaddress
from typing import Final
from urllib.parse import urlsplit

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from tagtrail.api.auth import KeyRing
from tagtrail.api.dto import ErrorOut
from tagtrail.config import Settings

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
# "none": the user typed the address or used a bookmark; nothing cross-site about it.
SAME_ORIGIN: Final = frozenset({b"same-origin", b"none"})


def refusal(
    scope: Scope, allowed_origins: tuple[str, ...], *, loopback_pages: bool = False
) -> str | None:
    """Why this request is refused as cross-site, or None when it may go on.
    ``loopback_pages`` (open development mode): browsers only from pages on loopback, so a
    site that points its own name at 127.0.0.1 (DNS rebinding) is not "same origin"."""
    if scope.get("method", "GET") in SAFE_METHODS:
        return None
    headers = dict((k.lower(), v) for k, v in scope.get("headers", ()))
    origin = headers.get(b"origin")
    if origin is None and b"sec-fetch-site" not in headers:
        return None  # not a browser
    shown = (origin or b"unknown").decode("latin-1")
    if origin is not None and {"*", shown} & set(allowed_origins):
        return None  # a site the operator allowed
    if not _same_origin(scope, headers):
        return (
            f"cross-site request refused: a page on {shown} may not change state here "
            "(add its origin to TAGTRAIL_CORS_ORIGINS to allow it)"
        )
    if loopback_pages and origin is not None and not _loopback_origin(origin):
        return (
            "open development mode (no API keys) takes changes from pages on loopback only, "
            f"not from {shown}"
        )
    return None


def _same_origin(scope: Scope, headers: dict[bytes, bytes]) -> bool:
    site = headers.get(b"sec-fetch-site")
    if site is not None:
        return site in SAME_ORIGIN
    return headers.get(b"origin") == _own_origin(scope, headers.get(b"host"))


def _loopback_origin(origin: bytes) -> bool:
    host = urlsplit(origin.decode("latin-1")).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _own_origin(scope: Scope, host: bytes | None) -> bytes:
    return f"{scope.get('scheme', 'http')}://".encode() + (host or b"")


def crosssite_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            state = scope["litestar_app"].state
            settings: Settings = state.settings
            keyring: KeyRing = state.keyring
            why = refusal(scope, settings.cors_origin_list, loopback_pages=keyring.open_dev_mode)
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
