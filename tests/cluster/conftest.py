"""A private three-node cluster for the failure tests (ports 9280-9282, a temporary home).

The cluster is started once for the tests of this folder and always stopped afterwards,
failure or not. Its home links the embedded node's Maven build of the default home (built
there first if need be), so the cluster costs three JVM start-ups, not a second Maven build.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from tagtrail.config import load_settings
from tagtrail.embedded.cluster import EmbeddedCluster
from tagtrail.embedded.node import EmbeddedNode

#: Base HTTP port (transport ports are 100 above); TAGTRAIL_TEST_CLUSTER_PORT moves it.
BASE_PORT = int(os.environ.get("TAGTRAIL_TEST_CLUSTER_PORT", "9280"))
SIZE = 3


def _taken(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    ports = [p for i in range(SIZE) for p in (BASE_PORT + i, BASE_PORT + 100 + i)]
    taken = [p for p in ports if _taken(p)]
    # A node left there by someone else would be "reused" and then killed by the test.
    assert not taken, f"ports {taken} are in use; set TAGTRAIL_TEST_CLUSTER_PORT to free ones"
    build = EmbeddedNode(load_settings()).build()
    home = tmp_path_factory.mktemp("cluster-home")
    (home / build.parent.name).symlink_to(build.parent, target_is_directory=True)
    settings = load_settings(
        environ={}, home=str(home), embedded_port=BASE_PORT, embedded_heap="512m"
    )
    cluster = EmbeddedCluster(settings, SIZE)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
