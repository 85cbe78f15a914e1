"""A TCP proxy in front of the real OpenSearch node, so tests can cut the store off.

Stopping the shared node would break every other test using it; stopping this proxy looks
the same to the app (connections severed, then refused) while the node keeps running.
The proxy can also answer every request itself with an HTTP status (429: overloaded), or
accept connections and never answer (a node stuck in garbage collection), or hold only the
requests that carry a marker (a slow store path beside fast ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from urllib.parse import urlsplit


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target``; ``stop()``/``start()`` keep the same port."""

    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        self.target_host = parts.hostname or "127.0.0.1"
        self.target_port = parts.port or 9200
        self.port = free_port()
        self.answer_status: int | None = None  # set: answer every request with this status
        self.stall = False  # set: accept, read, never answer
        self.delay_marker: bytes | None = None  # requests holding it wait delay_s upstream
        self.delay_s = 0.0
        self.delayed = 0  # requests held so far
        self.abandoned = 0  # held requests whose client (tagtrail) hung up while held
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        # reuse_address: the port was just released by stop(); take it again at once.
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )

    async def stop(self) -> None:
        """Refuse new connections and cut the open ones mid-stream, as a dying node does."""
        if self._server is not None:
            self._server.close()
            self._server = None
        await self.sever()

    async def sever(self) -> None:
        """Cut every open connection (clients reconnect, and meet the current mode)."""
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await asyncio.sleep(0)  # let the aborted transports report their closing

    async def answer_with(self, status: int | None) -> None:
        """From now on answer every request with ``status`` (None: forward again)."""
        self.answer_status = status
        await self.sever()

    async def stall_answers(self, stall: bool) -> None:
        """From now on accept requests and never answer them (or forward again)."""
        self.stall = stall
        await self.sever()

    def delay_requests(self, marker: bytes | None, seconds: float = 0.0) -> None:
        """From now on hold every request whose bytes hold ``marker`` for ``seconds`` before
        passing it on (None: pass everything at once)."""
        self.delay_marker, self.delay_s = marker, seconds

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Client to node, holding marked requests (a request's head and small body arrive
        in one read); a held request whose client hangs up is counted and dropped."""
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                marker = self.delay_marker
                if marker is not None and marker in data and not await self._hold(reader):
                    writer.transport.abort()  # the node never saw it: end its side too
                    return
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError, RuntimeError):
            writer.write_eof()

    async def _hold(self, reader: asyncio.StreamReader) -> bool:
        """Wait delay_s; False when the client hung up meanwhile."""
        self.delayed += 1
        loop = asyncio.get_running_loop()
        until = loop.time() + self.delay_s
        while loop.time() < until:
            if reader.at_eof():
                self.abandoned += 1
                return False
            await asyncio.sleep(0.05)
        return True

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            if self.stall:
                with contextlib.suppress(ConnectionError, OSError):
                    while await reader.read(65536):
                        pass
                return
            if self.answer_status is not None:
                await self._answer(reader, writer, self.answer_status)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    self.target_host, self.target_port
                )
            except OSError:
                return
            self._writers.add(up_writer)
            try:
                await asyncio.gather(self._forward(reader, up_writer), _pipe(up_reader, writer))
            finally:
                self._writers.discard(up_writer)
                up_writer.transport.abort()
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    @staticmethod
    async def _answer(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, status: int
    ) -> None:
        """Read one request (headers and body) and answer it with ``status``, then close."""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            await reader.readexactly(length)
            body = b'{"error":{"type":"proxy","reason":"answered by the test proxy"},"status":%d}'
            body = body % status
            writer.write(
                b"HTTP/1.1 %d Proxy\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (status, len(body), body)
            )
            await writer.drain()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError, RuntimeError):
        writer.write_eof()
