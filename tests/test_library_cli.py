"""`vidrecall index DIR` over many files (bad ones skipped, the rest indexed, resumable) and `vidrecall
library DIR` listing them on their timeline: real subprocesses, real store, real OCR."""
from __future__ import annotations

import json
import os

import pytest

from conftest import clip
from test_cli import run_cli

pytestmark = pytest.mark.slow  # two CLI processes, each loading the offline backbones


def test_index_a_folder_skips_the_bad_file_and_library_lists_the_rest(tmp_path, store_dir):
    folder = tmp_path / "lib"
    folder.mkdir()
    for name in ("mdn_pig.mp4", "askany_yoga.mp4"):
        os.symlink(clip(name), folder / name)
    (folder / "zz_broken.mp4").write_text("not a video at all")
    res = run_cli("index", str(folder), "--quiet", store=store_dir)
    assert res.returncode == 4, res.stderr  # some input was skipped; the others are indexed
    assert "zz_broken.mp4" in res.stdout and "2/3 videos indexed" in res.stdout, res.stdout
    assert "[1/3] askany_yoga.mp4" in res.stdout and "Traceback" not in res.stderr

    listing = run_cli("library", str(folder), "--json", store=store_dir)
    assert listing.returncode == 0, listing.stderr
    data = json.loads(listing.stdout)
    assert [os.path.basename(v["path"]) for v in data["videos"]] == ["askany_yoga.mp4", "mdn_pig.mp4"]
    assert data["videos"][1]["timeline_offset"] == pytest.approx(data["videos"][0]["duration"], abs=0.01)
    assert all(v["captions"]["coarse"] == 1 for v in data["videos"]) and data["order"] == "name order"
    assert any("zz_broken.mp4" in s for s in data["skipped"])
