"""The taxonomy in force across real ``tagtrail serve`` processes (issue 17: a server still
on the old folder accepted ``correctTag(value: "jumper")`` after an apply). Server A runs
on the old folder; a `taxonomy apply` from another process moves the deployment to the new
one; A follows within its refresh interval and refuses the retired value. Server B, started
afterwards with the old folder, says so in its log and uses the stored version."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.api.auth import hash_key
from tagtrail.config import Settings
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.store import Store
from tagtrail.usecases.runtime import Runtime
from tests.api.factories import create_assets
from tests.api.test_taxonomy_in_force import ASSETS, new_taxonomy
from tests.support.server import ServerProcess, serving

pytestmark = [pytest.mark.opensearch, pytest.mark.slow]

RITA = "tt_tax-rita"
REFRESH_S = 1.0
CORRECT = """
mutation($input: TagCorrectionInput!) { correctTag(input: $input) {
  __typename ... on InvalidInput { message } } }"""


REVISION = '{ asset(id: "untouched") { ... on Asset { revision } } }'


async def _gql(http: httpx.AsyncClient, server: ServerProcess, query: str, **variables: Any) -> Any:
    auth = {"Authorization": f"Bearer {RITA}"}
    body = {"query": query, "variables": variables}
    response = await http.post(f"{server.url}/graphql", json=body, headers=auth)
    assert response.status_code == 200, (server.name, response.text)
    answer = response.json()
    assert not answer.get("errors"), (server.name, answer["errors"])
    return answer["data"]


async def _correct(http: httpx.AsyncClient, server: ServerProcess, value: str) -> dict[str, Any]:
    revision = (await _gql(http, server, REVISION))["asset"]["revision"]
    change = {"assetId": "untouched", "attribute": "category", "value": value}
    answer = await _gql(http, server, CORRECT, input={**change, "expectedRevision": revision})
    result: dict[str, Any] = answer["correctTag"]
    return result


async def test_servers_follow_the_applied_taxonomy(
    settings: Settings, client: AsyncOpenSearch, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    env = {
        "TAGTRAIL_OPENSEARCH_URL": settings.effective_opensearch_url,
        "TAGTRAIL_INDEX_PREFIX": settings.index_prefix,
        "TAGTRAIL_MODEL": "random-init:tiny",
        "TAGTRAIL_API_KEYS": f"rita:reviewer:{hash_key(RITA)}",
        "TAGTRAIL_API_KEYS_FILE": "",
        "TAGTRAIL_DEV": "false",
        "TAGTRAIL_TAXONOMY_DIR": settings.taxonomy_dir,
        "TAGTRAIL_TAXONOMY_REFRESH_S": str(REFRESH_S),
        "TAGTRAIL_LOG_FORMAT": "text",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    new = new_taxonomy(settings, tmp_path)  # jumper renamed to knit_sweater
    async with serving(["A"], env, tmp_path) as (a,), httpx.AsyncClient(timeout=60) as http:
        await create_assets(client, settings, taxonomy, ASSETS)
        old = (await _gql(http, a, "{ taxonomy { version } }"))["taxonomy"]["version"]
        cli = Runtime(settings, Store(settings, client))  # `tagtrail taxonomy apply`
        report = await cli.taxonomy_changes.apply(new)
        assert report.current_version == old
        assert report.in_force == report.new_version != old

        deadline = time.monotonic() + REFRESH_S + 10
        while (await _gql(http, a, "{ taxonomy { version } }"))["taxonomy"]["version"] == old:
            assert time.monotonic() < deadline, a.log_tail()
            await asyncio.sleep(0.2)
        refused = await _correct(http, a, "jumper")  # before: TagDecision
        assert refused["__typename"] == "InvalidInput", refused
        assert "jumper" in refused["message"]

        async with serving(["B"], env, tmp_path) as (b,):  # started on the old folder
            version = (await _gql(http, b, "{ taxonomy { version } }"))["taxonomy"]["version"]
            assert version == report.new_version
            assert (await _correct(http, b, "jumper"))["__typename"] == "InvalidInput"
            assert (await _correct(http, b, "knit_sweater"))["__typename"] == "TagDecision"
            log = b.log_path.read_text()
            assert f"holds taxonomy {old}, but {report.new_version} is in force" in log
