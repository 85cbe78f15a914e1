"""A fault at a named step of a store write (``AssetRepository.fault_hook``), once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable


class Crash(Exception):
    """Stands for a process dying, or a connection breaking, right after a step landed."""


def crash_once(step: str) -> Callable[[str], Awaitable[None]]:
    fired: list[str] = []

    async def hook(name: str) -> None:
        if name == step and not fired:
            fired.append(name)
            raise Crash(name)

    return hook
