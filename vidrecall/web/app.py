"""`create_app(settings)`: the FastAPI app behind `vidrecall serve` (API documented at /docs)."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from vidrecall.web.routes import ask, library, media, memory, pages, sessions
from vidrecall.web.routes.pages import STATIC
from vidrecall.web.security import TokenGate
from vidrecall.web.services import Services
from vidrecall.web.settings import ServeSettings


def create_app(settings: ServeSettings, *, allowed_hosts: set[str] | None = None) -> FastAPI:
    """The app for `settings` (checked here: a token is generated when the host is not loopback).

    `allowed_hosts` replaces the loopback names a token-less server answers to (tests add "testserver")."""
    settings = settings.checked()
    svc = Services.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        svc.close()

    app = FastAPI(title="vidrecall", summary="Question answering over long videos by deep memory backtracking",
                  version=__import__("vidrecall").__version__, lifespan=lifespan)
    app.state.services = svc
    app.state.settings = settings
    for module in (pages, library, media, ask, memory, sessions):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    app.add_middleware(TokenGate, token=settings.token, allowed_hosts=allowed_hosts)
    return app
