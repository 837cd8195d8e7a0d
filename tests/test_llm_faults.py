"""An LLM server that hangs, errs, refuses the key or replies with nothing: each is a clear outcome.

Real loopback servers (tests/fakeserver.py), a real tiny video, real OCR, SQLite store and response
cache; the questions go through VideoQA and the real `vidrecall ask` entry point.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from fakeserver import FakeOpenAIServer, Reply, free_port
from videogen import short_clip
from vidrecall.api import MAX_QUESTION_CHARS, VideoQA
from vidrecall.cli import main
from vidrecall.cli.common import EXIT_MODEL_FAILED
from vidrecall.core.config import load_config
from vidrecall.core.progress import silent

GOOD = json.dumps({"answer": "A", "confidence": 0.95, "clips": [1], "spans": [[0, 3]], "reason": "shown"})
OPTIONS = ["A. gray", "B. red"]


def profile_for(tmp: Path, base_url: str, *, max_seconds: float = 60, name: str = "remote.yaml",
                llm: str = "openai-compatible:m", key_env: str = "") -> Path:
    key = f", api_key_env: {key_env}" if key_env else ""
    path = tmp / name
    path.write_text(f"""
llm: "{llm}"
llm_options: {{base_url: "{base_url}", max_retries: 0, timeout: 30{key}}}
captioner: ocr
levels:
  - {{name: coarse, clip_seconds: 60, frames_per_clip: 1, max_pixels: 20000, prompt: caption_coarse}}
  - {{name: fine, clip_seconds: 10, frames_per_clip: 1, max_pixels: 20000, prompt: caption_fine}}
budgets: {{max_iterations: 1, max_captions: 4, max_llm_tokens: 60000, max_seconds: {max_seconds}}}
""")
    return path


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return short_clip(tmp_path, "tiny.mp4", seconds=3.0, fps=5)


def qa_for(profile: Path, store: Path, embedder=None) -> VideoQA:
    return VideoQA(config=load_config(profile, store_dir=str(store)), embedder=embedder)


@pytest.mark.slow  # the 5 s budget itself, plus the first OCR/embedder load of the file
def test_a_hung_server_is_bounded_by_the_time_budget(tmp_path, store_dir, video, embedder) -> None:
    budget = 5.0
    with FakeOpenAIServer(default=Reply(content=GOOD, delay_s=120)) as server:
        qa = qa_for(profile_for(tmp_path, server.base_url, max_seconds=budget), store_dir, embedder)
        qa.index(video, progress=silent)  # the coarse memory exists; the question's time is the model's
        started = time.monotonic()
        answer = qa.ask(video, "What is shown?", OPTIONS)
        took = time.monotonic() - started
        qa.close()
    assert server.chat_requests(), "the question never reached the server"
    assert took < budget + 10, f"ask took {took:.1f} s with a {budget:g} s budget"
    assert answer.error is None  # a spent budget is an answer with what is known, not a failure
    assert answer.forced and "seconds" in answer.stop, answer.stop
    assert any("time budget ran out" in step.message for step in answer.trajectory), \
        [s.message for s in answer.trajectory]
    assert not any("malformed" in step.message for step in answer.trajectory)


def test_an_openai_spec_with_a_base_url_talks_only_to_that_host(tmp_path, store_dir, video, monkeypatch,
                                                              capsys) -> None:
    """`--llm openai:… --base-url http://127.0.0.1:…`: the key and the prompts go to that server, nowhere else."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-loopback-0123456789")
    hosts: list[str] = []
    real_send = httpx.Client.send

    def recording_send(self, request, *args, **kwargs):
        hosts.append(request.url.host)
        return real_send(self, request, *args, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", recording_send)
    with FakeOpenAIServer(api_key="sk-loopback-0123456789", default=Reply(content=GOOD)) as server:
        code = main(["ask", str(video), "What is shown?", "--option", OPTIONS[0], "--option", OPTIONS[1],
                     "--profile", str(profile_for(tmp_path, f"http://127.0.0.1:{free_port()}/v1")),
                     "--store", str(store_dir), "--llm", "openai:gpt-4o-mini", "--base-url", server.base_url,
                     "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert {r.json["model"] for r in server.chat_requests()} == {"gpt-4o-mini"}
    assert hosts and set(hosts) == {"127.0.0.1"}, hosts
    assert "api.openai.com" not in out.out + out.err


def test_an_empty_reply_is_not_cached_and_a_recovered_server_is_asked_again(tmp_path, store_dir, video,
                                                                          embedder) -> None:
    with FakeOpenAIServer(default=Reply(content="")) as server:
        profile = profile_for(tmp_path, server.base_url)
        with qa_for(profile, store_dir, embedder) as qa:
            first = qa.ask(video, "What is shown?", OPTIONS)
        assert server.chat_requests() and first.decided_by != "llm"
        server.default = Reply(content=GOOD)  # the server recovers
        before = len(server.chat_requests())
        with qa_for(profile, store_dir, embedder) as qa:
            second = qa.ask(video, "What is shown?", OPTIONS)
    assert len(server.chat_requests()) > before, "the failed replies were served from the cache"
    assert second.option == "A" and "llm" in second.decided_by and second.error is None


@pytest.mark.parametrize("status, cause", [(500, "500"), (401, "401")])
def test_a_model_that_never_answers_is_an_error_outcome(status, cause, tmp_path, store_dir, video, capsys) -> None:
    """HTTP 500, or a 401 after a preflight that passed: the real cause, its own exit code, no budget talk."""
    def reply(request):
        return Reply(status=status)

    with FakeOpenAIServer(responder=reply) as server:  # GET /models (the preflight) answers 200
        code = main(["ask", str(video), "What is shown?", "--option", OPTIONS[0], "--option", OPTIONS[1],
                     "--profile", str(profile_for(tmp_path, server.base_url)), "--store", str(store_dir), "--json"])
    out = capsys.readouterr()
    assert server.chat_requests()
    assert code == EXIT_MODEL_FAILED, out.err
    result = json.loads(out.out)
    assert result["error"] and cause in result["error"], result["error"]
    assert "malformed" not in result["error"]
    assert "budget" not in out.out + out.err
    assert "never answered" in out.err and cause in out.err
    # the plain-text view says the same
    with FakeOpenAIServer(responder=reply) as server:
        code = main(["ask", str(video), "What is shown?", "--profile", str(profile_for(tmp_path, server.base_url)),
                     "--store", str(store_dir)])
    text = capsys.readouterr().out
    assert code == EXIT_MODEL_FAILED and "never answered" in text and "forced" not in text


def test_the_exit_codes_are_documented_in_ask_help(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["ask", "--help"])
    assert f"{EXIT_MODEL_FAILED} the model never answered" in " ".join(capsys.readouterr().out.split())


def test_a_huge_question_is_cut_and_the_answer_says_so(tmp_path, store_dir, video, embedder) -> None:
    question = "Which colour is shown? " + "x" * 20_000
    with FakeOpenAIServer(default=Reply(content=GOOD)) as server:
        with qa_for(profile_for(tmp_path, server.base_url), store_dir, embedder) as qa:
            answer = qa.ask(video, question, OPTIONS)
    texts = [r.text() for r in server.chat_requests()]
    assert texts and all("x" * (MAX_QUESTION_CHARS + 1) not in t for t in texts)
    assert any("x" * (MAX_QUESTION_CHARS - 100) in t for t in texts)  # the start of the question is kept
    assert answer.notes and f"{MAX_QUESTION_CHARS}" in answer.notes[0] and "20023" in answer.notes[0]


def test_preflight_fails_on_a_dead_server_before_loading_the_embedder(tmp_path, store_dir) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    qa = qa_for(profile_for(tmp_path, dead), store_dir)
    with pytest.raises(Exception, match="cannot reach the LLM server"):
        qa.preflight()
    assert isinstance(qa.backbones._embedder, str), "the embedder was loaded before the server was checked"
