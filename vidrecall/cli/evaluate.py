"""`vidrecall haystack` (compose a needle-in-a-haystack video) and `vidrecall eval` (run a benchmark)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vidrecall.cli.common import EXIT_BAD_INPUT, add_command, make_config
from vidrecall.core.config import ConfigError


def run_haystack(args: argparse.Namespace) -> int:
    from vidrecall.evaluation.haystack import build_haystack

    needles = args.needle or None
    spec = build_haystack(args.clips, args.out, target_seconds=args.minutes * 60 if args.minutes else None,
                          repeat=args.repeat, needles=needles, size=parse_size(args.size), seed=args.seed)
    if args.speech:  # spoken needles and filler (espeak-ng) mixed into an audio track
        from vidrecall.evaluation.spoken_needles import add_spoken_needles

        spec = add_spoken_needles(spec, seed=args.seed)
    print(f"wrote {args.out}: {spec.duration:.1f} s, {len(spec.segments)} segments, {len(spec.questions)} questions")
    return 0


def parse_size(value: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {value!r}: give WIDTHxHEIGHT, e.g. 640x360") from None
    return w, h


def run_eval(args: argparse.Namespace) -> int:
    from vidrecall.evaluation.loaders import load_items
    from vidrecall.evaluation.report import write_report
    from vidrecall.evaluation.runner import run_eval as run_items

    loaded = load_items(args.format, args.annotations, video_dir=args.videos)
    print(loaded.report())
    items = loaded.items[: args.limit] if args.limit else loaded.items
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = make_config(args)  # flags merged before anything is built, as for every command
    built: dict = {}

    def shared_qa():  # built once, only when a question is left to run; other strategies share its backbones
        if "qa" not in built:
            from vidrecall.api import VideoQA

            built["qa"] = VideoQA(config=config)
        return built["qa"]

    def deaf_qa():  # the same backbones and store, speech off: the "without speech" twin of each method
        if "deaf" not in built:
            from dataclasses import replace

            from vidrecall.api import VideoQA

            qa = shared_qa()
            b = qa.backbones
            built["deaf"] = VideoQA(config=config.replace(speech=replace(config.speech, source="off")),
                                    llm=b.llm, vlm=b.captioner, embedder=b.embedder)
        return built["deaf"]

    paths = []
    for method in args.method or ["default"]:
        path = out_dir / f"{method}.jsonl"
        run_items(items, shared_qa, method=method, out_jsonl=path)
        paths.append(path)
        if args.compare_speech:
            from vidrecall.evaluation.runner import make_method

            twin = make_method(method, deaf_qa())
            twin.name = f"{method}-nospeech"
            path = out_dir / f"{twin.name}.jsonl"
            run_items(items, None, method=twin, out_jsonl=path)
            paths.append(path)
    paths = [p for p in paths if p.is_file()]  # a method with nothing to run (no video found) wrote no file
    if not paths:
        print("vidrecall: no question was run (see the items report above); no report written", file=sys.stderr)
        return EXIT_BAD_INPUT
    notes: list[str] = []
    report = write_report(paths, out_dir / "report.md", notes=notes)
    for line in notes:
        print(f"note: {line}", file=sys.stderr)
    print(f"wrote {report}")
    return 0


class EvalMethods:
    """argparse choices read from the evaluation runner only when --method is given or help is shown (importing
    it imports the agent and LangGraph: seconds every other command's bad-input error should not wait for)."""

    def _names(self) -> tuple[str, ...]:
        from vidrecall.evaluation.runner import METHODS

        return METHODS

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self):
        return iter(self._names())


def register(sub) -> None:
    p = add_command(sub, "haystack", run_haystack, "compose a long needle-in-a-haystack test video from real clips",
                    backbones=False)
    p.add_argument("clips", help="folder of clips")
    p.add_argument("out", help="output .mp4")
    p.add_argument("--minutes", type=float, default=None)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--size", default="640x360")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--needle", action="append", default=[], help="needle clip at a fraction, e.g. mdn_frog.mp4@0.15 (repeat)")
    p.add_argument("--speech", action="store_true", help="add spoken needles and spoken filler (espeak-ng) "
                   "in an audio track, with questions about what was said")

    p = add_command(sub, "eval", run_eval, "run a benchmark's questions and write JSONL rows plus a markdown report")
    p.add_argument("--format", required=True, help="videomme | lvbench | mlvu | egoschema | egomem | nextqa | haystack | ...")
    p.add_argument("--annotations", required=True)
    p.add_argument("--videos", default=None, help="directory holding the videos")
    p.add_argument("--method", action="append", choices=EvalMethods(), default=None, metavar="METHOD",
                   help="an agent strategy or a baseline (repeat to compare)")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--compare-speech", action="store_true",
                   help="also run each method with speech off (<method>-nospeech) to show what hearing adds")
    p.add_argument("--out", default="runs/eval")
