"""Defects users hit in `vidrecall serve` (issue 33), each reproduced through the real server (uvicorn on a free
127.0.0.1 port, real memory, SQLite, FAISS, decoding and embedder; only the models are scripted): a long
upload name, upload errors naming server paths, `.partial-` names, a question followed again after a reload,
the server log, the status lines of a question, step messages quoting the model, and nonsense searches."""
from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.conftest import CLIPS, clip
from tests.webserver import live_server, scripted_factory
from vidrecall.agent.testing import ScriptedChatModel
from vidrecall.core.progress import silent
from vidrecall.web import ServeSettings, create_app

BOTTLES = "intel_bottle-detection.mp4"  # 40 s: one coarse clip, four fine clips in fast_levels
UPLOAD = {"content-type": "application/octet-stream", "x-vidrecall": "1"}  # as the page's upload sends it


class GatedChatModel(ScriptedChatModel):
    """A scripted LLM that replies only once `gate` (a threading.Event) is set: the test acts while the agent
    waits for the model, however slow the machine."""

    gate: Any = None

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        assert self.gate.wait(60), "the test never let the model reply"
        return super()._generate(messages, stop, run_manager, **kwargs)


@contextmanager
def serving(store, embedder, *, factory=None, **settings):
    factory = factory or scripted_factory(store, embedder)
    settings.setdefault("allow", (CLIPS,))
    app = create_app(ServeSettings(store=store, qa_factory=factory, **settings))
    with live_server(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        http.app, http.factory = app, factory
        yield http


def add(http, name=BOTTLES) -> str:
    r = http.post("/api/videos", json={"path": str(clip(name))})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def read_events(response, until=None):
    """(event, data, arrival time) of a text/event-stream response, in order (up to the event named `until`;
    a later call goes on from there)."""
    if not hasattr(response, "lines"):
        response.lines = response.iter_lines()
    out, name = [], None
    for line in response.lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            out.append((name, json.loads(line[6:]), time.monotonic()))
            if name == until:
                break
    return out


def ask(http, vid, body, until=None):
    with http.stream("POST", f"/api/videos/{vid}/ask", json=body) as r:
        assert r.status_code == 200, r.read()
        return read_events(r, until)


def statuses(events) -> list[str]:
    return [d["message"] for n, d, _ in events if n == "status"]


# 1 -----------------------------------------------------------------------------------------------------------
def test_a_long_upload_name_keeps_its_extension_so_the_video_plays(store_dir, embedder):
    long_name = "a-very-long-recording-name-" + "x" * 109 + ".mp4"
    assert len(long_name) == 140
    with serving(store_dir, embedder, allow=()) as http:
        r = http.post("/api/videos/upload", params={"filename": long_name}, content=clip(BOTTLES).read_bytes(),
                      headers=UPLOAD)
        assert r.status_code == 201, r.text
        stored = r.json()
        assert stored["name"].endswith(".mp4") and len(stored["name"]) <= 120, stored["name"]
        assert stored["name"].startswith("a-very-long-recording-name-xxx")
        vid = stored["id"]
        assert http.get(f"/media/{vid}", headers={"Range": "bytes=0-99"}).status_code == 206
        frame = http.get(f"/api/videos/{vid}/frame", params={"t": 1})
        assert frame.status_code == 200 and frame.content[:2] == b"\xff\xd8"


# 4 -----------------------------------------------------------------------------------------------------------
def test_upload_errors_name_the_uploaded_file_and_partial_names_are_refused(store_dir, embedder):
    with serving(store_dir, embedder, allow=()) as http:
        bad = http.post("/api/videos/upload", params={"filename": "notavideo.mp4"},
                        content=b"these are meeting notes, not a video\n" * 50, headers=UPLOAD)
        assert bad.status_code == 415
        detail = bad.json()["detail"]
        assert detail.startswith("notavideo.mp4: not a readable video file"), detail
        assert str(store_dir) not in detail and "/uploads" not in detail and "/tmp" not in detail, detail

        for name in (".partial-0123abcd.mp4", ".PARTIAL-x.mp4", "../.partial-x.mp4"):
            refused = http.post("/api/videos/upload", params={"filename": name},
                                content=clip(BOTTLES).read_bytes(), headers=UPLOAD)
            assert refused.status_code == 400 and ".partial-" in refused.json()["detail"], (name, refused.text)
        assert list((store_dir / "uploads").iterdir()) == []  # nothing refused is kept
        assert http.get("/api/videos").json() == []


# 3 -----------------------------------------------------------------------------------------------------------
def test_a_running_question_can_be_followed_again_after_a_reload(store_dir, embedder):
    gate = threading.Event()
    llm = GatedChatModel(gate=gate, defaults={"answer": {"answer": "three bottles", "confidence": 0.9, "clips": [1]}})
    with serving(store_dir, embedder, factory=scripted_factory(store_dir, embedder, llm=llm)) as http:
        vid = add(http)
        try:
            with http.stream("POST", f"/api/videos/{vid}/ask",
                             json={"question": "How many bottles?", "options": ["A. two", "B. three"]}) as r:
                session = read_events(r, until="step")  # the page shows its first step, then is reloaded
            sid = session[0][1]["session_id"]
            question_id = session[0][1]["question_id"]

            # what the reloaded page reads: the session, with the question still being answered
            view = http.get(f"/api/sessions/{sid}").json()
            assert view["turns"] == [] and [q["question"] for q in view["running"]] == ["How many bottles?"]
            assert view["running"][0]["options"] == ["A. two", "B. three"] and view["running"][0]["id"] == question_id
            listed = http.get("/api/sessions", params={"video_id": vid}).json()
            assert [(s["id"], s["turns"], s["running"]) for s in listed] == [(sid, 0, 1)]

            with http.stream("GET", f"/api/sessions/{sid}/live") as live:
                assert live.status_code == 200 and live.headers["content-type"].startswith("text/event-stream")
                replayed = read_events(live, until="step")  # the events so far come first ...
                assert [n for n, _, _ in replayed][0] == "session"
                gate.set()  # ... then the model replies and the rest streams in
                followed = replayed + read_events(live)
        finally:
            gate.set()
        names = [n for n, _, _ in followed]
        assert names[-2:] == ["answer", "done"] and names.count("step") >= 3
        answer = dict((n, d) for n, d, _ in followed)["answer"]
        assert answer["session_id"] == sid and [d for n, d, _ in followed if n == "step"] == answer["trajectory"]

        after = http.get(f"/api/sessions/{sid}").json()
        assert after["running"] == [] and [t["question"] for t in after["turns"]] == ["How many bottles?"]
        gone = http.get(f"/api/sessions/{sid}/live")
        assert gone.status_code == 404 and "no question is being answered" in gone.json()["detail"]


# 6 -----------------------------------------------------------------------------------------------------------
def test_the_server_log_stays_quiet_on_a_cut_upload_and_a_question_about_an_unindexed_video(store_dir, embedder,
                                                                                             capfd):
    data = clip(BOTTLES).read_bytes()
    with serving(store_dir, embedder, allow=()) as http:
        capfd.readouterr()
        port = int(str(http.base_url).rsplit(":", 1)[1].rstrip("/"))
        with socket.create_connection(("127.0.0.1", port)) as raw:  # a tab closed mid-upload
            raw.sendall(b"POST /api/videos/upload?filename=cut.mp4 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        b"Content-Type: application/octet-stream\r\nX-Vidrecall: 1\r\n"
                        + f"Content-Length: {len(data)}\r\n\r\n".encode() + data[: len(data) // 3])
            time.sleep(0.3)
        deadline = time.monotonic() + 10
        while any((store_dir / "uploads").iterdir()):
            assert time.monotonic() < deadline, list((store_dir / "uploads").iterdir())
            time.sleep(0.05)
        time.sleep(0.2)
        err = capfd.readouterr().err
        assert "Traceback" not in err and "ClientDisconnect" not in err and err.strip() == "", err

        r = http.post("/api/videos/upload", params={"filename": "bottles.mp4"}, content=data, headers=UPLOAD)
        vid = r.json()["id"]
        got = ask(http, vid, {"question": "How many bottles?"})  # not indexed: the coarse level is captioned first
        assert dict((n, d) for n, d, _ in got)["answer"]["answer"] == "three bottles"
        names = [n for n, _, _ in got]
        indexing = [d for n, d, _ in got if n == "progress" and d["node"] == "index"]
        assert indexing and indexing[-1]["message"].startswith("coarse captions") and indexing[-1]["done"] == 1
        assert names.index("progress") < names.index("step")  # ... and the page sees it, not the server's log
        time.sleep(0.2)
        err = capfd.readouterr().err
    assert "%|" not in err and "it/s" not in err and "clip/s" not in err, err  # no tqdm bar
    assert err.strip() == "", err


# 7 -----------------------------------------------------------------------------------------------------------
def test_a_question_says_loading_models_while_they_load_and_waiting_only_when_the_video_is_busy(store_dir, embedder):
    base = scripted_factory(store_dir, embedder)
    loaded_at: list[float] = []

    def factory():  # a first preflight that takes a while, as a local LLM's first load does
        qa = base()
        checked = qa.preflight

        def slow_preflight(**kw):
            if not loaded_at:
                time.sleep(1.0)
                loaded_at.append(time.monotonic())
            return checked(**kw)

        qa.preflight = slow_preflight
        return qa

    with serving(store_dir, embedder, factory=factory) as http:
        vid = add(http)
        seen_loading: list[bool] = []

        def watch_status():
            for _ in range(8):
                seen_loading.append(http.get("/api/status").json()["models_loading"])
                time.sleep(0.1)

        watching = threading.Thread(target=watch_status)
        watching.start()
        first = ask(http, vid, {"question": "How many bottles?"})
        watching.join()
        assert statuses(first) == ["loading models (once per server)", "thinking"]
        thinking = next(t for n, d, t in first if n == "status" and d["message"] == "thinking")
        assert loaded_at and thinking > loaded_at[0]  # every model loaded before "thinking", not after
        assert any(seen_loading)  # /api/status said so meanwhile

        assert statuses(ask(http, vid, {"question": "And the caps?"})) == ["thinking"]  # nothing else runs

        lock = http.app.state.services.engine.video_lock(vid)
        lock.acquire()  # other work holds this video
        held = True
        try:
            with http.stream("POST", f"/api/videos/{vid}/ask", json={"question": "Which colour?"}) as r:
                assert statuses(read_events(r, until="status")) == ["waiting for this video's other work to finish"]
                lock.release()
                held = False
                rest = read_events(r)
        finally:
            if held:
                lock.release()
        assert statuses(rest) == ["thinking"] and [n for n, _, _ in rest][-2:] == ["answer", "done"]


# 9 -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy, role, reply", [
    ("default", "answer", {"answer": "Fernando Alonso", "confidence": 0.3, "clips": [1]}),
    ("videolucy", "videolucy_answer", {"Confidence": True, "Answer": "Fernando Alonso", "Time Period": [[0, 40]]}),
])
def test_step_messages_say_what_the_agent_did_not_what_the_model_said(store_dir, embedder, strategy, role, reply):
    from vidrecall.agent.testing import ScriptedChatModel

    llm = ScriptedChatModel(defaults={role: reply})
    qa = scripted_factory(store_dir, embedder, llm=llm, strategy=strategy, budgets={"max_iterations": 1},
                          progress=silent)()
    answer = qa.ask(clip(BOTTLES), "Who drove the car?", ["A. Lewis Hamilton", "B. Max Verstappen"])
    messages = [s.message for s in answer.trajectory]
    assert not any("Fernando" in m or "said" in m for m in messages), messages
    step = next(s for s in answer.trajectory if s.node == "answer")
    assert step.detail["llm_answer"] == "Fernando Alonso"  # the model's words stay in the step's detail
    assert step.message.startswith(("no option chosen yet", "coarse answer: none yet")), step.message


# 10 ----------------------------------------------------------------------------------------------------------
def test_a_nonsense_search_finds_no_close_match(store_dir, embedder):
    with serving(store_dir, embedder) as http:
        vid = add(http)
        job = http.post(f"/api/videos/{vid}/index", json={"levels": ["coarse", "fine"]}).json()
        while http.get(f"/api/jobs/{job['id']}").json()["state"] not in ("done", "failed", "cancelled"):
            time.sleep(0.05)

        def search(q, **params):
            r = http.get(f"/api/videos/{vid}/search", params={"q": q, "k": 5, **params})
            assert r.status_code == 200, r.text
            return r.json()

        for nonsense in ("qwertyuiop zxcvbnm", "Fernando Alonso", "xyzzy plugh", "how to file taxes"):
            hits = search(nonsense)
            assert hits and all(h["weak"] for h in hits), (nonsense, hits)  # the nearest, marked: no close match
            assert hits[0]["score"] < 0.25
        close = search("bottles with blue caps")
        assert len(close) == 5 and not any(h["weak"] for h in close) and all(h["score"] >= 0.25 for h in close)
        assert "bottles" in close[0]["node"]["text"]
