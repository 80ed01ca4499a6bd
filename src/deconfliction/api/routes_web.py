"""The map page at `/`: static files built from `web/` by `make install` (npm ci, then esbuild); nothing from a CDN.

The built files live in `deconfliction/web/static/` and are not committed. Where they are missing the page says how
to build them instead of failing obscurely. The page holds no secret: it signs in with a party token typed by the
user and keeps it in the tab's sessionStorage.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"

# Everything the page needs comes from this server: scripts, styles, the basemap data, the API. Leaflet sets
# element styles (positions of tiles and markers), so inline style attributes are allowed; inline scripts are not.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>deconfliction: map not built</title></head>
<body><h1>The map page is not built</h1>
<p>Its files come from <code>web/</code> through npm. Run <code>make install</code> in the project folder
(it runs <code>npm ci</code> and <code>npm run build</code> in <code>web/</code>), then reload this page.</p>
<p>The HTTP API works without it: see <a href="/docs">/docs</a>.</p></body></html>
"""


def built(static: Path = STATIC) -> bool:
    return (static / "index.html").is_file() and (static / "app.js").is_file()


def install(app: FastAPI, static: Path = STATIC) -> None:
    """Serve the page at `/` and its assets under `/static/` (both outside the OpenAPI document: not API)."""

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        if not built(static):
            return HTMLResponse(NOT_BUILT, status_code=503, headers={"Retry-After": "3600"})
        headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
        return FileResponse(static / "index.html", media_type="text/html; charset=utf-8", headers=headers)

    app.mount("/static", StaticFiles(directory=static, check_dir=False), name="static")
