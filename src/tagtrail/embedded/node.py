"""Build, start, stop and inspect the embedded OpenSearch 2.19.1 + k-NN node.

The node is assembled from Maven Central by the small Maven project shipped next to this
module (``java/pom.xml``) and run as ``java -cp … io.tagtrail.embedded.EmbeddedNode``.
Layout under ``<home>`` (``TAGTRAIL_HOME``, default ``~/.cache/tagtrail``)::

    embedded-2.19.1/      build copy of the Maven project (jars in target/)
    opensearch/           path.home of the node: data/, logs/, node.pid, node.log
    opensearch-cluster/   node-1/ … node-N/, each laid out as opensearch/ (see cluster.py)

The Maven build reuses ``~/.m2``; it reruns only when the shipped sources change.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import msgspec

from tagtrail.config import Settings
from tagtrail.errors import EmbeddedNodeError

OPENSEARCH_VERSION = "2.19.1"
_JAVA_SOURCES = Path(__file__).parent / "java"
_MAIN_CLASS = "io.tagtrail.embedded.EmbeddedNode"


class NodeStatus(msgspec.Struct, kw_only=True, frozen=True):
    url: str
    pid: int | None
    running: bool
    answering: bool
    version: str | None = None
    health: str | None = None
    log_file: str | None = None


class EmbeddedNode:
    """Manages one local node; every operation is idempotent.

    Without the keyword arguments it is the single node (``<home>/opensearch``, the
    embedded port, single-node discovery). A cluster (:mod:`.cluster`) gives each of its
    nodes its own home, ports and the discovery settings in ``extra`` (``key=value``).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        node_home: Path | None = None,
        port: int | None = None,
        transport_port: int | None = None,
        extra: Sequence[str] = (),
    ) -> None:
        self._settings = settings
        home = Path(settings.home).expanduser()
        self.build_dir = home / f"embedded-{OPENSEARCH_VERSION}"
        self.node_home = node_home or home / "opensearch"
        self.pid_file = self.node_home / "node.pid"
        self.log_file = self.node_home / "node.log"
        self.port = settings.embedded_port if port is None else port
        self.url = f"http://127.0.0.1:{self.port}"
        self._transport_port = transport_port
        self._extra = tuple(extra)
        self._proc: subprocess.Popen[bytes] | None = None

    # -- build -------------------------------------------------------------------------
    def _sources_digest(self) -> str:
        digest = hashlib.sha256()
        for path in sorted(p for p in _JAVA_SOURCES.rglob("*") if p.is_file()):
            if "target" in path.relative_to(_JAVA_SOURCES).parts:
                continue
            digest.update(str(path.relative_to(_JAVA_SOURCES)).encode())
            digest.update(path.read_bytes())
        return digest.hexdigest()

    def build(self, *, force: bool = False, quiet: bool = True) -> Path:
        """Assemble the node with Maven (once per source digest); return its target dir."""
        target = self.build_dir / "target"
        stamp = self.build_dir / ".built"
        digest = self._sources_digest()
        if not force and stamp.exists() and stamp.read_text() == digest:
            return target
        if shutil.which("mvn") is None:
            raise EmbeddedNodeError(
                "Maven ('mvn') is not on PATH; it is needed to assemble "
                "the embedded OpenSearch from Maven Central"
            )
        if self.build_dir.exists():
            shutil.rmtree(self.build_dir)
        shutil.copytree(_JAVA_SOURCES, self.build_dir, ignore=shutil.ignore_patterns("target"))
        cmd = ["mvn", "-B", "-q" if quiet else "-ntp", "package"]
        proc = subprocess.run(cmd, cwd=self.build_dir, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr)[-4000:]
            raise EmbeddedNodeError(f"Maven build of the embedded node failed:\n{tail}")
        stamp.write_text(digest)
        return target

    def _classpath(self, target: Path) -> str:
        return os.pathsep.join(
            [str(target / "classes"), str(target / "lib" / "*"), str(target / "knn" / "*")]
        )

    # -- process -----------------------------------------------------------------------
    def _read_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        # A stale pid file may name a process that reused the number: never treat (or
        # signal) anything but our node as the node.
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists() and _MAIN_CLASS.encode() not in cmdline.read_bytes():
            return None
        return pid

    def _probe(self) -> tuple[str | None, str | None]:
        """(version, health) if something answers on the port, else (None, None)."""
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(self.url, timeout=2) as resp:
                info = msgspec.json.decode(resp.read())
            with urllib.request.urlopen(f"{self.url}/_cluster/health", timeout=5) as resp:
                health = msgspec.json.decode(resp.read())
        except (urllib.error.URLError, OSError, msgspec.DecodeError):
            return None, None
        version = info.get("version", {}).get("number") if isinstance(info, dict) else None
        status = health.get("status") if isinstance(health, dict) else None
        return version, status

    def status(self) -> NodeStatus:
        pid = self._read_pid()
        version, health = self._probe()
        return NodeStatus(
            url=self.url,
            pid=pid,
            running=pid is not None,
            answering=version is not None,
            version=version,
            health=health,
            log_file=str(self.log_file),
        )

    def start(self, *, wipe: bool = False, timeout_s: float = 180.0) -> NodeStatus:
        """Start the node unless one already answers; wait until the cluster is healthy."""
        current = self.status()
        if current.answering and not wipe:
            self.check_version(current)
            return current
        if wipe:
            self.wipe()
        proc = self.launch(self.build())
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive(proc)
            version, health = self._probe()
            if version is not None and health in ("green", "yellow"):
                return self.status()
            time.sleep(0.5)
        raise EmbeddedNodeError(
            f"the embedded node did not become healthy in {timeout_s:.0f}s; "
            f"see {self.log_file}:\n{self._log_tail()}"
        )

    def check_version(self, current: NodeStatus) -> None:
        if current.version != OPENSEARCH_VERSION:
            raise EmbeddedNodeError(
                f"port {self.port} is taken by OpenSearch {current.version}, not "
                f"{OPENSEARCH_VERSION}; set TAGTRAIL_EMBEDDED_PORT or TAGTRAIL_OPENSEARCH_URL"
            )

    def wipe(self) -> None:
        """Stop the node and delete its data (its log stays, for whoever looks later)."""
        self.stop()
        shutil.rmtree(self.node_home / "data", ignore_errors=True)

    def launch(self, target: Path) -> subprocess.Popen[bytes]:
        """Spawn the node process and return at once (a cluster node cannot be healthy
        until enough of its peers run, so waiting is the caller's business)."""
        java = shutil.which("java")
        if java is None:
            raise EmbeddedNodeError("no 'java' on PATH; a JDK 17+ is needed for the embedded node")
        self.node_home.mkdir(parents=True, exist_ok=True)
        heap = self._settings.embedded_heap
        cmd = [
            java,
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-Dlog4j2.formatMsgNoLookups=true",
            "-Djava.awt.headless=true",
            "-Dfile.encoding=UTF-8",
            "-cp",
            self._classpath(target),
            _MAIN_CLASS,
            *self.launch_settings(),
        ]
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.node_home,
            )
        self.pid_file.write_text(str(proc.pid))
        self._proc = proc
        return proc

    def launch_settings(self) -> list[str]:
        """The node's ``key=value`` settings, as its Java main takes them."""
        transport = self._transport_port
        return [
            f"path.home={self.node_home}",
            f"path.data={self.node_home / 'data'}",
            f"path.logs={self.node_home / 'logs'}",
            f"http.port={self.port}",
            f"transport.port={transport if transport is not None else self._transport_ports()}",
            *self._extra,
        ]

    def check_alive(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is not None:
            raise EmbeddedNodeError(
                f"the embedded node exited with code {proc.returncode} during start-up; "
                f"last log lines ({self.log_file}):\n{self._log_tail()}"
            )

    def _transport_ports(self) -> str:
        # Near the HTTP port but never colliding with it, and always a valid port range.
        low = self.port + 100 if self.port + 200 <= 65535 else 9300
        return f"{low}-{low + 100}"

    def stop(self, *, timeout_s: float = 60.0) -> bool:
        """Stop the node this home started; True if one was running."""
        pid = self._read_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return False
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self._read_pid() is not None:
            self._reap()
            time.sleep(0.25)
        if self._read_pid() is not None:
            with contextlib.suppress(ProcessLookupError):  # it may end just now
                os.kill(pid, signal.SIGKILL)
        self._reap(wait=True)
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> bool:
        """SIGKILL the node, as a crash or the OOM killer would (failure tests); its data
        directory stays, so ``start`` brings the same node back. True if one was running."""
        pid = self._read_pid()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self._read_pid() is not None:
            self._reap()
            time.sleep(0.05)
        self._reap(wait=True)
        self.pid_file.unlink(missing_ok=True)
        return True

    def _reap(self, *, wait: bool = False) -> None:
        # A node this process launched is its child: collect its exit status, or it stays
        # a zombie that still answers kill(pid, 0).
        if self._proc is not None:
            if wait:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=30)
            if self._proc.poll() is not None:
                self._proc = None

    def _log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def main_status(node: EmbeddedNode) -> int:
    st = node.status()
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(st)).decode() + "\n")
    return 0 if st.answering else 3
