"""``tagtrail opensearch start|stop|status [--nodes N]``: the single node or a cluster."""

from __future__ import annotations

from tagtrail.config import Settings
from tagtrail.embedded.cluster import EmbeddedCluster, main_cluster_status, stop_all
from tagtrail.embedded.node import EmbeddedNode, main_status


def opensearch_command(
    settings: Settings, action: str, *, wipe: bool = False, nodes: int | None = 1
) -> int:
    """``nodes`` 1: the single embedded node; more: a local cluster; None (stop only):
    whatever this home started, single node and cluster nodes alike."""
    if action == "stop" and nodes is None:
        stopped = stop_all(settings)
        print(f"stopped {stopped} node(s)" if stopped else "not running")
        return 0
    if nodes is None or nodes == 1:
        return _single_node(EmbeddedNode(settings), action, wipe=wipe)
    cluster = EmbeddedCluster(settings, nodes)
    if action == "start":
        statuses = cluster.start(wipe=wipe)
        health = cluster.health()
        print(
            f"OpenSearch cluster of {nodes} nodes, health {health.status if health else '?'}; "
            f"TAGTRAIL_OPENSEARCH_URL={cluster.url_list}"
        )
        for st in statuses:
            print(f"  {st.url} (pid {st.pid}, log {st.log_file})")
        return 0
    if action == "stop":
        stopped = cluster.stop()
        print(f"stopped {stopped} node(s)" if stopped else "not running")
        return 0
    return main_cluster_status(cluster)


def _single_node(node: EmbeddedNode, action: str, *, wipe: bool) -> int:
    if action == "start":
        started = node.start(wipe=wipe)
        print(
            f"OpenSearch {started.version} running at {started.url} (health {started.health}, "
            f"pid {started.pid}, log {started.log_file})"
        )
        return 0
    if action == "stop":
        print("stopped" if node.stop() else "not running")
        return 0
    return main_status(node)
