"""``--nodes`` on the command line and the layout of a local cluster (no node started here;
the cluster itself runs in tests/cluster/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagtrail.cli import MAX_NODES, build_parser, main
from tagtrail.config import load_settings
from tagtrail.embedded import cluster as cluster_module
from tagtrail.embedded.cluster import EmbeddedCluster
from tagtrail.errors import ConfigError


@pytest.mark.parametrize(
    ("argv", "nodes"),
    [
        (["opensearch", "start"], 1),
        (["opensearch", "start", "--nodes", "3"], 3),
        (["opensearch", "status", "--nodes", "2"], 2),
        (["opensearch", "stop", "--nodes", "3"], 3),
        (["opensearch", "stop"], None),  # stop: every node this home started
    ],
)
def test_nodes_option(argv: list[str], nodes: int | None) -> None:
    assert build_parser().parse_args(argv).nodes == nodes


@pytest.mark.parametrize("value", ["0", "-1", "10", "three", "2.5"])
def test_bad_node_counts_are_refused_with_the_reason(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["opensearch", "start", "--nodes", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--nodes" in err
    assert value in err


def test_the_cli_limit_is_the_cluster_limit() -> None:
    assert MAX_NODES == cluster_module.MAX_NODES


def test_each_node_has_its_own_ports_home_and_the_whole_cluster_as_seeds(tmp_path: Path) -> None:
    settings = load_settings(environ={}, home=str(tmp_path), embedded_port=9280)
    cluster = EmbeddedCluster(settings, 3)
    assert cluster.urls == [f"http://127.0.0.1:{p}" for p in (9280, 9281, 9282)]
    assert cluster.url_list == ",".join(cluster.urls)
    homes = [n.node_home for n in cluster.nodes]
    assert homes == [tmp_path / "opensearch-cluster" / f"node-{i}" for i in (1, 2, 3)]
    assert len({n.pid_file for n in cluster.nodes}) == 3
    settings_of = [dict(a.split("=", 1) for a in n.launch_settings()) for n in cluster.nodes]
    assert [s["node.name"] for s in settings_of] == [f"tagtrail-node-{i}" for i in (1, 2, 3)]
    assert [s["transport.port"] for s in settings_of] == ["9380", "9381", "9382"]
    assert [s["http.port"] for s in settings_of] == ["9280", "9281", "9282"]
    for s in settings_of:
        assert s["discovery.type"] == "zen"  # not the Java main's single-node default
        assert s["discovery.seed_hosts"] == "127.0.0.1:9380,127.0.0.1:9381,127.0.0.1:9382"
        assert s["cluster.initial_cluster_manager_nodes"] == (
            "tagtrail-node-1,tagtrail-node-2,tagtrail-node-3"
        )
        assert s["path.data"].startswith(str(tmp_path / "opensearch-cluster"))
    assert len({s["path.data"] for s in settings_of}) == 3


@pytest.mark.parametrize(("size", "port"), [(1, 9280), (MAX_NODES + 1, 9280), (3, 65500)])
def test_impossible_clusters_are_refused(tmp_path: Path, size: int, port: int) -> None:
    settings = load_settings(environ={}, home=str(tmp_path), embedded_port=port)
    with pytest.raises(ConfigError):
        EmbeddedCluster(settings, size)


def test_stop_with_nothing_running_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TAGTRAIL_HOME", str(tmp_path))
    (tmp_path / "opensearch-cluster" / "node-1").mkdir(parents=True)
    assert main(["opensearch", "stop"]) == 0
    assert capsys.readouterr().out.strip() == "not running"


@pytest.mark.opensearch
def test_a_port_held_by_another_opensearch_is_named_not_waited_on(
    tmp_path: Path, opensearch_url: str
) -> None:
    """The test node (the single embedded node, or whatever TAGTRAIL_TEST_OPENSEARCH_URL
    names) sits on node 1's port: start refuses at once instead of launching nodes that could
    never join it."""
    from urllib.parse import urlparse

    from tagtrail.errors import EmbeddedNodeError

    port = urlparse(opensearch_url.split(",")[0]).port or 9200
    settings = load_settings(environ={}, home=str(tmp_path), embedded_port=port)
    cluster = EmbeddedCluster(settings, 2)
    with pytest.raises(EmbeddedNodeError, match=f"port {port} is taken by an OpenSearch of cl"):
        cluster.start(timeout_s=5)
    assert not any(n.status().running for n in cluster.nodes)  # nothing was launched
