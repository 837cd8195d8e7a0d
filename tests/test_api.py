"""VideoQA: index, ask, stream, chat sessions that survive the process, and clear errors on bad input."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO, clip
from vidrecall.core.result import Answer, Progress, Step
from vidrecall.agent.testing import ScriptedCaptioner, ScriptedChatModel, fast_levels
from vidrecall.api import VideoQA
from vidrecall.core.progress import silent
from vidrecall.tools.video import VideoError

PEOPLE = "intel_one-by-one-person-detection.mp4"


def scripted_qa(store_dir, embedder, llm=None, **overrides) -> VideoQA:
    llm = llm or ScriptedChatModel(defaults={"answer": {"answer": "a woman", "confidence": 0.9, "clips": [1]}})
    captioner = ScriptedCaptioner(lambda span, level, instr: "A woman in a grey cardigan walks to a white wall.")
    return VideoQA("offline-tiny", llm=llm, vlm=captioner, embedder=embedder, store_dir=store_dir, levels=fast_levels(),
                   **overrides)


def test_index_is_resumable_and_reports_what_it_did(store_dir, embedder):
    with scripted_qa(store_dir, embedder) as qa:
        first = qa.index(clip(PEOPLE), progress=silent).reports[0]
        again = qa.index(clip(PEOPLE), progress=silent).reports[0]
    assert (first.clips, first.created, first.reused) == (3, 3, 0)
    assert (again.created, again.reused, again.frames) == (0, 3, 0)


def test_stream_yields_live_steps_then_the_answer(store_dir, embedder):
    with scripted_qa(store_dir, embedder) as qa:
        items = list(qa.stream(clip(PEOPLE), "Who walks to the wall?"))
    *live, answer = items
    steps = [s for s in live if isinstance(s, Step)]
    assert all(isinstance(s, (Step, Progress)) for s in live) and isinstance(answer, Answer)
    # live progress comes before the step that it belongs to, never after the answer
    assert any(isinstance(p, Progress) and p.node == "answer" for p in live)
    assert [s.node for s in steps] == ["recall", "answer", "finish"]
    assert [s.index for s in steps] == [0, 1, 2] and all(s.message and "\n" not in s.message for s in steps)
    assert answer.answer == "a woman" and answer.strategy == "default" and answer.video_id
    assert answer.cost.llm_calls == 1 and answer.cost.captions_by_level == {"coarse": 3}
    assert answer.trajectory == steps


def test_bad_input_fails_with_one_line_and_keeps_the_memory(store_dir, embedder, tmp_path):
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("this is not a video")
    with scripted_qa(store_dir, embedder) as qa:
        qa.ask(clip(PEOPLE), "Who walks to the wall?")
        stored = qa.memory.store.count()
        with pytest.raises(VideoError) as err:
            qa.ask(not_video, "Who walks to the wall?")
        assert "notes.mp4" in str(err.value) and "\n" not in str(err.value)
        with pytest.raises(VideoError, match="missing.mp4"):
            qa.ask(tmp_path / "missing.mp4", "Who?")
        with pytest.raises(ValueError, match="question is empty"):
            qa.ask(clip(PEOPLE), "   ")
        with pytest.raises(ValueError, match="options must be a list"):
            qa.ask(clip(PEOPLE), "Who?", "A. yes")
        assert qa.memory.store.count() == stored == 3


def test_profile_overrides_and_strategy_reach_the_config(store_dir, embedder):
    with scripted_qa(store_dir, embedder, strategy="videolucy", spans_per_round=3) as qa:
        assert qa.config.strategy == "videolucy" and qa.config.spans_per_round == 3
        assert qa.config.store_path == store_dir


FIRST_TURN = textwrap.dedent("""
    import sys
    from vidrecall.agent.testing import ScriptedCaptioner, ScriptedChatModel, fast_levels
    from vidrecall.api import VideoQA
    llm = ScriptedChatModel(defaults={"answer": {"answer": "a woman in grey", "confidence": 0.9, "clips": [1]}})
    cap = ScriptedCaptioner(lambda span, level, instr: "A woman in a grey cardigan walks to a white wall.")
    with VideoQA("offline-tiny", llm=llm, vlm=cap, store_dir=sys.argv[1], levels=fast_levels()) as qa:
        chat = qa.chat(sys.argv[2], session_id="talk-1")
        print(chat.ask("Who walks to the wall first?").answer)
""")


@pytest.mark.slow
def test_chat_sessions_resume_after_the_process_exits(store_dir, embedder):
    video = clip(PEOPLE)
    done = subprocess.run([sys.executable, "-c", FIRST_TURN, str(store_dir), str(video)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("a woman in grey")

    # an answer the cited captions back (offline: an ungrounded "confident" answer would keep searching)
    llm = ScriptedChatModel(defaults={"answer": {"answer": "she walks to the white wall", "confidence": 0.9,
                                                 "clips": [2]}})
    with scripted_qa(store_dir, embedder, llm) as qa:
        chat = qa.chat(video, session_id="talk-1")
        assert [t["question"] for t in chat.history] == ["Who walks to the wall first?"]
        answer = chat.ask("And what does she do next?")
        assert answer.session_id == "talk-1" and answer.cost.captions_made == 0  # memory reused, too
        prompt = llm.calls[-1][1]
        assert "Who walks to the wall first?" in prompt and "a woman in grey" in prompt
        assert answer.trajectory[0].detail["from_earlier_turns"] > 0
        assert [t["question"] for t in chat.history] == ["Who walks to the wall first?", "And what does she do next?"]
        # another session on the same store starts empty
        assert qa.chat(video, session_id="talk-2").history == []


BAD_FILE_FIRST = textwrap.dedent("""
    import sys
    from vidrecall.api import VideoQA
    from vidrecall.tools.llm.llamacpp_server import _SERVERS
    from vidrecall.tools.llm.local_transformers import _load_causal_lm
    from vidrecall.tools.video import VideoError
    with VideoQA("offline", store_dir=sys.argv[1]) as qa:  # Qwen on a loopback llama.cpp server, and OCR
        try:
            qa.ask(sys.argv[2], "What is shown?")
        except VideoError as exc:
            print("error:", exc)
        loaded = _load_causal_lm.cache_info().currsize + sum(s.running for s in _SERVERS.values())
        print("llm loaded:", loaded, "preflighted:", qa._preflighted)
""")


def test_a_bad_file_fails_before_the_local_llm_loads(tmp_path):
    """The API checks the video before it checks or loads any model (as the CLI does): a wrong path costs
    a tenth of a second, not a model load."""
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video")
    done = subprocess.run([sys.executable, "-c", BAD_FILE_FIRST, str(tmp_path / "store"), str(bad)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("error: ") and "notes.mp4" in lines[0]
    assert lines[-1] == "llm loaded: 0 preflighted: False"
