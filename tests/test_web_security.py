"""`vidrecall serve`'s security defects, each reproduced through a real uvicorn server on 127.0.0.1 (httpx, and
Chromium driven by Playwright for the pages on another port): cross-site requests on the default server (S1),
a file swapped after it was added (S2), the token cookie sent by a page on another port (S3), the token in the
--verbose access log (S4), docs assets from a CDN (S5), and media keyed by the stored record, not its name."""
from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from tests.browser import HAVE_CHROMIUM, chromium
from tests.conftest import CLIPS, REPO, clip
from tests.webserver import free_port, live_server, scripted_factory
from vidrecall.web import ServeSettings, create_app

# one clip per use, so that the tests sharing a server never add the same bytes twice
ADDED = "intel_bottle-detection.mp4"  # added by path (S1)
OWN_UPLOAD = "askany_playing_guitar.mp4"  # uploaded by the app's own client (S1)
CSRF_UPLOAD = "askany_hitting_baseball.mp4"  # what the page on another port tries to upload (S1, S3)
PAGE_UPLOAD = "askany_making_cake.mp4"  # uploaded through the page's own form in Chromium (S3)
SWAPPED = "moviepy_resource_1.mp4"  # the file swapped after it was added (S2)
SWAP_TARGET = "askany_yoga.mp4"
NAMELESS = "moviepy_chaplin.mp4"  # stored under a name without its extension
TOKEN = "s3-token-for-the-tests-0123456789"


class Spy:
    """ASGI wrapper that records each HTTP request (method, path, Origin, whether a cookie came) and its status."""

    def __init__(self, app):
        self.app, self.seen = app, []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        row = {"method": scope["method"], "path": scope["path"], "origin": headers.get("origin"),
               "cookie": "vidrecall_token=" in headers.get("cookie", ""), "type": headers.get("content-type"),
               "status": None}
        self.seen.append(row)

        async def spied(message):
            if message["type"] == "http.response.start":
                row["status"] = message["status"]
            await send(message)

        return await self.app(scope, receive, spied)


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder):
    """The default server (no token, 127.0.0.1), with an --allow folder of the test's own."""
    root = tmp_path_factory.mktemp("websec")
    allowed, store = root / "allowed", root / "store"
    allowed.mkdir()
    app = create_app(ServeSettings(store=store, allow=(allowed, CLIPS), qa_factory=scripted_factory(store, embedder)))
    spy = Spy(app)
    with live_server(spy) as base, httpx.Client(base_url=base, timeout=60) as http:
        yield SimpleNamespace(base=base, app=app, spy=spy, http=http, allowed=allowed, uploads=store / "uploads")


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module; None where Debian's chromium is missing (the tests that need it skip)."""
    if not HAVE_CHROMIUM:
        yield None
        return
    with chromium() as launched:
        yield launched


def add(http, path: Path) -> str:
    r = http.post("/api/videos", json={"path": str(path)})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_s1_cross_site_posts_to_the_default_server_are_refused(server):
    http, base = server.http, server.base
    vid = add(http, clip(ADDED))  # a plain client (curl) sends JSON and no Origin: fine
    uploads = sorted(server.uploads.iterdir())
    jobs = http.get("/api/jobs", params={"video_id": vid}).json()
    data = clip(OWN_UPLOAD).read_bytes()
    evil = {"Origin": "http://evil.example"}

    # the reported requests: a text/plain upload and a form-encoded index from a page on another site
    r = http.post("/api/videos/upload?filename=csrf.mp4", content=data, headers={**evil, "Content-Type": "text/plain"})
    assert r.status_code == 403 and "http://evil.example" in r.json()["detail"], r.text
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert http.post(f"/api/videos/{vid}/index", content=b"levels=coarse", headers={**evil, **form}).status_code == 403
    # a page on another port of the same host is another origin too
    other_port = {"Origin": f"http://127.0.0.1:{free_port()}"}
    assert http.post(f"/api/videos/{vid}/index", json={}, headers=other_port).status_code == 403
    assert http.delete(f"/api/videos/{vid}", headers=evil).status_code == 403
    for site in ("cross-site", "same-site"):  # Sec-Fetch-Site alone (no Origin) is enough to refuse
        assert http.post(f"/api/videos/{vid}/index", json={}, headers={"Sec-Fetch-Site": site}).status_code == 403
        media = http.get(f"/media/{vid}", headers={"Sec-Fetch-Site": site, "Sec-Fetch-Mode": "no-cors",
                                                   "Sec-Fetch-Dest": "video"})
        assert media.status_code == 403  # another site's <video src> gets nothing either
    link = http.get("/", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate",
                                  "Sec-Fetch-Dest": "document"})
    assert link.status_code == 200  # ... but a link to the app still opens it
    # no Origin at all: a non-JSON body is refused off the upload route; an upload needs X-Vidrecall
    no_origin = http.post(f"/api/videos/{vid}/index", content=b"levels=coarse", headers=form)
    assert no_origin.status_code == 415 and "application/json" in no_origin.json()["detail"]
    bare = http.post("/api/videos/upload?filename=csrf.mp4", content=data, headers={"Content-Type": "text/plain"})
    assert bare.status_code == 403 and "X-Vidrecall" in bare.json()["detail"]
    assert http.get("/api/jobs", params={"video_id": vid}).json() == jobs  # nothing started
    assert sha256(clip(OWN_UPLOAD)) not in {v["id"] for v in http.get("/api/videos").json()}
    assert sorted(server.uploads.iterdir()) == uploads  # nothing written

    # the app's own page (same Origin) and plain clients keep working
    same = {"Origin": base, "Sec-Fetch-Site": "same-origin"}
    up = http.post("/api/videos/upload?filename=mine.mp4", content=data, headers={**same, "X-Vidrecall": "1"})
    assert up.status_code == 201, up.text
    assert http.post("/api/videos/upload?filename=mine.mp4", content=data,
                     headers={"Content-Type": "application/octet-stream"}).json()["id"] == up.json()["id"]
    assert http.post(f"/api/videos/{vid}/index", json={}, headers=same).status_code == 202
    assert http.delete(f"/api/videos/{up.json()['id']}", headers=same).json()["file_deleted"]


def attack(page, target: str, vid: str) -> list[str]:
    """Run, in the page on the other port, what such a page can send without asking: no-cors POSTs."""
    return page.evaluate("""async ([target, vid]) => {
      const video = await (await fetch("/clip.mp4")).blob();
      const tries = [
        ["/api/videos/upload?filename=csrf.mp4", {body: video}],
        ["/api/videos/upload?filename=csrf-text.mp4", {body: video, headers: {"content-type": "text/plain"}}],
        [`/api/videos/${vid}/index`, {body: "levels=coarse",
                                       headers: {"content-type": "application/x-www-form-urlencoded"}}],
      ];
      const out = [];
      for (const [path, init] of tries) {
        try {
          const r = await fetch(target + path, {method: "POST", mode: "no-cors", credentials: "include", ...init});
          out.push(r.type);
        } catch (e) { out.push(String(e)); }
      }
      return out;
    }""", [target, vid])


@pytest.fixture(scope="module")
def other_site():
    """Another app on another 127.0.0.1 port (same site, other origin): a page, and a video it can read."""
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, HTMLResponse
    from starlette.routing import Route

    site = Starlette(routes=[
        Route("/", lambda request: HTMLResponse("<!doctype html><title>another app</title><p>hello</p>")),
        Route("/clip.mp4", lambda request: FileResponse(clip(CSRF_UPLOAD), media_type="video/mp4"))])
    with live_server(site) as base:
        yield base


@pytest.fixture
def page(browser):
    if browser is None:
        pytest.skip("Debian's chromium is not installed")
    context = browser.new_context()
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield page
    context.close()


def test_s1_a_page_on_another_port_cannot_upload_or_index_in_chromium(server, other_site, page):
    vid = add(server.http, clip(ADDED))
    before = {v["id"] for v in server.http.get("/api/videos").json()}
    jobs = server.http.get(f"/api/jobs?video_id={vid}").json()
    page.goto(other_site)
    attack(page, server.base, vid)
    hits = [r for r in server.spy.seen if r["origin"] == other_site]
    assert len(hits) == 3 and all(r["status"] == 403 for r in hits), hits
    assert {v["id"] for v in server.http.get("/api/videos").json()} == before
    assert sha256(clip(CSRF_UPLOAD)) not in before and server.http.get(f"/api/jobs?video_id={vid}").json() == jobs
    page.goto(server.base)  # the app's own page still works
    page.wait_for_selector(f"tr[data-video-id='{vid}']")
    assert not page.errors, page.errors


def test_s3_the_token_cookie_is_no_use_to_a_page_on_another_port(other_site, page, tmp_path, embedder):
    store = tmp_path / "store"
    app = create_app(ServeSettings(store=store, allow=(CLIPS,), token=TOKEN,
                                   qa_factory=scripted_factory(store, embedder)))
    spy = Spy(app)
    with live_server(spy) as base, httpx.Client(base_url=base, timeout=60,
                                                headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        vid = add(http, clip(ADDED))
        page.goto(f"{base}/?token={TOKEN}")  # the browser now holds the SameSite=Strict cookie ...
        page.wait_for_selector("body[data-ready='1']")
        page.goto(other_site)
        attack(page, base, vid)  # ... and sends it from the other port too (same site)
        hits = [r for r in spy.seen if r["origin"] == other_site]
        assert len(hits) == 3 and all(r["cookie"] and r["status"] == 403 for r in hits), hits
        assert [v["id"] for v in http.get("/api/videos").json()] == [vid]
        assert http.get(f"/api/jobs?video_id={vid}").json() == [] and not list((store / "uploads").iterdir())

        page.goto(base)  # the app's own page still uploads: its script sends X-Vidrecall, the cookie goes along
        page.wait_for_selector("body[data-ready='1']")
        page.set_input_files("#upload-file", str(clip(PAGE_UPLOAD)))
        page.click("#upload-form button")
        page.wait_for_selector(f"tr[data-video-id='{sha256(clip(PAGE_UPLOAD))}']", timeout=30_000)
        assert not page.errors, page.errors


def test_s2_media_and_frame_refuse_a_file_swapped_after_it_was_added(server, tmp_path):
    http = server.http
    swap = server.allowed / "swap.mp4"
    shutil.copy(clip(SWAPPED), swap)
    other = server.allowed / "other.mp4"
    shutil.copy(clip(SWAP_TARGET), other)
    vid = add(http, swap)
    assert http.get(f"/media/{vid}", headers={"Range": "bytes=0-99"}).status_code == 206
    assert http.get(f"/api/videos/{vid}/frame", params={"t": 1}).status_code == 200

    def refused(status: int, words: str) -> None:
        for path in (f"/media/{vid}", f"/api/videos/{vid}/frame?t=1"):
            r = http.get(path)
            assert r.status_code == status and words in r.json()["detail"], (path, r.status_code, r.text[:200])
            assert "\n" not in r.json()["detail"] and b"root:" not in r.content

    swap.unlink()
    swap.symlink_to("/etc/passwd")  # the report: /media/{id} returned /etc/passwd
    refused(403, "outside the --allow folders")
    swap.unlink()
    swap.symlink_to(other)  # a link to another video inside the folder: the path is fine, the bytes are not
    refused(409, "no longer the video that was added")
    swap.unlink()
    data = bytearray(clip(SWAPPED).read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, same first and last 64 KiB: the full hash tells them apart
    swap.write_bytes(bytes(data))
    refused(409, "no longer the video that was added")
    shutil.copy(clip(SWAPPED), swap)  # the same bytes again (a new inode and mtime): served again
    ok = http.get(f"/media/{vid}", headers={"Range": "bytes=0-9"})
    assert ok.status_code == 206 and ok.content == clip(SWAPPED).read_bytes()[:10]
    swap.unlink()
    refused(410, "gone")


def test_media_is_served_by_the_stored_record_even_when_the_name_lost_its_extension(server):
    nameless = server.uploads / ("a" * 120)  # what a 140-character upload name cut to 120 characters left
    shutil.copy(clip(NAMELESS), nameless)
    record = server.app.state.services.engine.memory.register(nameless)
    r = server.http.get(f"/media/{record.id}", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and r.headers["content-type"] == "video/mp4", r.text[:200]
    assert server.http.get(f"/api/videos/{record.id}/frame", params={"t": 1}).status_code == 200


def test_s4_the_verbose_access_log_never_shows_the_token(tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("VIDRECALL_TOKEN", None)
    token = secrets.token_urlsafe(24)
    proc = subprocess.Popen([sys.executable, "-m", "vidrecall", "serve", "--store", str(tmp_path / "store"),
                             "--port", str(port), "--token", token, "--verbose"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    status = None
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                status = httpx.get(f"{base}/api/status?token={token}", timeout=5)
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert status is not None and status.status_code == 200
        assert httpx.get(f"{base}/?token={token}&x=1").status_code == 303
        assert httpx.get(f"{base}/api/videos?%74oken={token}").status_code == 200  # the name %-encoded
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    lines = out.splitlines()
    assert sum("/api/status?token=***" in line for line in lines) == 1, out[-3000:]
    leaks = [line for line in lines if token in line and not line.startswith("open http")]
    assert not leaks, leaks
    assert out.count(token) == 1  # the URL printed at start, once


def test_s5_docs_and_redoc_load_nothing_from_outside(server, browser):
    """Pre-fix: Swagger UI's script and CSS, ReDoc's script and Google Fonts came from CDNs (blank offline)."""
    http = server.http
    for path in ("/docs", "/redoc"):
        r = http.get(path)
        assert r.status_code == 200 and "http://" not in r.text and "https://" not in r.text, r.text
        assert "script-src 'self'" in r.headers["content-security-policy"]
        for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css",
                      "/docs-assets/redoc.standalone.js", "/docs-assets/favicon.png"):
            assert asset.split("/")[-1] not in r.text or http.get(asset).status_code == 200
    assert b"cdn.redoc.ly" not in http.get("/docs-assets/redoc.standalone.js").content  # ReDoc's logo image

    if browser is None:
        pytest.skip("Debian's chromium is not installed: the pages were checked as HTML only")
    context = browser.new_context()
    outside: list[str] = []
    context.route("**/*", lambda route: (route.continue_() if route.request.url.startswith(server.base)
                                         else (outside.append(route.request.url), route.abort())))
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(f"{server.base}/docs")
    page.wait_for_selector(".swagger-ui .opblock-summary-path", timeout=20_000)  # the operations are listed
    assert page.locator(".opblock").count() >= 10
    page.goto(f"{server.base}/redoc")
    page.wait_for_function("() => document.body.innerText.includes('Upload a video')", timeout=20_000)  # rendered
    assert not outside and not problems, (outside, problems)
    context.close()
