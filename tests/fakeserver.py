"""A real loopback HTTP server speaking the OpenAI chat-completions API, for testing API clients.

    with FakeOpenAIServer(api_key="sk-test") as server:
        server.script(Reply(status=500), Reply(content="a caption"))   # first call fails, second works
        client = make_client(base_url=server.base_url)                   # http://127.0.0.1:<port>/v1
        ...
        assert server.requests[-1].json["model"] == "m"
        assert server.max_in_flight <= 4

Scripted replies are served in order; when they run out, `default` (or `responder(request)`) answers.
It records every request (path, headers, JSON body), counts concurrent in-flight requests, checks the
bearer key (401 in OpenAI's error shape when it is wrong), can delay a reply (to trigger client
timeouts) and can stream (SSE) when a request asks for `stream: true`.
Import it from tests as `from fakeserver import FakeOpenAIServer, Reply` (pytest puts tests/ on sys.path).
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer. `body` replaces the whole JSON response when given."""

    content: str | None = "ok"  # None with tool_calls, as OpenAI sends it
    status: int = 200
    delay_s: float = 0.0
    tool_calls: list[dict] | None = None  # see tool_call(); set finish_reason="tool_calls" with them
    finish_reason: str = "stop"
    usage: dict | None = None  # default: prompt/completion token counts estimated from the texts
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)  # e.g. {"Retry-After": "0"}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any
    received_at: float

    @property
    def messages(self) -> list[dict]:
        return (self.json or {}).get("messages", [])

    def image_urls(self) -> list[str]:
        """Every image_url in the request's messages, in order."""
        urls = []
        for message in self.messages:
            content = message.get("content")
            if isinstance(content, list):
                urls += [part["image_url"]["url"] for part in content if part.get("type") == "image_url"]
        return urls

    def video_urls(self) -> list[str]:
        """Every video_url in the request's messages, in order."""
        urls = []
        for message in self.messages:
            content = message.get("content")
            if isinstance(content, list):
                urls += [part["video_url"]["url"] for part in content if part.get("type") == "video_url"]
        return urls

    def text(self) -> str:
        """All text parts of all messages, joined by newlines."""
        texts = []
        for message in self.messages:
            content = message.get("content")
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                texts += [part.get("text", "") for part in content if part.get("type") == "text"]
        return "\n".join(texts)


def _word_count(text: str) -> int:
    return max(1, len(text.split()))


class FakeOpenAIServer:
    """OpenAI-compatible server on 127.0.0.1 (a free port); `base_url` ends with /v1."""

    def __init__(self, *, api_key: str | None = None, default: Reply | None = None,
                 responder: Callable[[RecordedRequest], Reply] | None = None,
                 models: tuple[str, ...] = ("fake-model",)):
        self.api_key = api_key
        self.default = default or Reply()
        self.responder = responder
        self.models = models
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False  # a reply still delayed (a hung-server test) never holds up stop()
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAIServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- scripting ------------------------------------------------------------------------------
    def script(self, *replies: Reply | str) -> None:
        """Queue replies served in order (a str is a 200 reply with that content)."""
        with self._lock:
            self._script.extend(Reply(content=r) if isinstance(r, str) else r for r in replies)

    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if self._script:
                return self._script.popleft()
        return self.responder(request) if self.responder else self.default

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    # --- HTTP -----------------------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = None
                request = RecordedRequest(method, self.path, dict(self.headers.items()), body, time.time())
                with server._lock:
                    server.requests.append(request)
                server._enter()
                try:
                    self._answer(request)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test); nothing to answer
                finally:
                    server._leave()

            def _answer(self, request: RecordedRequest) -> None:
                if server.api_key is not None and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    self._json(401, {"error": {"message": "Incorrect API key provided.",
                                               "type": "invalid_request_error", "code": "invalid_api_key"}})
                    return
                path = request.path.split("?")[0].rstrip("/")
                if request.method == "GET" and path.endswith("/models"):
                    self._json(200, {"object": "list", "data": [
                        {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in server.models]})
                    return
                if not path.endswith("/chat/completions"):
                    self._json(404, {"error": {"message": f"no route {request.path}", "type": "not_found"}})
                    return
                reply = server._next_reply(request)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.status != 200:
                    self._json(reply.status, reply.body or {"error": {
                        "message": f"scripted status {reply.status}", "type": "server_error"}}, reply.headers)
                    return
                if (request.json or {}).get("stream"):
                    self._stream(request, reply)
                else:
                    self._json(200, reply.body or completion(request, reply), reply.headers)

            def _json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, request: RecordedRequest, reply: Reply) -> None:
                full = completion(request, reply)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                base = {k: full[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
                words = (reply.content or "").split(" ")
                chunks = [{"role": "assistant", "content": ""}] + [
                    {"content": w if i == 0 else " " + w} for i, w in enumerate(words)]
                for delta in chunks:
                    event = base | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                last = base | {"choices": [{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}],
                               "usage": full["usage"]}
                self.wfile.write(f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()
                self.close_connection = True

        return Handler


def completion(request: RecordedRequest, reply: Reply) -> dict:
    """A chat.completion JSON object for `reply`, with usage estimated from word counts."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = reply.tool_calls
    prompt_tokens = _word_count(request.text())
    completion_tokens = _word_count(reply.content or "")
    usage = reply.usage or {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                            "total_tokens": prompt_tokens + completion_tokens}
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": (request.json or {}).get("model", "fake-model"),
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason, "logprobs": None}],
        "usage": usage,
    }


def tool_call(name: str, arguments: dict) -> dict:
    """An OpenAI-shaped tool call, for Reply(tool_calls=[tool_call("Answer", {...})])."""
    return {"id": f"call_{uuid.uuid4().hex[:8]}", "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)}}


def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening (for 'unreachable server' tests)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
