"""The `local` profile's LLM role on a vision-language checkpoint (issue 11): the tiny random-weight
Qwen2.5-VL from tests/tinymodels.py chats text-only through the image-text-to-text classes, a question runs
end to end on a real clip, both roles naming one checkpoint load it once, and `check` catches a model that
cannot chat."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import clip
from tinymodels import build_tiny_qwen25vl

from vidrecall.api import VideoQA
from vidrecall.cli import main
from vidrecall.core.result import Answer
from vidrecall.tools import shared_models

FROG = "mdn_frog.mp4"  # 8 s


@pytest.fixture(scope="session")
def tiny_vlm_dir(tmp_path_factory) -> Path:
    return build_tiny_qwen25vl(tmp_path_factory.mktemp("tiny-qwen25vl"))


def local_qa(store_dir: Path, llm: str, vlm: str = "ocr") -> VideoQA:
    return VideoQA("local", llm=llm, vlm=vlm, store_dir=store_dir, speech={"source": "off"},
                   llm_options={"max_new_tokens": 12}, budgets={"max_iterations": 1, "max_captions": 4})


@pytest.mark.slow
def test_tiny_qwen25vl_answers_through_the_local_profiles_llm_role(tiny_vlm_dir, store_dir):
    with local_qa(store_dir, f"transformers:{tiny_vlm_dir}") as qa:
        answer = qa.ask(clip(FROG), "What animal is shown?", ["A. frog", "B. dog"])
    assert isinstance(answer, Answer) and answer.error is None  # a clean outcome, not "the model never answered"
    llm_calls = [c for s in answer.trajectory for c in s.model_calls if c.get("kind") == "llm"]
    assert llm_calls and all(c["ok"] for c in llm_calls)
    assert all(c["tokens_in"] > 0 and c["tokens_out"] > 0 for c in llm_calls if not c.get("cached"))
    assert answer.cost.tokens_in > 0 and answer.trajectory[-1].node == "finish"  # the loop ran to its end


def test_both_roles_on_one_checkpoint_load_it_once(tiny_vlm_dir, tmp_path, store_dir):
    shared = shutil.copytree(tiny_vlm_dir, tmp_path / "same-checkpoint")  # a path no other test loaded
    before = shared_models.LOAD_COUNT["image-text-to-text"]
    qa = local_qa(store_dir, f"transformers:{shared}", f"transformers:{shared}")
    _processor, caption_model = qa.backbones.captioner._load()
    _tokenizer, chat_model = qa.backbones.llm.load()
    assert chat_model is caption_model
    assert shared_models.LOAD_COUNT["image-text-to-text"] - before == 1
    reply = qa.backbones.llm.invoke("Say something.")
    assert reply.usage_metadata["input_tokens"] > 0 and reply.usage_metadata["output_tokens"] > 0
    qa.close()


def test_check_generates_a_token_and_reports_a_model_that_cannot_chat(tiny_vlm_dir, tmp_path, store_dir, capsys):
    assert main(["check", "--store", str(store_dir), "--llm", f"transformers:{tiny_vlm_dir}"]) == 0
    assert capsys.readouterr().out.startswith("ok:")
    config_only = tmp_path / "config-only"  # a checkpoint whose download stopped after config.json
    config_only.mkdir()
    config = json.loads((tiny_vlm_dir / "config.json").read_text())
    (config_only / "config.json").write_text(json.dumps(config))
    assert main(["check", "--store", str(store_dir), "--llm", f"transformers:{config_only}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vidrecall: error: the LLM") and "cannot chat" in err and len(err.splitlines()) == 1
