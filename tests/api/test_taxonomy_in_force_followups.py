"""Follow-ups to "one taxonomy in force per deployment" (issue 17): upgrading a deployment
that has no stored taxonomy yet, the refresh window after an apply (a server that has not
re-read the pointer yet), and /readyz naming the version in force. Real node throughout."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail import commands
from tagtrail.config import Settings
from tagtrail.domain.decisions import Decision
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.errors import ConfigError, InvalidInput
from tagtrail.store import Store
from tagtrail.store.indices import ensure_indices
from tagtrail.tagging.taxonomy_files import load_taxonomy_source
from tagtrail.usecases.change_report import TaxonomyChangeReport
from tagtrail.usecases.runtime import Runtime
from tagtrail.usecases.taxonomy_in_force import begin_apply, change_start
from tests.api.conftest import Api, ApiFactory
from tests.api.factories import create_assets
from tests.api.test_taxonomy_in_force import ASSETS, VERSION, new_taxonomy

pytestmark = pytest.mark.opensearch

DECIDE = """
mutation($input: TagCorrectionInput!) { correctTag(input: $input) {
  __typename ... on InvalidInput { message } ... on Conflict { message } } }"""


def _process(settings: Settings, client: AsyncOpenSearch, **changes: Any) -> Runtime:
    """Another process over the same store (a server or a `tagtrail` command)."""
    s = settings.with_changes(**changes)
    return Runtime(s, Store(s, client))


async def _correct(api: Api, asset_id: str, value: str) -> dict[str, Any]:
    revision = (await api.source(asset_id))["revision"]
    variables = {
        "input": {
            "assetId": asset_id,
            "attribute": "category",
            "expectedRevision": revision,
            "value": value,
        }
    }
    result: dict[str, Any] = (await api.data(DECIDE, variables))["correctTag"]
    return result


async def _category(api: Api, asset_id: str) -> str:
    tags = (await api.source(asset_id))["tags"]
    return str(next(t["value"] for t in tags if t["attribute"] == "category"))


async def test_an_upgraded_store_with_no_taxonomy_in_force_refuses_preview_until_init_indices(
    client: AsyncOpenSearch, settings: Settings, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    # A deployment from before the taxonomy was stored: indices and assets, no record.
    await ensure_indices(client, settings)
    await create_assets(client, settings, taxonomy, ASSETS)
    new = new_taxonomy(settings, tmp_path)
    switched = _process(settings, client, taxonomy_dir=str(new))
    # Before: the preview put its own new folder in force and found nothing to migrate.
    changes = switched.taxonomy_changes
    for run in (changes.preview, changes.apply):
        with pytest.raises(
            ConfigError, match=r"no taxonomy is in force yet.*tagtrail init-indices"
        ):
            await run(new)
    state = await switched.store.taxonomies.in_force()
    assert state is not None
    assert state.version is None  # neither seeded it

    # The folder the catalogue was tagged with:
    await _process(settings, client).admin.init_indices()
    found = await switched.taxonomy_changes.preview(new)
    assert (found.current_version, found.new_version) != (taxonomy.version, taxonomy.version)
    assert found.current_version == taxonomy.version
    assert found.checked == len(ASSETS)
    row = ("category", "jumper", "overall")
    jumpers = [r for r in found.rows if (r.attribute, r.value, r.segment) == row]
    assert [r.value_changes for r in jumpers] == [2]  # both jumpers would be renamed


async def test_a_server_behind_the_pointer_cannot_decide_an_old_value_on_a_migrated_asset(
    make_api: ApiFactory,
    settings: Settings,
    indexed: AsyncOpenSearch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    behind = await make_api(taxonomy_refresh_s=3600)  # will not re-read the pointer by itself
    await behind.create(ASSETS)
    old = (await behind.data(VERSION))["taxonomy"]["version"]
    args = SimpleNamespace(action="apply", directory=new_taxonomy(settings, tmp_path), sample=2)
    assert await commands.taxonomy(settings, args) == 0
    out = capsys.readouterr().out
    report = msgspec.json.decode(out.splitlines()[0], type=TaxonomyChangeReport)
    assert report.conflicts == 0
    assert f"taxonomy {report.new_version}: in force for every server, after waiting 0.3 s" in out
    assert await _category(behind, "jumper-nw") == "knit_sweater"
    assert (await behind.data(VERSION))["taxonomy"]["version"] == old  # still behind

    # Before: accepted, a value the version in force does not have.
    refused = await _correct(behind, "jumper-nw", "jumper")
    assert refused["__typename"] == "Conflict", refused
    assert f"taxonomy {report.new_version} is in force" in refused["message"]
    assert await _category(behind, "jumper-nw") == "knit_sweater"  # nothing written
    # The refusal made the server follow: the old value is now refused as unknown...
    assert (await _correct(behind, "jumper-nw", "jumper"))["__typename"] == "InvalidInput"
    # ...and an asset the change left in the old version still takes decisions.
    assert (await behind.source("untouched"))["taxonomy_version"] == old
    assert (await _correct(behind, "untouched", "knit_sweater"))["__typename"] == "TagDecision"
    assert (await _correct(behind, "untouched", "coatigan"))["__typename"] == "TagDecision"
    # So does a server that never re-reads the pointer (it asks at every such decision).
    fixed = await make_api(taxonomy_refresh_s=0)
    assert (await _correct(fixed, "coatigan", "knit_sweater"))["__typename"] == "TagDecision"
    assert (await _correct(fixed, "coatigan", "coatigan"))["__typename"] == "TagDecision"


async def test_apply_waits_for_every_server_before_migrating(
    settings: Settings, indexed: AsyncOpenSearch, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    interval = 2.0  # the deployment's TAGTRAIL_TAXONOMY_REFRESH_S
    server = _process(settings, indexed, taxonomy_refresh_s=interval * 0.75)  # follows within
    await create_assets(indexed, settings, taxonomy, ASSETS)
    new = new_taxonomy(settings, tmp_path)
    cli = _process(
        settings,
        indexed,
        taxonomy_refresh_s=interval,
        taxonomy_apply_wait_s=None,
        request_timeout_s=0.5,
    )
    await cli.tagging.encoder()  # loaded before: the apply moves the pointer soon after it starts
    server.taxonomy.expire()
    assert (await server.taxonomy.current()).version == taxonomy.version  # read just now
    migrating = asyncio.Event()
    answers: list[str] = []

    async def reviewer() -> None:
        """Decides the value the new version lacks, from the first migrated page on, on an
        asset the change leaves alone, until the server refuses it."""
        await migrating.wait()
        jumper = Decision(kind="corrected", attribute="category", value="jumper")
        while not answers or answers[-1] != "refused":
            revision = (await server.store.assets.get("coatigan")).revision
            try:
                await server.review.decide("coatigan", revision, jumper, "reviewer")
                answers.append("decided")
            except InvalidInput:
                answers.append("refused")
            await asyncio.sleep(0.02)

    task = asyncio.create_task(reviewer())
    report = await cli.taxonomy_changes.apply(new, progress=lambda _n: migrating.set())
    await asyncio.wait_for(task, 10)
    # Before: the apply migrated at once, and the server, not following yet, then wrote the
    # old value onto an asset the apply had passed: a value the version in force lacks.
    assert answers == ["refused"]
    tags = (await server.store.assets.get("coatigan")).source["tags"]
    assert [t["value"] for t in tags if t["attribute"] == "category"] == ["coatigan"]
    assert report.waited_for_servers_s == interval + 0.5
    preview = await _process(settings, indexed).taxonomy_changes.preview(new)
    assert (preview.assets_changed, preview.waited_for_servers_s) == (0, 0.0)


async def test_readyz_names_the_taxonomy_in_force_and_an_unfinished_apply(
    make_api: ApiFactory, settings: Settings, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    server = await make_api(taxonomy_refresh_s=3600)
    old = (await server.data(VERSION))["taxonomy"]["version"]
    ready = (await server.http.get("/readyz")).json()
    assert ready["taxonomy_in_force"] == old
    assert "taxonomy_apply_unfinished" not in ready  # false: left out
    assert "taxonomy_this_server" not in ready  # the same version

    taxonomy, source = load_taxonomy_source(new_taxonomy(settings, tmp_path))
    cli = _process(settings, indexed)
    await begin_apply(cli.taxonomy, await change_start(cli.taxonomy, taxonomy), source)
    ready = (await server.http.get("/readyz")).json()
    assert ready["status"] == "ready"
    assert ready["taxonomy_in_force"] == taxonomy.version
    assert ready["taxonomy_apply_unfinished"] is True
    assert ready["taxonomy_this_server"] == old  # not followed yet
