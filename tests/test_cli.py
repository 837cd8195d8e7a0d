"""The `vidrecall` command as a user runs it: real subprocesses, real store, real OCR."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import HAYSTACK, clip


def run_cli(*args: str, store: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "VIDRECALL_STORE": str(store)}
    return subprocess.run([sys.executable, "-m", "vidrecall.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def stored_captions(store: Path, level: str = "coarse") -> int:
    db = store / "memory.db"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute("select count(*) from nodes where level = ?", (level,)).fetchone()[0]
    except sqlite3.OperationalError:  # table not created yet
        return 0


def test_missing_video_is_one_line_error(store_dir):
    res = run_cli("index", "/nonexistent/video.mp4", store=store_dir)
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "/nonexistent/video.mp4" in lines[0], res.stderr


def test_not_a_video_is_one_line_error(store_dir, tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is a text file, not a video\n" * 20)
    res = run_cli("index", str(fake), store=store_dir)
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and "Warning" not in ln]
    assert lines and "notes.mp4" in lines[-1], res.stderr
    assert "Traceback" not in res.stderr


def test_profiles_lists_bundled_profiles(store_dir):
    res = run_cli("profiles", store=store_dir)
    assert res.returncode == 0
    for name in ("offline", "local", "openai", "vllm", "videolucy"):
        assert name in res.stdout
    lines = {line.split()[0]: line for line in res.stdout.splitlines()}
    assert lines["videolucy"].endswith("uncalibrated confidence, never abstains")
    assert "abstains below 0.6" in lines["offline"]


def test_index_then_memory_shows_captions(store_dir):
    video = clip("moviepy_sintel_trailer_480p.mp4")
    res = run_cli("index", str(video), "--levels", "coarse,fine", "--quiet", store=store_dir)
    assert res.returncode == 0, res.stderr
    assert "coarse: 1 clips, 1 captioned" in res.stdout and "fine: 6 clips, 6 captioned" in res.stdout
    assert "52 frames decoded, " in res.stdout and " sent, " in res.stdout  # change-aware: fewer sent
    res = run_cli("memory", str(video), "--json", store=store_dir)
    assert res.returncode == 0, res.stderr
    nodes = json.loads(res.stdout)
    assert [n["level"] for n in nodes].count("coarse") == 1  # 52 s < one 60 s coarse clip
    coarse = next(n for n in nodes if n["level"] == "coarse")
    assert "SINTEL" in coarse["text"].upper()  # 1 fps change-aware coarse sampling keeps the title card
    assert 1 < len(coarse["frame_times"]) < 52  # ... while OCRing only the frames that changed
    titled = [(n["start"], n["end"]) for n in nodes if n["level"] == "fine" and "SINTEL" in n["text"].upper()]
    assert titled == [(40.0, 50.0)]  # the title card at 0:42-0:47, read again at the fine level
    # a second run re-captions nothing; --json reports each level
    res = run_cli("index", str(video), "--levels", "coarse,fine", "--json", store=store_dir)
    assert res.returncode == 0, res.stderr
    reports = json.loads(res.stdout)
    assert [(r["level"], r["clips"], r["captions_made"], r["captions_reused"], r["frames_decoded"], r["frames_sent"])
            for r in reports] == [("coarse", 1, 0, 1, 0, 0), ("fine", 6, 0, 6, 0, 0)]
    assert all(r["seconds"] >= 0 and r["video_id"] == reports[0]["video_id"] for r in reports)


@pytest.mark.slow
def test_index_survives_kill_9_and_resumes_without_recaptioning(store_dir):
    video = HAYSTACK / "haystack_15min.mp4"
    if not video.exists():
        pytest.skip("shared haystack missing")
    env = {**os.environ, "VIDRECALL_STORE": str(store_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "vidrecall.cli", "index", str(video), "--quiet"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while stored_captions(store_dir) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, "indexing finished before it could be interrupted"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    done_before = stored_captions(store_dir)
    assert done_before >= 3
    res = run_cli("index", str(video), store=store_dir)
    assert res.returncode == 0, res.stderr
    total = stored_captions(store_dir)
    assert total == 16  # 933 s in 60 s clips
    # the rerun captioned exactly the clips the killed run had not finished
    assert f"{total - done_before} captioned" in res.stdout and f"{done_before} already stored" in res.stdout
