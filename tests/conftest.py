"""Shared test fixtures: where the shared media lives, an isolated store per test, offline hub."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VIDRECALL_SHARED", REPO.parent / "shared"))
CLIPS = SHARED / "media" / "clips"
HAYSTACK = SHARED / "media" / "haystack"
ANNOTATIONS = SHARED / "annotations"


def quoted_texts(caption: str) -> set[str]:
    """The on-screen texts an OCR caption quotes, as letters and digits."""
    from vidrecall.tools.captioners.ocr.captioner import text_key

    return {text_key(t) for t in re.findall(r'"([^"]*)"', caption)}


def clip(name: str) -> Path:
    path = CLIPS / name
    if not path.exists():
        pytest.skip(f"shared clip missing: {path}")
    return path


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """A fresh store directory for one test (never the user's cache)."""
    d = tmp_path / "store"
    d.mkdir()
    return d


@pytest.fixture(scope="session")
def embedder():
    """The real packaged all-MiniLM-L6-v2, loaded once per test session."""
    from vidrecall.memory.embedder import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def speech_clip(tmp_path_factory):
    """(HaystackSpec, spoken lines) of a ~100 s built video with espeak-ng needles, built once per session."""
    from speechclips import speech_haystack

    for name in ("mdn_frog.mp4", "askany_yoga.mp4"):
        clip(name)
    return speech_haystack(CLIPS, tmp_path_factory.mktemp("speech") / "spoken.mp4")
