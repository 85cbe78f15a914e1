"""A local cluster of N embedded nodes (``tagtrail opensearch start --nodes N``).

Node ``i`` (1-based) lives in ``<home>/opensearch-cluster/node-<i>/`` (data, logs, pid file)
and listens on HTTP ``embedded_port + i - 1`` and transport ``embedded_port + 100 + i - 1``.
Every node is cluster-manager-eligible and holds data; each names all transport ports as
seed hosts and all node names as the initial cluster managers, so any majority of them forms
the cluster (three nodes survive the loss of one). With ``--nodes 1`` the single node of
:mod:`.node` is used instead, unchanged.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import msgspec

from tagtrail.config import Settings
from tagtrail.embedded.node import EmbeddedNode, NodeStatus
from tagtrail.errors import ConfigError, EmbeddedNodeError

MAX_NODES = 9
CLUSTER_NAME = "tagtrail-cluster"
_TRANSPORT_OFFSET = 100


class ClusterHealth(msgspec.Struct, kw_only=True, frozen=True):
    status: str
    number_of_nodes: int
    number_of_data_nodes: int


class EmbeddedCluster:
    """N local nodes forming one cluster; start/stop are idempotent, per node or all."""

    def __init__(self, settings: Settings, size: int) -> None:
        if not 2 <= size <= MAX_NODES:
            raise ConfigError(f"a local cluster has 2..{MAX_NODES} nodes, not {size}")
        base = settings.embedded_port
        if base < 1 or base + _TRANSPORT_OFFSET + size - 1 > 65535:
            raise ConfigError(
                f"TAGTRAIL_EMBEDDED_PORT={base}: a {size}-node cluster needs HTTP ports "
                f"{base}..{base + size - 1} and transport ports from {base + _TRANSPORT_OFFSET}"
            )
        self.size = size
        self.home = Path(settings.home).expanduser() / "opensearch-cluster"
        names = [f"tagtrail-node-{i}" for i in range(1, size + 1)]
        transports = [base + _TRANSPORT_OFFSET + i for i in range(size)]
        discovery = [
            f"cluster.name={CLUSTER_NAME}",
            # The Java main defaults to single-node discovery; "zen" is OpenSearch's
            # own default, the one that forms a cluster from seed hosts.
            "discovery.type=zen",
            "discovery.seed_hosts=" + ",".join(f"127.0.0.1:{p}" for p in transports),
            "cluster.initial_cluster_manager_nodes=" + ",".join(names),
        ]
        self.nodes = [
            EmbeddedNode(
                settings,
                node_home=self.home / f"node-{i + 1}",
                port=base + i,
                transport_port=transports[i],
                extra=[f"node.name={names[i]}", *discovery],
            )
            for i in range(size)
        ]
        self.urls = [n.url for n in self.nodes]

    @property
    def url_list(self) -> str:
        """The value for TAGTRAIL_OPENSEARCH_URL that names every node."""
        return ",".join(self.urls)

    def health(self) -> ClusterHealth | None:
        """The cluster's health as the first answering node sees it; None if none answers."""
        for url in self.urls:
            try:
                with urllib.request.urlopen(f"{url}/_cluster/health", timeout=5) as resp:
                    return msgspec.json.decode(resp.read(), type=ClusterHealth)
            except (urllib.error.URLError, OSError, msgspec.DecodeError, msgspec.ValidationError):
                continue
        return None

    def status(self) -> list[NodeStatus]:
        return [n.status() for n in self.nodes]

    def start(self, *, wipe: bool = False, timeout_s: float = 240.0) -> list[NodeStatus]:
        """Start every node not already running; wait until all have joined and the cluster
        is green or yellow."""
        if wipe:
            for node in self.nodes:
                node.wipe()
        launched = []
        target: Path | None = None
        for node in self.nodes:
            current = node.status()
            if current.answering:
                node.check_version(current)
                self._check_member(node)
                continue
            target = target or node.build()
            launched.append((node, node.launch(target)))
        self.wait(timeout_s=timeout_s, launched=launched)
        return self.status()

    def _check_member(self, node: EmbeddedNode) -> None:
        """Something answering on a node's port must be that node of this cluster, not, say,
        the single embedded node on the same port (it would never let the others join)."""
        try:
            with urllib.request.urlopen(node.url, timeout=5) as resp:
                info = msgspec.json.decode(resp.read())
        except (urllib.error.URLError, OSError, msgspec.DecodeError):
            return  # gone meanwhile: the wait below reports it
        name = info.get("cluster_name") if isinstance(info, dict) else None
        if name != CLUSTER_NAME:
            raise EmbeddedNodeError(
                f"port {node.port} is taken by an OpenSearch of cluster {name!r}, not "
                f"{CLUSTER_NAME!r} (the single embedded node? `tagtrail opensearch stop`); "
                f"or set TAGTRAIL_EMBEDDED_PORT to other ports for the cluster"
            )

    def start_node(self, index: int, *, timeout_s: float = 240.0) -> NodeStatus:
        """(Re)start one node (0-based) with its data directory, and wait until it joined."""
        node = self.nodes[index]
        if not node.status().answering:
            self.wait(timeout_s=timeout_s, launched=[(node, node.launch(node.build()))])
        return node.status()

    def wait(
        self,
        *,
        timeout_s: float = 240.0,
        launched: list[tuple[EmbeddedNode, subprocess.Popen[bytes]]] | None = None,
        statuses: tuple[str, ...] = ("green", "yellow"),
    ) -> ClusterHealth:
        """Wait until all nodes are in the cluster and its health is one of ``statuses``."""
        deadline = time.monotonic() + timeout_s
        last: ClusterHealth | None = None
        while time.monotonic() < deadline:
            for node, proc in launched or ():
                node.check_alive(proc)
            last = self.health()
            if last and last.number_of_nodes == self.size and last.status in statuses:
                return last
            time.sleep(0.5)
        logs = "\n".join(f"  {n.log_file}" for n in self.nodes)
        raise EmbeddedNodeError(
            f"the {self.size}-node cluster was not {'/'.join(statuses)} with all nodes in "
            f"{timeout_s:.0f}s (last health: {last}); see the node logs:\n{logs}"
        )

    def stop(self) -> int:
        """Stop every node; returns how many were running."""
        return sum(node.stop() for node in self.nodes)

    def wipe_all(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


def stop_all(settings: Settings) -> int:
    """Stop the single node and every cluster node this home started (by pid file)."""
    home = Path(settings.home).expanduser()
    nodes = [EmbeddedNode(settings)]
    nodes += [
        EmbeddedNode(settings, node_home=d) for d in sorted(home.glob("opensearch-cluster/node-*"))
    ]
    return sum(node.stop() for node in nodes)


class ClusterStatus(msgspec.Struct, kw_only=True, frozen=True):
    health: ClusterHealth | None
    nodes: list[NodeStatus]


def main_cluster_status(cluster: EmbeddedCluster) -> int:
    nodes = cluster.status()
    report = ClusterStatus(health=cluster.health(), nodes=nodes)
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(report)).decode() + "\n")
    return 0 if all(n.answering for n in nodes) else 3
