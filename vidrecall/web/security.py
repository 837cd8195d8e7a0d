"""The gate every request passes: a token when one is set (header, cookie or ?token=), else a loopback Host.

The Host check stops DNS rebinding: a web page on another site cannot reach a token-less local server
through a name that resolves to 127.0.0.1. `<video src>` and `<img src>` cannot send headers, so the page
is opened once with ?token=…, which is traded for an HttpOnly SameSite=Strict cookie and dropped from the URL.
"""
from __future__ import annotations

import hmac
import json
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode

TOKEN_COOKIE = "vidrecall_token"
TOKEN_HEADER = "x-vidrecall-token"
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}


class TokenGate:
    """Pure ASGI middleware (streams, SSE and file ranges pass through untouched)."""

    def __init__(self, app, token: str | None, allowed_hosts: set[str] | None = None):
        self.app = app
        self.token = token
        self.allowed_hosts = LOOPBACK_NAMES if allowed_hosts is None else allowed_hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        send = _no_sniff(send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if self.token is None:
            host = _host_name(headers.get("host", ""))
            if host not in self.allowed_hosts:
                return await _refuse(send, 403, f"host {host!r} refused: this server has no token, so it answers "
                                                "only to 127.0.0.1/localhost (restart with --token to serve others)")
            return await self.app(scope, receive, send)
        given = _presented_token(headers, query)
        if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            return await _refuse(send, 401, "missing or wrong token: open the URL `vidrecall serve` printed (it "
                                            "carries ?token=...) or send the header Authorization: Bearer <token>")
        if "token" in query and scope.get("method") == "GET" and scope.get("path") == "/":
            return await _trade_for_cookie(send, self.token, query)
        return await self.app(scope, receive, send)


def _no_sniff(send):
    async def wrapped(message):
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"x-content-type-options", b"nosniff")]}
        await send(message)
    return wrapped


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _presented_token(headers: dict[str, str], query: dict[str, list[str]]) -> str | None:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if TOKEN_HEADER in headers:
        return headers[TOKEN_HEADER].strip()
    if "token" in query:
        return query["token"][0]
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is no token, not a crash
        return None
    return cookie[TOKEN_COOKIE].value if TOKEN_COOKIE in cookie else None


async def _refuse(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _trade_for_cookie(send, token: str, query: dict[str, list[str]]) -> None:
    rest = urlencode({k: v for k, v in query.items() if k != "token"}, doseq=True)
    cookie = f"{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", ("/" + ("?" + rest if rest else "")).encode()),
                            (b"set-cookie", cookie.encode()), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
