"""llama.cpp's own OpenAI-compatible HTTP server on 127.0.0.1, talked to by the same client as vLLM or Ollama.

`LlamaCppServerChat` is LangChain's `ChatOpenAI` pointed at a loopback llama.cpp server (xllamacpp, a
prebuilt wheel: nothing compiles). Offline runs therefore take the openai-compatible code path: the
same requests, `response_format` JSON schemas (grammar-constrained by llama.cpp), usage with
`prompt_tokens_details.cached_tokens`, timeouts and retries.

Why the server lives inside this process: xllamacpp runs llama.cpp's C++ server in native threads of the
process that creates it. It is still a real HTTP server on a loopback port, but it cannot outlive its
parent: kill -9 of vidrecall takes it along, with no child process to reap and no port left bound. It
starts on the first call (`start()`; `load_local_weights` calls it before a question's clock), once per
process for each (file, context, threads), and stops at exit.

One slot (`n_parallel=1`): calls queue, and each reuses the KV cache of the longest prompt prefix it
shares with the call before (the memory listing comes first in every agent prompt for that reason).
"""
from __future__ import annotations

import atexit
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from langchain_openai import ChatOpenAI
from pydantic import PrivateAttr, SecretStr

from vidrecall.core.quiet import verbose
from vidrecall.tools.llm.deadline import current_deadline
from vidrecall.tools.llm.errors import BackboneError
from vidrecall.tools.providers import PLACEHOLDER_KEY

LOOPBACK = "127.0.0.1"
DEFAULT_CONTEXT = 8192
LOCAL_TIMEOUT_S = 900.0  # a long prompt on 2 CPU cores takes minutes; the question's max_seconds still bounds it
CLOSE_AFTER_DEADLINE_S = 1.0  # an abandoned call's connection is closed this long after the deadline
DRAIN_AT_EXIT_S = 30.0  # at exit, how long requests still in flight may take before the server is left running


@dataclass(frozen=True)
class ServerSettings:
    gguf: str
    n_ctx: int = DEFAULT_CONTEXT
    n_threads: int = 0  # 0: every core


class LlamaCppServer:
    """One llama.cpp server of this process, on a loopback port picked when it is made."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.port = _free_port()
        self._server: Any = None
        self._lock = threading.Lock()
        self._in_flight = 0
        self._idle = threading.Condition()

    @contextmanager
    def request(self) -> Iterator[None]:
        """Around every HTTP request to this server: counted, so that `stop` can wait for them."""
        with self._idle:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        """Load the model and serve (seconds); a no-op once running."""
        with self._lock:
            if self._server is not None:
                return
            try:
                import xllamacpp
            except ImportError:
                raise BackboneError("the llamacpp backbone needs xllamacpp: pip install xllamacpp") from None
            threads = self.settings.n_threads or os.cpu_count() or 1
            params = xllamacpp.CommonParams()
            params.model.path = self.settings.gguf
            params.n_ctx = self.settings.n_ctx
            params.n_parallel = 1
            # A cancelled request (an abandoned call) is dropped between batches: one ubatch, seconds on a CPU,
            # not four (prompt throughput on a CPU is the same)
            params.n_batch = params.n_ubatch
            params.cpuparams.n_threads = threads
            params.cpuparams_batch.n_threads = threads
            params.hostnames = [LOOPBACK]
            params.port = self.port
            params.verbosity = 3 if verbose() else -1
            params.ui = False
            params.use_jinja = True  # the GGUF's own chat template: it renders `tools` (the search strategy's calls)
            params.warmup = False
            try:
                self._server = xllamacpp.Server(params)
            except Exception as exc:  # a file that is not a GGUF llama.cpp can load, a port taken meanwhile
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                raise BackboneError(f"llama.cpp could not serve {self.settings.gguf} ({first})") from None
            _check_health(self.base_url)

    def stop(self, drain_s: float = DRAIN_AT_EXIT_S) -> None:
        """Free the model. Tearing the server down while it still answers a request deadlocks (its handler
        waits for a task the stopped loop never finishes), so requests in flight get `drain_s` to end (an
        abandoned one is cancelled within seconds of its deadline); one that does not is left to the
        process's exit, with the server, rather than hang it."""
        with self._idle:
            drained = self._idle.wait_for(lambda: self._in_flight == 0, timeout=drain_s)
        with self._lock:
            if not drained and self._server is not None:
                _never_destroyed(self._server)
            self._server = None  # its destructor ends the HTTP loop and frees the model


_SERVERS: dict[ServerSettings, LlamaCppServer] = {}
_SERVERS_LOCK = threading.Lock()


def _never_destroyed(server: Any) -> None:
    """Keep `server` alive through interpreter shutdown (which clears module globals, so a list would not): its
    teardown would wait on a request forever; the process's exit ends its native threads instead."""
    import ctypes

    ctypes.pythonapi.Py_IncRef(ctypes.py_object(server))


def server_for(settings: ServerSettings) -> LlamaCppServer:
    """This process's server for `settings` (made, not started, on first request)."""
    with _SERVERS_LOCK:
        if settings not in _SERVERS:
            _SERVERS[settings] = LlamaCppServer(settings)
        return _SERVERS[settings]


@atexit.register
def _stop_all() -> None:
    for server in list(_SERVERS.values()):
        server.stop()


class LlamaCppServerChat(ChatOpenAI):
    """ChatOpenAI over this process's loopback llama.cpp server for one GGUF file; the server starts on the
    first call."""

    gguf_path: str = ""
    _server: LlamaCppServer = PrivateAttr()

    @classmethod
    def for_file(cls, gguf: Path, *, model_id: str, n_ctx: int = DEFAULT_CONTEXT, n_threads: int = 0,
                 **options: Any) -> "LlamaCppServerChat":
        server = server_for(ServerSettings(str(gguf), n_ctx, n_threads))
        chat = cls(model=model_id, base_url=server.base_url, api_key=SecretStr(PLACEHOLDER_KEY), gguf_path=str(gguf),
                   **{"temperature": 0.0, "max_tokens": 512, "max_retries": 0, "timeout": LOCAL_TIMEOUT_S, **options})
        chat._server = server
        return chat

    @property
    def server(self) -> LlamaCppServer:
        return self._server

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        self._server.start()
        with self._server.request():
            return super()._generate(*args, **_until_deadline(kwargs))

    def _stream(self, *args: Any, **kwargs: Any) -> Any:
        self._server.start()
        with self._server.request():
            yield from super()._stream(*args, **_until_deadline(kwargs))

    async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
        self._server.start()
        with self._server.request():
            return await super()._agenerate(*args, **_until_deadline(kwargs))


def _until_deadline(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The request bounded by the question's deadline. The agent abandons a call at the deadline; the server
    must not go on working for nobody, or the next call queues behind it in the one slot (and a server torn
    down with a request in flight hangs the exit). Two bounds: llama.cpp's `t_max_predict_ms` stops the
    generation, and a client timeout just past the deadline closes the connection, which the server notices
    (it polls every second) and cancels the task, prompt processing included."""
    deadline = current_deadline()
    if deadline is None:
        return kwargs
    left = max(0.001, deadline - time.monotonic())
    return {**kwargs, "timeout": left + CLOSE_AFTER_DEADLINE_S,
            "extra_body": {**(kwargs.get("extra_body") or {}), "t_max_predict_ms": max(1, int(left * 1000))}}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _check_health(base_url: str) -> None:
    url = base_url.removesuffix("/v1") + "/health"
    try:
        httpx.get(url, timeout=10).raise_for_status()
    except httpx.HTTPError as exc:
        raise BackboneError(f"the llama.cpp server did not come up on {url} ({type(exc).__name__})") from None
