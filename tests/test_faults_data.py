"""Bad data on the way in, each a clear outcome with nothing healthy thrown away: sidecar manifests
(`"inf"` starts, broken YAML, 100,000-deep JSON, entries outside the folder, one unreadable start, a
DAY stamp past the clock), a read-only store and a full disk (not "damaged"), a file name that is not
UTF-8, a video overwritten in place with its old size and mtime, annotation and results files with rows
of the wrong shape, and `vidrecall library` printing each skip once.

Real clips, real SQLite and a real read-only mount / tiny tmpfs where this process may mount (root);
elsewhere the same SQLite error codes are produced without a mount (a `mode=ro` connection for
SQLITE_READONLY, `PRAGMA max_page_count` for SQLITE_FULL), and the test says which it used.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from conftest import clip
from videogen import short_clip
from vidrecall.cli import main
from vidrecall.core import sqlite_files
from vidrecall.core.config import load_config
from vidrecall.core.types import MemoryNode
from vidrecall.evaluation.loaders import load_items
from vidrecall.evaluation.scoring import load_results, read_results, summarize
from vidrecall.memory.library import LibraryError, open_library, start_from_name, start_from_text
from vidrecall.memory.memory import VideoMemory
from vidrecall.memory.store import MemoryStore, MemoryStoreError, StoreNotWritable, video_id_for

LEVELS = [{"name": "coarse", "clip_seconds": 10, "frames_per_clip": 1, "max_pixels": 20000, "prompt": "caption_coarse"}]
BAD_NAME = os.fsdecode(b"bad\xff\xfename.mp4")  # not UTF-8: Python holds the two bytes as lone surrogates


@pytest.fixture
def memory(store_dir, embedder):
    with VideoMemory(load_config("offline", levels=LEVELS), embedder, store_dir=store_dir) as mem:
        yield mem


def clips(folder: Path, *names: str, seconds: float = 1.0) -> list[Path]:
    """Short real clips of different lengths (so different bytes, different videos)."""
    folder.mkdir(parents=True, exist_ok=True)
    return [short_clip(folder, name, seconds=seconds + 0.5 * i) for i, name in enumerate(names)]


def encodable(*lines: str) -> None:
    for line in lines:
        line.encode("utf-8")  # strict: a lone surrogate raises here


def node(i: int) -> MemoryNode:
    return MemoryNode(video_id="v" * 64, level="coarse", depth=0, start=float(i), end=float(i + 1),
                      text=f"caption {i}: " + "words on screen " * 20, captioner="ocr", prompt_hash="p", fps=1.0,
                      frames=1, max_pixels=1000)


# --- 1. sidecar manifests ----------------------------------------------------------------------------------------

def test_manifest_inf_start_is_named_and_a_broken_yaml_is_one_line(tmp_path, memory):
    folder = tmp_path / "lib"
    clips(folder, "a.mp4", "b.mp4", "c.mp4")
    (folder / "library.json").write_text(json.dumps({"videos": [
        {"file": "c.mp4", "start": "2025-05-01T10:00:00Z"}, {"file": "a.mp4", "start": "inf"},
        {"file": "b.mp4", "start": "2025-05-01T09:00:00Z"}]}))
    skips, notes = [], []
    lib = open_library(memory, str(folder), on_skip=skips.append, on_note=notes.append)
    assert [e.name for e in lib.entries] == ["c.mp4", "a.mp4", "b.mp4"]  # kept, in the manifest's own order
    assert lib.order_source == "manifest order" and notes == lib.notes and not skips
    assert any("library.json" in n and "'a.mp4'" in n and "'inf'" in n for n in notes), notes
    assert start_from_text("inf", "manifest") is None and start_from_text("nan", "manifest") is None

    (folder / "library.json").unlink()
    (folder / "library.yaml").write_text("videos:\n  - file: a.mp4\n    start: [unclosed\n")
    with pytest.raises(LibraryError) as bad:
        open_library(memory, str(folder))
    assert "library.yaml" in str(bad.value) and "line" in str(bad.value) and "\n" not in str(bad.value)
    (folder / "library.yaml").write_text("videos:\n  - file: a.mp4\n  - just a name\n")
    with pytest.raises(LibraryError, match=r"library\.yaml: entry 2 \(\"just a name\"\)"):
        open_library(memory, str(folder))


def test_a_manifest_nested_100k_deep_is_one_line_naming_it(tmp_path, memory):
    folder = tmp_path / "lib"
    clips(folder, "a.mp4")
    (folder / "library.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(LibraryError) as bad:
        open_library(memory, str(folder))
    text = str(bad.value)
    assert str(folder / "library.json") in text and "nested too deeply" in text and "recursion" not in text


def test_manifest_entries_outside_the_folder_are_refused_one_line_each(tmp_path, memory):
    outside = clips(tmp_path / "private", "secret.mp4", seconds=2.0)[0]
    folder = tmp_path / "lib"
    clips(folder, "a.mp4", "b.mp4")
    (folder / "library.json").write_text(json.dumps({"videos": [
        {"file": "a.mp4"}, {"file": "../private/secret.mp4"}, {"file": str(outside)},
        {"file": "sub/../../private/secret.mp4"}, {"file": "b.mp4"}]}))
    skips: list[str] = []
    lib = open_library(memory, str(folder), on_skip=skips.append)
    assert [e.name for e in lib.entries] == ["a.mp4", "b.mp4"]  # the rest of the library stays
    assert memory.videos() and all("secret" not in v.path for v in memory.videos())  # never even registered
    assert len(skips) == 3 and all("library.json" in s and "refused" in s for s in skips), skips
    assert "'../private/secret.mp4'" in skips[0] and str(outside) in skips[1] and "sub/../../" in skips[2]


def test_one_unreadable_start_is_named_and_the_fallback_order_is_said(tmp_path, memory):
    folder = tmp_path / "lib"
    clips(folder, "a.mp4", "b.mp4", "c.mp4")
    (folder / "library.json").write_text(json.dumps({"videos": [
        {"file": "a.mp4", "start": "2025-05-01T12:00:00Z"}, {"file": "b.mp4", "start": "tomorrow"},
        {"file": "c.mp4", "start": "2025-05-01T08:00:00Z"}]}))
    lib = open_library(memory, str(folder), on_note=lambda line: None)
    assert lib.order_source == "manifest order"
    assert [e.name for e in lib.entries] == ["a.mp4", "b.mp4", "c.mp4"]
    assert len(lib.notes) == 2, lib.notes
    assert "'b.mp4'" in lib.notes[0] and "'tomorrow'" in lib.notes[0] and "is not a date-time" in lib.notes[0]
    assert "not sorted by start time" in lib.notes[1] and "order the manifest lists" in lib.notes[1]


def test_a_day_stamp_past_the_clock_gives_no_start(tmp_path, memory):
    assert start_from_text("DAY1_99999999", "name") is None
    assert start_from_name(Path("DAY1_24000000.mp4")) is None and start_from_name(Path("DAY1_11600000.mp4")) is None
    assert start_from_name(Path("DAY1_23595999.mp4")).label == "DAY1 23:59:59"
    folder = tmp_path / "day"
    clips(folder, "DAY1_99999999.mp4", "DAY1_11094208.mp4")
    lib = open_library(memory, str(folder), on_note=lambda line: None)
    assert lib.order_source == "name order" and all(e.start is None for e in lib.entries)
    assert [e.name for e in lib.entries] == ["DAY1_11094208.mp4", "DAY1_99999999.mp4"]
    assert any("DAY1_99999999.mp4" in n and "ordered by name order" in n for n in lib.notes), lib.notes


# --- 2. a read-only store, a full disk -------------------------------------------------------------------------

def _mount(*argv: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", *argv], capture_output=True).returncode == 0


def _umount(path: Path) -> None:
    """Detach the mount (lazily: a file still open on it cannot keep it mounted after the test)."""
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=True)


@contextmanager
def read_only_view(source: Path, view: Path, monkeypatch) -> Iterator[str]:
    """`view` shows `source` read-only: a read-only bind mount when this process may mount, else every
    SQLite connection opened `mode=ro` (the same SQLITE_READONLY on the first write). Yields which."""
    view.mkdir()
    if _mount("--bind", str(source), str(view)):
        try:
            if _mount("-o", "remount,ro,bind", str(view)):
                yield "read-only bind mount"
                return
        finally:
            _umount(view)
    view.rmdir()
    view.symlink_to(source)
    connect = sqlite3.connect

    def read_only(database, *args, **kwargs):
        return connect(f"file:{Path(database).absolute()}?mode=ro", *args, uri=True, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(sqlite3, "connect", read_only)
        yield "sqlite mode=ro connection"


def test_a_read_only_store_says_read_only_not_damaged(tmp_path, store_dir, monkeypatch, capsys):
    store = MemoryStore(store_dir / "memory.db")
    for i in range(3):
        store.add(node(i))
    store.close()
    before = (store_dir / "memory.db").read_bytes()
    view = tmp_path / "view"
    with read_only_view(store_dir, view, monkeypatch) as how:
        print(f"read-only store made with: {how}")
        with pytest.raises(StoreNotWritable) as refused:
            MemoryStore(view / "memory.db")
        text = str(refused.value)
        assert text.startswith(f"{view / 'memory.db'} is read-only: give a writable --store or fix the permissions")
        assert "damaged" not in text and "move it away" not in text
        code = main(["library", "--store", str(view)])
        err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert "is read-only: give a writable --store" in lines[0] and "move" not in lines[0]
    assert (store_dir / "memory.db").read_bytes() == before  # nothing was written, nothing lost
    assert MemoryStore(store_dir / "memory.db").count() == 3


@contextmanager
def tiny_disk(folder: Path, size: str = "1m") -> Iterator[bool]:
    """A tmpfs of `size` at `folder` when this process may mount (True), else a plain folder (False)."""
    folder.mkdir()
    mounted = _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    try:
        yield mounted
    finally:
        if mounted:
            _umount(folder)


def fill(folder: Path) -> Path:
    """Write a file until the device says no space left; that file."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_says_no_space_and_keeps_the_store(tmp_path, capsys):
    disk = tmp_path / "disk"
    with tiny_disk(disk) as mounted:
        print(f"full disk made with: {'a 1 MiB tmpfs' if mounted else 'PRAGMA max_page_count'}")
        db = disk / "store" / "memory.db"
        store = MemoryStore(db)
        try:
            check_full_disk(store, db, disk, mounted, capsys)
        finally:
            store.close()


def check_full_disk(store: MemoryStore, db: Path, disk: Path, mounted: bool, capsys) -> None:
    """Fill the disk under a working store: one line saying so, then room again and the store goes on."""
    for i in range(5):
        store.add(node(i))
    if mounted:
        filler = fill(disk)
    else:
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreNotWritable) as full:
        for i in range(5, 200):
            store.add(node(i))
    text = str(full.value)
    assert text.startswith(f"{db}: no space left on the device holding {db.parent}; free space and run again")
    assert "damaged" not in text and "move" not in text
    kept = store.count()
    assert kept >= 5
    if mounted:
        code = main(["library", "--store", str(disk / "fresh")])  # a new store on the full device
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and "no space left on the device" in lines[0], err
        filler.unlink()
    else:
        store.db.execute("PRAGMA max_page_count = 1073741823")
    store.add(node(1000))  # space again: the same store goes on, nothing lost
    assert store.count() == kept + 1
    assert store.db.execute("PRAGMA quick_check").fetchone()[0] == "ok"


# --- 3. a file name that is not UTF-8 ---------------------------------------------------------------------------

def test_a_non_utf8_file_name_is_skipped_with_its_name_escaped(tmp_path, store_dir, memory):
    folder = tmp_path / "lib"
    folder.mkdir()
    shutil.copyfile(clip("mdn_pig.mp4"), folder / BAD_NAME)
    os.symlink(clip("askany_yoga.mp4"), folder / "ok.mp4")
    with pytest.raises(MemoryStoreError) as refused:
        memory.register(folder / BAD_NAME)
    assert "bad\\xff\\xfename.mp4" in str(refused.value) and "not valid UTF-8" in str(refused.value)
    encodable(str(refused.value))
    skips: list[str] = []
    lib = open_library(memory, str(folder), on_skip=skips.append)
    assert [e.name for e in lib.entries] == ["ok.mp4"]
    assert len(skips) == 1 and "bad\\xff\\xfename.mp4" in skips[0] and "rename" in skips[0], skips
    encodable(*skips, lib.root, *(v.path for v in memory.videos()))


def test_library_cli_prints_each_skip_once_and_lists_a_non_utf8_folder(tmp_path, store_dir):
    folder = tmp_path / "lib"
    folder.mkdir()
    shutil.copyfile(clip("mdn_pig.mp4"), folder / BAD_NAME)
    os.symlink(clip("askany_yoga.mp4"), folder / "ok.mp4")
    (folder / "zz_broken.mp4").write_text("not a video at all")
    res = subprocess.run([sys.executable, "-m", "vidrecall.cli", "library", str(folder), "--store", str(store_dir)],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    both = res.stdout + res.stderr
    assert res.returncode == 0 and "Traceback" not in both, both
    said = [line for line in both.splitlines() if "zz_broken.mp4" in line]
    assert len(said) == 1, both  # once, not once printed and once more logged
    assert len([line for line in both.splitlines() if "bad\\xff\\xfename.mp4" in line]) == 1, both
    assert "askany_yoga.mp4" in res.stdout, both
    assert "surrogates not allowed" not in both


# --- 4. a file overwritten in place, same size, same mtime ---------------------------------------------------------

def test_a_file_overwritten_in_place_with_its_old_size_and_mtime_is_hashed_again(tmp_path, store_dir):
    video = tmp_path / "v.bin"
    rng = np.random.default_rng(1)
    video.write_bytes(rng.integers(0, 256, 600_000, dtype=np.uint8).tobytes())
    store = MemoryStore(store_dir / "memory.db")
    first = store.video_id(video)
    st = os.stat(video)
    for offset in (10, 300_000, 599_000):  # start, middle, end: one byte each, in place (same inode)
        with open(video, "r+b") as fh:
            fh.seek(offset)
            old = fh.read(1)
            fh.seek(offset)
            fh.write(bytes([old[0] ^ 0xFF]))
        os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns))  # the old mtime put back
        now = os.stat(video)
        assert (now.st_ino, now.st_size, now.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)
        again = store.video_id(video)
        assert again != first and again == video_id_for(video), f"byte {offset}: the stale hash was kept"
        first = again
    assert store.video_id(video) == first  # unchanged file: the remembered hash, no re-hash
    store.close()


# --- 5. annotation and results files ---------------------------------------------------------------------------

def test_null_string_and_null_options_rows_among_10000_items_are_left_out_and_counted(tmp_path):
    rows: list = [{"question_id": f"q{i}", "videoID": f"v{i % 50}", "question": f"What is shown {i}?",
                   "options": ["A. a cat", "B. a dog"], "answer": "A"} for i in range(10_000)]
    rows[17] = None
    rows[4242] = "a stray string"
    rows[9000]["options"] = None
    path = tmp_path / "videomme.json"
    path.write_text(json.dumps(rows))
    loaded = load_items("videomme", path)
    assert len(loaded) == 9_997 and len(loaded.malformed) == 3
    report = loaded.report()
    assert "3 malformed item(s) left out" in report and "the item is null" in report
    assert "the item is a string" in report and "q9000" in report, report
    # the same rows in the other layouts
    egomem = [{"question_id": str(i), "videoID": "A1_JAKE_DAY1", "question": "Which?", "options": ["A. x", "B. y"],
               "answer": "A"} for i in range(100)]
    egomem[3], egomem[4], egomem[5]["options"] = None, "text", None
    (tmp_path / "EgoMem.json").write_text(json.dumps(egomem))
    got = load_items("egomem", tmp_path / "EgoMem.json")
    assert len(got) == 97 and {m.id for m in got.malformed} == {"#4", "#5", "5"}
    lv = tmp_path / "lvbench.jsonl"
    lv.write_text("\n".join(json.dumps(r) for r in [
        {"key": "k", "qa": [{"uid": "1", "question": "Q?\n(A) x\n(B) y", "answer": "A"}, None, "s"]}, [1, 2], None]))
    assert len(load_items("lvbench", lv)) == 1 and len(load_items("lvbench", lv).malformed) == 4
    mlvu = tmp_path / "mlvu.json"
    mlvu.write_text(json.dumps([{"question": "Q?", "candidates": "abc", "answer": "a", "video": "v.mp4"}, None]))
    assert len(load_items("mlvu", mlvu).malformed) == 2


def result_row(qid: str, correct) -> dict:
    return {"id": qid, "method": "default", "option": "A", "gold": "A", "correct": correct, "question_type": "color",
            "multiple_choice": True, "forced": False, "decided_by": "llm", "evidence_hit": None, "error": None,
            "cost": {"llm_calls": 1, "seconds": 1.0, "captions_by_level": {"coarse": 1}}}


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_report_on_files_that_are_not_results_is_one_line_naming_the_file(tmp_path, capsys):
    lists = tmp_path / "lists.jsonl"
    lists.write_text("[1,2]\n[3,4]\n")
    noise = tmp_path / "noise.jsonl"
    noise.write_bytes(np.random.default_rng(7).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    torn = tmp_path / "torn.jsonl"
    torn.write_text('{"id": "1", "meth\nnot json\n')
    for bad in (lists, noise, torn):
        code, out, err = run_cli(capsys, "report", str(bad), "--out", str(tmp_path / "r.md"))
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and str(bad) in lines[0], (bad.name, err)
        assert "Traceback" not in err and "codec" not in err
    assert not (tmp_path / "r.md").exists()


def test_only_a_real_true_is_correct_and_bad_rows_are_counted(tmp_path, capsys):
    path = tmp_path / "default.jsonl"
    rows = [result_row("1", True), result_row("2", "yes"), result_row("3", False), result_row("4", 1),
            [1, 2], result_row("5", None)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    results = load_results(path)
    assert sorted(r["id"] for r in results.rows) == ["1", "3", "5"]
    assert [n for n, _ in results.left_out] == [2, 4, 5]
    assert "'correct' is a string, not true, false or null" in results.left_out[0][1]
    s = summarize(read_results(path))
    assert (s.scored, s.correct) == (2, 1)
    assert (summarize([result_row("1", "yes"), result_row("2", "false")]).correct,
            summarize([result_row("1", "yes")]).scored) == (0, 0)  # handed rows directly: still no verdict
    code, out, err = run_cli(capsys, "report", str(path), "--out", str(tmp_path / "r.md"))
    assert code == 0, err
    assert "3 of 6 lines left out" in err and str(path) in err
    text = (tmp_path / "r.md").read_text()
    assert "| default | 3 | 2 | 50.0%" in text and "Left out (not result rows)" in text
