"""Bounded work per request: a deadline, cancellation when the client hangs up, and a share
of the store connections.

The request runs in a task of its own. Beside it a watcher is the only reader of the
client's messages: it hands the body to the request as the request reads it (one message
ahead, so a large body is not buffered) and then waits for ``http.disconnect``. A client
that hangs up before its answer is complete cancels the request (logged with status 499);
a request still running after ``TAGTRAIL_REQUEST_TIMEOUT_S`` is cancelled and answered 503.
Cancelling is what frees the request's store connections: nothing it started keeps running.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final, cast

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from tagtrail.api.dto import ErrorOut
from tagtrail.config import Settings
from tagtrail.usecases.runtime import Runtime

log = logging.getLogger(__name__)

#: Set in the scope when the request ended without an answer of its own (the access log).
OUTCOME_KEY: Final = "tagtrail.outcome"
CLIENT_GONE: Final = 499  # nginx's "client closed request"
# A cancelled request that does not stop within this is left behind (and logged).
CANCEL_GRACE_S: Final = 2.0


def outcome(scope: Scope, status: int | None = None) -> int | None:
    """Record (or read) the status of a request that ended without the app's own answer."""
    fields = cast(dict[str, Any], scope)  # the ASGI scope is a dict; this key is ours
    if status is not None:
        fields[OUTCOME_KEY] = status
    found = fields.get(OUTCOME_KEY)
    return found if isinstance(found, int) else None


class _Exchange:
    """What the app has sent so far, and whether the answer is ours to give."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False
        self.complete = False
        self.closed = False  # answered (or abandoned) here: the app's late messages are dropped

    async def send(self, message: Message) -> None:
        if self.closed:
            return
        if message["type"] == "http.response.start":
            self.started = True
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.complete = True
        await self._send(message)


class _Inbox:
    """The client's messages as the app reads them: the body, then ``http.disconnect`` once
    the watcher saw it (apps that stream a file wait for it before they return)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[ReceiveMessage] = asyncio.Queue(maxsize=1)
        self.gone = asyncio.Event()

    async def receive(self) -> ReceiveMessage:
        if self.queue.empty() and not self.gone.is_set():
            get = asyncio.ensure_future(self.queue.get())
            gone = asyncio.ensure_future(self.gone.wait())
            await asyncio.wait({get, gone}, return_when=asyncio.FIRST_COMPLETED)
            gone.cancel()
            if get.done():
                return get.result()
            get.cancel()  # Queue.get gives up its place without losing a message
        if not self.queue.empty():
            return self.queue.get_nowait()
        return {"type": "http.disconnect"}


async def _watch(receive: Receive, inbox: _Inbox) -> None:
    """Pass the body on as it is read; return when the client is gone (or the answer done)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            inbox.gone.set()
            return
        await inbox.queue.put(message)


def _timeout_body(path: str, message: str) -> bytes:
    if path.rstrip("/") == "/graphql":  # GraphQL clients read errors[].extensions.code
        error = {"message": message, "extensions": {"code": "TIMEOUT"}}
        return msgspec.json.encode({"data": None, "errors": [error]})
    return msgspec.json.encode(ErrorOut(error="timeout", message=message))


async def _answer_timeout(exchange: _Exchange, scope: Scope, deadline_s: float) -> None:
    outcome(scope, 503)
    if exchange.started:  # half an answer is out: all we can do is stop
        exchange.closed = True
        return
    message = (
        f"the request ran past its {deadline_s:g} s deadline (TAGTRAIL_REQUEST_TIMEOUT_S) "
        "and was stopped; narrow it or try again shortly"
    )
    body = _timeout_body(scope["path"], message)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
    ]
    await exchange.send({"type": "http.response.start", "status": 503, "headers": headers})
    await exchange.send({"type": "http.response.body", "body": body, "more_body": False})
    exchange.closed = True


async def _stop(work: asyncio.Task[None], why: str) -> None:
    work.cancel()
    await asyncio.wait({work}, timeout=CANCEL_GRACE_S)
    if not work.done():
        log.warning("a request cancelled (%s) did not stop within %ss", why, CANCEL_GRACE_S)
    elif not work.cancelled() and work.exception() is not None:
        log.warning("a request cancelled (%s) failed on its way out: %r", why, work.exception())


async def _run_bounded(
    work: asyncio.Task[None],
    watcher: asyncio.Task[None],
    exchange: _Exchange,
    scope: Scope,
    deadline_s: float,
) -> None:
    try:
        async with asyncio.timeout(deadline_s):
            await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done() and exchange.complete:
                await asyncio.wait({work})  # answered; the app is only tidying up
    except TimeoutError:
        await _stop(work, "deadline")
        if not exchange.complete:  # an answer already given stands
            await _answer_timeout(exchange, scope, deadline_s)
        return
    if work.done():
        work.result()  # the app's own failure propagates as before
        return
    # The client hung up before its answer was complete: stop working for nobody.
    exchange.closed = True
    outcome(scope, CLIENT_GONE)
    await _stop(work, "client went away")


def bounded_middleware(app: ASGIApp) -> ASGIApp:
    """Deadline, hang-up cancellation and the store share for every HTTP request."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        state = scope["litestar_app"].state
        settings: Settings = state.settings
        runtime: Runtime | None = state.get("runtime")
        inbox = _Inbox()
        exchange = _Exchange(send)

        async def run() -> None:
            await app(scope, inbox.receive, exchange.send)

        if runtime is None:  # before the lifespan ran (tests without it): no share to take
            work = asyncio.create_task(run())
        else:
            with runtime.request_share():  # the task copies the context, share included
                work = asyncio.create_task(run())
        watcher = asyncio.create_task(_watch(receive, inbox))
        try:
            await _run_bounded(work, watcher, exchange, scope, settings.request_timeout_s)
        finally:
            watcher.cancel()
            if watcher.done() and not watcher.cancelled() and watcher.exception() is not None:
                log.debug("reading the client's messages failed: %r", watcher.exception())
            if not work.done():  # we were cancelled ourselves (shutdown): so is the request
                await _stop(work, "server shutting down")

    return middleware
