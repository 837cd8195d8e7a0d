"""`vidrecall serve`'s HTTP API through FastAPI's TestClient: every endpoint, and every refusal the issue asks
for (token, Host, allowed folders, traversal, symlinks, non-videos, upload limits), with real memory, SQLite,
FAISS and decoding; only the models are scripted."""
from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import CLIPS, clip
from tests.videogen import not_a_video
from tests.webserver import live_server, scripted_factory
from vidrecall.tools.captioners.base import ONE_AT_A_TIME
from vidrecall.web import ServeSettings, SettingsError, create_app

BOTTLES = "intel_bottle-detection.mp4"  # 40 s: one coarse clip, four fine clips in fast_levels


def make_client(store, embedder, *, allow=(CLIPS,), **kw):
    factory = kw.pop("factory", None) or scripted_factory(store, embedder, **kw.pop("model", {}))
    settings = ServeSettings(store=store, allow=tuple(allow), qa_factory=factory, **kw)
    client = TestClient(create_app(settings), base_url="http://127.0.0.1", headers={"X-Vidrecall": "1"})
    client.factory = factory
    return client


def add(client, name=BOTTLES) -> str:
    r = client.post("/api/videos", json={"path": str(clip(name))})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def wait_job(client, job_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job['state']}")


def events(client, video_id, body):
    """The SSE reply of /ask as (event, data) pairs, in order."""
    out = []
    with client.stream("POST", f"/api/videos/{video_id}/ask", json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                out.append((name, json.loads(line[6:])))
    return out


@pytest.fixture
def client(store_dir, embedder):
    with make_client(store_dir, embedder) as c:
        yield c


def test_library_index_memory_media_search_and_remove(client, store_dir):
    assert client.get("/api/status").json()["models_loaded"] is False  # the page opens before any model loads
    vid = add(client)
    listed = client.get("/api/videos").json()
    assert [v["id"] for v in listed] == [vid] and listed[0]["captions"] == 0 and not listed[0]["coarse_complete"]

    job = client.post(f"/api/videos/{vid}/index", json={"levels": ["coarse", "fine"]})
    assert job.status_code == 202
    done = wait_job(client, job.json()["id"])
    assert (done["state"], done["done"], done["total"], done["created"]) == ("done", 5, 5, 5)
    again = wait_job(client, client.post(f"/api/videos/{vid}/index", json={"levels": ["coarse", "fine"]}).json()["id"])
    assert (again["created"], again["reused"]) == (0, 5)  # nothing captioned twice
    assert [j["id"] for j in client.get(f"/api/jobs?video_id={vid}").json()] == [done["id"], again["id"]]

    entry = client.get(f"/api/videos/{vid}").json()
    assert entry["coarse_complete"] and entry["levels"] == [{"level": "coarse", "captions": 1},
                                                            {"level": "fine", "captions": 4}]
    memory = client.get(f"/api/videos/{vid}/memory").json()
    assert memory["lanes"] == ["coarse", "fine"] and len(memory["nodes"]) == 5
    assert all(n["parent_id"] == memory["nodes"][0]["id"] for n in memory["nodes"] if n["level"] == "fine")

    size = clip(BOTTLES).stat().st_size
    part = client.get(f"/media/{vid}", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.headers["content-range"] == f"bytes 1000-1999/{size}"
    assert part.content == clip(BOTTLES).read_bytes()[1000:2000] and part.headers["content-type"] == "video/mp4"
    assert client.get(f"/media/{vid}").headers["accept-ranges"] == "bytes"
    jpeg = client.get(f"/api/videos/{vid}/frame?t=12.5&size=96")
    assert jpeg.status_code == 200 and jpeg.content[:2] == b"\xff\xd8"
    assert client.get(f"/api/videos/{vid}/frame?t=-1").status_code == 422

    hits = client.get(f"/api/videos/{vid}/search", params={"q": "bottle with a blue cap", "k": 3}).json()
    assert len(hits) == 3 and hits[0]["score"] >= hits[-1]["score"] and "bottle" in hits[0]["node"]["text"]
    assert client.get(f"/api/videos/{vid}/search", params={"q": ""}).status_code == 422

    gone = client.delete(f"/api/videos/{vid}").json()
    assert gone == {"removed": vid, "captions_removed": 5, "file_deleted": False}  # a shared clip is not deleted
    assert clip(BOTTLES).exists() and client.get("/api/videos").json() == []
    qa = client.app.state.services.engine.qa()
    assert qa.memory.index.ids() == set()  # the FAISS index dropped them too
    for path in (f"/api/videos/{vid}", f"/media/{vid}", f"/api/videos/{vid}/memory"):
        r = client.get(path)
        assert r.status_code == 404 and vid in r.json()["detail"]


def test_index_jobs_cancel_keeps_finished_clips_and_refuses_unknown_levels(store_dir, embedder):
    with make_client(store_dir, embedder, model={"delay": 0.4}) as c:
        vid = add(c)
        assert "unknown level 'huge'" in c.post(f"/api/videos/{vid}/index", json={"levels": ["huge"]}).json()["detail"]
        job = c.post(f"/api/videos/{vid}/index", json={"levels": ["fine"]}).json()
        assert c.post(f"/api/videos/{vid}/index", json={"levels": ["fine"]}).json()["id"] == job["id"]  # no twin job
        while c.get(f"/api/jobs/{job['id']}").json()["done"] < 1:
            time.sleep(0.05)
        c.post(f"/api/jobs/{job['id']}/cancel")
        ended = wait_job(c, job["id"])
        assert ended["state"] == "cancelled" and 1 <= ended["done"] < ended["total"] == 4
        stored = c.get(f"/api/videos/{vid}/memory").json()["nodes"]
        assert len(stored) == ended["created"] == ended["done"]
        assert c.get("/api/jobs/nope").status_code == 404 and c.post("/api/jobs/nope/cancel").status_code == 404
        assert c.post("/api/videos/abc/index", json={}).status_code == 404


def test_adding_by_path_refuses_anything_outside_the_allowed_folders(store_dir, embedder, tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    (root / "clip.mp4").write_bytes(clip(BOTTLES).read_bytes())
    (root / "notes.txt").write_text("hello")
    not_a_video(root, "fake.mp4")
    (root / "escape.mp4").symlink_to(clip("mdn_pig.mp4"))  # a link out of the root
    (root / "inside.mp4").symlink_to(root / "clip.mp4")  # a link that stays inside is fine
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"x" * 100)
    with make_client(store_dir, embedder, allow=(root,)) as c:
        def refused(path, status, words):
            r = c.post("/api/videos", json={"path": str(path)})
            assert r.status_code == status and words in r.json()["detail"], (path, r.status_code, r.text)
            assert "\n" not in r.json()["detail"]

        refused(outside, 403, "outside the allowed folders")
        refused(f"{root}/../secret.mp4", 403, "outside the allowed folders")
        refused(root / "escape.mp4", 403, "outside the allowed folders (through a symlink)")
        refused(root / "notes.txt", 415, "not a video file")
        refused(root / "fake.mp4", 415, "fake.mp4")
        refused(root / "missing.mp4", 404, "no such file")
        refused(root, 400, "not a file")
        refused("clip.mp4", 400, "absolute path")
        refused("", 400, "path is empty")
        assert c.post("/api/videos", json={"path": str(root / "inside.mp4")}).status_code == 201
        assert [f["name"] for f in c.get("/api/allowed").json()] == ["clip.mp4", "fake.mp4", "inside.mp4"]
        assert c.post("/api/videos", json={}).status_code == 422
        for probe in ("/media/..%2F..%2Fetc%2Fpasswd", "/media/%2Fetc%2Fpasswd", f"/media/{outside}"):
            assert c.get(probe).status_code == 404  # media are served by registered id only, never by path
    with make_client(store_dir, embedder, allow=()) as c:
        r = c.post("/api/videos", json={"path": str(clip(BOTTLES))})
        assert r.status_code == 403 and "--allow" in r.json()["detail"]


def test_uploads_are_size_limited_and_land_atomically(store_dir, embedder, tmp_path):
    data = clip(BOTTLES).read_bytes()
    with make_client(store_dir, embedder, allow=(), upload_limit=len(data) + 10) as c:
        uploads = store_dir / "uploads"
        ok = c.post("/api/videos/upload?filename=../../my%20bottles.mp4", content=data)
        assert ok.status_code == 201, ok.text
        assert ok.json()["name"] == "my bottles.mp4" and ok.json()["path"] == str(uploads / "my bottles.mp4")
        second = c.post("/api/videos/upload?filename=my bottles.mp4", content=data).json()
        assert second["id"] == ok.json()["id"] and second["path"] == ok.json()["path"]  # same bytes: no second copy
        big = c.post("/api/videos/upload?filename=big.mp4", content=data + b"x" * 100)
        assert big.status_code == 413 and "upload limit" in big.json()["detail"]

        def chunks():  # no Content-Length: the limit is enforced while streaming
            yield data
            yield b"x" * 100

        assert c.post("/api/videos/upload?filename=big2.mp4", content=chunks()).status_code == 413
        bad = c.post("/api/videos/upload?filename=garbage.mp4", content=b"not a video at all" * 10)
        assert bad.status_code == 415 and "garbage.mp4" in bad.json()["detail"]
        assert c.post("/api/videos/upload?filename=run.sh", content=b"#!/bin/sh").status_code == 415
        assert c.post("/api/videos/upload?filename=empty.mp4", content=b"").status_code == 400
        names = sorted(p.name for p in uploads.iterdir())
        assert names == ["my bottles.mp4"]  # nothing half-written, refused or duplicated is left
        vid = ok.json()["id"]
        gone = c.delete(f"/api/videos/{vid}").json()
        assert gone["file_deleted"] and not (uploads / "my bottles.mp4").exists()


def test_a_token_guards_every_request_including_media_and_docs(store_dir, embedder):
    with pytest.raises(SettingsError, match="too short"):
        ServeSettings(store=store_dir, token="short").checked()
    generated = ServeSettings(store=store_dir, host="0.0.0.0").checked()
    assert generated.token and len(generated.token) >= 24 and generated.token in generated.url
    token = "t0ken-for-the-tests-0123456789"
    with make_client(store_dir, embedder, host="0.0.0.0", token=token) as c:
        c.base_url = "http://192.168.1.20:8765"  # any Host is fine once a token is required
        vid = c.post("/api/videos", json={"path": str(clip(BOTTLES))}, headers={"Authorization": f"Bearer {token}"})
        assert vid.status_code == 201
        vid = vid.json()["id"]
        for path in ("/", "/static/app.js", "/api/videos", f"/media/{vid}", f"/api/videos/{vid}/frame?t=1",
                     "/docs", "/openapi.json", "/api/sessions"):
            r = c.get(path)
            assert r.status_code == 401 and "token" in r.json()["detail"], path
            assert c.get(path, headers={"Authorization": "Bearer wrong-token-wrong-token"}).status_code == 401
            assert c.get(path, headers={"X-Vidrecall-Token": token}).status_code == 200, path
        assert c.post(f"/api/videos/{vid}/ask", json={"question": "who?"}).status_code == 401
        assert c.get(f"/api/videos?token={token}").status_code == 200  # ?token= works for any request
        assert c.get(f"/media/{vid}", headers={"Range": "bytes=0-9"}).status_code == 401
        opened = c.get(f"/?token={token}", follow_redirects=False)
        assert opened.status_code == 303 and opened.headers["location"] == "/"
        assert "HttpOnly" in opened.headers["set-cookie"] and "SameSite=Strict" in opened.headers["set-cookie"]
        assert c.get(f"/media/{vid}", headers={"Range": "bytes=0-9"}).status_code == 206  # the cookie, as <video> sends it


def test_without_a_token_only_loopback_host_names_are_answered(client):
    assert client.get("/api/videos").status_code == 200
    assert client.get("/api/videos", headers={"Host": "localhost:8765"}).status_code == 200
    r = client.get("/api/videos", headers={"Host": "evil.example:8765"})  # DNS rebinding
    assert r.status_code == 403 and "127.0.0.1" in r.json()["detail"]


def test_the_page_and_api_docs(client):
    page = client.get("/")
    assert page.status_code == 200 and '<script type="module" src="/static/app.js">' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    for name in ("app.js", "api.js", "dom.js", "chat.js", "library.js", "timeline.js", "video.js", "app.css"):
        assert client.get(f"/static/{name}").status_code == 200
    js = "".join(client.get(f"/static/{n}").text for n in ("app.js", "chat.js", "library.js", "timeline.js", "video.js", "dom.js"))
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js  # data is only ever set as text
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/videos", "/api/videos/upload", "/api/videos/{video_id}", "/api/videos/{video_id}/index",
                 "/api/jobs", "/api/jobs/{job_id}", "/api/jobs/{job_id}/cancel", "/media/{video_id}",
                 "/api/videos/{video_id}/frame", "/api/videos/{video_id}/ask", "/api/videos/{video_id}/memory",
                 "/api/videos/{video_id}/search", "/api/sessions", "/api/sessions/{session_id}", "/api/status"):
        assert path in paths, path
    assert client.get("/docs").status_code == 200


def test_ask_streams_steps_then_the_answer_and_follow_ups_share_the_session(client):
    vid = add(client)
    first = events(client, vid, {"question": "How many bottles?", "options": ["A. two", "B. three"]})
    names = [n for n, _ in first]
    assert names[0] == "session" and names[-2:] == ["answer", "done"]
    assert names.index("step") < names.index("answer") and names.count("step") >= 3
    steps = [d for n, d in first if n == "step"]
    assert [s["node"] for s in steps][:2] == ["recall", "answer"] and steps[-1]["node"] == "finish"
    answer = dict(first)["answer"]
    session = dict(first)["session"]["session_id"]
    assert answer["answer"] and answer["options"] == ["A. two", "B. three"] and answer["session_id"] == session
    assert answer["trajectory"] == steps

    follow = events(client, vid, {"question": "And what caps do they have?", "session_id": session})
    assert dict(follow)["answer"]["session_id"] == session
    llm = client.factory.llm
    assert "How many bottles?" in llm.calls[-1][1]  # the follow-up saw the first turn (the checkpointer)
    listed = client.get(f"/api/sessions?video_id={vid}").json()
    assert [(s["id"], s["turns"], s["title"]) for s in listed] == [(session, 2, "How many bottles?")]
    reopened = client.get(f"/api/sessions/{session}").json()
    assert [t["question"] for t in reopened["turns"]] == ["How many bottles?", "And what caps do they have?"]
    assert reopened["turns"][0]["trajectory"] and reopened["turns"][0]["options"] == ["A. two", "B. three"]
    assert client.get("/api/sessions/nope").status_code == 404

    other = add(client, "mdn_pig.mp4")
    clash = client.post(f"/api/videos/{other}/ask", json={"question": "Who?", "session_id": session})
    assert clash.status_code == 409 and "another video" in clash.json()["detail"]
    for body in ({"question": "   "}, {"question": ""}, {"question": "ok", "options": ["A. x", " "]},
                 {"question": "ok", "session_id": "../../etc"}):
        assert client.post(f"/api/videos/{vid}/ask", json=body).status_code == 422, body
    assert client.post("/api/videos/nope/ask", json={"question": "Who?"}).status_code == 404


def test_a_question_may_name_any_registered_strategy(client):
    status = client.get("/api/status").json()
    assert status["strategies"] == ["default", "videolucy", "search"] and status["strategy"] == "default"
    vid = add(client)
    lucy = dict(events(client, vid, {"question": "How many bottles?", "strategy": "videolucy"}))["answer"]
    assert lucy["strategy"] == "videolucy" and lucy["answer"]
    # the scripted LLM cannot call tools: the search strategy refuses it in one line, as the CLI does
    refused = dict(events(client, vid, {"question": "How many bottles?", "strategy": "search"}))
    assert "tool" in refused["error"]["detail"] and "answer" not in refused
    unknown = client.post(f"/api/videos/{vid}/ask", json={"question": "Who?", "strategy": "guess"})
    assert unknown.status_code == 400 and "default, videolucy, search" in unknown.json()["detail"]


def test_model_failures_arrive_as_an_error_event(store_dir, embedder):
    class Broken:
        id = "broken"
        capacity = ONE_AT_A_TIME

        def preflight(self):
            return None

        def caption(self, request):
            raise RuntimeError("the captioner fell over\nsecond line")

        def caption_batch(self, requests):
            return [self.caption(r) for r in requests]

    with make_client(store_dir, embedder, model={"captioner": Broken()}) as c:
        vid = add(c)
        got = events(c, vid, {"question": "Who?"})
        assert [n for n, _ in got][-2:] == ["error", "done"]
        assert dict(got)["error"]["detail"] == "the captioner fell over"
        job = wait_job(c, c.post(f"/api/videos/{vid}/index", json={}).json()["id"])
        assert job["state"] == "failed" and job["error"] == "the captioner fell over"


def test_two_people_asking_at_once_both_get_answers_and_nothing_is_captioned_twice(store_dir, embedder):
    with make_client(store_dir, embedder, model={"delay": 0.2}) as c:
        vid = add(c)  # not indexed: both questions need the coarse memory first
        results: dict[int, list] = {}

        def ask(i):
            results[i] = events(c, vid, {"question": f"How many bottles? ({i})"})

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert all(dict(results[i]).get("answer", {}).get("answer") == "three bottles" for i in range(2)), results
        captioned = [(level, span.start, span.end, instr) for level, span, instr, _ in c.factory.captioner.captioned]
        assert len(captioned) == len(set(captioned)) == 1
        sessions = {dict(results[i])["session"]["session_id"] for i in range(2)}
        assert len(sessions) == 2


def test_a_client_leaving_mid_question_leaves_memory_and_session_whole(store_dir, embedder):
    factory = scripted_factory(store_dir, embedder, delay=0.3)
    app = create_app(ServeSettings(store=store_dir, allow=(CLIPS,), qa_factory=factory))
    with live_server(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        vid = http.post("/api/videos", json={"path": str(clip(BOTTLES))}).json()["id"]
        with http.stream("POST", f"/api/videos/{vid}/ask", json={"question": "How many bottles?"}) as r:
            first = next(r.iter_lines())
            assert first == "event: session"
        # the tab is closed; the question still runs to its end in the pool
        svc = app.state.services
        deadline = time.monotonic() + 60
        while not (svc.book.sessions() and svc.book.sessions()[0].turns == 1):
            assert time.monotonic() < deadline, "the question never finished after the client left"
            time.sleep(0.1)
        memory = svc.engine.qa().memory
        assert memory.index.ids() == memory.store.node_ids() and memory.store.count() == 1
        again = http.post(f"/api/videos/{vid}/ask", json={"question": "And now?"})
        assert again.status_code == 200 and "event: answer" in again.text
        assert len(factory.captioner.captioned) == 1  # the second question reused the caption


def test_sessions_reopen_after_the_server_restarts(store_dir, embedder):
    with make_client(store_dir, embedder) as first:
        vid = add(first)
        session = dict(events(first, vid, {"question": "How many bottles?"}))["session"]["session_id"]
    with make_client(store_dir, embedder) as again:  # a new server (and VideoQA) on the same store
        assert [s["id"] for s in again.get(f"/api/sessions?video_id={vid}").json()] == [session]
        assert again.get(f"/api/sessions/{session}").json()["turns"][0]["answer"] == "three bottles"
        follow = dict(events(again, vid, {"question": "What colour are the caps?", "session_id": session}))
        assert follow["answer"]["session_id"] == session
        assert "How many bottles?" in again.factory.llm.calls[-1][1]  # the checkpointer carried the first turn
        assert again.get(f"/api/sessions/{session}").json()["session"]["turns"] == 2
