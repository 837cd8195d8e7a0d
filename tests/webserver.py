"""Helpers for the web tests: a VideoQA with scripted models for `vidrecall serve`, and a real uvicorn server
on a free 127.0.0.1 port in a thread."""
from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from vidrecall.agent.testing import ScriptedCaptioner, ScriptedChatModel, fast_levels
from vidrecall.api import VideoQA


class SlowScriptedChatModel(ScriptedChatModel):
    """ScriptedChatModel that takes `delay` seconds a reply, so a page can be watched mid-question."""

    delay: float = 0.0

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        time.sleep(self.delay)
        return super()._generate(messages, stop, run_manager, **kwargs)


def scripted_factory(store: Path, embedder, *, caption=None, answer=None, delay: float = 0.0, captioner=None,
                     llm=None, llm_delay: float = 0.0, **overrides):
    """A qa_factory whose models are scripted (memory, SQLite, FAISS, decoding and the graph stay real).
    `delay` seconds per caption make a question or a job slow enough to interrupt."""
    text = caption or (lambda span, level, instruction: f"Three bottles with blue caps on a white table ({span.label()})."
                       )

    def slow_text(span, level, instruction):
        time.sleep(delay)
        return text(span, level, instruction)

    captioner = captioner or ScriptedCaptioner(slow_text)
    llm = llm or SlowScriptedChatModel(delay=llm_delay, defaults={
        "answer": answer or {"answer": "three bottles", "confidence": 0.9, "clips": [1]}})

    def factory():
        return VideoQA("offline-tiny", llm=llm, vlm=captioner, embedder=embedder, store_dir=store,
                       levels=overrides.pop("levels", fast_levels()), **overrides)

    factory.captioner, factory.llm = captioner, llm
    return factory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(app, port: int | None = None):
    """Serve `app` with uvicorn on 127.0.0.1; yields the base URL; stops it on exit."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
