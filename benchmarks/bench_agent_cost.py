"""What a question costs the agent on a haystack, against dense 1 fps captioning of the whole video.

For each strategy (default, videolucy) the haystack's coarse memory is built once (shared), then the
questions run in order on that strategy's own copy of the store, so later questions reuse earlier
zooms as they would in use. Printed per question: frames decoded, captions made / reused, LLM calls,
seconds, the answer. References measured on the same video: dense 1 fps (a frame and a caption every
second) and VideoLucy's coarse pass (1 fps, 60 s clips). Ratios are what travel between machines.

    python benchmarks/bench_agent_cost.py [--questions 3] [--llm smollm2|scripted] [--profile offline]

`--llm scripted` replaces the LLM with a double that never answers or localizes (every choice comes
from retrieval, the question's times and the evidence check): the cost of the loop without LLM latency.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
import time
from pathlib import Path

from vidrecall.agent.strategies import strategy_names
from vidrecall.agent.testing import ScriptedChatModel
from vidrecall.api import VideoQA

SHARED = Path(__file__).resolve().parents[2] / "shared"
HAYSTACK = SHARED / "media" / "haystack"
# Two questions whose evidence is a few seconds of on-screen text, then the haystack's needle questions.
TEXT_QUESTIONS = [
    {"id": "text_strings_brand", "answer": "C", "options": ["A. Martin", "B. Aquila", "C. D'Addario", "D. Elixir"],
     "question": "Around 3:50 an on-screen caption names the brand of the strings. Which brand is it?"},
    {"id": "text_film_title", "answer": "B",
     "options": ["A. Big Buck Bunny", "B. Sintel", "C. Elephants Dream", "D. Tears of Steel"],
     "question": "Which film title is shown on screen at about 5:30?"},
]


def questions(n: int) -> list[dict]:
    needles = json.loads((HAYSTACK / "haystack_15min.needle_qa.json").read_text())["questions"]
    return (TEXT_QUESTIONS + needles)[:n]


def silent_llm() -> ScriptedChatModel:
    return ScriptedChatModel(defaults={"answer": {"answer": "", "confidence": 0.0}, "localize": {},
                                       "final_answer": {}, "videolucy_answer": {"Confidence": False},
                                       "videolucy_filter": {"Flag": False}, "videolucy_localize": {},
                                       "videolucy_final": {}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--llm", choices=["smollm2", "scripted"], default="smollm2")
    parser.add_argument("--profile", default="offline")
    parser.add_argument("--video", default=str(HAYSTACK / "haystack_15min.mp4"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_agent_cost_"))
    base = work / "coarse"
    llm = silent_llm() if args.llm == "scripted" else None
    with VideoQA(args.profile, llm=llm, store_dir=base) as qa:
        started = time.perf_counter()
        report = qa.index(args.video).reports[0]
        index_s = time.perf_counter() - started
        duration = qa.memory.register(args.video).duration
        coarse = qa.config.levels[0]
    dense_frames = math.ceil(duration)
    lucy_coarse_frames = sum(max(1, round(min(60.0, duration - t))) for t in range(0, math.ceil(duration), 60))
    print(f"video {Path(args.video).name}: {duration:.1f} s; profile {args.profile}; llm {args.llm}")
    print(f"references: dense 1 fps = {dense_frames} frames, {dense_frames} captions; "
          f"VideoLucy coarse (1 fps, 60 s clips) = {lucy_coarse_frames} frames, {math.ceil(duration / 60)} captions")
    print(f"our coarse index ({coarse.name}: {coarse.clip_seconds:g} s clips, "
          f"{coarse.frames_per_clip or coarse.fps} {'frames/clip' if coarse.frames_per_clip else 'fps'}): "
          f"{report.frames} frames, {report.created} captions, {index_s:.1f} s")
    head = f"{'strategy':<10} {'question':<22} {'ok':>3} {'frames':>7} {'capt':>5} {'reuse':>6} {'llm':>4} " \
           f"{'sec':>6} {'frames/dense':>13} {'by':>13}  zoomed"
    print(head)
    for strategy in strategy_names():
        store = work / strategy
        shutil.copytree(base, store)
        totals = {"frames": 0, "captions": 0, "ok": 0}
        with VideoQA(args.profile, llm=silent_llm() if args.llm == "scripted" else None, store_dir=store,
                     strategy=strategy) as qa:
            for q in questions(args.questions):
                started = time.perf_counter()
                answer = qa.ask(args.video, q["question"], q["options"])
                seconds = time.perf_counter() - started
                made = answer.cost.captions_made
                zoomed = [f"{a:.0f}-{b:.0f}" for s in answer.trajectory if s.node == "zoom" for a, b in s.spans]
                ok = answer.option == q["answer"]
                totals["frames"] += answer.cost.frames_decoded
                totals["captions"] += made
                totals["ok"] += ok
                print(f"{strategy:<10} {q['id'][:22]:<22} {'yes' if ok else 'no':>3} {answer.cost.frames_decoded:>7} "
                      f"{made:>5} {answer.cost.captions_reused:>6} {answer.cost.llm_calls:>4} {seconds:>6.1f} "
                      f"{answer.cost.frames_decoded / dense_frames:>13.3f} {answer.decided_by:>13}  "
                      f"{', '.join(zoomed) or '-'}", flush=True)
        n = len(questions(args.questions))
        print(f"{strategy:<10} {'MEAN per question':<22} {totals['ok']}/{n} {totals['frames'] / n:>7.1f} "
              f"{totals['captions'] / n:>5.1f}   frames vs dense 1 fps: {totals['frames'] / n / dense_frames:.3f}; "
              f"incl. coarse index: {(totals['frames'] + report.frames) / n / dense_frames:.3f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
