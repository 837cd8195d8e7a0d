"""Asking: a question (with options, in a session) answered as server-sent events.

Events, in order: `session` ({session_id, video_id, question_id}), `status` lines, each `step` (a Step) and
`progress` (a Progress) as the agent produces them, then `answer` (the Answer) or `error` ({detail}), and `done`.

The question runs to its end in the engine's thread pool even if the client goes away (a closed tab), so
the memory and the session are always left whole; the answer is then in the session for when it reopens.
While it runs, its events are kept in the session book (a LiveQuestion): a reloaded page follows it again
through GET /api/sessions/{id}/live, which replays the events so far and streams the rest.
"""
from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import StreamingResponse

from vidrecall.core.errors import first_line
from vidrecall.core.progress import ProgressEvent
from vidrecall.core.result import Answer, Progress, Step
from vidrecall.session import new_session_id
from vidrecall.web.schemas import AskRequest
from vidrecall.web.services import Services, services, video_or_404
from vidrecall.web.session_book import LiveQuestion
from vidrecall.agent.strategies import strategy_names

router = APIRouter(prefix="/api/videos/{video_id}", tags=["ask"])
HEARTBEAT_S = 15.0
LOADING = "loading models (once per server)"
WAITING = "waiting for this video's other work to finish"
THINKING = "thinking"


def sse(event: str, data: str) -> bytes:
    return f"event: {event}\ndata: {data}\n\n".encode()


def follow(live: LiveQuestion) -> StreamingResponse:
    """The question's events so far, then each new one as it comes, then `done`, as a text/event-stream.
    A follower that leaves (a closed or reloaded tab) stops following; the question goes on."""
    async def events():
        queue = live.follow()
        try:
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
        finally:
            live.unfollow(queue)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/ask", summary="Ask a question; the reply is a text/event-stream of steps, then the answer",
             response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def ask(video_id: str, body: AskRequest, svc: Services = Depends(services)):
    record = video_or_404(svc, video_id)
    if body.strategy is not None and body.strategy not in strategy_names():
        raise HTTPException(400, f"unknown strategy {body.strategy!r}; choose one of: {', '.join(strategy_names())}")
    session_id = body.session_id or new_session_id()
    owner = svc.book.video_of(session_id)
    if owner is not None and owner != record.id:
        raise HTTPException(409, f"session {session_id!r} is about another video ({owner})")
    live = svc.book.start(session_id, record.id, body.question, body.options)
    live.emit("session", json.dumps({"session_id": session_id, "video_id": record.id, "question_id": live.info.id}))

    def status(message: str) -> None:
        live.emit("status", json.dumps({"message": message}))

    def indexing(event: ProgressEvent) -> None:
        what = event.task if event.span is None else f"{event.task} ({event.span.label()})"
        live.emit("progress", Progress(node="index", message=what, done=round(event.done),
                                       total=round(event.total) if event.total is not None else None).model_dump_json())

    def work() -> None:
        try:
            if not svc.engine.ready_for_questions:
                status(LOADING)
            qa = svc.engine.qa(for_questions=True)  # every model a question needs, before "thinking"
            if body.strategy and body.strategy != qa.config.strategy:
                qa = svc.engine.with_strategy(body.strategy)
            lock = svc.engine.video_lock(record.id)
            if not lock.acquire(blocking=False):  # said only when other work really holds this video
                status(WAITING)
                lock.acquire()
            try:
                status(THINKING)
                # an unindexed video's first level is captioned before the agent starts: its clips show as progress
                with svc.engine.progress.to(indexing):
                    for item in qa.stream(record.path, body.question, body.options or None, session_id=session_id):
                        if isinstance(item, Answer):
                            svc.book.answered(live, item)
                            live.emit("answer", item.model_dump_json())
                        elif isinstance(item, Progress):
                            live.emit("progress", item.model_dump_json())
                        elif isinstance(item, Step):
                            live.emit("step", item.model_dump_json())
            finally:
                lock.release()
        except Exception as exc:  # reported to the page as one line; the server keeps serving
            live.emit("error", json.dumps({"detail": first_line(exc)}))
        finally:
            svc.book.finish(live)

    try:
        svc.engine.submit(work)
    except RuntimeError:  # the pool is shut down: the server is stopping
        live.emit("error", json.dumps({"detail": "the server is shutting down; ask again after it restarts"}))
        svc.book.finish(live)
    return follow(live)
