"""The CLI paths: demo catalogue → ingest (with hostile files) → re-run → reproject.

Runs ``tagtrail`` in-process with TAGTRAIL_* variables pointing at the real test node;
the encoder is ``random-init:tiny`` (a small randomly initialised CLIP from a config).
The CLI runs its own event loop, so async tests call it from a worker thread.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.cli import main
from tagtrail.config import Settings

pytestmark = pytest.mark.opensearch


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("TAGTRAIL_OPENSEARCH_URL", settings.effective_opensearch_url)
    monkeypatch.setenv("TAGTRAIL_INDEX_PREFIX", settings.index_prefix)
    monkeypatch.setenv("TAGTRAIL_MODEL", settings.model)
    monkeypatch.setenv("TAGTRAIL_BATCH_SIZE", "4")
    return settings


async def _count(client: AsyncOpenSearch, index: str) -> int:
    await client.indices.refresh(index=index)
    return int((await client.count(index=index))["count"])


async def test_ingest_directory_lists_bad_files_and_is_rerunnable(
    env: Settings, client: AsyncOpenSearch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "shoot"
    assert main(["demo-catalogue", "9", str(folder), "--seed", "5"]) == 0
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "readme.txt").write_text("not a photo")
    # The same bytes under another name, in a later batch (batch size 4): no second asset.
    original = sorted(folder.glob("TT-*.jpg"))[0]
    (folder / "zz-copy.jpg").write_bytes(original.read_bytes())
    capsys.readouterr()

    assert await asyncio.to_thread(main, ["ingest", str(folder)]) == 1  # some files were rejected
    out, err = capsys.readouterr()
    assert "created=9" in out
    assert "exists=1" in out
    assert "rejected=2" in out
    assert "broken.jpg" in err
    assert "readme.txt" in err
    assets = env.index_name("assets")
    events = env.index_name("tag_events")
    n_assets, n_events = await _count(client, assets), await _count(client, events)
    assert n_assets == 9
    assert n_events >= 9 * 5
    with_metadata = await client.count(
        index=assets,
        body={
            "query": {
                "bool": {
                    "filter": [{"exists": {"field": f}} for f in ("sku", "brand", "collection")]
                }
            }
        },
    )
    assert with_metadata["count"] == 9  # manifest metadata applied to every asset

    assert await asyncio.to_thread(main, ["ingest", str(folder)]) == 1
    out, _ = capsys.readouterr()
    assert "exists=10" in out
    assert "created" not in out
    assert await _count(client, assets) == n_assets
    assert await _count(client, events) == n_events

    assert await asyncio.to_thread(main, ["reproject"]) == 0
    out, _ = capsys.readouterr()
    assert json.loads(out.strip().splitlines()[-1]) == {"checked": 9, "changed": 0}


def test_ingest_refuses_a_missing_directory(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", str(tmp_path / "nope")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_bad_configuration_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TAGTRAIL_EMBEDDED_PORT", "ninety")
    assert main(["opensearch", "status"]) == 2
    assert "TAGTRAIL_EMBEDDED_PORT" in capsys.readouterr().err


async def test_demo_seed_fills_an_empty_store_once(
    settings: Settings, indexed: AsyncOpenSearch
) -> None:
    from tagtrail import commands

    await commands.seed_demo(settings, 3)
    assert await _count(indexed, settings.index_name("assets")) == 3
    await commands.seed_demo(settings, 3)  # not empty any more: nothing added
    assert await _count(indexed, settings.index_name("assets")) == 3
