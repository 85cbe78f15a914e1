"""The embedded node's lifecycle: a second, private node on its own port and home.

Start is idempotent and waits for health, data survives a restart, ``wipe`` clears it, and
stop really stops it. (The session's shared node is left alone.)
"""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest

from tagtrail.config import load_settings
from tagtrail.embedded.node import OPENSEARCH_VERSION, EmbeddedNode

pytestmark = [pytest.mark.opensearch, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, method: str = "GET") -> dict[str, object]:
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def test_start_stop_restart_and_wipe(tmp_path: Path) -> None:
    settings = load_settings(
        home=str(tmp_path / "home"), embedded_port=_free_port(), embedded_heap="512m"
    )
    node = EmbeddedNode(settings)
    assert not node.status().answering
    try:
        first = node.start()
        assert first.answering
        assert first.version == OPENSEARCH_VERSION
        assert first.health in ("green", "yellow")
        again = node.start()
        assert again.pid == first.pid  # idempotent: the running node is reused
        assert Path(node.log_file).exists()

        _request(f"{node.url}/kept?wait_for_active_shards=1", "PUT")
        assert node.stop() is True
        assert not node.status().answering
        assert node.stop() is False

        restarted = node.start()
        assert restarted.pid != first.pid
        assert "kept" in _request(f"{node.url}/_alias")  # data survived the restart

        node.start(wipe=True)
        assert "kept" not in _request(f"{node.url}/_alias")
    finally:
        node.stop()
    assert not node.status().answering
