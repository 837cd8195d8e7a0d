"""The gate every request passes: a token when one is set (header, cookie or ?token=), else a loopback Host;
then, in both modes, no request from another web page (origin).

The Host check stops DNS rebinding: a web page on another site cannot reach a token-less local server
through a name that resolves to 127.0.0.1. `<video src>` and `<img src>` cannot send headers, so the page
is opened once with ?token=…, which is traded for an HttpOnly SameSite=Strict cookie and dropped from the URL.

Neither stops a page on another origin that talks to the right name: a "simple" cross-site POST (a form, a
no-cors fetch) needs no preflight, and a SameSite=Strict cookie still travels from a page on another port of
the same host (same site, other origin). So, after the token/Host check:
- a request whose Origin is not this server's own (scheme aside, host and port compared) is refused, and so
  is one whose Sec-Fetch-Site says another origin (`cross-site`, `same-site`) unless it is a top-level GET
  navigation (a link to the page still opens it);
- a state-changing request (POST, PUT, PATCH, DELETE) to any route but the upload carries JSON or no body at
  all (a form or text/plain body is what a cross-site page can send without a preflight);
- an upload (raw bytes) carries `X-Vidrecall: 1`, the token in a header, or a Content-Type of
  application/octet-stream or video/*: none of them can be set by a simple cross-site request.
"""
from __future__ import annotations

import hmac
import json
import logging
import re
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

TOKEN_COOKIE = "vidrecall_token"
TOKEN_HEADER = "x-vidrecall-token"
CSRF_HEADER = "x-vidrecall"  # what the page's own script sends with an upload
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
UPLOAD_PATH = "/api/videos/upload"
OTHER_ORIGIN_SITES = {"cross-site", "same-site"}  # Sec-Fetch-Site values that name another origin
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


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
                return await _refuse(scope, send, 403, f"host {host!r} refused: this server has no token, so it "
                                     "answers only to 127.0.0.1/localhost (restart with --token to serve others)")
        else:
            given = _presented_token(headers, query)
            if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
                return await _refuse(scope, send, 401, "missing or wrong token: open the URL `vidrecall serve` "
                                     "printed (it carries ?token=...) or send the header Authorization: Bearer <token>")
        refusal = cross_site_refusal(scope, headers)
        if refusal is not None:
            return await _refuse(scope, send, *refusal)
        if self.token is not None and "token" in query and scope.get("method") == "GET" and scope.get("path") == "/":
            return await _trade_for_cookie(send, self.token, query)
        return await self.app(scope, receive, send)


def cross_site_refusal(scope, headers: dict[str, str]) -> tuple[int, str] | None:
    """(status, one line) when the request may come from a page on another origin; None when it may not."""
    method = scope.get("method", "GET")  # a WebSocket handshake is a GET
    own = _host_origin(headers.get("host", ""))
    origin = headers.get("origin")
    if origin is not None and (own is None or _origin_key(origin) != own):
        return 403, (f"cross-origin request refused: it comes from a page on {origin}, not from this server's own "
                     f"page ({headers.get('host', '?')}); open the app itself to do this")
    site = headers.get("sec-fetch-site", "").lower()
    if site in OTHER_ORIGIN_SITES and not _top_level_navigation(method, headers):
        return 403, (f"cross-origin request refused (Sec-Fetch-Site: {site}): only this server's own page may "
                     "call it; open the app itself to do this")
    if method in SAFE_METHODS or scope["type"] == "websocket":
        return None
    kind = _media_type(headers.get("content-type", ""))
    if scope.get("path") == UPLOAD_PATH:
        if (CSRF_HEADER in headers or TOKEN_HEADER in headers or "authorization" in headers
                or kind == "application/octet-stream" or kind.startswith("video/")):
            return None
        return 403, ("upload refused: send the header X-Vidrecall: 1 (or Content-Type: application/octet-stream); "
                     "a page on another site cannot, so an upload without it may not be yours")
    if kind == "application/json" or kind.endswith("+json"):
        return None
    if not kind and _no_body(headers):
        return None
    shown = kind or "none"
    return 415, (f"{method} {scope.get('path', '')}: send a JSON body (Content-Type: application/json) or none; "
                 f"Content-Type {shown!r} is refused (a page on another site can send it without asking)")


def _top_level_navigation(method: str, headers: dict[str, str]) -> bool:
    """A link or typed URL opening a page (a GET navigation of the whole tab, not a frame, image or fetch)."""
    return (method == "GET" and headers.get("sec-fetch-mode", "") == "navigate"
            and headers.get("sec-fetch-dest", "document") == "document")


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _no_body(headers: dict[str, str]) -> bool:
    return headers.get("content-length", "0").strip() in ("", "0") and "transfer-encoding" not in headers


def _origin_key(url: str) -> tuple[str, int | None] | None:
    """(host, port) of an Origin (a default port as None), or None for `null` and anything unparsable."""
    try:
        parts = urlsplit(url.strip())
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            return None
        port = parts.port
    except ValueError:
        return None
    return parts.hostname.lower(), None if port == DEFAULT_PORTS[parts.scheme] else port


def _host_origin(host: str) -> tuple[str, int | None] | None:
    """(host, port) of the Host header, comparable with `_origin_key` (browsers leave a default port out)."""
    if not host:
        return None
    try:
        parts = urlsplit("//" + host.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname.lower(), None if port in (80, 443) else port


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


async def _refuse(scope, send, status: int, detail: str) -> None:
    if scope["type"] == "websocket":  # no HTTP response on a WebSocket: close it before accepting
        await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
        return
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


# --- logs -----------------------------------------------------------------------------------------------

_QUERY_PAIR = re.compile(r"(^|[?&;\s])([^=&;\s\"'?]+)=([^&;\s\"']*)")


def redact_tokens(text: str) -> str:
    """`text` with the value of every `token=` query parameter (however its name is %-encoded) replaced by ***."""
    def one(m: re.Match) -> str:
        return f"{m[1]}{m[2]}=***" if unquote_plus(m[2]).strip().lower() == "token" else m[0]
    return _QUERY_PAIR.sub(one, text) if "=" in text else text


class RedactTokens(logging.Filter):
    """Keeps ?token=… out of uvicorn's access log (--verbose logs every request's URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_tokens(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact_tokens(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


ACCESS_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact_access_log() -> None:
    """Install RedactTokens on uvicorn's loggers (once; call it after uvicorn configured its logging)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
