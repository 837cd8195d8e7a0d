"""`create_app(settings)`: the FastAPI app behind `vidrecall serve` (API documented at /docs and /redoc).

The docs pages load Swagger UI and ReDoc from the app itself (/docs-assets, the files the fastapi-offline
package ships), never from a CDN: they work offline, and no third-party script runs on the app's origin,
where the session cookie of token mode lives. Their Content-Security-Policy allows only the app's own files
and the one inline script FastAPI writes (by its hash)."""
from __future__ import annotations

import base64
import hashlib
import re
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from vidrecall.web.routes import ask, library, media, memory, pages, sessions
from vidrecall.web.routes.media import MediaBook
from vidrecall.web.routes.pages import STATIC
from vidrecall.web.security import TokenGate, redact_access_log
from vidrecall.web.services import Services
from vidrecall.web.settings import ServeSettings

DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"  # swagger-ui-bundle.js/.css, redoc.standalone.js
DOCS_PREFIX = "/docs-assets"
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


def create_app(settings: ServeSettings, *, allowed_hosts: set[str] | None = None) -> FastAPI:
    """The app for `settings` (checked here: a token is generated when the host is not loopback).

    `allowed_hosts` replaces the loopback names a token-less server answers to (tests add "testserver")."""
    settings = settings.checked()
    svc = Services.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        redact_access_log()  # uvicorn has set up its loggers by now; ?token=… never reaches a log
        yield
        svc.close()

    app = FastAPI(title="vidrecall", summary="Question answering over long videos by deep memory backtracking",
                  version=__import__("vidrecall").__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, swagger_ui_oauth2_redirect_url=None)
    app.state.services = svc
    app.state.settings = settings
    app.state.media_book = MediaBook(settings.media_identity)
    for module in (pages, library, media, ask, memory, sessions):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    _add_docs(app)

    app.add_middleware(TokenGate, token=settings.token, allowed_hosts=allowed_hosts)
    return app


def _add_docs(app: FastAPI) -> None:
    @app.get(f"{DOCS_PREFIX}/redoc.standalone.js", include_in_schema=False)  # before the mount: it wins
    def redoc_js() -> Response:
        return Response(_redoc_bundle(), media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=86400"})

    app.mount(DOCS_PREFIX, StaticFiles(directory=str(DOCS_ASSETS)), name="docs-assets")
    favicon = f"{DOCS_PREFIX}/favicon.png"
    assert app.openapi_url is not None
    swagger = get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} - API",
                                  swagger_js_url=f"{DOCS_PREFIX}/swagger-ui-bundle.js",
                                  swagger_css_url=f"{DOCS_PREFIX}/swagger-ui.css", swagger_favicon_url=favicon,
                                  swagger_ui_parameters={"validatorUrl": None})  # no spec sent to swagger.io
    redoc = get_redoc_html(openapi_url=app.openapi_url, title=f"{app.title} - API (ReDoc)",
                           redoc_js_url=f"{DOCS_PREFIX}/redoc.standalone.js", redoc_favicon_url=favicon,
                           with_google_fonts=False)
    built = {path: (bytes(r.body), {"Content-Security-Policy": docs_policy(bytes(r.body)), "Cache-Control": "no-cache"})
             for path, r in (("/docs", swagger), ("/redoc", redoc))}

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(built["/docs"][0], headers=built["/docs"][1])

    @app.get("/redoc", include_in_schema=False)
    def redoc_docs() -> HTMLResponse:
        return HTMLResponse(built["/redoc"][0], headers=built["/redoc"][1])


@lru_cache(maxsize=1)
def _redoc_bundle() -> bytes:
    """ReDoc's script, less the one image it fetches from a CDN (its logo in the menu; an empty image hides)."""
    return (DOCS_ASSETS / "redoc.standalone.js").read_bytes().replace(REDOC_LOGO, b"data:,")


def docs_policy(page: bytes) -> str:
    """Only the app's own files, plus the page's inline scripts by hash; ReDoc and Swagger UI style inline and
    ReDoc searches in a blob: worker."""
    scripts = " ".join(["'self'", *(f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'"
                                    for s in re.findall(rb"<script>(.*?)</script>", page, flags=re.S))])
    return (f"default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
