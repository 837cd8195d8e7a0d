"""Many processes on one store: writers wait for each other and succeed, nothing is duplicated or corrupted.

Real SQLite files shared by separate connections (as separate processes hold them), and real
`python -m vidrecall.cli` processes indexing a real clip from ../shared/media/clips into one store while
another asks about it; the LLM is a real loopback server (tests/fakeserver.py) so no weights load.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import clip
from fakeserver import FakeOpenAIServer, Reply
from vidrecall.core.types import MemoryNode
from vidrecall.memory.store import MemoryStore, VideoRecord

REPLY = json.dumps({"answer": "A", "confidence": 0.95, "clips": [1], "spans": [[0, 2]], "reason": "shown"})


def node(i: int) -> MemoryNode:
    return MemoryNode(video_id="v" * 64, level="fine", depth=1, start=float(i), end=float(i + 1), text=f"caption {i}",
                      captioner="ocr", prompt_hash="p", fps=1.0, frames=1, max_pixels=1000)


def test_writers_on_separate_connections_never_see_database_is_locked(store_dir):
    """Read-then-write transactions (upsert_video) from four connections at once: each waits its turn.

    With plain deferred transactions SQLite refuses the second writer at once (SQLITE_BUSY), busy
    timeout or not, because its read snapshot went stale while the other wrote."""
    db = store_dir / "memory.db"
    stores = [MemoryStore(db) for _ in range(4)]
    errors: list[BaseException] = []

    def work(store: MemoryStore, worker: int) -> None:
        try:
            for i in range(40):
                store.upsert_video(VideoRecord(id=f"video{i % 5}", path=f"/v/{worker}/{i}.mp4", duration=60.0,
                                               fps=30.0, width=64, height=48, frame_count=1800, size_bytes=1,
                                               added_at=time.time()))
                store.add(node(i))  # the same 40 caption keys from every worker
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s, w)) for w, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for s in stores:
        s.close()
    assert not errors, errors[:3]
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*), count(DISTINCT key) FROM nodes").fetchone() == (40, 40)
        assert con.execute("SELECT count(*) FROM videos").fetchone() == (5,)
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_write_waits_for_another_process_holding_the_lock(store_dir):
    """A writer outside vidrecall holds the write lock for 1.5 s: our write waits and lands."""
    db = store_dir / "memory.db"
    MemoryStore(db).close()
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO meta (name, value) VALUES ('held', '1')")
    threading.Timer(1.5, lambda: holder.execute("COMMIT")).start()
    started = time.monotonic()
    store = MemoryStore(db)  # opening writes too (the schema check): it waits here
    stored = store.add(node(7))
    waited = time.monotonic() - started
    store.close()
    holder.close()
    assert stored.id is not None and 1.0 < waited < 20, waited


def profile(tmp: Path, base_url: str) -> Path:
    path = tmp / "shared_store.yaml"
    path.write_text(f"""
llm: "openai-compatible:m"
llm_options: {{base_url: "{base_url}", max_retries: 0, timeout: 30}}
captioner: ocr
levels:
  - {{name: coarse, clip_seconds: 60, frames_per_clip: 1, max_pixels: 20000, prompt: caption_coarse}}
  - {{name: fine, clip_seconds: 2, frames_per_clip: 1, max_pixels: 20000, prompt: caption_fine}}
budgets: {{max_iterations: 1, max_captions: 4, max_llm_tokens: 60000, max_seconds: 120}}
""")
    return path


def start(*args: str, store: Path) -> subprocess.Popen:
    env = {**os.environ, "VIDRECALL_STORE": str(store)}
    return subprocess.Popen([sys.executable, "-m", "vidrecall.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def finish(proc: subprocess.Popen, timeout: float = 400) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err


@pytest.mark.slow
def test_two_index_processes_and_an_ask_share_one_store(tmp_path):
    video = clip("mdn_frog.mp4")  # 8.3 s: one coarse clip, five fine clips
    store = tmp_path / "store"
    with FakeOpenAIServer(default=Reply(content=REPLY)) as server:
        prof = str(profile(tmp_path, server.base_url))
        index = ["index", str(video), "--levels", "coarse,fine", "--quiet", "--profile", prof]
        runs = {"index A": start(*index, store=store), "index B": start(*index, store=store),  # all at once
                "ask": start("ask", str(video), "What animal is shown?", "--option", "A. a frog", "--option",
                             "B. a pig", "--profile", prof, store=store)}
        results = {name: finish(p) for name, p in runs.items()}
        asked = len(server.chat_requests())
    for name, (code, out, err) in results.items():
        assert code == 0, f"{name} exited {code}: {err[-2000:]}"
        assert "database is locked" not in err and "Traceback" not in err, f"{name}: {err[-2000:]}"
    with sqlite3.connect(store / "memory.db") as con:
        levels = dict(con.execute("SELECT level, count(*) FROM nodes GROUP BY level").fetchall())
        duplicates = con.execute("SELECT count(*) - count(DISTINCT key) FROM nodes").fetchone()[0]
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    assert levels.get("coarse") == 1 and levels.get("fine", 0) >= 5, levels
    assert duplicates == 0 and integrity == "ok"
    assert asked and "Answer: A. a frog" in results["ask"][1], results["ask"][1]
