"""GraphiQL and the OpenAPI docs render and work with every request to anything but this
machine refused; a page on another local origin may call /graphql only when its origin is
in TAGTRAIL_CORS_ORIGINS."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.web.conftest import REVIEWER, Server, Tab, sign_in, start_server
from tests.web.support import free_port

pytestmark = [pytest.mark.opensearch, pytest.mark.browser, pytest.mark.slow]
ALLOWED_PORT = free_port()
CALLER = """<!doctype html><html><head><meta charset="utf-8"><title>a DAM plugin</title>
<link rel="icon" href="data:,"></head><body><script>
const params = new URLSearchParams(location.search);
fetch(params.get("api") + "/graphql", {
  method: "POST",
  headers: {"Content-Type": "application/json", "Authorization": "Bearer " + params.get("key")},
  body: JSON.stringify({query: "{ whoami { name } }"}),
}).then((r) => r.json())
  .then((b) => { document.body.dataset.result = "ok:" + b.data.whoami.name; })
  .catch((e) => { document.body.dataset.result = "refused:" + e.name; });
</script></body></html>"""


@pytest.fixture(scope="module")
def server(opensearch_url: str) -> Iterator[Server]:
    # GraphiQL is served in dev mode; keys are configured, so they are still required.
    yield from start_server(
        opensearch_url,
        TAGTRAIL_DEV="true",
        TAGTRAIL_CORS_ORIGINS=f"http://127.0.0.1:{ALLOWED_PORT}",
    )


@pytest.fixture(scope="module")
def origins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(allowed, other): the same little page served on two local origins."""
    folder: Path = tmp_path_factory.mktemp("origin")
    (folder / "caller.html").write_text(CALLER)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    servers = [ThreadingHTTPServer(("127.0.0.1", port), handler) for port in (ALLOWED_PORT, 0)]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    yield tuple(f"http://127.0.0.1:{s.server_address[1]}" for s in servers)  # type: ignore[misc]
    for s in servers:
        s.shutdown()
        s.server_close()


def test_graphiql_renders_and_runs_a_query_offline(server: Server, tab: Tab) -> None:
    page = sign_in(tab, f"{server.url}/review", REVIEWER)  # keeps the key for GraphiQL
    page.goto(f"{server.url}/graphql")
    run = page.locator(".graphiql-execute-button")
    expect(run).to_be_visible()
    expect(page.locator("#graphiql")).not_to_contain_text("Loading")
    run.click()
    expect(page.locator(".graphiql-response")).to_contain_text('"name": "rita"')
    expect(page.locator(".graphiql-response")).to_contain_text('"role": "reviewer"')
    assert tab.blocked == [], f"GraphiQL reached for {tab.blocked}"
    assert tab.errors == []


def test_openapi_docs_render_offline(server: Server, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{server.url}/schema")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("tagtrail")
    expect(
        page.locator(".opblock-summary-path", has_text="/assets/{asset_id}/thumbnail")
    ).to_be_visible()
    assert tab.blocked == [], f"the OpenAPI page reached for {tab.blocked}"


def test_cors_allows_the_configured_origin_and_refuses_others(
    server: Server, tab: Tab, origins: tuple[str, str]
) -> None:
    allowed, other = origins
    page = tab.page
    page.goto(f"{allowed}/caller.html?api={server.url}&key={REVIEWER}")
    expect(page.locator("body")).to_have_attribute("data-result", "ok:rita")
    page.goto(f"{other}/caller.html?api={server.url}&key={REVIEWER}")
    expect(page.locator("body")).to_have_attribute("data-result", re.compile("^refused:"))
