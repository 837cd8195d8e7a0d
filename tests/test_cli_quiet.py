"""Issue 11: commands are quiet by default (no "Loading weights" / GGUF de-quantizing bars, no library
warnings on stderr) and `--verbose` shows the libraries' output again. Real subprocesses, real models."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import clip

FROG = "mdn_frog.mp4"
NOISE = ("Loading weights", "de-quantizing", "it/s]", "Warning", "warn(")


@pytest.fixture
def silent_profile(tmp_path):
    """The offline profile without the speech lane (this test is about the captioner, embedder and LLM)."""
    import yaml

    from vidrecall.core.config import PROFILES_DIR

    data = yaml.safe_load((PROFILES_DIR / "offline.yaml").read_text())
    data["speech"] = {"source": "off"}
    path = tmp_path / "offline-nospeech.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def vidrecall(*args: str, store) -> subprocess.CompletedProcess:
    env = {**os.environ, "VIDRECALL_STORE": str(store), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("VIDRECALL_VERBOSE", None)
    return subprocess.run([sys.executable, "-m", "vidrecall", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_memory_search_is_quiet_and_verbose_shows_the_library_output(store_dir, silent_profile):
    video = str(clip(FROG))
    indexed = vidrecall("index", video, "--quiet", "--profile", silent_profile, store=store_dir)  # OCR captions, embedded into FAISS
    assert indexed.returncode == 0 and not any(n in indexed.stderr for n in NOISE), indexed.stderr
    quiet = vidrecall("memory", video, "--search", "a frog", store=store_dir)
    assert quiet.returncode == 0, quiet.stderr
    assert not any(n in quiet.stderr for n in NOISE), quiet.stderr
    loud = vidrecall("memory", video, "--search", "a frog", "--verbose", store=store_dir)
    # the libraries' own output is back: sentence-transformers' log line (and transformers' weight bar,
    # which it draws only on some loads)
    assert loud.returncode == 0 and ("Loading weights" in loud.stderr or "Loading SentenceTransformer" in loud.stderr)


@pytest.mark.slow
def test_check_loads_the_gguf_llm_without_its_dequantizing_bar(store_dir):
    done = vidrecall("check", store=store_dir)  # offline profile: SmolLM2 GGUF, one token generated
    assert done.returncode == 0 and done.stdout.startswith("ok:"), done.stderr
    assert done.stderr.strip() == "", done.stderr


def test_piped_output_is_not_wrapped_at_80_columns(store_dir):
    long_question = "Does " + "the very long question " * 8 + "end here?"
    done = vidrecall("chat", str(clip(FROG)), "--session", long_question.replace(" ", "-"), store=store_dir)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) > 80 and "--list" in lines[0]  # one line naming how to list them
