"""docker-compose.yml is valid for users with Docker (no engine runs here)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_file_structure() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    opensearch = services["opensearch"]
    assert opensearch["image"] == "opensearchproject/opensearch:2.19.1"
    assert opensearch["environment"]["DISABLE_SECURITY_PLUGIN"] == "true"
    assert opensearch["environment"]["discovery.type"] == "single-node"
    assert "healthcheck" in opensearch
    assert services["dashboards"]["image"].endswith(":2.19.1")
    tagtrail = services["tagtrail"]
    assert tagtrail["build"] == "."
    assert tagtrail["environment"]["TAGTRAIL_OPENSEARCH_URL"] == "http://opensearch:9200"
    assert tagtrail["depends_on"]["opensearch"]["condition"] == "service_healthy"
    assert "healthcheck" in tagtrail
    assert set(compose["volumes"]) >= {"opensearch-data"}
    assert (ROOT / "Dockerfile").exists()


def test_cluster_profile_is_three_nodes_forming_one_cluster() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    names = ["opensearch-node1", "opensearch-node2", "opensearch-node3"]
    nodes = [services[n] for n in names]
    published, volumes = [], []
    for name, node in zip(names, nodes, strict=True):
        env = node["environment"]
        assert node["profiles"] == ["cluster"]  # `docker compose up` alone: the single node
        assert node["image"] == "opensearchproject/opensearch:2.19.1"
        assert env["node.name"] == name
        assert env["cluster.name"] == "tagtrail-cluster"
        assert "discovery.type" not in env  # single-node discovery would never form a cluster
        assert env["discovery.seed_hosts"].split(",") == names
        assert env["cluster.initial_cluster_manager_nodes"].split(",") == names
        assert env["DISABLE_SECURITY_PLUGIN"] == "true"
        assert "node.roles" not in env  # default roles: cluster-manager-eligible and data
        (volume,) = node["volumes"]
        volumes.append(volume.split(":")[0])
        published += [p.rsplit(":", 1)[0] for p in node.get("ports", [])]
    assert len(set(volumes)) == 3
    assert set(volumes) <= set(compose["volumes"])
    assert len(published) == len(set(published))  # no host port twice
    assert "127.0.0.1:9200" not in published  # the single node's port stays its own
    assert "healthcheck" in nodes[0]
    app = services["tagtrail-cluster"]
    assert app["profiles"] == ["cluster"]
    assert app["build"] == "."
    urls = app["environment"]["TAGTRAIL_OPENSEARCH_URL"].split(",")
    assert urls == [f"http://{n}:9200" for n in names]
    assert app["depends_on"]["opensearch-node1"]["condition"] == "service_healthy"
    assert app["ports"] != services["tagtrail"]["ports"]


def test_compose_config_parses_with_the_compose_tool_when_installed() -> None:
    if shutil.which("docker-compose"):
        cmd = ["docker-compose", "config", "-q"]
    elif (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        cmd = ["docker", "compose", "config", "-q"]
    else:
        return  # only the structural test above can run on this machine
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
