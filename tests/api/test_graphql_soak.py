"""The GraphQL fuzz soak's smoke version: a few schemathesis cases of every operation, with an
admin key, against a real server; no server error, no timeout, and a missing-id lookup right
afterwards answers within 100 ms. The soak itself: ``bench/graphql_fuzz_soak.py``."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import httpx
import msgspec
import pytest
from graphql import build_schema
from PIL import Image

from tagtrail.api.auth import hash_key
from tagtrail.config import Settings
from tests.support.graphql_soak import generate, run
from tests.support.server import serving

pytestmark = [pytest.mark.opensearch, pytest.mark.slow]

ADMIN = "tt_soak-admin"
CASES_PER_OPERATION = 2


def _operations() -> int:
    """Every query and mutation of schema.graphql."""
    schema = build_schema((Path(__file__).resolve().parents[2] / "schema.graphql").read_text())
    assert schema.query_type is not None
    assert schema.mutation_type is not None
    return len(schema.query_type.fields) + len(schema.mutation_type.fields)


OPERATIONS = _operations()


def _photo(n: int) -> bytes:
    img = Image.new("RGB", (200 + n, 260), (230, 230, 228))
    img.paste(((70 * n) % 256, 40, 90), (40, 40, 160, 220))
    out = io.BytesIO()
    img.save(out, format="JPEG")
    return out.getvalue()


async def test_a_short_fuzz_soak_leaves_the_server_healthy(
    settings: Settings, client: object, tmp_path: Path
) -> None:
    env = {
        "TAGTRAIL_OPENSEARCH_URL": settings.effective_opensearch_url,
        "TAGTRAIL_INDEX_PREFIX": settings.index_prefix,
        "TAGTRAIL_MODEL": "random-init:tiny",
        "TAGTRAIL_BATCH_SIZE": "8",
        "TAGTRAIL_DEV": "false",
        "TAGTRAIL_API_KEYS": f"soak:admin:{hash_key(ADMIN)}",
        "TAGTRAIL_API_KEYS_FILE": "",
        "TAGTRAIL_LOG_FORMAT": "text",
        "TAGTRAIL_REQUEST_TIMEOUT_S": "10",
    }
    cases = generate(CASES_PER_OPERATION, seed_value=17)
    assert len({c.operation for c in cases}) == OPERATIONS
    async with serving(["soak"], env, tmp_path) as [server]:
        headers = {"Authorization": f"Bearer {ADMIN}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as http:
            for n in range(2):  # something real to decide on beside the fuzzed ids
                files = {"image": (f"p{n}.jpg", _photo(n), "image/jpeg")}
                assert (await http.post("/assets", files=files)).status_code == 201
        report = await asyncio.to_thread(run, server.url, ADMIN, cases, client_timeout_s=20)
    shown = msgspec.json.format(msgspec.json.encode(report)).decode()
    assert report.operations == OPERATIONS, shown
    assert report.server_errors == 0, shown
    assert report.timeouts == 0, shown
    assert report.lookup_ms < 100, shown
