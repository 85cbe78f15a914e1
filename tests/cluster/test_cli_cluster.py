"""``tagtrail opensearch start|status --nodes 3`` on the running test cluster, and indices
that get their replica automatically because the cluster has more than one data node."""

from __future__ import annotations

import json
import uuid

import pytest

from tagtrail.cli import main
from tagtrail.config import load_settings
from tagtrail.embedded.cluster import EmbeddedCluster
from tagtrail.store import Store

pytestmark = [pytest.mark.opensearch, pytest.mark.slow]


@pytest.fixture
def cli_env(cluster: EmbeddedCluster, monkeypatch: pytest.MonkeyPatch) -> EmbeddedCluster:
    monkeypatch.delenv("TAGTRAIL_OPENSEARCH_URL", raising=False)
    monkeypatch.setenv("TAGTRAIL_HOME", str(cluster.home.parent))
    monkeypatch.setenv("TAGTRAIL_EMBEDDED_PORT", str(cluster.nodes[0].port))
    return cluster


def test_status_reports_every_node_and_start_reuses_them(
    cli_env: EmbeddedCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["opensearch", "status", "--nodes", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["health"]["number_of_nodes"] == 3
    assert report["health"]["status"] in ("green", "yellow")
    nodes = report["nodes"]
    assert [n["url"] for n in nodes] == cli_env.urls
    assert all(n["answering"] and n["running"] for n in nodes)
    assert len({n["pid"] for n in nodes}) == 3
    assert len({n["log_file"] for n in nodes}) == 3  # a home of its own per node

    assert main(["opensearch", "start", "--nodes", "3"]) == 0  # idempotent: nothing restarted
    out = capsys.readouterr().out
    assert f"TAGTRAIL_OPENSEARCH_URL={cli_env.url_list}" in out
    assert [n.pid for n in cli_env.status()] == [n["pid"] for n in nodes]


async def test_indices_get_one_replica_on_a_cluster_unless_set(cluster: EmbeddedCluster) -> None:
    for explicit, expected in ((None, "1"), (0, "0")):
        settings = load_settings(
            environ={},
            opensearch_url=cluster.url_list,
            index_prefix=f"tt-replicas-{uuid.uuid4().hex[:8]}",
            index_replicas=explicit,
        )
        store = Store(settings)
        try:
            await store.ensure_indices()
            found = await store.client.indices.get_settings(index=f"{settings.index_prefix}-*")
            replicas = {v["settings"]["index"]["number_of_replicas"] for v in found.values()}
            assert replicas == {expected}, (explicit, found)
        finally:
            await store.drop_indices()
            await store.close()
