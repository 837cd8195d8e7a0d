"""Chat sessions: list them, reopen one with every answer as it was shown, follow a question still running."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import StreamingResponse

from vidrecall.web.routes.ask import follow
from vidrecall.web.schemas import SessionView
from vidrecall.web.services import Services, services
from vidrecall.web.session_book import SessionInfo

router = APIRouter(prefix="/api/sessions", tags=["sessions"])


@router.get("", response_model=list[SessionInfo], summary="Sessions, newest first (optionally of one video)")
def list_sessions(video_id: str | None = None, svc: Services = Depends(services)):
    return svc.book.sessions(video_id)


@router.get("/{session_id}", response_model=SessionView,
            summary="A session with its answers, and the questions of it being answered now")
def get_session(session_id: str, svc: Services = Depends(services)):
    info, turns, running = svc.book.view(session_id)
    if info is None:
        raise HTTPException(404, f"no session {session_id!r}")
    return SessionView(session=info, turns=turns, running=running)


@router.get("/{session_id}/live", summary="Follow a question being answered (events so far, then the rest)",
            response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
def live(session_id: str, question_id: str | None = Query(None, description="which one (default: the oldest)"),
         svc: Services = Depends(services)):
    """The same text/event-stream as POST /api/videos/{id}/ask: every event the question has sent so far,
    then the rest as they come. 404 when no question of the session is running (it has finished: its answer
    is in GET /api/sessions/{session_id})."""
    running = [q for q in svc.book.running(session_id) if question_id in (None, q.info.id)]
    if not running:
        raise HTTPException(404, f"no question is being answered in session {session_id!r}")
    return follow(running[0])
