"""End-to-end evaluation on a needle-in-a-haystack video: all four methods, one table.

    python benchmarks/eval_haystack.py                       # the shared 15-min haystack, offline profile
    python benchmarks/eval_haystack.py --build 900           # build a fresh 15-min haystack (640x360) first
    python benchmarks/eval_haystack.py --methods default uniform --limit 3 --out /tmp/eh

The coarse memory is built once (its cost is printed separately); every method then starts from a copy
of that store, so no method profits from captions another method made. Backbones (LLM, captioner,
embedder) are loaded once and shared. Results are resumable: rerun the same command to finish a run.
Writes <out>/<method>.jsonl, <out>/report.md and <out>/report.png, and prints the tables.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEFAULT_QA = SHARED / "media" / "haystack" / "haystack_15min.needle_qa.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qa", type=Path, default=DEFAULT_QA, help="a *.needle_qa.json (its video lies beside it)")
    ap.add_argument("--build", type=float, default=None, metavar="SECONDS",
                    help="build a haystack of about this length from the shared clips and evaluate on it instead")
    from vidrecall.evaluation.runner import METHODS

    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--profile", default="offline")
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "eval_haystack")
    ap.add_argument("--limit", type=int, default=None, help="only the first N questions")
    ap.add_argument("--types", nargs="+", default=None, metavar="TYPE",
                    help="only questions of these types (e.g. text colour order; see the QA file)")
    ap.add_argument("--uniform-clips", type=int, default=16, help="clips the uniform baseline captions")
    ap.add_argument("--baseline-level", default=None, help="level the baselines caption (default: the second)")
    return ap.parse_args(argv)


def shared_backbones_qa(profile: str, store: Path, strategy: str | None, backbones=None):
    from vidrecall.api import VideoQA

    given = {} if backbones is None else {"llm": backbones.llm, "vlm": backbones.captioner,
                                          "embedder": backbones.embedder}
    return VideoQA(profile, store_dir=store, strategy=strategy, **given)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from vidrecall.evaluation.loaders import load_items
    from vidrecall.evaluation.report import write_report
    from vidrecall.core.progress import TqdmBars
    from vidrecall.evaluation.runner import AGENT_METHODS, run_eval

    args.out.mkdir(parents=True, exist_ok=True)
    qa_path = args.qa
    if args.build:
        from vidrecall.evaluation.haystack import build_haystack

        spec = build_haystack(SHARED / "media" / "clips", args.out / f"haystack_{int(args.build)}s.mp4",
                              target_seconds=args.build)
        qa_path = spec.qa_path
        print(f"built {spec.video} ({spec.duration:.1f} s, {len(spec.needles)} needles, {len(spec.questions)} questions)")
    items = load_items("haystack", qa_path)
    print(items.report())
    items = [it for it in items.items if not args.types or it.question_type in args.types]
    items = items[:args.limit] if args.limit else items
    if not items or not items[0].video_path:
        print(f"no runnable questions in {qa_path}", file=sys.stderr)
        return 1
    video = items[0].video_path

    base_store = args.out / "store-base"
    base = shared_backbones_qa(args.profile, base_store, None)
    started = time.monotonic()
    report = base.index(video, levels=(base.config.levels[0].name,)).reports[0]
    print(f"coarse memory: {report.clips} clips ({report.created} new, {report.reused} reused), "
          f"{report.frames} frames, {time.monotonic() - started:.1f} s (one-off, not charged to any method)")
    backbones = base.backbones
    base.close()

    outputs = []
    for method in args.methods:
        store = args.out / f"store-{method}"
        if not store.exists():
            shutil.copytree(base_store, store)  # every method starts from the same coarse memory
        qa = shared_backbones_qa(args.profile, store, method if method in AGENT_METHODS else None, backbones)
        options = {} if method in AGENT_METHODS else {"level": args.baseline_level, "progress": TqdmBars()}
        if method == "uniform":
            options["clips"] = args.uniform_clips
        out = args.out / f"{method}.jsonl"
        summary = run_eval(items, qa, method, out, method_options=options)
        print(summary.line())
        outputs.append(out)
        qa.close()

    md = write_report(outputs, args.out / "report.md", title=f"Needle-in-a-haystack: {Path(video).name} "
                      f"({args.profile} profile)")
    text = md.read_text()
    print()
    print(text.split("## Results", 1)[1].split("![", 1)[0].strip())
    if "## Accuracy per question type" in text:
        print()
        print(text.split("## Accuracy per question type", 1)[1].split("##", 1)[0].strip())
    print(f"\nreport: {md}  plot: {md.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
