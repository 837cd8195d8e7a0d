"""Two real `vidrecall index` processes on one store split the clips between them (issue 10 item 9):
each clip is captioned once in all, never twice, and both finish with the whole level."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import clip
from vidrecall.core.config import PROFILES_DIR


@pytest.mark.slow
def test_two_concurrent_index_runs_caption_each_clip_once(store_dir, tmp_path):
    video = clip("moviepy_sintel_trailer_480p.mp4")  # 52 s
    profile = yaml.safe_load((PROFILES_DIR / "offline.yaml").read_text())
    profile["levels"][0] = {"name": "coarse", "clip_seconds": 2, "frames_per_clip": 2, "max_pixels": 50176,
                            "prompt": "caption_coarse"}  # 27 clips (the last 0.2 s): the runs overlap
    profile["speech"] = {"source": "off"}  # captions are what is claimed; keep the runs short
    path = tmp_path / "two_runs.yaml"
    path.write_text(yaml.safe_dump(profile))
    env = {**os.environ, "VIDRECALL_STORE": str(store_dir)}
    command = [sys.executable, "-m", "vidrecall.cli", "index", str(video), "--profile", str(path), "--json"]
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [r.returncode for r in runs] == [0, 0], [err[-2000:] for _, err in outputs]
    reports = [json.loads(out)[0] for out, _ in outputs]

    assert all(r["clips"] == 27 and r["captions_made"] + r["captions_reused"] == 27 for r in reports), reports
    assert sum(r["captions_made"] for r in reports) == 27, reports  # model calls in all: one per clip
    assert sum(r["frames_sent"] for r in reports) == 26 * 2 + 1, reports
    with sqlite3.connect(Path(store_dir) / "memory.db") as con:
        assert con.execute("select count(*), count(distinct start) from nodes where level = 'coarse'"
                           ).fetchone() == (27, 27)
        assert con.execute("select count(*) from claims").fetchone()[0] == 0
