"""The AsyncOpenSearch client: msgspec JSON on the hot path, one place that names outages.

Every request goes through :class:`GuardedTransport`, which turns "the store cannot answer
now" (refused or timed-out connections, 429 too many requests, 502/503/504) into
:class:`~tagtrail.errors.StoreUnavailable`, so no caller above ``store/`` ever sees an
opensearch-py exception for an outage. Answers the caller must handle itself (404 not found,
409 version conflict) pass through to the repositories, which translate them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from typing import Any, Final

import msgspec
from opensearchpy import AsyncOpenSearch, AsyncTransport
from opensearchpy.exceptions import ConnectionError as TransportConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError
from opensearchpy.serializer import JSONSerializer

from tagtrail.config import Settings
from tagtrail.errors import StoreUnavailable

OVERLOADED = frozenset({429, 502, 503, 504})

# The store connections the current HTTP request may still take (set per request by
# :func:`request_share`; None outside a request: batch jobs use the whole pool). A ContextVar
# is per request, not shared state: the tasks a request starts inherit its share.
REQUEST_SHARE: Final[ContextVar[asyncio.Semaphore | None]] = ContextVar(
    "tagtrail_store_share", default=None
)


@contextlib.contextmanager
def request_share(connections: int) -> Iterator[None]:
    """Within this block (and the tasks started in it) at most ``connections`` store calls
    run at once, however many the request's code starts in parallel."""
    token = REQUEST_SHARE.set(asyncio.Semaphore(connections))
    try:
        yield
    finally:
        REQUEST_SHARE.reset(token)


class MsgspecSerializer(JSONSerializer):
    """opensearch-py serializer backed by msgspec (several times faster than json)."""

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder()

    def loads(self, s: str | bytes) -> Any:
        return self._decoder.decode(s)

    def dumps(self, data: Any) -> str:
        if isinstance(data, str):
            return data
        if isinstance(data, bytes):
            return data.decode("utf-8")
        return self._encoder.encode(data).decode("utf-8")


def error_kind(exc: TransportError) -> str:
    """The metrics label of a failed request; 404 and 409 are often expected answers."""
    if isinstance(exc, ConnectionTimeout):
        return "timeout"
    if isinstance(exc, TransportConnectionError):
        return "unreachable"
    status = exc.status_code if isinstance(exc.status_code, int) else 0
    if status in OVERLOADED:
        return "overloaded"
    if status in (404, 409):
        return "not_found" if status == 404 else "conflict"
    return "client_error" if 400 <= status < 500 else "server_error"


class GuardedTransport(AsyncTransport):
    """Raises StoreUnavailable for outages and overload; everything else as opensearch-py."""

    on_error: Callable[[str], None] | None = None  # set per client by make_client (metrics)
    pool_size = 10  # set per client by make_client: store calls in flight at once
    pool_wait_s = 30.0  # how long a call waits for one of them
    _gate: asyncio.Semaphore | None = None

    def _pool(self) -> asyncio.Semaphore:
        # Made on first use: a semaphore belongs to the event loop that first waits on it.
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.pool_size)
        return self._gate

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[None]:
        """A slot of the request's share (its own queue, bounded by its deadline), then one
        of the pool's, waiting a bounded time: a caller that cannot get one hears so in
        pool_wait_s, not after 30 s."""
        share = REQUEST_SHARE.get()
        async with contextlib.AsyncExitStack() as held:
            if share is not None:
                await held.enter_async_context(share)
            try:
                async with asyncio.timeout(self.pool_wait_s):
                    await held.enter_async_context(self._pool())
            except TimeoutError:
                self._count("pool_exhausted")
                raise StoreUnavailable(
                    f"all {self.pool_size} store connections stayed busy for "
                    f"{self.pool_wait_s:g} s; try again shortly",
                    retry_after_s=1,
                ) from None
            yield

    def _count(self, kind: str) -> None:
        if self.on_error is not None:
            self.on_error(kind)

    def _observe(self, exc: TransportError) -> None:
        if self.on_error is not None:
            self.on_error(error_kind(exc))

    async def perform_request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        async with self._connection():
            return await self._perform(method, url, *args, **kwargs)

    async def _perform(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().perform_request(method, url, *args, **kwargs)
        except TransportConnectionError as exc:
            self._observe(exc)
            raise StoreUnavailable(
                f"OpenSearch is unreachable ({type(exc).__name__}); try again shortly",
                retry_after_s=5,
            ) from exc
        except TransportError as exc:
            self._observe(exc)
            if exc.status_code in OVERLOADED:
                raise StoreUnavailable(
                    f"OpenSearch is overloaded or unavailable (HTTP {exc.status_code}); "
                    "try again shortly",
                    retry_after_s=2 if exc.status_code == 429 else 5,
                ) from exc
            raise

    async def close(self) -> None:
        await super().close()
        # opensearch-py closes only the connections it holds live: one marked dead (a node
        # of several that was down) would leave its HTTP session open.
        for connection in getattr(self.connection_pool, "orig_connections", ()):
            await connection.close()


def make_client(
    settings: Settings, on_error: Callable[[str], None] | None = None
) -> AsyncOpenSearch:
    auth = None
    if settings.opensearch_user:
        auth = (settings.opensearch_user, settings.opensearch_password or "")
    hosts = list(settings.opensearch_urls)
    client = AsyncOpenSearch(
        hosts=hosts,
        http_auth=auth,
        verify_certs=settings.opensearch_verify_certs,
        serializer=MsgspecSerializer(),
        transport_class=GuardedTransport,
        timeout=settings.opensearch_timeout_s,
        # A refused or dropped connection is retried on the next node (opensearch-py marks
        # the dead one and skips it for a while), so one node down costs no request when
        # several are named; with one node it is one retry, as before.
        max_retries=max(1, len(hosts)),
        retry_on_timeout=False,
        http_compress=False,
        maxsize=settings.opensearch_pool_size,  # per node; GuardedTransport bounds the total
    )
    if isinstance(client.transport, GuardedTransport):
        client.transport.on_error = on_error
        client.transport.pool_size = settings.opensearch_pool_size
        client.transport.pool_wait_s = settings.opensearch_pool_wait_s
    return client
