"""Replayable results: every answer carries its provenance (config digest, model ids, caption keys read,
version); `vidrecall eval` keeps predictions.jsonl and one trajectory file per question, from which
`vidrecall report FOLDER` rebuilds the tables the run wrote; `vidrecall replay` shows a saved answer's steps,
evidence and thumbnails -- the last two with no model factory callable at all.

Real SQLite, FAISS, decoding and the `vidrecall` entry point; the LLM and the captioner are scripted."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import vidrecall
from replaykit import OPTIONS, QUESTION, make_qa, write_profile
from videogen import not_a_video, short_clip
from vidrecall.cli import main
from vidrecall.core.digests import config_digest
from vidrecall.core.result import Answer, Cost, Step
from vidrecall.core.types import Span
from vidrecall.evaluation.items import QAItem
from vidrecall.evaluation.report import tables_of, write_report
from vidrecall.evaluation.runner import run_eval


def no_models(monkeypatch) -> None:
    """Every way to a model raises: the code under test must not need one."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model factory was called")

    for target in ("vidrecall.backbones.build_backbones", "vidrecall.backbones.make_chat_model",
                   "vidrecall.tools.llm.factory.make_chat_model", "vidrecall.tools.captioners.factory.make_captioner",
                   "vidrecall.memory.embedder.load_embedder", "vidrecall.memory.memory.load_embedder",
                   "vidrecall.api.VideoQA.__init__"):
        monkeypatch.setattr(target, refuse)


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("replay")
    return {"root": root, "video": short_clip(root, "toy.mp4", seconds=25, fps=2), "profile": write_profile(root)}


class HandMade:
    """A second method: fixed answers, one question raising."""

    name = "handmade"

    def answer(self, item: QAItem) -> Answer:
        if item.id == "q3":
            raise RuntimeError("the captioner exploded")
        return Answer(question=item.question, options=item.options, answer="A. Red", option="A", confidence=0.4,
                      decided_by="llm", trajectory=[Step(index=0, node="answer", message="guessed")],
                      cost=Cost(llm_calls=1, tokens_in=10, seconds=0.25), strategy="handmade")


def test_the_folder_report_rebuilds_the_run_time_tables_without_models(world, embedder, tmp_path, capsys, monkeypatch):
    video = str(world["video"])
    items = [QAItem("q1", "toy", video, QUESTION, OPTIONS, "B", "color", source="replay"),
             QAItem("q2", "toy", video, "Which colour is the wall?", OPTIONS, "A", "color", source="replay"),
             QAItem("q3", "toy", str(not_a_video(tmp_path)), QUESTION, OPTIONS, "B", "count", source="replay")]
    items[0].gold_spans = [Span(12, 14)]
    out = tmp_path / "run"
    with make_qa(world["profile"], tmp_path / "store", embedder) as qa:
        default = run_eval(items, qa, "default", out / "default.jsonl", progress=False)
        config = qa.config
    handmade = run_eval(items, None, HandMade(), out / "handmade.jsonl", progress=False)
    assert (default.ran, default.errors, handmade.errors) == (3, 1, 1)  # q3's file is no video
    write_report([out / "default.jsonl", out / "handmade.jsonl"], out / "report.md")  # as `vidrecall eval` does

    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [(r["id"], r["method"]) for r in rows] == [(i.id, m) for m in ("default", "handmade") for i in items]
    q1 = rows[0]
    assert {"id", "prediction", "gold", "correct", "confidence", "provenance", "cost"} <= set(q1)
    assert (q1["prediction"], q1["gold"], q1["correct"]) == ("B", "B", True)
    p = q1["provenance"]
    assert p["config_digest"] == config_digest(config) and p["version"] == vidrecall.__version__
    assert p["models"] == {"llm": "ScriptedChatModel", "captioner": "scripted:scripted",
                           "embedder": "all-MiniLM-L6-v2", "asr": None}
    assert len(p["caption_keys"]) == 5  # the coarse caption, the zoom's entire span and its three clips
    saved = Answer.model_validate_json((out / q1["trajectory"]).read_text())
    assert q1["trajectory"] == "trajectories/default/q1.json" and saved.provenance.model_dump() == p
    assert [s.node for s in saved.trajectory] == ["recall", "answer", "localize", "zoom", "answer", "finish"]
    errors = [r for r in rows if r["id"] == "q3"]
    assert all(r["trajectory"] is None and r["provenance"] is None and r["error"] for r in errors)
    results = [json.loads(line) for line in (out / "default.jsonl").read_text().splitlines()]
    assert results[0]["provenance"] == p  # the results rows carry it too
    for row in (results[0], q1):  # and whether it was backed, abstained, guessed, calibrated
        assert {k: row[k] for k in ("raw_confidence", "calibrated", "abstained", "guess")} == {
            "raw_confidence": saved.raw_confidence, "calibrated": False, "abstained": False, "guess": False}
        assert row["grounded"] is saved.grounded

    no_models(monkeypatch)
    again = tmp_path / "again" / "report.md"
    code, stdout, err = cli(capsys, "report", out, "--out", again)
    assert code == 0, err
    assert "the tables match the ones the run wrote" in err
    ran = (out / "report.md").read_text()
    assert tables_of(again.read_text()) == tables_of(ran) and "| default | 3 | 3 | 33.3%" in ran
    assert "## Confidence: calibration and abstention" in ran and "| handmade | 2 | 50.0% | 0.40 | 0.100 | – | no |" in ran
    assert (out / "report.reliability-default.png").stat().st_size > 1000
    assert (again.parent / "report.reliability-handmade.png").stat().st_size > 1000
    assert json.loads(again.with_suffix(".json").read_text()) == json.loads((out / "report.json").read_text())

    # a trajectory file replays like an `ask --json` answer
    code, stdout, err = cli(capsys, "replay", out / q1["trajectory"])
    assert code == 0 and "zoomed into" in stdout and "frames at" in stdout, err

    # a trajectory file gone: one line naming it
    (out / q1["trajectory"]).unlink()
    code, stdout, err = cli(capsys, "report", out, "--out", again)
    assert code == 2 and "q1.json: trajectory file missing" in err and len(err.strip().splitlines()) == 1


def test_replay_shows_steps_evidence_and_thumbnails_without_any_model(world, embedder, tmp_path, capsys, monkeypatch):
    video = tmp_path / "toy.mp4"
    shutil.copy(world["video"], video)
    qa = make_qa(world["profile"], tmp_path / "store", embedder)
    monkeypatch.setattr("vidrecall.cli.ask.make_qa", lambda args, **kw: qa)
    code, stdout, err = cli(capsys, "ask", video, QUESTION, *[f"--option={o}" for o in OPTIONS], "--json")
    qa.close()
    assert code == 0, err
    saved = tmp_path / "answer.json"
    saved.write_text(stdout)
    answer = Answer.model_validate_json(stdout)
    assert answer.provenance is not None and answer.provenance.caption_keys and answer.evidence
    monkeypatch.undo()

    no_models(monkeypatch)
    frames, page = tmp_path / "frames", tmp_path / "card.html"
    code, stdout, err = cli(capsys, "replay", saved, "--html", page, "--frames", frames)
    assert code == 0, err
    for step in answer.trajectory:
        assert " ".join(step.message.split())[:60] in " ".join(stdout.split())
    assert "Answer:" in stdout and answer.provenance.config_digest in stdout
    for ev in answer.evidence:
        assert f"thumbnails {ev.label()}: frames at" in stdout
    jpegs = sorted(frames.glob("*.jpg"))
    assert jpegs and all(j.read_bytes()[:3] == b"\xff\xd8\xff" for j in jpegs)
    html = page.read_text()
    assert html.startswith("<!doctype html>") and 'src="data:image/jpeg;base64,' in html
    assert "the video is gone" not in stdout

    # the video moved away: everything but the thumbnails, and a line saying why
    video.rename(tmp_path / "elsewhere.mp4")
    code, stdout, err = cli(capsys, "replay", saved, "--html", page)
    assert code == 0, err
    assert f"the video is gone: {video}" in " ".join(stdout.split()) and "frames at" not in stdout
    assert "Answer:" in stdout and "data:image/jpeg" not in page.read_text() and "the video is gone" in page.read_text()

    # another file at the recorded path: not the video answered about
    short_clip(tmp_path, "toy.mp4", seconds=3, fps=5)
    code, stdout, err = cli(capsys, "replay", saved)
    assert code == 0 and "is not the one answered about" in " ".join(stdout.split()), err

    # not an answer: one line
    code, stdout, err = cli(capsys, "replay", world["profile"])
    assert code == 2 and "not an answer saved by" in err and len(err.strip().splitlines()) == 1


def test_every_answer_names_the_keys_of_what_it_read(world, embedder, tmp_path):
    with make_qa(world["profile"], tmp_path / "store", embedder) as qa:
        answer = qa.ask(world["video"], QUESTION, OPTIONS)
        stored = {k for k, _ in qa.memory.store.keyed_nodes(answer.video_id)}
        read = {n.key for n in qa.memory.nodes_by_id([e.node_id for e in answer.evidence if e.node_id])}
    p = answer.provenance
    assert p is not None and set(p.caption_keys) == stored and read <= set(p.caption_keys)
    assert len(p.caption_keys) == len(set(p.caption_keys))
    assert p.profile == "replay-test" and len(p.config_digest) == 16
    # the digest follows what can change an answer, not where the store lives
    assert config_digest(qa.config.replace(store_dir="/elsewhere")) == p.config_digest
    assert config_digest(qa.config.replace(retrieval_k=qa.config.retrieval_k + 1)) != p.config_digest
