"""Shared fixtures. Tests that need OpenSearch talk to a real node over HTTP.

The session starts the embedded OpenSearch 2.19.1 + k-NN node (or reuses one already
answering on TAGTRAIL_TEST_OPENSEARCH_URL / the embedded port). Each test gets its own
index prefix, so tests never see each other's documents, and the indices are dropped after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from tagtrail.config import Settings, load_settings
from tagtrail.embedded.node import EmbeddedNode


@pytest.fixture(scope="session")
def opensearch_url() -> Iterator[str]:
    url = os.environ.get("TAGTRAIL_TEST_OPENSEARCH_URL")
    if url:
        yield url
        return
    settings = load_settings(opensearch_url=None)
    node = EmbeddedNode(settings)
    status = node.start()
    yield status.url


@pytest.fixture(scope="session", autouse=True)
def no_holdout() -> Iterator[None]:
    """No random hold-out unless a test asks for one (TAGTRAIL_HOLDOUT_SHARE, seen by the
    settings fixture, the CLI and spawned servers): hold-out assets leave the PENDING queue
    and training, so a hash of a test's asset ids would decide what it sees."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TAGTRAIL_HOLDOUT_SHARE", "0")
        yield


@pytest.fixture
def settings(opensearch_url: str) -> Settings:
    prefix = f"tt-test-{uuid.uuid4().hex[:10]}"
    return load_settings(
        opensearch_url=opensearch_url,
        index_prefix=prefix,
        dev=True,
        model="random-init:tiny",
        batch_size=8,
        # Short: servers follow an apply quickly, and apply waits this long before migrating.
        taxonomy_refresh_s=0.2,
        taxonomy_apply_wait_s=0.3,  # a refresh interval and more; no request here runs longer
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[object]:
    from tagtrail.store.client import make_client
    from tagtrail.store.indices import drop_indices

    os_client = make_client(settings)
    try:
        yield os_client
    finally:
        await drop_indices(os_client, settings)
        await os_client.close()


@pytest.fixture
async def indexed(client: object, settings: Settings) -> object:
    """A client whose tagtrail indices exist (created from index_mappings/), with the
    settings' taxonomy folder in force (what `tagtrail init-indices` does)."""
    from tagtrail.store import Store
    from tagtrail.store.indices import ensure_indices
    from tagtrail.usecases.taxonomy_in_force import TaxonomyInForce

    await ensure_indices(client, settings)  # type: ignore[arg-type]
    await TaxonomyInForce(Store(settings, client), settings).current()  # type: ignore[arg-type]
    return client


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name the package's modules over ~400 lines: a prompt to cut where concepts part."""
    from tests.test_structure import MAX_LINES, long_modules

    long = long_modules()
    if long:
        terminalreporter.write_sep("-", f"modules over {MAX_LINES} lines")
        for module, lines in sorted(long.items(), key=lambda kv: -kv[1]):
            terminalreporter.write_line(f"{module}: {lines} lines")
