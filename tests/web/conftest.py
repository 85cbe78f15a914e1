"""Browser tests: Debian's ``chromium`` (headless, driven by Playwright over CDP; nothing is
downloaded) against a real tagtrail server (uvicorn in a subprocess) on the real OpenSearch.

Each module starts one server on its own index prefix and shares one browser; each test
gets a fresh browser context (so a fresh sessionStorage) whose requests to anything but
this machine are refused, and saves a screenshot under ``artifacts/browser/`` (or
``TAGTRAIL_TEST_ARTIFACTS``) when it fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from tagtrail.api.auth import hash_key
from tagtrail.config import Settings, load_settings
from tests.web.support import create_with_thumbnails, drop, free_port, prepare, run

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("TAGTRAIL_TEST_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling Google runtime, which an
# offline machine answers slowly or never.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("TAGTRAIL_TEST_ARTIFACTS", ROOT / "artifacts" / "browser"))
REVIEWER, OTHER, VIEWER = "tt_web-reviewer", "tt_web-other", "tt_web-viewer"
KEYS = ",".join(
    [
        f"rita:reviewer:{hash_key(REVIEWER)}",
        f"otto:reviewer:{hash_key(OTHER)}",
        f"vic:viewer:{hash_key(VIEWER)}",
    ]
)
LOCAL = ("http://127.0.0.1", "http://localhost", "data:", "blob:")


class Server:
    """A running tagtrail server: its URL, its settings, and helpers to seed it."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.settings = settings

    def create(self, assets: Sequence[Any], *, thumbnails: bool = True) -> None:
        """Create factory assets (tests/api/factories.A), with a thumbnail each unless not."""
        run(create_with_thumbnails(self.settings, assets, thumbnails=thumbnails))

    def gql(self, query: str, variables: dict[str, Any] | None = None, *, key: str) -> Any:
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]


def start_server(opensearch_url: str, **env: str) -> Iterator[Server]:
    prefix = f"tt-test-web-{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        environ={}, opensearch_url=opensearch_url, index_prefix=prefix, model="random-init:tiny"
    )
    run(prepare(settings))
    port = free_port()
    environ = {
        **os.environ,
        "TAGTRAIL_OPENSEARCH_URL": opensearch_url,
        "TAGTRAIL_INDEX_PREFIX": prefix,
        "TAGTRAIL_MODEL": "random-init:tiny",
        "TAGTRAIL_BATCH_SIZE": "8",
        "TAGTRAIL_API_KEYS": KEYS,
        "TAGTRAIL_API_KEYS_FILE": "",
        "TAGTRAIL_DEV": "false",
        "TAGTRAIL_LOG_FORMAT": "text",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        **env,
    }
    command = [sys.executable, "-m", "uvicorn", "tagtrail.app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(command, env=environ, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                ready = httpx.get(f"{url}/readyz", timeout=2)
                if ready.status_code == 200 and ready.json()["pipeline"] == "ready":
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"tagtrail server did not start on {url} (exit {proc.poll()})")
            time.sleep(0.2)
        yield Server(url, settings)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        run(drop(settings))


@pytest.fixture(scope="module")
def server(opensearch_url: str) -> Iterator[Server]:
    yield from start_server(opensearch_url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One browser per module. Module-scoped, not session-scoped: Playwright's sync API runs
    an event loop on this thread while it is started, which async tests must not meet."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Debian's chromium is not installed ({CHROMIUM} is missing): run scripts/bootstrap "
            "(apt-get install chromium) — browser tests never download a browser"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    item.stash.setdefault(REPORTS, {})[report.when] = report


REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


class Tab:
    """One page plus what it tried to fetch from elsewhere and the errors it threw."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.blocked: list[str] = []
        self.errors: list[str] = []


@pytest.fixture
def tab(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    tab = Tab(page)

    def only_local(route: Route) -> None:
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            tab.blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    yield tab
    reports = request.node.stash.get(REPORTS, {})
    if any(r.failed for r in reports.values()):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def sign_in(tab: Tab, url: str, key: str) -> Page:
    """Open ``url``, sign in with ``key`` and wait for the page to be ready."""
    page = tab.page
    page.goto(url)
    page.fill("#api-key", key)
    page.click("form.signin button[type=submit]")
    page.wait_for_selector("body[data-ready=true]")
    return page
