"""The page (one HTML file, plain ES modules, no build step) and the server's status."""
from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

import vidrecall
from vidrecall.web.schemas import ServerStatus
from vidrecall.web.services import Services, services
from vidrecall.agent.strategies import strategy_names

router = APIRouter()
STATIC = files("vidrecall.web") / "static"
# Data from videos is only ever set as text by app.js; the policy is a second wall if that ever slips.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
               "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page():
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"),
                        headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache"})


@router.get("/api/status", response_model=ServerStatus, tags=["server"], summary="What this server runs")
def status(svc: Services = Depends(services)):
    s = svc.settings
    return ServerStatus(version=vidrecall.__version__, profile=s.profile, store=str(s.store),
                        models_loaded=svc.engine.loaded, models_loading=svc.engine.loading,
                        token_required=s.token is not None, upload_limit=s.upload_limit,
                        allow=[str(a) for a in s.allow], index_levels=list(s.index_levels),
                        strategy=svc.config.strategy, strategies=strategy_names())
