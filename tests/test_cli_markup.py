"""Text from videos, models and paths prints verbatim: "[/]" or "[bold]" on screen is data, not Rich markup.

A real video with the text rendered on its frames, read by the real OCR captioner into a real store,
in a folder whose path holds "[/]" and a file name holding "[bold]"; the LLM is a real loopback server
(tests/fakeserver.py) whose reply carries markup-like text too. `vidrecall index`, `memory` and `ask`
run through the CLI entry point.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakeserver import FakeOpenAIServer, Reply
from videogen import text_clip
from vidrecall.cli import main

ON_SCREEN = ["PRICE [/] 42", "[bold] SALE"]
REPLY = json.dumps({"answer": "A", "confidence": 0.95, "clips": [1], "spans": [[0, 4]],
                    "reason": "the sign reads PRICE [/] 42 under [bold] SALE [red]"})


@pytest.fixture(scope="module")
def sign(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("markup") / "d["  # with the file name below: the path holds "d[/]x"
    folder.mkdir()
    return text_clip(folder / "]x [bold].mp4", ON_SCREEN, seconds=4.0, fps=5)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("markup_store")


@pytest.fixture
def server():
    with FakeOpenAIServer(default=Reply(content=REPLY)) as srv:
        yield srv


def profile(tmp: Path, base_url: str) -> str:
    path = tmp / "markup.yaml"
    path.write_text(f"""
llm: "openai-compatible:m"
llm_options: {{base_url: "{base_url}", max_retries: 0, timeout: 30}}
captioner: ocr
levels:
  - {{name: coarse, clip_seconds: 60, frames_per_clip: 1, max_pixels: 230400, prompt: caption_coarse}}
  - {{name: fine, clip_seconds: 10, frames_per_clip: 1, max_pixels: 230400, prompt: caption_fine}}
budgets: {{max_iterations: 1, max_captions: 4, max_llm_tokens: 60000, max_seconds: 120}}
""")
    return str(path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.slow
def test_memory_prints_on_screen_markup_and_the_path_verbatim(sign, store, server, tmp_path, capsys,
                                                              monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one table row per caption, unwrapped
    flags = ["--profile", profile(tmp_path, server.base_url), "--store", str(store)]
    code, out, err = run(capsys, "index", str(sign), *flags)
    assert code == 0, err
    code, out, err = run(capsys, "memory", str(sign), *flags)
    assert code == 0, err
    assert "d[/]x [bold].mp4" in out, out  # the path, markup-like as it is
    for text in ON_SCREEN:  # OCR read the sign; the caption prints as stored, nothing swallowed
        assert text in out, out
    assert "Traceback" not in err and "MarkupError" not in err


@pytest.mark.slow
def test_ask_prints_captions_model_text_and_options_verbatim(sign, store, server, tmp_path, capsys) -> None:
    code, out, err = run(capsys, "ask", str(sign), "What does the sign say?", "--option", "A. PRICE [/] 42",
                         "--option", "B. [bold] SALE", "--profile", profile(tmp_path, server.base_url),
                         "--store", str(store))
    assert code == 0, err
    assert server.chat_requests(), "the question never reached the model"
    assert "Answer: A. PRICE [/] 42" in out, out  # the user's option, as typed
    assert "[bold] SALE [red]" in out, out  # the model's reason, as it said it
    assert 'On-screen text: "PRICE [/] 42"' in out, out  # the evidence caption, as OCR read it
    assert "MarkupError" not in err


def test_printing_never_parses_markup_or_emoji(capsys) -> None:
    """The printing helpers on their own: data strings that Rich would parse come out unchanged."""
    from vidrecall.cli.common import console, print_answer, print_step
    from vidrecall.core.result import Answer, Evidence, Step

    nasty = "[/] [bold]x[/bold] [link=http://x]y[/link] :smile: [red"
    out = console()
    print_step(out, Step(index=0, node="answer", message=nasty))
    print_answer(out, Answer(question="q", answer=nasty, reason=nasty, decided_by="llm",
                             evidence=[Evidence(start=0, end=1, level="coarse", text=nasty)]))
    printed = capsys.readouterr().out
    assert printed.count(nasty) == 4, printed  # step, answer, reason, evidence
    assert "😄" not in printed
