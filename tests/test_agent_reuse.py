"""Memory reuse across questions: nothing the first question captioned is captioned again."""
from __future__ import annotations

from tests.conftest import clip
from vidrecall.agent.testing import ScriptedCaptioner, ScriptedChatModel, fast_levels
from vidrecall.api import VideoQA

PEOPLE = "intel_one-by-one-person-detection.mp4"
OPTIONS = ["A. Red", "B. Green", "C. Blue", "D. Yellow"]


def test_later_questions_reuse_every_caption_the_first_one_made(store_dir, embedder):
    captioner = ScriptedCaptioner(lambda span, level, instr: f"People walk to a wall ({level} {span.label()}).")
    llm = ScriptedChatModel(defaults={"answer": {"answer": "A", "confidence": 0.1},
                                      "localize": {"clips": [2], "instruction": "Describe the toy's colour"},
                                      "final_answer": {"answer": "A"}})
    with VideoQA("offline-tiny", llm=llm, vlm=captioner, embedder=embedder, store_dir=store_dir, levels=fast_levels(),
                 spans_per_round=1, budgets={"max_iterations": 1}, cache_given_llm=True) as qa:
        video = clip(PEOPLE)
        first = qa.ask(video, "What colour is the toy on the table?", OPTIONS)
        made_by_first = len(captioner.captioned)
        assert first.cost.captions_by_level == {"coarse": 3, "fine": 7}

        again = qa.ask(video, "What colour is the toy on the table?", OPTIONS)
        assert len(captioner.captioned) == made_by_first  # the same question captions nothing
        assert again.cost.captions_made == 0 and again.cost.frames_decoded == 0
        assert again.cost.captions_reused == 3 + 7
        assert again.cost.cache_hits > 0  # the LLM replies come from the response cache as well

        llm.defaults["localize"] = {"clips": [2], "instruction": "Who walks to the wall?"}
        other = qa.ask(video, "Who walks to the wall second?", ["A. A woman", "B. A man"])
        new = captioner.captioned[made_by_first:]
        # only the question-specific whole-span caption is new: coarse and divided clips are reused
        assert [(lv, s.label(), instr) for lv, s, instr, _ in new] == [("fine", "1:00-2:00", "Who walks to the wall?")]
        assert other.cost.captions_reused == 3 + 6
        zoom = next(s for s in other.trajectory if s.node == "zoom")
        assert zoom.captions_added == 1 and zoom.captions_reused == 6
        keys = [(n.level, n.start, n.end, n.instruction) for n in qa.memory.nodes(first.video_id)]
        assert len(keys) == len(set(keys)) == 3 + 7 + 1
