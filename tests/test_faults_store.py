"""A damaged or world-readable store, and small input slips: each a clear outcome, nothing lost.

Really corrupted files (random bytes over pages of a real SQLite database, garbage where a database
should be), a real tiny video with real OCR, the real `vidrecall` entry point, and a real loopback LLM
server (tests/fakeserver.py) so no model weights load.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from fakeserver import FakeOpenAIServer, Reply
from videogen import short_clip
from vidrecall.cli import main
from vidrecall.core.sqlite_files import DamagedDatabase
from vidrecall.core.types import MemoryNode
from vidrecall.memory.store import MemoryStoreError, MemoryStore
from vidrecall.session import open_checkpointer

REPLY = json.dumps({"answer": "A", "confidence": 0.95, "clips": [1], "spans": [[0, 3]], "reason": "shown"})
PAGE = 4096  # SQLite's default page size


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return short_clip(tmp_path, "tiny.mp4", seconds=3.0, fps=5)


@pytest.fixture
def server():
    with FakeOpenAIServer(default=Reply(content=REPLY)) as srv:
        yield srv


def flags(tmp: Path, server, store: Path) -> list[str]:
    path = tmp / "remote.yaml"
    path.write_text(f"""
llm: "openai-compatible:m"
llm_options: {{base_url: "{server.base_url}", max_retries: 0, timeout: 30}}
captioner: ocr
levels:
  - {{name: coarse, clip_seconds: 60, frames_per_clip: 1, max_pixels: 20000, prompt: caption_coarse}}
  - {{name: fine, clip_seconds: 10, frames_per_clip: 1, max_pixels: 20000, prompt: caption_fine}}
budgets: {{max_iterations: 1, max_captions: 4, max_llm_tokens: 60000, max_seconds: 60}}
""")
    return ["--profile", str(path), "--store", str(store)]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def filled_store(db: Path, nodes: int = 400) -> None:
    """A real memory.db spanning many pages: nodes with caption-sized texts."""
    store = MemoryStore(db)
    for i in range(nodes):
        store.add(MemoryNode(video_id="v" * 64, level="coarse", depth=0, start=float(i), end=float(i + 1),
                             text=f"caption {i}: " + "words on screen " * 8, captioner="ocr", prompt_hash="p",
                             fps=1.0, frames=1, max_pixels=1000))
    store.close()


def scribble(path: Path, first_page: int, last_page: int) -> bytes:
    """Random bytes over pages first..last (1-based, as SQLite counts them); the damaged file's bytes."""
    data = bytearray(path.read_bytes())
    start, stop = (first_page - 1) * PAGE, last_page * PAGE
    assert len(data) >= stop, "the database is too small to damage those pages"
    data[start:stop] = np.random.default_rng(3).integers(0, 256, stop - start, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return bytes(data)


def test_damaged_pages_of_memory_db_are_one_line_naming_the_file(tmp_path, store_dir, video, server, capsys):
    db = store_dir / "memory.db"
    filled_store(db)
    for side in ("-wal", "-shm"):  # a cleanly closed store: everything is in the main file
        assert not (store_dir / f"memory.db{side}").exists()
    damaged = scribble(db, 2, 4)

    with pytest.raises(MemoryStoreError, match=r"memory\.db is damaged \(.*\); move it away and run again"):
        MemoryStore(db)
    code, out, err = run(capsys, "memory", str(video), *flags(tmp_path, server, store_dir))
    assert code == 2
    lines = error_lines(err)
    assert len(lines) == 1, err
    assert str(db) in lines[0] and "is damaged" in lines[0] and "move it away" in lines[0], lines[0]
    assert "captions will be rebuilt" in lines[0]
    assert "Traceback" not in err and "DatabaseError" not in err
    assert db.read_bytes() == damaged, "the damaged file was changed (nothing may be lost before it is moved)"


@pytest.mark.slow
def test_a_garbage_llm_cache_is_a_warning_and_questions_run_uncached(tmp_path, store_dir, video, server, capsys,
                                                                   caplog):
    cache = store_dir / "llm_cache.db"
    garbage = np.random.default_rng(5).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    cache.write_bytes(garbage)
    argv = flags(tmp_path, server, store_dir)

    code, out, err = run(capsys, "memory", str(video), *argv)  # reading the memory opens no model, no cache
    assert code == 0, err
    requests, warned = [], ""
    for _ in range(2):  # the same question twice: asked of the model both times (nothing is cached)
        code, out, err = run(capsys, "ask", str(video), "What is shown?", "--option", "A. gray",
                             "--option", "B. red", *argv)
        assert code == 0, err
        assert "Answer: A. gray" in out
        requests.append(len(server.chat_requests()))
        warned += err
    warned += caplog.text  # a logging warning: stderr in a shell, the log capture under pytest
    assert f"{cache} is damaged" in warned and "running without the response cache" in warned, warned
    assert 0 < requests[0] < requests[1], requests
    assert cache.read_bytes() == garbage, "the damaged cache was written to"


def test_a_garbage_sessions_db_names_the_file(tmp_path, store_dir, video, server, capsys):
    sessions = store_dir / "sessions.db"
    sessions.write_bytes(b"\x00garbage, not SQLite\xff" * 500)
    with pytest.raises(DamagedDatabase, match=r"sessions\.db is damaged"):
        open_checkpointer(store_dir)
    code, out, err = run(capsys, "chat", str(video), "--list", *flags(tmp_path, server, store_dir))
    assert code == 2
    lines = error_lines(err)
    assert len(lines) == 1 and str(sessions) in lines[0] and "move it away" in lines[0], err


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_store_is_private(tmp_path, video, server, capsys):
    store = tmp_path / "fresh" / "store"  # not created beforehand
    old_umask = os.umask(0o022)  # the usual umask, under which files came out 644 and folders 755
    try:
        argv = flags(tmp_path, server, store)
        code, out, err = run(capsys, "ask", str(video), "What is shown?", "--option", "A. gray", "--option",
                             "B. red", *argv)
        assert code == 0, err
        open_checkpointer(store).conn.close()
    finally:
        os.umask(old_umask)
    assert mode(store) == 0o700
    made = {p.name for p in store.iterdir()}
    assert {"memory.db", "llm_cache.db", "sessions.db", "nodes.faiss"} <= made, made
    for path in store.iterdir():
        assert path.is_file() and mode(path) == 0o600, f"{path.name} is {oct(mode(path))}"


def test_an_old_world_readable_store_is_narrowed_on_open(store_dir):
    db = store_dir / "memory.db"
    filled_store(db, nodes=3)
    os.chmod(db, 0o644)
    MemoryStore(db).close()
    assert mode(db) == 0o600


def test_levels_naming_nothing_is_one_line_before_any_work(tmp_path, video, capsys):
    store = tmp_path / "never"
    code, out, err = run(capsys, "index", str(video), "--levels", ",", "--store", str(store))
    assert code == 2
    lines = error_lines(err)
    assert len(lines) == 1 and "--levels" in lines[0] and "names no level" in lines[0], err
    assert not store.exists(), "a store was made for a command that failed on its arguments"


def test_a_directory_is_called_a_directory(tmp_path, capsys):
    folder = tmp_path / "clips"
    folder.mkdir()
    code, out, err = run(capsys, "memory", str(folder), "--store", str(tmp_path / "store"))
    assert code == 2
    lines = error_lines(err)
    assert len(lines) == 1 and "is a directory, not a video file" in lines[0], err

    from vidrecall.tools.video import VideoError, probe

    with pytest.raises(VideoError, match="is a directory, not a video file"):
        probe(folder)
