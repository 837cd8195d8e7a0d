"""Shared by tests/test_bundles.py and tests/test_replay.py: a 25 s generated video, a profile file with sparse
levels and speech off, and scripted models whose question zooms once (coarse, then four fine captions)."""
from __future__ import annotations

from pathlib import Path

import yaml

from vidrecall.agent.testing import ScriptedCaptioner, ScriptedChatModel, fast_levels
from vidrecall.core.types import Span

QUESTION = "What colour is the toy?"
OPTIONS = ["A. Red", "B. Green", "C. Blue", "D. Yellow"]
NEEDLE = Span(10, 20)


def write_profile(folder: Path) -> Path:
    path = folder / "replay-profile.yaml"
    path.write_text(yaml.safe_dump({"profile": "replay-test", "llm": "smollm2", "captioner": "ocr",
                                    "levels": fast_levels(), "speech": {"source": "off"},
                                    "evidence_role": "decide", "llm_confidence_weight": 0.0}))
    return path


def scripted_llm() -> ScriptedChatModel:
    """Unsure at first, points at clip 1, then sure of B citing the needle's span."""
    return ScriptedChatModel(scripts={"answer": [{"answer": "D", "confidence": 0.2}],
                                      "localize": [{"clips": [1], "instruction": "What colour is the toy?"}]},
                             defaults={"answer": {"answer": "B", "confidence": 0.9, "spans": [[10, 20]]},
                                       "final_answer": {"answer": "B", "clips": [1]}})


def scripted_captioner() -> ScriptedCaptioner:
    def text_for(span: Span, level: str, instruction: str | None) -> str:
        if level != "coarse" and span.overlap(NEEDLE) > 0:
            return "A small green toy frog sits on the table."
        return f"An empty grey room ({level} {span.label()})."
    return ScriptedCaptioner(text_for)


def make_qa(profile: Path, store: Path, embedder, llm=None):
    from vidrecall.api import VideoQA
    from vidrecall.core.config import load_config

    return VideoQA(config=load_config(profile, store_dir=str(store)), llm=llm or scripted_llm(),
                   vlm=scripted_captioner(), embedder=embedder)
