"""The agent strategies search, default and videolucy compared on the same fresh haystacks and backbones.

`search` is a tool-calling LLM driving the memory tools; `default` and `videolucy` are the fixed loops. All get
the same backbones, questions and starting memory.

    python benchmarks/bench_strategies.py --seeds 2 3                       # the comparison (profile offline: 1.5B)
    python benchmarks/bench_strategies.py --seeds 2 --minutes 4 --limit 3   # quick: 3 questions per haystack
    python benchmarks/bench_strategies.py --dry-run                          # scripted models, one shared clip:
                                                                             # checks the plumbing in seconds
    python benchmarks/bench_strategies.py --report-only                      # the table of earlier runs

Haystacks come from benchmarks/bench_brain.py's builders (spoken and on-screen needles drawn by
random.Random(seed), <out>/haystacks, reused when built). Each haystack's coarse level and speech are indexed
once into a base store; every strategy then asks in its own copy of that store, so each starts from the
same memory and its own zooms count as new captions (no strategy reuses another's). Rows are appended to
<out>/<strategy>.jsonl keyed by haystack, question and a hash of the settings, so a rerun resumes.
The table: accuracy, tool calls (search) / LLM calls, new captions and seconds per question.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

STRATEGIES = ("search", "default", "videolucy")
DRY_CLIP = "mdn_frog.mp4"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[2, 3], help="haystack seeds (bench_brain's builders)")
    ap.add_argument("--minutes", type=float, default=10.0, help="length of each haystack")
    ap.add_argument("--sets", nargs="+", default=["speech", "text"], choices=["speech", "text"])
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=list(STRATEGIES))
    ap.add_argument("--profile", default="offline", help="the backbones every strategy shares (default offline)")
    ap.add_argument("--llm", default=None, help="override the profile's LLM spec (it must call tools for search)")
    ap.add_argument("--limit", type=int, default=None, help="at most this many questions per haystack")
    ap.add_argument("--types", nargs="+", default=None,
                    help="only these question types (code, negation, number_words, order, when, ...)")
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "bench_strategies")
    ap.add_argument("--clips", type=Path, default=REPO.parent / "shared" / "media" / "clips")
    ap.add_argument("--dry-run", action="store_true",
                    help="scripted captioner and tool-calling LLM on one shared clip: the plumbing, in seconds")
    ap.add_argument("--report-only", action="store_true", help="print the table of earlier runs; run nothing")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the haystacks even if built")
    ap.add_argument("--progress", action="store_true", help="progress bars while building and indexing")
    args = ap.parse_args(argv)
    args.out = args.out.resolve()
    if args.dry_run and args.out == (REPO / "runs" / "bench_strategies").resolve():
        args.out = args.out / "dry-run"
    return args


# --- what is asked ------------------------------------------------------------------------------------------
def haystacks(args: argparse.Namespace) -> list[dict[str, Any]]:
    """bench_brain's haystacks for every seed (built when missing), or the dry run's one clip."""
    if args.dry_run:
        video = args.clips / DRY_CLIP
        questions = [{"id": "dry-colour", "question_type": "dry", "question": "What colour is the frog?",
                      "options": ["A. Green", "B. Red", "C. Blue", "D. Yellow"], "answer": "A"},
                     {"id": "dry-where", "question_type": "dry", "question": "Where does the frog sit?",
                      "options": ["A. On a wet rock", "B. On a car", "C. In a cup", "D. On a roof"], "answer": "A"}]
        return [{"name": "dry", "video_path": str(video), "hash": "dry", "questions": questions,
                 "bench": {"seed": 0, "set": "dry"}, "duration_s": 8.3}]
    import bench_brain as brain

    if args.report_only:  # what was built before; nothing is built
        paths = [p for seed in args.seeds for s, p in brain.haystack_paths(args.out, seed, args.minutes).items()
                 if s in args.sets and p.exists()]
    else:
        paths = [p for seed in args.seeds for p in brain.ensure_haystacks(args, seed).values()]
    return [brain.load_qa(p) for p in paths]


def settings_hash(args: argparse.Namespace) -> str:
    from vidrecall.core.config import load_config, to_dict
    from vidrecall.core.types import stable_hash

    cfg = to_dict(load_config(args.profile))
    cfg.pop("store_dir", None)
    return stable_hash([cfg, args.llm, args.dry_run], 12)


# --- the models ---------------------------------------------------------------------------------------------
def dry_models():
    """Scripted doubles: captions that name a green frog on a wet rock; a tool-calling LLM that searches once and
    answers A; the other strategies' roles answer A too."""
    from langchain_core.messages import ToolMessage

    from vidrecall.agent.testing import ScriptedCaptioner, ScriptedToolChatModel

    def turn(messages):
        if not any(isinstance(m, ToolMessage) for m in messages):
            question = str(messages[-1].content).split("Question:")[-1].split("\n")[0].strip()
            return {"name": "search_memory", "args": {"query": question or "frog", "k": 4}}
        return {"name": "answer", "args": {"answer": "A", "evidence": "green frog", "confidence": 0.9}}

    captioner = ScriptedCaptioner(lambda span, level, instruction: f"A green frog sits on a wet rock ({level}).")
    llm = ScriptedToolChatModel(default_turn=turn, defaults={
        "answer": {"answer": "A", "confidence": 0.9, "clips": [1], "evidence": "green frog"},
        "final_answer": {"answer": "A", "clips": [1]}, "locate": {},
        "videolucy_answer": {"Answer": "A", "Confidence": True, "Time Period": [[0, 8]]},
        "videolucy_filter": {"Flag": False}, "videolucy_final": {"Answer": "A"}})
    return llm, captioner


def base_qa(args: argparse.Namespace, store: Path):
    from vidrecall.agent.testing import fast_levels
    from vidrecall.api import VideoQA
    from vidrecall.core.progress import TqdmBars, silent

    progress = TqdmBars() if args.progress else silent
    if args.dry_run:
        llm, captioner = dry_models()
        return VideoQA("offline-tiny", llm=llm, vlm=captioner, store_dir=store, levels=fast_levels(),
                       speech={"source": "off"}, progress=progress)
    return VideoQA(args.profile, llm=args.llm, store_dir=store, progress=progress)


# --- running ------------------------------------------------------------------------------------------------
def read_rows(path: Path) -> list[dict]:
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                pass  # a line cut by a kill
    return rows


def run(args: argparse.Namespace, stacks: list[dict]) -> None:
    from vidrecall.tools.llm.local_transformers import load_local_weights

    shash = settings_hash(args)
    todo = {s: [(h, q) for h in stacks for q in [q for q in h["questions"] if not args.types
                                                 or q["question_type"].split("_", 1)[-1] in args.types][: args.limit or None]
                if (h["name"], q["id"]) not in done_keys(args, s, shash, h)] for s in args.strategies}
    if not any(todo.values()):
        print("every question was answered earlier (resumed); --report-only prints the table")
        return
    base_store = args.out / "stores" / "base"
    qa = base_qa(args, base_store)
    try:
        qa.preflight()
        for h in stacks:  # the same starting memory for every strategy: coarse level and speech, indexed once
            t0 = time.monotonic()
            qa.index(h["video_path"], [qa.config.levels[0].name])
            print(f"indexed {h['name']} in {time.monotonic() - t0:.1f} s (reused when done before)")
        qa.memory.flush()
        for strategy in args.strategies:
            if not todo[strategy]:
                continue
            store = args.out / "stores" / strategy
            if not store.exists():  # a copy of the base memory: this strategy's zooms are its own
                shutil.copytree(base_store, store, ignore=shutil.ignore_patterns("llm_cache.db*", "sessions.db*"))
            from vidrecall.api import VideoQA

            b = qa.backbones
            sibling = VideoQA(config=qa.config.replace(strategy=strategy, store_dir=str(store)), llm=b.llm,
                              vlm=b.captioner, embedder=qa.memory.embedder, progress=qa.progress)
            try:
                sibling.preflight()
                load_local_weights(b.llm)
                for h, q in todo[strategy]:
                    ask(args, sibling, strategy, shash, h, q)
            finally:
                sibling.close()
    finally:
        qa.close()


def done_keys(args: argparse.Namespace, strategy: str, shash: str, h: dict) -> set[tuple[str, str]]:
    return {(r["haystack"], r["qid"]) for r in read_rows(args.out / f"{strategy}.jsonl")
            if r.get("settings") == shash and r.get("haystack_hash") == h["hash"] and not r.get("exception")}


def ask(args: argparse.Namespace, qa, strategy: str, shash: str, h: dict, q: dict) -> None:
    out = args.out / f"{strategy}.jsonl"
    base = {"strategy": strategy, "settings": shash, "haystack": h["name"], "haystack_hash": h["hash"],
            "qid": q["id"], "type": q["question_type"], "set": h["bench"]["set"], "seed": h["bench"]["seed"]}
    t0 = time.monotonic()
    try:
        answer = qa.ask(h["video_path"], q["question"], options=q["options"])
    except Exception as exc:  # noqa: BLE001 - recorded, asked again on the next run
        row = {**base, "exception": f"{type(exc).__name__}: {exc}"[:300]}
        print(f"[{strategy}] {h['name']} {q['id']}: {row['exception']}")
    else:
        c = answer.cost
        row = {**base, "gold": q["answer"], "option": answer.option, "correct": answer.option == q["answer"],
               "forced": answer.forced, "stop": answer.stop, "error": answer.error,
               "tool_calls": sum(s.node == "tool" for s in answer.trajectory), "llm_calls": c.llm_calls,
               "captions_made": c.captions_made, "tokens_in": c.tokens_in, "tokens_out": c.tokens_out,
               "seconds": round(c.seconds, 2), "wall_s": round(time.monotonic() - t0, 2)}
        mark = "ok " if row["correct"] else "BAD"
        print(f"[{strategy:>9}] {mark} {h['name']:<24} {q['id']:<20} {answer.option or '-'} (gold {q['answer']}) "
              f"{row['tool_calls']} tools {c.llm_calls} LLM {c.captions_made} captions {c.seconds:6.1f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")


# --- the table ----------------------------------------------------------------------------------------------
def table(args: argparse.Namespace, stacks: list[dict]) -> str:
    shash = settings_hash(args)
    hashes = {h["name"]: h["hash"] for h in stacks}
    lines = ["| strategy | set | questions | accuracy | tool calls / q | LLM calls / q | new captions / q | s / q |",
             "|---|---|---|---|---|---|---|---|"]
    for strategy in args.strategies:
        rows = [r for r in read_rows(args.out / f"{strategy}.jsonl") if r.get("settings") == shash
                and hashes.get(r.get("haystack")) == r.get("haystack_hash") and "exception" not in r]
        latest = {(r["haystack"], r["qid"]): r for r in rows}  # a rerun's row replaces the earlier one
        for group in sorted({r["set"] for r in latest.values()}) + ["all"]:
            picked = [r for r in latest.values() if group in ("all", r["set"])]
            if not picked:
                continue
            mean = lambda key: statistics.fmean(r[key] for r in picked)  # noqa: E731
            right = sum(bool(r["correct"]) for r in picked)
            lines.append(f"| {strategy} | {group} | {len(picked)} | {right}/{len(picked)} "
                         f"({100 * right / len(picked):.0f}%) | {mean('tool_calls'):.1f} | {mean('llm_calls'):.1f} | "
                         f"{mean('captions_made'):.1f} | {mean('seconds'):.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    stacks = haystacks(args)
    if not args.report_only:
        run(args, stacks)
    text = table(args, stacks)
    (args.out / "report.md").write_text(text + "\n")
    print()
    print(text)
    print(f"\nreport: {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
