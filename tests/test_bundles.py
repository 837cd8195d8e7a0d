"""Memory bundles (memory/bundle.py, `vidrecall export` / `vidrecall import`): a video's memory moves to a fresh
store and a question there makes no caption; a mismatched, tampered or truncated bundle is refused with one line
before anything is written; importing twice, or into a store holding part of the nodes, merges without duplicates.

Real SQLite, FAISS, decoding and the real `vidrecall` entry point; the LLM and the captioner are scripted."""
from __future__ import annotations

import json
import shutil
import sqlite3
import zipfile
from pathlib import Path

import numpy as np
import pytest

from replaykit import OPTIONS, QUESTION, make_qa, scripted_llm, write_profile
from videogen import short_clip
from vidrecall.cli import main
from vidrecall.core.result import Answer
from vidrecall.core.types import SPEECH_DEPTH, SPEECH_LEVEL, MemoryNode
from vidrecall.memory.bundle import BundleError, import_bundle, read_bundle
from vidrecall.memory.embedder import Embedder
from vidrecall.memory.memory import VideoMemory


@pytest.fixture(scope="module")
def made(tmp_path_factory, embedder):
    """Store A after the question was asked twice (a zoom, then all reused), a speech segment and its mark
    added; its bundle exported by the CLI."""
    root = tmp_path_factory.mktemp("bundles")
    video = short_clip(root, "toy.mp4", seconds=25, fps=2)
    profile = write_profile(root)
    store = root / "A"
    with make_qa(profile, store, embedder) as qa:
        first = qa.ask(video, QUESTION, OPTIONS)
    with make_qa(profile, store, embedder) as qa:  # the same script again: what this memory answers, as exported
        settled = qa.ask(video, QUESTION, OPTIONS)
        qa.memory.add([MemoryNode(video_id=first.video_id, level=SPEECH_LEVEL, depth=SPEECH_DEPTH, start=3.0, end=5.0,
                                  text="the frog is green", captioner="faster-whisper:packaged", prompt_hash="run1",
                                  speaker="S1", words=json.dumps([[3.0, 3.5, "the"], [3.5, 5.0, "frog"]]))])
        qa.memory.set_mark(f"speech:{first.video_id}:run1", "done")
        keys = {k for k, _ in qa.memory.store.keyed_nodes(first.video_id)}
    bundle = root / "toy.vrmem"
    assert main(["export", str(video), "-o", str(bundle), "--store", str(store), "--profile", str(profile)]) == 0
    return {"root": root, "video": video, "profile": profile, "store": store, "first": first, "settled": settled,
            "keys": keys, "bundle": bundle}


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def store_keys(store: Path) -> list[str]:
    with sqlite3.connect(store / "memory.db") as db:
        return [k for (k,) in db.execute("SELECT key FROM nodes")]


def test_exported_memory_answers_in_a_fresh_store_with_no_new_caption(made, embedder, tmp_path, capsys, monkeypatch):
    first, settled = made["first"], made["settled"]
    assert first.cost.captions_made == 5 and settled.cost.captions_made == 0
    with zipfile.ZipFile(made["bundle"]) as zf:
        vid = first.video_id
        assert set(zf.namelist()) == {"manifest.json", "manifest.sha256", f"videos/{vid}/video.json",
                                      f"videos/{vid}/nodes.jsonl", f"videos/{vid}/embeddings.npy",
                                      f"videos/{vid}/marks.json"}
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["profile"] == "replay-test" and len(manifest["profile_digest"]) == 16
    assert manifest["embedder"] == {"id": "all-MiniLM-L6-v2", "dim": 384}
    assert manifest["videos"][0]["nodes"] == 6 and manifest["videos"][0]["speech"] == 1

    fresh = tmp_path / "B"
    code, out, err = cli(capsys, "import", made["bundle"], "--store", fresh, "--profile", made["profile"])
    assert code == 0, err
    assert "6 new, 0 already stored" in out and "re-embedding" not in err
    assert sorted(store_keys(fresh)) == sorted(made["keys"])

    # the question through `vidrecall ask --json`, over the imported store
    qa = make_qa(made["profile"], fresh, embedder)
    monkeypatch.setattr("vidrecall.cli.ask.make_qa", lambda args, **kw: qa)
    code, out, err = cli(capsys, "ask", made["video"], QUESTION, *[f"--option={o}" for o in OPTIONS], "--json")
    qa.close()
    assert code == 0, err
    again = Answer.model_validate_json(out)
    assert again.cost.captions_made == 0 and again.cost.captions_reused >= 1 and again.cost.frames_decoded == 0
    assert (again.option, again.answer, again.decided_by) == (settled.option, settled.answer, settled.decided_by)
    assert [s.node for s in again.trajectory] == [s.node for s in settled.trajectory]
    assert [(e.start, e.end, e.text) for e in again.evidence] == [(e.start, e.end, e.text) for e in settled.evidence]
    assert again.provenance.caption_keys == settled.provenance.caption_keys
    assert again.provenance.config_digest == settled.provenance.config_digest

    # the speech segment, its words and its progress mark came along; the index holds every node, as they were
    with VideoMemory(qa.config, embedder, store_dir=fresh) as memory:
        (speech,) = memory.nodes(first.video_id, SPEECH_LEVEL)
        assert (speech.text, speech.speaker, json.loads(speech.words)[1]) == ("the frog is green", "S1", [3.5, 5.0, "frog"])
        assert memory.mark(f"speech:{first.video_id}:run1") == "done"
        assert memory.index.ids() == memory.store.node_ids()
        fine = memory.nodes(first.video_id, "fine")
        coarse = memory.nodes(first.video_id, "coarse")
        assert fine and all(n.parent_id == coarse[0].id for n in fine if n.parent_id is not None)
        frames = [n.frame_times for n in memory.every_node(first.video_id)]
        with VideoMemory(qa.config, embedder, store_dir=made["store"]) as source:
            assert frames == [n.frame_times for n in source.every_node(first.video_id)]
            ids = {n.key: n.id for n in source.every_node(first.video_id)}
            mine = {n.key: n.id for n in memory.every_node(first.video_id)}
            keys = sorted(ids)
            assert np.allclose(source.vectors([ids[k] for k in keys]), memory.vectors([mine[k] for k in keys]),
                               atol=1e-3)


def test_a_bundle_of_another_video_is_refused(made, tmp_path, capsys):
    other = short_clip(tmp_path, "other.mp4", seconds=4, fps=5)
    fresh = tmp_path / "B"
    code, out, err = cli(capsys, "import", made["bundle"], "--video", other, "--store", fresh,
                         "--profile", made["profile"])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "is another video" in lines[0] and str(other) in lines[0], err
    assert not (fresh / "memory.db").exists() or store_keys(fresh) == []

    # the recorded path now holds other content (the file was replaced after the export)
    moved = tmp_path / "moved"
    moved.mkdir()
    copy = shutil.copy(made["video"], moved / "toy.mp4")
    bundle = tmp_path / "copy.vrmem"
    assert main(["export", str(copy), "-o", str(bundle), "--store", str(made["store"]),
                 "--profile", str(made["profile"])]) == 0
    capsys.readouterr()
    shutil.copy(other, copy)
    code, out, err = cli(capsys, "import", bundle, "--store", fresh, "--profile", made["profile"])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "holds another video" in lines[0], err
    assert not (fresh / "memory.db").exists() or store_keys(fresh) == []
    # naming the right file passes
    code, out, err = cli(capsys, "import", bundle, "--video", made["video"], "--store", fresh,
                         "--profile", made["profile"])
    assert code == 0 and "6 new" in out, err


def member_data_offset(path: Path, name: str) -> tuple[int, int]:
    """(offset, size) of a member's stored bytes inside the zip."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    raw = path.read_bytes()
    start = info.header_offset
    name_len = int.from_bytes(raw[start + 26:start + 28], "little")
    extra_len = int.from_bytes(raw[start + 28:start + 30], "little")
    return start + 30 + name_len + extra_len, info.compress_size


REFUSALS = {  # damage -> what the one line says
    "flip a byte in nodes.jsonl": "damaged, truncated or tampered", "flip a byte in the manifest": "damaged, truncated or tampered",
    "rewrite a member": "does not match its sha256 in the manifest",
    "rewrite the manifest": "manifest.json does not match manifest.sha256",
    "truncate": "damaged, truncated or tampered", "cut to nothing": "damaged, truncated or tampered"}


@pytest.mark.parametrize("damage", list(REFUSALS))
def test_a_tampered_or_truncated_bundle_is_refused_before_anything_is_written(made, tmp_path, capsys, damage):
    bad = tmp_path / "bad.vrmem"
    shutil.copy(made["bundle"], bad)
    vid = made["first"].video_id
    raw = bytearray(bad.read_bytes())
    if damage.startswith("flip"):
        member = f"videos/{vid}/nodes.jsonl" if "nodes" in damage else "manifest.json"
        offset, size = member_data_offset(bad, member)
        raw[offset + size // 2] ^= 0x40
        bad.write_bytes(bytes(raw))
    elif damage.startswith("rewrite"):  # a valid zip (CRCs right) whose member no longer matches its checksum
        target = "nodes.jsonl" if "member" in damage else "manifest.json"
        with zipfile.ZipFile(made["bundle"]) as src, zipfile.ZipFile(bad, "w") as dst:
            for info in src.infolist():
                data = src.read(info.filename)
                if info.filename.endswith(target):
                    data = data.replace(b"green", b"red!!") if target == "nodes.jsonl" else data.replace(b'"nodes": 6', b'"nodes": 7')
                    assert data != src.read(info.filename)
                dst.writestr(info.filename, data)
    elif damage == "truncate":
        bad.write_bytes(bytes(raw[: len(raw) * 2 // 3]))
    else:
        bad.write_bytes(b"")
    fresh = tmp_path / "B"
    code, out, err = cli(capsys, "import", bad, "--store", fresh, "--profile", made["profile"])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and str(bad) in lines[0] and REFUSALS[damage] in lines[0], (damage, err)
    assert "Traceback" not in err and not fresh.exists()
    with pytest.raises(BundleError):
        read_bundle(bad)


def test_importing_twice_or_into_a_store_holding_part_merges_without_duplicates(made, embedder, tmp_path, capsys):
    total = len(made["keys"])
    twice = tmp_path / "twice"
    for expected in ("6 new, 0 already stored", "0 new, 6 already stored"):
        code, out, err = cli(capsys, "import", made["bundle"], "--store", twice, "--profile", made["profile"])
        assert code == 0 and expected in out, err
    keys = store_keys(twice)
    assert len(keys) == len(set(keys)) == total

    # a store that made the coarse captions itself (its own ids, another order) takes the rest
    part = tmp_path / "part"
    with make_qa(made["profile"], part, embedder) as qa:
        qa.index(made["video"])
        had = {k for k, _ in qa.memory.store.keyed_nodes(made["first"].video_id)}
    assert 0 < len(had) < total and had < made["keys"]
    code, out, err = cli(capsys, "import", made["bundle"], "--store", part, "--profile", made["profile"])
    assert code == 0 and f"{total - len(had)} new, {len(had)} already stored" in out, err
    keys = store_keys(part)
    assert len(keys) == len(set(keys)) == total and set(keys) == made["keys"]
    with make_qa(made["profile"], part, embedder, llm=scripted_llm()) as qa:
        assert qa.memory.index.ids() == qa.memory.store.node_ids()
        coarse = qa.memory.nodes(made["first"].video_id, "coarse")
        assert all(n.parent_id in {c.id for c in coarse} for n in qa.memory.nodes(made["first"].video_id, "fine")
                   if n.parent_id is not None)
        answer = qa.ask(made["video"], QUESTION, OPTIONS)
    assert answer.cost.captions_made == 0 and answer.option == made["settled"].option


class OtherModel:
    """An embedding model that is not the bundle's (vectors from a fixed random projection of the text)."""

    def encode(self, texts, **kw):
        out = np.stack([np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(384) for t in texts])
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def test_another_embedder_embeds_the_imported_nodes_again_and_says_so(made, tmp_path):
    bundle = read_bundle(made["bundle"])  # checked once; imported as read
    with VideoMemory(_config(made), Embedder(OtherModel(), id="other-embedder", dim=384),
                     store_dir=tmp_path / "C") as memory:
        report = import_bundle(memory, bundle)
        assert report.reembedded == len(made["keys"])
        assert any("re-embedding 6 captions with other-embedder" in n and "all-MiniLM-L6-v2" in n for n in report.notes)
        assert memory.index.ids() == memory.store.node_ids() and memory.index.embedder == "other-embedder"
    with pytest.raises(BundleError, match="another video"):
        with VideoMemory(_config(made), Embedder(OtherModel(), id="other-embedder", dim=384),
                         store_dir=tmp_path / "D") as memory:
            import_bundle(memory, made["bundle"], video=short_clip(tmp_path, "x.mp4", seconds=2, fps=5))


def _config(made):
    from vidrecall.core.config import load_config

    return load_config(made["profile"])
