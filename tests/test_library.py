"""Libraries: many files on one timeline (order from manifest / EgoLife names / metadata), questions across
them answered with (file, time) cited. Real decoding, SQLite, FAISS, embedder and OCR; the LLM is scripted."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import clip
from videogen import short_clip
from vidrecall.agent.testing import ScriptedCaptioner, ScriptedChatModel
from vidrecall.core.config import load_config
from vidrecall.core.types import Span
from vidrecall.indexing.indexer import Indexer
from vidrecall.indexing.plans import timeline_grid
from vidrecall.memory.library import LibraryError, expand_targets, open_library, start_from_text
from vidrecall.memory.library_memory import LibraryMemory
from vidrecall.memory.memory import VideoMemory

LEVELS = [{"name": "coarse", "clip_seconds": 10, "frames_per_clip": 2, "max_pixels": 640 * 360, "prompt": "caption_coarse"},
          {"name": "fine", "clip_seconds": 5, "frames_per_clip": 1, "max_pixels": 640 * 360, "prompt": "caption_fine"}]
BUNNY = "moviepy_big_buck_bunny_0_30.webm"  # "THE PEACH OPEN MOVIE PROJECT PRESENTS" on screen at 0:22
OTHERS = ["askany_yoga.mp4", "mdn_pig.mp4"]


def scripted_memory(store_dir, embedder) -> VideoMemory:
    return VideoMemory(load_config("offline", levels=LEVELS), embedder, store_dir=store_dir)


def scripted_indexer(memory: VideoMemory) -> Indexer:
    return Indexer(memory, ScriptedCaptioner(lambda span, level, instr: f"{level} view of {span.label()}"))


def test_egolife_names_order_the_timeline_and_times_map_both_ways(tmp_path, store_dir, embedder):
    folder = tmp_path / "day"
    folder.mkdir()
    for name, seconds in [("A1_JAKE_DAY2_09000000.mp4", 2.5), ("A1_JAKE_DAY1_11094208.mp4", 3.0),
                          ("A1_JAKE_DAY1_11100000.mp4", 2.0)]:
        short_clip(folder, name, seconds=seconds)
    (folder / "broken.mp4").write_text("not a video")
    with scripted_memory(store_dir, embedder) as memory:
        lib = open_library(memory, str(folder))
        names = [e.name for e in lib.entries]
        assert names == ["A1_JAKE_DAY1_11094208.mp4", "A1_JAKE_DAY1_11100000.mp4", "A1_JAKE_DAY2_09000000.mp4"]
        assert lib.order_source == "name"
        assert [e.offset for e in lib.entries] == [0.0, 3.0, 5.0] and lib.duration == pytest.approx(7.5)
        assert len(lib.skipped) == 1 and "broken.mp4" in lib.skipped[0]  # skipped with the reason, rest kept
        first, second = lib.entries[0], lib.entries[1]
        assert first.clock(1.0) == "DAY1 11:09:43" and second.clock(0) == "DAY1 11:10:00"
        entry, local = lib.locate(4.5)
        assert entry is second and local == pytest.approx(1.5)
        assert lib.to_timeline(second.record.id, 1.5) == pytest.approx(4.5)
        # a span across a file boundary belongs mostly to the file it covers most
        assert [(e.name, s) for e, s in lib.split(Span(2.5, 4.5))][0] == (second.name, Span(0.0, 1.5))

        view = LibraryMemory(memory, lib)
        spans = timeline_grid(view, view.record.id, "coarse")
        assert spans == [Span(0, 3), Span(3, 5), Span(5, 7.5)]  # each file's own grid, never straddling files
        indexer = scripted_indexer(memory)
        results = indexer.index([e.record for e in lib.entries], ["coarse"], speech=False)
        assert all(r.ok for r in results)
        indexer.close()
        nodes = view.nodes(view.record.id)
        assert [(n.start, n.end) for n in nodes] == [(0, 3), (3, 5), (5, 7.5)]
        assert {n.video_id for n in nodes} == {view.record.id}
        # the store keeps file-local times: the same captions serve a one-file question
        assert [(n.start, n.end) for n in memory.nodes(second.record.id)] == [(0, 2)]
        cited = view.cite({"start": 3.0, "end": 5.0, "node_id": nodes[1].id, "level": "coarse", "text": ""})
        assert cited["video"] == second.path and (cited["start"], cited["end"]) == (0, 2)
        assert cited["clock"] == "DAY1 11:10:00"


def test_manifest_decides_members_and_order(tmp_path, store_dir, embedder):
    folder = tmp_path / "course"
    folder.mkdir()
    for name, seconds in (("a.mp4", 1.0), ("b.mp4", 1.5), ("c.mp4", 2.0)):  # different bytes: different videos
        short_clip(folder, name, seconds=seconds)
    (folder / "library.json").write_text(json.dumps({"videos": [
        {"file": "c.mp4", "start": "2025-05-01T10:00:00Z"}, {"file": "a.mp4", "start": "2025-05-01T12:00:00Z"},
        {"file": "gone.mp4", "start": "2025-05-01T13:00:00Z"}]}))
    with scripted_memory(store_dir, embedder) as memory:
        lib = open_library(memory, str(folder))
        assert [e.name for e in lib.entries] == ["c.mp4", "a.mp4"]  # b.mp4 is not listed, so not a member
        assert lib.order_source == "manifest"
        assert lib.entries[1].start.label == "2025-05-01 12:00:00"
        assert any("gone.mp4" in s for s in lib.skipped)
        (folder / "library.json").write_text("{not json")
        with pytest.raises(LibraryError, match="library.json"):
            open_library(memory, str(folder))


def test_targets_expand_folders_and_globs_and_name_what_matched_nothing(tmp_path):
    short_clip(tmp_path, "x.mp4", seconds=0.5)
    (tmp_path / "sub").mkdir()
    short_clip(tmp_path / "sub", "y.mp4", seconds=0.5)
    files, problems = expand_targets([str(tmp_path), str(tmp_path / "*.mp4"), str(tmp_path / "nope.mp4"),
                                      str(tmp_path / "*.mkv")])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["sub/y.mp4", "x.mp4"]  # once each, recursively
    assert len(problems) == 2 and "nope.mp4" in problems[0] and "*.mkv" in problems[1]
    assert start_from_text("DAY3_21000000", "name").label == "DAY3 21:00:00"


@pytest.mark.slow  # OCR over 5 clips + a zoom; ~25 s on 2 shared cores
def test_library_question_cites_the_one_file_that_shows_the_answer(tmp_path, store_dir, embedder):
    from vidrecall.api import VideoQA

    folder = tmp_path / "lib"
    folder.mkdir()
    for name in [*OTHERS, BUNNY]:
        os.symlink(clip(name), folder / name)
    # name order: yoga 0-10, pig 10-16.5, bunny 16.5-46.5 (its coarse clips 16.5-26.5, 26.5-36.5, 36.5-46.5)
    options = ["A. The Peach Open Movie Project", "B. The Orange Film Club", "C. Blender Studio Shorts",
               "D. Sintel Productions"]
    llm = ScriptedChatModel(
        scripts={"answer": [{"answer": "A", "confidence": 0.2},
                            {"answer": "A", "confidence": 0.95, "spans": [[36.5, 46.5]], "reason": "the title card"}]},
        defaults={"localize": {"clips": [5], "instruction": "Read the title card"}, "final_answer": {"answer": "A"}})
    # the LLM's word decides here (evidence vote off, full weight), so its low first confidence makes the agent zoom
    with VideoQA("offline-tiny", llm=llm, vlm="ocr", embedder=embedder, store_dir=store_dir, levels=LEVELS,
                 spans_per_round=1, budgets={"max_iterations": 2}, speech={"source": "off"},
                 evidence_role="off", llm_confidence_weight=1.0) as qa:
        answer = qa.ask(str(folder), "Which project presents the movie, as the title card says?", options)
        assert answer.option == "A"
        assert answer.video == str(folder.resolve()) and answer.video_id.startswith("library:")
        zoom = next(s for s in answer.trajectory if s.node == "zoom")
        # the agent zoomed into the bunny file's third clip (timeline 36.5-46.5): fine captions of that file
        assert [tuple(round(t) for t in s) for s in zoom.spans] == [(37, 47)] and zoom.captions_added == 3
        assert answer.evidence, answer
        assert {e.video for e in answer.evidence} == {str(folder / BUNNY)}  # the file as the library names it
        assert any(e.level == "fine" and e.start <= 22 <= e.end <= 25.01 for e in answer.evidence)  # its local time
        assert BUNNY in answer.evidence[0].label()
        prompt = llm.calls[0][1]
        assert "video 3 (moviepy_big_buck_bunny_0_30.webm): timeline 16.5s to 46.5s" in prompt

        # a chat session over the library: the second turn reuses the first turn's memory
        chat = qa.chat(str(folder))
        llm.scripts["answer"] = [{"answer": "A", "confidence": 0.95, "spans": [[36.5, 46.5]]}] * 2
        first = chat.ask("Which project presents the movie?", options)
        again = chat.ask("And who presents it, again?", options)
        assert first.option == again.option == "A" and again.cost.captions_made == 0
        assert len(chat.history) == 2


def test_egomem_questions_map_to_the_clips_of_their_day(tmp_path, store_dir, embedder):
    from vidrecall.evaluation.loaders import load_items

    videos = tmp_path / "EgoLife"
    day1 = videos / "A1_JAKE" / "DAY1"
    day1.mkdir(parents=True)
    short_clip(day1, "DAY1_A1_JAKE_13000000.mp4", seconds=1.5)
    short_clip(day1, "DAY1_A1_JAKE_11094208.mp4", seconds=1.0)
    flat = videos / "all"
    flat.mkdir()
    short_clip(flat, "DAY2_A2_ALICE_09000000.mp4", seconds=1.2)
    rows = [{"videoID": vid, "question_id": str(i), "type": "Detail", "question": "What happened?",
             "options": ["A. x", "B. y"], "answer": "A"}
            for i, vid in enumerate(["A1_JAKE_DAY1", "A2_ALICE_DAY2", "A3_TASHA_DAY5"])]
    annotations = tmp_path / "EgoMem.json"
    annotations.write_text(json.dumps(rows))
    result = load_items("egomem", annotations, videos)
    by_id = {it.video_id: it.video_path for it in result}
    assert by_id["A1_JAKE_DAY1"] == str(day1)  # the day's folder: a library
    assert by_id["A2_ALICE_DAY2"] == str(videos / "**" / "DAY2_A2_ALICE_*")  # a flat folder: a glob of the day
    assert by_id["A3_TASHA_DAY5"] is None and result.missing_videos == ["A3_TASHA_DAY5"]
    with scripted_memory(store_dir, embedder) as memory:
        lib = open_library(memory, by_id["A1_JAKE_DAY1"])
        assert [e.name for e in lib.entries] == ["DAY1_A1_JAKE_11094208.mp4", "DAY1_A1_JAKE_13000000.mp4"]
        assert lib.entries[1].clock(0) == "DAY1 13:00:00"
        assert len(open_library(memory, by_id["A2_ALICE_DAY2"]).entries) == 1
