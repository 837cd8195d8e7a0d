"""Asking: a question (with options, in a session) answered as server-sent events.

Events, in order: `session` ({session_id}), `status` lines, each `step` (a Step) and `progress` (a Progress)
as the agent produces them, then `answer` (the Answer) or `error` ({detail}), and `done`.

The question runs to its end in the engine's thread pool even if the client goes away (a closed tab), so
the memory and the session are always left whole; the answer is then in the session for when it reopens.
"""
from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import StreamingResponse

from vidrecall.core.result import Answer, Progress, Step
from vidrecall.session import new_session_id
from vidrecall.web.schemas import AskRequest
from vidrecall.web.services import Services, services, video_or_404
from vidrecall.core.errors import first_line

router = APIRouter(prefix="/api/videos/{video_id}", tags=["ask"])
HEARTBEAT_S = 15.0


def sse(event: str, data: str) -> bytes:
    return f"event: {event}\ndata: {data}\n\n".encode()


@router.post("/ask", summary="Ask a question; the reply is a text/event-stream of steps, then the answer",
             response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def ask(video_id: str, body: AskRequest, svc: Services = Depends(services)):
    record = video_or_404(svc, video_id)
    session_id = body.session_id or new_session_id()
    owner = svc.book.video_of(session_id)
    if owner is not None and owner != record.id:
        raise HTTPException(409, f"session {session_id!r} is about another video ({owner})")
    svc.book.open(session_id, record.id, body.question)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()

    def emit(item: tuple[str, str] | None) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the server is shutting down; the work itself still completes
            pass

    def status(message: str) -> None:
        emit(("status", json.dumps({"message": message})))

    def work() -> None:
        try:
            if not svc.engine.loaded:
                status("loading models (once per server)")
            qa = svc.engine.qa()
            status("waiting for this video's other work to finish")
            with svc.engine.video_lock(record.id):
                status("thinking")
                for item in qa.stream(record.path, body.question, body.options or None, session_id=session_id):
                    if isinstance(item, Answer):
                        svc.book.add_turn(session_id, item)
                        emit(("answer", item.model_dump_json()))
                    elif isinstance(item, Progress):
                        emit(("progress", item.model_dump_json()))
                    elif isinstance(item, Step):
                        emit(("step", item.model_dump_json()))
        except Exception as exc:  # reported to the page as one line; the server keeps serving
            emit(("error", json.dumps({"detail": first_line(exc)})))
        finally:
            emit(None)

    svc.engine.submit(work)

    async def events():
        yield sse("session", json.dumps({"session_id": session_id, "video_id": record.id}))
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
            except asyncio.TimeoutError:  # a comment line keeps proxies from closing a quiet stream
                yield b": still working\n\n"
                continue
            if item is None:
                break
            yield sse(*item)
        yield sse("done", "{}")

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
