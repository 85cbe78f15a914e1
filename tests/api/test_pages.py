"""Pages, vendor files, the offline GraphiQL and OpenAPI UI, and CORS."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from tagtrail.api.pages import VENDOR_FILES, missing_vendor_files, vendor_dir
from tagtrail.app import create_app
from tagtrail.config import Settings, load_settings, parse_origins
from tagtrail.errors import ConfigError
from tests.api.conftest import Api

pytestmark = pytest.mark.opensearch
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)
ALLOWED = "http://127.0.0.1:9911"


def test_front_end_packages_are_installed(settings: Settings) -> None:
    assert missing_vendor_files(vendor_dir(settings)) == [], "run scripts/bootstrap (npm ci)"


async def test_pages_and_vendor_files_come_from_tagtrail_itself(make_api: Any) -> None:
    api: Api = await make_api(dev=True)
    for path in ("/review", "/search", "/quality", "/schema", "/schema/swagger"):
        page = await api.http.get(path, headers={"Accept": "text/html"})
        assert page.status_code == 200, path
        assert not EXTERNAL.search(page.text), f"{path} loads from another host"
    graphiql = await api.http.get("/graphql", headers={"Accept": "text/html"})
    assert graphiql.status_code == 200
    assert "/static/vendor/graphiql.min.js" in graphiql.text
    assert not EXTERNAL.search(graphiql.text)
    for name in VENDOR_FILES:
        response = await api.http.get(f"/static/vendor/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith(("text/javascript", "text/css"))
    assert (await api.http.get("/static/vendor/left-pad.js")).status_code == 404
    assert (await api.http.get("/static/app/review.js")).status_code == 200


async def test_missing_packages_say_how_to_install_them(make_api: Any, tmp_path: Any) -> None:
    api: Api = await make_api(web_vendor_dir=str(tmp_path))
    response = await api.http.get("/static/vendor/graphiql.min.js")
    assert response.status_code == 503
    assert "scripts/bootstrap" in response.json()["message"]


async def test_cors_allows_configured_origins_only(make_api: Any) -> None:
    api: Api = await make_api(cors_origins=f"{ALLOWED}, https://dam.example.com/")
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    ok = await api.http.options("/graphql", headers={"Origin": ALLOWED, **preflight})
    assert ok.status_code in (200, 204)
    assert ok.headers["access-control-allow-origin"] == ALLOWED
    assert "authorization" in ok.headers["access-control-allow-headers"].lower()
    post = await api.http.post(
        "/graphql", json={"query": "{ version }"}, headers={"Origin": ALLOWED}
    )
    assert post.headers["access-control-allow-origin"] == ALLOWED
    other = await api.http.options("/graphql", headers={"Origin": "http://evil.test", **preflight})
    assert "access-control-allow-origin" not in other.headers
    post = await api.http.post(
        "/graphql", json={"query": "{ version }"}, headers={"Origin": "http://evil.test"}
    )
    assert "access-control-allow-origin" not in post.headers


async def test_no_cors_by_default(api: Api) -> None:
    response = await api.http.options(
        "/graphql", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in response.headers


def test_bad_cors_origins_stop_start_up_naming_the_variable() -> None:
    assert parse_origins(" https://a.example ,http://127.0.0.1:8080/ ") == (
        "https://a.example",
        "http://127.0.0.1:8080",
    )
    with pytest.raises(ConfigError, match=r"TAGTRAIL_CORS_ORIGINS: 'dam\.example\.com/x'"):
        create_app(load_settings(environ={"TAGTRAIL_CORS_ORIGINS": "dam.example.com/x"}))


async def test_a_streamed_file_lets_its_request_end(make_api: Any) -> None:
    """A large file is streamed, and the streaming response waits for the client's
    disconnect before it returns. The bounded-requests middleware once kept that message
    from it, so every such request held its store share until the deadline (60 s)."""
    api: Api = await make_api(dev=True, request_timeout_s=30)
    response = await asyncio.wait_for(api.http.get("/static/vendor/graphiql.min.js"), 10)
    assert response.status_code == 200
    assert len(response.content) > 1_000_000  # big enough to be streamed in chunks
