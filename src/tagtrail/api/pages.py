"""The web pages tagtrail serves itself: review grid, buyer search, quality report, GraphiQL,
OpenAPI docs.

Nothing is loaded from a CDN. Our own pages are plain HTML + ES modules under
``src/tagtrail/web/``; third-party front-end files (React, GraphiQL, Swagger UI, Observable
Plot, d3) come from the npm packages pinned in ``src/tagtrail/web/package.json``, installed by
``scripts/bootstrap`` (``npm ci``) into ``src/tagtrail/web/node_modules`` (or
``TAGTRAIL_WEB_VENDOR_DIR``) and served from
``/static/vendor/<name>`` — only the files listed in :data:`VENDOR_FILES`.
The pages talk to ``/graphql`` like any other front-end.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

from litestar import get
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.response import File, Response
from litestar.static_files import create_static_files_router

from tagtrail import __version__
from tagtrail.config import Settings

log = logging.getLogger(__name__)

WEB_DIR: Final = Path(__file__).resolve().parents[1] / "web"
PAGES_DIR: Final = WEB_DIR / "pages"
APP_DIR: Final = WEB_DIR / "static"
DEFAULT_VENDOR_DIR: Final = WEB_DIR / "node_modules"

#: Public name under /static/vendor/ → file inside node_modules (pinned in package.json).
VENDOR_FILES: Final[dict[str, str]] = {
    "react.production.min.js": "react/umd/react.production.min.js",
    "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "graphiql.min.js": "graphiql/graphiql.min.js",
    "graphiql.min.css": "graphiql/graphiql.min.css",
    "plugin-explorer.umd.js": "@graphiql/plugin-explorer/dist/index.umd.js",
    "plugin-explorer.css": "@graphiql/plugin-explorer/dist/style.css",
    "swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js": "swagger-ui-dist/swagger-ui-standalone-preset.js",
    "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
    "d3.min.js": "d3/dist/d3.min.js",  # Plot's UMD build reads a global d3
    "plot.umd.min.js": "@observablehq/plot/dist/plot.umd.min.js",
}
_MEDIA = {".js": "text/javascript", ".css": "text/css"}
INSTALL_HINT: Final = (
    "front-end packages are not installed: run scripts/bootstrap "
    "(or `npm ci --prefix src/tagtrail/web`)"
)
FAVICON: Final = "<link rel='icon' type='image/svg+xml' href='/static/app/favicon.svg'>"


def vendor_dir(settings: Settings) -> Path:
    return Path(settings.web_vendor_dir) if settings.web_vendor_dir else DEFAULT_VENDOR_DIR


def missing_vendor_files(folder: Path) -> list[str]:
    """Vendor files the pages need that are not installed (empty when all are there)."""
    return [rel for rel in VENDOR_FILES.values() if not (folder / rel).is_file()]


def _vendor_handler(folder: Path) -> Any:
    @get("/static/vendor/{name:str}", include_in_schema=False, sync_to_thread=False)
    def vendor_file(name: str) -> Response[Any]:
        rel = VENDOR_FILES.get(name)
        if rel is None:
            return Response(
                {"error": "not_found", "message": f"no vendor file {name!r}"}, status_code=404
            )
        path = folder / rel
        if not path.is_file():
            return Response({"error": "not_installed", "message": INSTALL_HINT}, status_code=503)
        return File(
            path,
            content_disposition_type="inline",
            media_type=_MEDIA.get(path.suffix, "application/octet-stream"),
            headers={"Cache-Control": "public, max-age=86400"},
        )

    return vendor_file


def _page(name: str) -> Response[bytes]:
    return Response(
        (PAGES_DIR / name).read_bytes(),
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


@get("/review", include_in_schema=False, sync_to_thread=False)
def review_page() -> Response[bytes]:
    """The keyboard-first review grid."""
    return _page("review.html")


@get("/search", include_in_schema=False, sync_to_thread=False)
def search_page() -> Response[bytes]:
    """The buyer's faceted search."""
    return _page("search.html")


@get("/quality", include_in_schema=False, sync_to_thread=False)
def quality_page() -> Response[bytes]:
    """The governance charts: tiers over time, reliability, corrections per segment."""
    return _page("quality.html")


def graphiql_html() -> str:
    """GraphiQL, loading React and GraphiQL from /static/vendor (no CDN)."""
    return (PAGES_DIR / "graphiql.html").read_text("utf-8")


def openapi_config() -> OpenAPIConfig:
    """OpenAPI at /schema (JSON at /schema/openapi.json), rendered by a local Swagger UI."""
    return OpenAPIConfig(
        title="tagtrail",
        version=__version__,
        description="REST is for uploads and thumbnails; everything else is GraphQL at /graphql.",
        render_plugins=[
            SwaggerRenderPlugin(
                js_url="/static/vendor/swagger-ui-bundle.js",
                css_url="/static/vendor/swagger-ui.css",
                standalone_preset_js_url="/static/vendor/swagger-ui-standalone-preset.js",
                favicon=FAVICON,
                path=["/", "/swagger"],
            )
        ],
    )


def page_handlers(settings: Settings) -> list[Any]:
    folder = vendor_dir(settings)
    missing = missing_vendor_files(folder)
    if missing:
        log.warning("%s; missing: %s", INSTALL_HINT, ", ".join(missing))
    static = create_static_files_router(
        path="/static/app",
        directories=[APP_DIR],
        include_in_schema=False,
        cache_control=None,
        name="app-static",
    )
    return [_vendor_handler(folder), review_page, search_page, quality_page, static]
