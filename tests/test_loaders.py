"""Benchmark loaders on the real shared annotation files, and on fixture files for the formats whose
annotations are not shared (Video-MME, LVBench, MLVU)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import ANNOTATIONS, CLIPS, HAYSTACK
from vidrecall.evaluation.items import QAItem, option_letter
from vidrecall.evaluation.loaders import LoaderError, formats, load_items
from vidrecall.evaluation.loaders.lvbench import split_options
from vidrecall.core.types import Span

FIXTURES = Path(__file__).parent / "fixtures" / "eval"


def needs(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared annotations missing: {path}")
    return path


def link_video(video_dir: Path, rel: str, clip: str = "mdn_frog.mp4") -> Path:
    """A real clip under a benchmark's video name (a symlink: no media is copied)."""
    dst = video_dir / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(CLIPS / clip, dst)
    return dst


def assert_lettered(item: QAItem) -> None:
    assert [option_letter(o) for o in item.options] == list("ABCDE"[:len(item.options)])
    assert item.answer in "ABCDE"[:len(item.options)]


def test_egomem_reports_the_four_malformed_items():
    result = load_items("egomem", needs(ANNOTATIONS / "egomem" / "EgoMem.json"))
    assert len(result) == 500
    reasons = {m.id: m.reason for m in result.malformed}
    assert set(reasons) == {"141", "148", "354", "401"}
    assert reasons["141"] == reasons["148"] == "empty answer"
    assert "'E'" in reasons["354"] and "4 options" in reasons["401"]
    assert {it.question_type for it in result} == {"Detail", "Event"}
    for item in result:
        assert len(item.options) == 4
        assert_lettered(item)
    first = result[0]
    assert (first.id, first.video_id, first.answer) == ("0", "A1_JAKE_DAY1", "B")
    assert "malformed" in result.report() and "354" in result.report()


def test_egomem_folder_means_its_json():
    assert len(load_items("egomem", needs(ANNOTATIONS / "egomem"))) == 500


def test_egoschema_partial_questions_are_unlabelled_without_public_answers(tmp_path):
    folder = needs(ANNOTATIONS / "egoschema")
    result = load_items("egoschema", folder)
    assert len(result) == 20 and len(result.unlabelled) == 20
    assert all(len(it.options) == 5 and it.answer == "" for it in result)
    assert result[0].extra["ego4d"]["video_uid"] == "2fa72a4f-b318-4e04-97b8-efdc3b039258"
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({result[0].id: 2, result[1].id: 4}))
    labelled = load_items("egoschema", folder / "questions_early_partial.json", answers=answers)
    assert [labelled[0].answer, labelled[1].answer, labelled[2].answer] == ["C", "E", ""]
    assert len(labelled.unlabelled) == 18


def test_nextqa_letters_types_and_video_lookup_through_the_map(tmp_path):
    video = link_video(tmp_path / "videos", "1106/4010069381.mp4")
    result = load_items("nextqa", needs(ANNOTATIONS / "nextqa" / "val.csv"), video_dir=tmp_path / "videos")
    assert len(result) == 4996 and not result.malformed
    first = result[0]
    assert first.id == "4010069381_6" and first.answer == "A" and first.question_type == "CH"
    assert first.options[2] == "C. strum the string" and first.extra["type_group"] == "causal"
    assert first.video_path == str(video)
    assert "4010069381" not in result.missing_videos
    assert len(result.missing_videos) == len({it.video_id for it in result}) - 1
    assert all(it.answer in "ABCDE" for it in result)


def test_activitynet_qa_is_open_ended_with_typed_answers():
    result = load_items("activitynet_qa", needs(ANNOTATIONS / "activitynet_qa" / "test_q.json"))
    assert len(result) == 8000 and not result.unlabelled
    first = result[0]
    assert (first.video_id, first.answer, first.question_type, first.options) == ("v_1QIUV7WYKXg", "no", "yes_no", [])


def test_qvhighlights_windows_become_gold_spans():
    result = load_items("qvhighlights", needs(ANNOTATIONS / "qvhighlights" / "highlight_val_release.jsonl"))
    assert len(result) == 1550 and not result.unlabelled  # grounding queries have no answer to score
    first = result[0]
    assert first.question_type == "grounding" and first.gold_spans == [Span(82.0, 150.0)]


def test_shared_haystack_qa_finds_its_video_and_reads_every_evidence_shape():
    result = load_items("haystack", needs(HAYSTACK / "haystack_15min.needle_qa.json"))
    assert len(result) == 7 and not result.missing_videos
    by_id = {it.id: it for it in result}
    assert by_id["needle_color_frog"].video_path == str(HAYSTACK / "haystack_15min.mp4")
    assert by_id["needle_color_frog"].answer_text == "Green"
    assert by_id["needle_color_frog"].question_type == "color"
    assert len(by_id["needle_count"].gold_spans) == 3
    assert by_id["needle_absent_rabbit"].gold_spans == []


def test_videomme_flat_and_nested_with_a_bad_answer(tmp_path):
    video = link_video(tmp_path, "fFjv93ACGo8.mp4")
    flat = load_items("video-mme", FIXTURES / "videomme.json", video_dir=tmp_path)
    assert [it.id for it in flat] == ["001-1", "001-2"]
    assert [m.id for m in flat.malformed] == ["002-1"] and "'E'" in flat.malformed[0].reason
    assert flat[0].video_path == str(video) and flat[0].question_type == "Counting Problem"
    assert flat[0].extra["duration"] == "short" and flat[0].answer_text == "Berries."
    assert flat.missing_videos == []  # the malformed item's video is not asked for
    nested = load_items("videomme", FIXTURES / "videomme_nested.json")
    assert [(it.id, it.video_id, it.answer) for it in nested] == [("003-1", "abcdefghijk", "B"),
                                                                   ("003-2", "abcdefghijk", "D")]


def test_lvbench_options_embedded_in_the_question_and_time_references():
    result = load_items("lvbench", FIXTURES / "lvbench.jsonl")
    assert [it.id for it in result] == ["101", "102"]
    assert [m.id for m in result.malformed] == ["201"]
    first, second = result
    assert first.question == "What year appears in the opening caption of the video?"
    assert first.options == ["A. 1636", "B. 1366", "C. 1363", "D. 1633"] and first.answer == "D"
    assert first.gold_spans == [Span(15, 19)]
    assert second.gold_spans == [Span(3723, 3750)]
    assert second.question_type == "event understanding" and second.extra["question_types"][1] == "reasoning"


def test_lvbench_options_on_one_line():
    question, options = split_options("Which? (A) red (B) blue (C) green (D) pink")
    assert question == "Which?" and options == ["A. red", "B. blue", "C. green", "D. pink"]


def test_mlvu_folder_of_task_files_answer_text_to_letter(tmp_path):
    link_video(tmp_path / "video" / "1_plotQA", "movie101_66.mp4")
    result = load_items("mlvu", FIXTURES / "mlvu", video_dir=tmp_path / "video")
    assert [it.answer for it in result] == ["A", "C", "C"]
    assert [m.id for m in result.malformed] == ["count-1"]
    assert result[0].video_path and result[0].video_path.endswith("movie101_66.mp4")
    assert set(result.missing_videos) == {"movie101_67", "count_12"}
    assert {it.question_type for it in result} == {"plotQA", "count"}


def test_bad_input_is_one_clear_error(tmp_path):
    with pytest.raises(LoaderError, match="unknown benchmark format 'nope'"):
        load_items("nope", FIXTURES / "lvbench.jsonl")
    with pytest.raises(LoaderError, match="not found"):
        load_items("egomem", tmp_path / "missing.json")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"key": "a", "qa": []}\n{"key": \n')
    with pytest.raises(LoaderError, match=r"broken.jsonl: line 2 is not valid JSON"):
        load_items("lvbench", broken)
    with pytest.raises(LoaderError, match="video folder not found"):
        load_items("lvbench", FIXTURES / "lvbench.jsonl", video_dir=tmp_path / "no_such_dir")


def test_every_format_is_registered():
    assert set(formats()) == {"videomme", "lvbench", "mlvu", "egoschema", "egomem", "nextqa", "activitynet_qa",
                              "qvhighlights", "haystack"}


def test_items_round_trip_through_dicts():
    item = load_items("lvbench", FIXTURES / "lvbench.jsonl")[0]
    assert QAItem.from_dict(json.loads(json.dumps(item.to_dict()))) == item
