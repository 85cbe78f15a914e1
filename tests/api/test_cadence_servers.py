"""The retraining cadence in two real ``tagtrail serve`` processes over one store.

Both poll every half second; reviewers decide on both; exactly one server trains (the
lease), the challenger is judged and promoted once (policy auto), the trail of head events
says who did what and why, and the other server tags new photos with the new champion.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.domain.taxonomy import Taxonomy
from tests.api.factories import create_assets
from tests.api.test_heads import _catalogue
from tests.api.test_two_servers import (
    ADA,
    KEYS,
    OTTO,
    RITA,
    Client,
    _photo,
    _shot_head,
    review_on_both,
)
from tests.support.server import serving

pytestmark = [pytest.mark.opensearch, pytest.mark.slow]

EVENTS = """
query { headEvents(attribute: "shot_type", first: 50) {
  ... on HeadEventsPage { events { step actor version trigger reasons explanation } } } }"""


async def _events_until(client: Client, steps: set[str], within_s: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within_s
    while True:
        events: list[dict[str, Any]] = (await client.gql(EVENTS, {}, key=ADA))["headEvents"][
            "events"
        ]
        if steps <= {e["step"] for e in events}:
            return events
        assert time.monotonic() < deadline, (steps, events, client.server.log_tail())
        await asyncio.sleep(0.5)


async def test_two_servers_run_one_cadence(
    settings: Settings, client: AsyncOpenSearch, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    probe_catalogue = _catalogue("probe")
    env = {
        "TAGTRAIL_OPENSEARCH_URL": settings.effective_opensearch_url,
        "TAGTRAIL_INDEX_PREFIX": settings.index_prefix,
        "TAGTRAIL_MODEL": "random-init:tiny",
        "TAGTRAIL_BATCH_SIZE": "8",
        "TAGTRAIL_API_KEYS": KEYS,
        "TAGTRAIL_API_KEYS_FILE": "",
        "TAGTRAIL_DEV": "false",
        "TAGTRAIL_HEADS_REFRESH_S": "1",
        "TAGTRAIL_LOG_FORMAT": "text",
        "TAGTRAIL_RETRAIN_EVERY": f"shot_type={len(probe_catalogue)}",
        "TAGTRAIL_RETRAIN_PROMOTION": "auto",
        "TAGTRAIL_RETRAIN_SHADOW_DECISIONS": "0",
        "TAGTRAIL_RETRAIN_POLL_S": "0.5",
        "TAGTRAIL_RETRAIN_LEASE_S": "10",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    async with (
        serving(["A", "B"], env, tmp_path) as (server_a, server_b),
        httpx.AsyncClient(timeout=60) as http,
    ):
        a, b = Client(http, server_a), Client(http, server_b)
        first = await a.upload(_photo(1), key=RITA)
        fingerprint = first["modelFingerprint"]
        zero_shot = _shot_head(first)
        catalogue = _catalogue(fingerprint)
        await create_assets(client, settings, taxonomy, [asset for asset, _ in catalogue])

        await review_on_both(a, b, catalogue)
        events = await _events_until(b, {"trained", "promoted"}, within_s=120)
        promoted_at = time.monotonic()

        trained = [e for e in events if e["step"] == "trained"]
        assert len(trained) == 1, events  # one server trained, once
        assert trained[0]["actor"].startswith("cadence@")
        assert f"{len(catalogue)} reviewer decisions" in trained[0]["trigger"]
        version = trained[0]["version"]
        (promoted,) = [e for e in events if e["step"] == "promoted"]
        assert promoted["version"] == version
        assert "auto promotion" in promoted["trigger"]
        assert [e["step"] for e in events] == ["promoted", "shadowing", "trained"]
        assert events == (await a.gql(EVENTS, {}, key=RITA))["headEvents"]["events"]

        # B tags with the champion A or B promoted, within its refresh interval.
        n = 10
        while True:
            on_b = await b.upload(_photo(n), key=OTTO)
            if _shot_head(on_b) == version:
                break
            assert _shot_head(on_b) == zero_shot
            assert time.monotonic() < promoted_at + 30, "B never followed the promotion"
            n += 1
            await asyncio.sleep(0.2)
        assert server_a.proc.poll() is None
        assert server_b.proc.poll() is None
