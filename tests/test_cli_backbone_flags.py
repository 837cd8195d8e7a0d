"""Every way to plug in a backbone from the command line reaches the server the user named.

The matrix: every command that builds backbones (index, memory, ask, chat, eval, check) x (profile only,
--llm, --llm + --base-url, --vlm + --base-url), run through the real CLI entry point against two real
loopback OpenAI-compatible servers: PROFILE (the profile's base_url) and FLAGS (the one --base-url names).
Each cell asserts where the requests went, which model they asked for, and that the profile's other
options (its API key variable) survived the merge.
"""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from fakeserver import FakeOpenAIServer, RecordedRequest, Reply
from videogen import short_clip
from vidrecall.cli import main

KEY_ENV = "H2_MATRIX_KEY"
KEY = "sk-matrix-test-0123456789"
COMMANDS = ("index", "memory", "ask", "chat", "eval", "check")
CELLS = ("profile", "llm", "llm+base-url", "vlm+base-url")
# Any agent prompt gets a confident, well-formed answer; a caption request gets a caption.
AGENT_REPLY = json.dumps({"answer": "A", "confidence": 0.95, "clips": [1], "spans": [[0, 3]], "reason": "shown",
                          "Answer": "A", "Confidence": True, "Time Period": [[0, 3]], "Reason": "shown"})


def reply_for(request: RecordedRequest) -> Reply:
    return Reply(content="a plain gray frame" if request.image_urls() else AGENT_REPLY)


@pytest.fixture(scope="module")
def servers():
    models = ("profile-llm", "flag-llm", "flag-vlm")
    with FakeOpenAIServer(api_key=KEY, responder=reply_for, models=models) as profile, \
            FakeOpenAIServer(api_key=KEY, responder=reply_for, models=models) as flags:
        yield profile, flags


@pytest.fixture(scope="module")
def setup(servers, tmp_path_factory):
    profile_server, _ = servers
    root = tmp_path_factory.mktemp("matrix")
    video = short_clip(root, "tiny.mp4", seconds=3.0, fps=5)
    profile = root / "remote.yaml"
    profile.write_text(f"""
llm: "openai-compatible:profile-llm"
llm_options: {{base_url: "{profile_server.base_url}", api_key_env: {KEY_ENV}, max_retries: 0, timeout: 30}}
captioner: ocr
levels:
  - {{name: coarse, clip_seconds: 60, frames_per_clip: 1, max_pixels: 20000, prompt: caption_coarse}}
  - {{name: fine, clip_seconds: 10, frames_per_clip: 1, max_pixels: 20000, prompt: caption_fine}}
budgets: {{max_iterations: 1, max_captions: 4, max_llm_tokens: 60000, max_seconds: 60}}
""")
    questions = root / "questions.json"
    questions.write_text(json.dumps([{"q_uid": "tiny", "question": "What is shown?", "option 0": "gray",
                                      "option 1": "red", "option 2": "blue", "option 3": "green",
                                      "option 4": "pink"}]))
    return root, video, profile, questions


def flags_for(cell: str, base_url: str) -> list[str]:
    return {"profile": [],
            "llm": ["--llm", "openai-compatible:flag-llm"],
            "llm+base-url": ["--llm", "openai-compatible:flag-llm", "--base-url", base_url],
            "vlm+base-url": ["--vlm", "openai-compatible:flag-vlm", "--base-url", base_url,
                             "--api-key-env", KEY_ENV]}[cell]


def command_args(command: str, root: Path, video: Path, questions: Path, run: str) -> list[str]:
    return {"index": ["index", str(video), "--quiet"],
            "memory": ["memory", str(video)],
            "ask": ["ask", str(video), "What is shown?", "--option", "A. gray", "--option", "B. red"],
            "chat": ["chat", str(video)],
            "eval": ["eval", "--format", "egoschema", "--annotations", str(questions), "--videos", str(root),
                     "--out", str(root / run / "eval")],
            "check": ["check"]}[command]


@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS)
def test_every_command_reaches_the_server_it_was_given(cell, servers, setup, monkeypatch, capsys) -> None:
    profile_server, flag_server = servers
    root, video, profile, questions = setup
    monkeypatch.setenv(KEY_ENV, KEY)
    for command in COMMANDS:
        profile_server.requests.clear()
        flag_server.requests.clear()
        store = root / cell / command
        if command == "chat":
            monkeypatch.setattr(sys, "stdin", io.StringIO("What is shown? | A. gray | B. red\n\n"))
        argv = [*command_args(command, root, video, questions, f"{cell}-{command}"), "--profile", str(profile),
                "--store", str(store), *flags_for(cell, flag_server.base_url)]
        code = main(argv)
        out = capsys.readouterr()
        assert code == 0, f"{command} {cell}: exit {code}\n{out.err[-2000:]}"
        where = f"{command} with {cell}"
        llm_server = flag_server if cell == "llm+base-url" else profile_server
        other = profile_server if llm_server is flag_server else flag_server
        llm_calls = [r for r in llm_server.chat_requests() if not r.image_urls()]
        assert not [r for r in other.chat_requests() if not r.image_urls()], f"{where}: LLM call to the wrong server"
        if command in ("ask", "chat", "eval"):
            assert llm_calls, f"{where}: no LLM call reached {llm_server.base_url}"
            want = "profile-llm" if cell in ("profile", "vlm+base-url") else "flag-llm"
            assert {r.json["model"] for r in llm_calls} == {want}, where
            # the profile's api_key_env survived the merge (the server checks the bearer key)
            assert all({k.lower(): v for k, v in r.headers.items()}.get("authorization") == f"Bearer {KEY}"
                       for r in llm_calls), where
        if command == "check":  # preflight: GET /models on the LLM's server (and the captioner's, with --vlm)
            assert any(r.path.endswith("/models") for r in llm_server.requests), where
        captions = [r for s in servers for r in s.chat_requests() if r.image_urls()]
        if cell == "vlm+base-url" and command in ("index", "ask", "chat", "eval"):
            assert captions and all(r in flag_server.requests for r in captions), f"{where}: captions went astray"
            assert {r.json["model"] for r in captions} == {"flag-vlm"}, where
        elif cell != "vlm+base-url":
            assert not captions, f"{where}: the OCR profile sent frames to a server"
