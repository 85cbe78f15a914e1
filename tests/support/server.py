"""Real ``tagtrail serve`` processes for tests that need more than one server.

The in-process ASGI app (tests/api/conftest.py) cannot show what two processes over one
store do: each process has its own caches (the tagger, its champion heads), so only separate
processes can race each other or miss each other's promotions.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.support.proxy import free_port

ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    """One ``python -m tagtrail serve`` subprocess, its URL and its log file."""

    def __init__(self, name: str, env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"server-{name}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        # `python -m` with this checkout's src first: the venv's editable install may point
        # at another checkout, and the `tagtrail` console script would run that code.
        pythonpath = os.pathsep.join(
            [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]
        )
        command = [sys.executable, "-m", "tagtrail", "serve", "--host", "127.0.0.1"]
        self.proc = subprocess.Popen(
            [*command, "--port", str(self.port)],
            env={**os.environ, **env, "PYTHONPATH": pythonpath},
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self._log.close()


async def _wait_ready(server: ServerProcess, deadline: float) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                ready = await http.get(f"{server.url}/readyz")
                if ready.status_code == 200 and ready.json().get("pipeline") == "ready":
                    return
            if server.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"tagtrail server {server.name} did not get ready on {server.url} "
                    f"(exit {server.proc.poll()}); its log ends:\n{server.log_tail()}"
                )
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def serving(
    names: Sequence[str], env: Mapping[str, str], log_dir: Path, *, ready_within_s: float = 120
) -> AsyncIterator[list[ServerProcess]]:
    """Start one server per name with the same environment (so the same store), all at once,
    wait until each answers /readyz with its pipeline ready, and stop them all on the way
    out, failure or not (terminate, then kill)."""
    servers: list[ServerProcess] = []
    try:
        for name in names:
            servers.append(ServerProcess(name, env, log_dir))
        deadline = time.monotonic() + ready_within_s
        await asyncio.gather(*(_wait_ready(s, deadline) for s in servers))
        yield servers
    finally:
        for server in servers:
            server.stop()
