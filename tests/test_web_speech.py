"""The web app indexes through the one indexing path: a video added over HTTP and indexed by a job gets
its speech lane (real Whisper tiny.en, real uvicorn on 127.0.0.1, real SQLite + FAISS; the captioner and
LLM are scripted). Before the indexer, web jobs captioned clip by clip and never heard anything."""
from __future__ import annotations

import shutil
import time

import httpx

from tests.webserver import live_server, scripted_factory
from vidrecall.web import ServeSettings, create_app


def test_a_video_added_and_indexed_over_http_gets_a_speech_lane(speech_clip, embedder, tmp_path):
    spec, lines = speech_clip
    folder = tmp_path / "videos"
    folder.mkdir()
    video = shutil.copy(spec.video, folder / "spoken.mp4")
    store = tmp_path / "store"
    settings = ServeSettings(store=store, allow=(folder,), qa_factory=scripted_factory(store, embedder))
    with live_server(create_app(settings)) as base, httpx.Client(base_url=base, timeout=30) as http:
        added = http.post("/api/videos", json={"path": str(video)})
        assert added.status_code == 201, added.text
        vid = added.json()["id"]
        job = http.post(f"/api/videos/{vid}/index", json={"levels": ["coarse"]}).json()
        deadline = time.monotonic() + 240
        while job["state"] not in ("done", "failed", "cancelled"):
            assert time.monotonic() < deadline, f"index job still {job['state']}: {job['message']}"
            time.sleep(0.5)
            job = http.get(f"/api/jobs/{job['id']}").json()
        assert job["state"] == "done", (job["error"], job["message"])
        assert job["speech"].startswith("speech ") and job["created"] == job["total"] > 0

        memory = http.get(f"/api/videos/{vid}/memory").json()
        assert memory["lanes"][-1] == "speech"
        heard = [n for n in memory["nodes"] if n["level"] == "speech"]
        password = next(line for line in lines if "pineapple" in line.text)
        said = next(n for n in heard if "pineapple" in n["text"].lower())
        assert abs(said["start"] - password.start_s) < 1.0
        assert http.get(f"/api/videos/{vid}").json()["speech"] is True
        hits = http.get(f"/api/videos/{vid}/search", params={"q": "what is the vault password", "k": 1}).json()
        assert hits[0]["node"]["id"] == said["id"]
