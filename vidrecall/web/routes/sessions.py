"""Chat sessions: list them, reopen one with every answer as it was shown."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from vidrecall.web.schemas import SessionView
from vidrecall.web.services import Services, services
from vidrecall.web.session_book import SessionInfo

router = APIRouter(prefix="/api/sessions", tags=["sessions"])


@router.get("", response_model=list[SessionInfo], summary="Sessions, newest first (optionally of one video)")
def list_sessions(video_id: str | None = None, svc: Services = Depends(services)):
    return svc.book.sessions(video_id)


@router.get("/{session_id}", response_model=SessionView, summary="A session with its answers")
def get_session(session_id: str, svc: Services = Depends(services)):
    info = svc.book.session(session_id)
    if info is None:
        raise HTTPException(404, f"no session {session_id!r}")
    return SessionView(session=info, turns=svc.book.turns(session_id))
