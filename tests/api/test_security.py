"""Security at the HTTP edge: no credentials in answers, no state change from another site,
no request headers from GraphiQL's URL."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tagtrail.api.auth import hash_key
from tagtrail.app import create_app
from tagtrail.config import Settings, load_settings
from tagtrail.errors import ConfigError
from tests.api.conftest import Api, ApiFactory
from tests.api.factories import A, T
from tests.support.server import ROOT

pytestmark = pytest.mark.opensearch

SECRET = "s3cr3t-Pa55"
REJECT = """mutation($id: ID!) {
  rejectTag(input: {assetId: $id, attribute: "category", expectedRevision: 1})
  { __typename ... on TagDecision { revision } } }"""
EVIL = "https://evil.example"


def _with_credentials(url: str) -> str:
    """The same node, named with a user and password (security is off: it ignores them)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://alice:{SECRET}@{rest}"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_readyz_never_shows_the_password(
    settings: Settings, indexed: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    up = settings.with_changes(opensearch_url=_with_credentials(settings.effective_opensearch_url))
    dead = settings.with_changes(opensearch_url=f"http://alice:{SECRET}@127.0.0.1:{_closed_port()}")
    for changed, status in ((up, 200), (dead, 503)):
        async with AsyncTestClient(create_app(changed)) as http:
            response = await http.get("/readyz")
        assert response.status_code == status, response.text
        assert SECRET not in response.text
        assert "alice" not in response.text
        assert "***@127.0.0.1" in response.json()["opensearch"]
    assert SECRET not in caplog.text


def test_a_bad_url_is_named_without_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"TAGTRAIL_OPENSEARCH_URL": f"http://bob:{SECRET}@node:port"})
    assert SECRET not in caught.value.message
    assert "***@node:port" in caught.value.message


def _flagged(*ids: str) -> list[A]:
    return [A(id=i, tags=(T(attribute="category", value="jumper", probability=0.8),)) for i in ids]


async def _reject_by_form(api: Api, headers: dict[str, str], asset_id: str = "x1") -> Any:
    """rejectTag as a plain HTML form can post it: multipart/form-data, no preflight."""
    operations = json.dumps({"query": REJECT, "variables": {"id": asset_id}})
    form = {"operations": (None, operations), "map": (None, "{}")}
    return await api.http.post("/graphql", files=form, headers=headers)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
        {"Origin": EVIL},  # a browser that does not send Sec-Fetch-*
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},  # a sandboxed frame
        {"Origin": "http://test.evil.example", "Sec-Fetch-Site": "same-site"},
    ],
)
async def test_a_page_on_another_site_cannot_change_state(
    api: Api, headers: dict[str, str]
) -> None:
    await api.create(_flagged("x1", "own1", "own2", "own3"))
    response = await _reject_by_form(api, headers)
    assert response.status_code == 403, response.text
    assert "cross-site request refused" in response.json()["message"]
    assert (await api.source("x1"))["revision"] == 1  # nothing written
    # The same form posted by the page itself, or by a client that is not a browser, works.
    here = {"Host": "127.0.0.1:8000", "Origin": "http://127.0.0.1:8000"}
    own_page = {**here, "Sec-Fetch-Site": "same-origin"}
    for asset_id, own in (("own1", own_page), ("own2", here), ("own3", {})):
        answer = await _reject_by_form(api, own, asset_id)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["rejectTag"]["revision"] == 2


async def test_open_dev_mode_takes_changes_from_loopback_pages_only(make_api: ApiFactory) -> None:
    """DNS rebinding: a site that points its own name at 127.0.0.1 is "same origin" to the
    browser; with no keys (everyone is admin) only pages on loopback may change state."""
    rebound = {
        "Host": "rebound.example:8000",
        "Origin": "http://rebound.example:8000",
        "Sec-Fetch-Site": "same-origin",
    }
    api = await make_api()
    await api.create(_flagged("x1", "x2"))
    response = await _reject_by_form(api, rebound)
    assert response.status_code == 403, response.text
    assert "loopback only" in response.json()["message"]
    # With keys configured the key is what counts, and the page's own origin may post.
    keyed = await make_api(api_keys=f"rita:reviewer:{hash_key('tt_rita')}")
    answer = await _reject_by_form(keyed, {**rebound, "Authorization": "Bearer tt_rita"}, "x2")
    assert answer.json()["data"]["rejectTag"] == {"__typename": "TagDecision", "revision": 2}


async def test_an_origin_allowed_by_cors_may_post(make_api: ApiFactory) -> None:
    api = await make_api(cors_origins=EVIL)
    await api.create(_flagged("x1"))
    response = await _reject_by_form(api, {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["rejectTag"] == {"__typename": "TagDecision", "revision": 2}


async def test_graphiql_takes_no_headers_from_its_url(api: Api) -> None:
    page = await api.http.get(
        "/graphql?headers=%7B%22Authorization%22%3A%22Bearer%20tt_theirs%22%7D",
        headers={"Accept": "text/html"},
    )
    assert page.status_code == 200
    assert "GraphiQL" in page.text
    script = page.text
    # The page reads only the query from its URL; headers come from the signed-in tab only.
    assert set(re.findall(r"params\.get\(\"(\w+)\"\)", script)) == {"query"}
    assert "location.search" in script  # (so the check above looked at the right code)


def test_open_dev_mode_refuses_a_host_beyond_loopback(settings: Settings) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "TAGTRAIL_DEV": "true",
        "TAGTRAIL_API_KEYS": "",
        "TAGTRAIL_API_KEYS_FILE": "",
        "TAGTRAIL_OPENSEARCH_URL": settings.effective_opensearch_url,
        "TAGTRAIL_INDEX_PREFIX": settings.index_prefix,
        "TAGTRAIL_MODEL": "random-init:tiny",
    }
    command = [sys.executable, "-m", "tagtrail", "serve", "--host", "0.0.0.0"]
    done = subprocess.run(
        [*command, "--port", str(_closed_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "listens on loopback only, not '0.0.0.0'" in done.stderr
    assert "TAGTRAIL_DEV_LISTEN_ANY" in done.stderr


def test_open_dev_mode_says_it_listens_on_loopback(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from tagtrail.cli import listen_host

    caplog.set_level(logging.INFO, logger="tagtrail")
    open_dev = settings.with_changes(dev=True, api_keys=None, api_keys_file=None, host="127.0.0.1")
    assert listen_host(open_dev) == "127.0.0.1"
    assert "every caller acts as admin; listening on 127.0.0.1 (loopback only)" in caplog.text
    # With keys nobody is admin by default: any host, nothing to say.
    keyed = open_dev.with_changes(api_keys=f"ada:admin:{'0' * 64}", host="0.0.0.0")
    assert listen_host(keyed) == "0.0.0.0"
    # Where the port is published to loopback only (a container), the operator says so.
    assert listen_host(open_dev.with_changes(host="0.0.0.0", dev_listen_any=True)) == "0.0.0.0"


async def test_a_link_or_image_cannot_run_a_mutation(api: Api) -> None:
    """GET is let through as safe (an <img> or a link can send it), so it must not mutate."""
    await api.create(_flagged("x1"))
    query = REJECT.replace("$id: ID!", "").replace("$id", '"x1"').replace("mutation()", "mutation")
    cross_site = {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"}
    response = await api.http.get("/graphql", params={"query": query}, headers=cross_site)
    assert response.status_code == 400, response.text
    assert "mutations are not allowed" in response.text.lower()
    assert (await api.source("x1"))["revision"] == 1
