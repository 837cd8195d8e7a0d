"""The `vidrecall` command: a thin shell over VideoQA, VideoMemory and the evaluation harness."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

from vidrecall.config import ConfigError, available_profiles

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _console():
    from rich.console import Console

    return Console(highlight=False)


# --- shared pieces ------------------------------------------------------------------------------
def _add_backbone_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default=os.environ.get("VIDRECALL_PROFILE", "offline"),
                   help=f"profile name {available_profiles()} or a YAML path (default: offline)")
    p.add_argument("--store", default=None, help="memory store directory (default: $VIDRECALL_STORE or the user cache dir)")
    p.add_argument("--llm", default=None, help="LLM spec, e.g. smollm2, openai:gpt-4o-mini, ollama:qwen2.5:7b")
    p.add_argument("--vlm", default=None, help="captioner spec, e.g. ocr, transformers:Qwen/Qwen2.5-VL-7B-Instruct+ocr")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible base URL for both --llm and --vlm")


def _make_qa(args: argparse.Namespace, **overrides: Any):
    from vidrecall.api import VideoQA

    if getattr(args, "base_url", None):
        overrides.setdefault("llm_options", {"base_url": args.base_url})
        overrides.setdefault("captioner_options", {"base_url": args.base_url})
    return VideoQA(args.profile, llm=args.llm, vlm=args.vlm, store_dir=args.store, **overrides)


def _video_path(value: str) -> str:
    path = Path(value).expanduser()
    if not path.exists():
        raise ConfigError(f"{value}: no such file")
    return str(path)


# --- commands -----------------------------------------------------------------------------------
def cmd_index(args: argparse.Namespace) -> int:
    qa = _make_qa(args)
    levels = tuple(lv.strip() for lv in args.levels.split(",") if lv.strip())
    console = _console()
    for report in qa.index_levels(_video_path(args.video), levels=levels, progress=not args.quiet):
        console.print(f"[bold]{report.level}[/]: {report.clips} clips, {report.created} captioned, "
                      f"{report.reused} already stored, {report.frames} frames decoded"
                      f"{f', {report.skipped_frames} bad frames skipped' if report.skipped_frames else ''}, "
                      f"{report.seconds:.1f} s")
    return 0


def cmd_memory(args: argparse.Namespace) -> int:
    from rich.table import Table

    from vidrecall.types import fmt_time

    qa = _make_qa(args)
    video = qa.memory.register(_video_path(args.video))
    console = _console()
    if args.search:
        hits = qa.memory.search(args.search, video.id, levels=[args.level] if args.level else None, k=args.k)
        rows = [(n, f"{score:.3f}") for n, score in hits]
    else:
        rows = [(n, "") for n in qa.memory.nodes(video.id, level=args.level)]
    if args.json:
        print(json.dumps([{**_node_dict(n), **({"score": float(s)} if s else {})} for n, s in rows], indent=1))
        return 0
    console.print(f"[bold]{video.path}[/]  id {video.id[:12]}  {video.duration:.1f} s  "
                  f"{qa.memory.store.count(video.id)} captions stored in {qa.config.store_path}")
    table = Table("level", "span", "frames", "captioner", "instruction", "caption" + (" (score)" if args.search else ""))
    for node, score in rows:
        text = node.text if args.full else (node.text[:160] + ("…" if len(node.text) > 160 else ""))
        table.add_row(node.level, f"{fmt_time(node.start)}-{fmt_time(node.end)}", str(node.frames), node.captioner,
                      (node.instruction or "")[:40], f"{text} {f'({score})' if score else ''}")
    console.print(table)
    return 0


def _node_dict(node) -> dict:
    return {"id": node.id, "level": node.level, "start": node.start, "end": node.end, "frames": node.frames,
            "captioner": node.captioner, "instruction": node.instruction, "text": node.text}


def _print_answer(console, answer) -> None:
    console.print()
    console.print(f"[bold green]Answer:[/] {answer.summary()}")
    if answer.decided_by:
        console.print(f"[dim]decided by {answer.decided_by}{' (forced: a budget ran out)' if answer.forced else ''}[/]")
    if answer.reason:
        console.print(f"[dim]reason: {answer.reason[:300]}[/]")
    for ev in answer.evidence[:6]:
        console.print(f"  [cyan]{ev.label()}[/] {ev.level}: {ev.text[:140]}")
    c = answer.cost
    console.print(f"[dim]cost: {c.frames_decoded} frames decoded, captions {dict(c.captions_by_level) or 0} "
                  f"(+{c.captions_reused} reused), {c.llm_calls} LLM calls, {c.tokens_in}+{c.tokens_out} tokens, "
                  f"{c.cache_hits} cache hits, {c.seconds:.1f} s[/]")


def _stream_answer(qa, video: str, question: str, options: list[str], console, as_json: bool,
                   session_id: str | None = None):
    answer = None
    for item in qa.stream(video, question, options or None, session_id=session_id):
        if hasattr(item, "node"):
            if not as_json:
                console.print(f"[magenta]{item.node:>9}[/] {item.message}")
        else:
            answer = item
    return answer


def cmd_ask(args: argparse.Namespace) -> int:
    overrides = {"strategy": args.strategy} if args.strategy else {}
    qa = _make_qa(args, **overrides)
    console = _console()
    answer = _stream_answer(qa, _video_path(args.video), args.question, args.option, console, args.json)
    if args.json:
        print(answer.model_dump_json(indent=1))
    else:
        _print_answer(console, answer)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    qa = _make_qa(args)
    console = _console()
    session = qa.chat(_video_path(args.video), session_id=args.session)
    console.print(f"[bold]chat session {session.session_id}[/] — resume later with --session {session.session_id}; "
                  "options as 'question | A. … | B. …'; empty line or Ctrl-D ends")
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            break
        if not line:
            break
        question, *options = [part.strip() for part in line.split("|")]
        answer = None
        for item in session.stream(question, options or None):
            if hasattr(item, "node"):
                console.print(f"[magenta]{item.node:>9}[/] {item.message}")
            else:
                answer = item
        _print_answer(console, answer)
    console.print(f"[dim]session {session.session_id} saved[/]")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from vidrecall.timeline import save_timeline_png

    qa = _make_qa(args)
    video = qa.memory.register(_video_path(args.video))
    nodes = qa.memory.nodes(video.id)
    out = Path(args.out or f"{Path(args.video).stem}.timeline.png")
    save_timeline_png(nodes, video.duration, out, title=Path(video.path).name)
    print(f"wrote {out} ({len(nodes)} captions)")
    return 0


def cmd_profiles(args: argparse.Namespace) -> int:
    from vidrecall.config import load_config

    for name in available_profiles():
        cfg = load_config(name)
        levels = ", ".join(f"{lv.name} {lv.clip_seconds:g}s" for lv in cfg.levels)
        print(f"{name:10} llm={cfg.llm:40} captioner={cfg.captioner:45} strategy={cfg.strategy}  [{levels}]")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    qa = _make_qa(args)
    b = qa.backbones  # builds and preflights both models
    print(f"ok: llm {getattr(b.llm, 'model_name', None) or type(b.llm).__name__}, captioner {b.captioner.id}, "
          f"embedder {b.embedder.id}, store {qa.config.store_path}")
    return 0


def cmd_haystack(args: argparse.Namespace) -> int:
    from vidrecall.evaluation.haystack import build_haystack

    needles = args.needle or None
    spec = build_haystack(args.clips, args.out, target_seconds=args.minutes * 60 if args.minutes else None,
                          repeat=args.repeat, needles=needles, size=_size(args.size), seed=args.seed)
    print(f"wrote {args.out}: {spec.duration:.1f} s, {len(spec.segments)} segments, {len(spec.questions)} questions")
    return 0


def _size(value: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {value!r}: give WIDTHxHEIGHT, e.g. 640x360") from None
    return w, h


def cmd_eval(args: argparse.Namespace) -> int:
    from vidrecall.evaluation.loaders import load_items
    from vidrecall.evaluation.report import write_report
    from vidrecall.evaluation.runner import run_eval

    items = load_items(args.format, args.annotations, video_dir=args.videos)
    print(items.report())
    if args.limit:
        items = items[: args.limit]
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for method in args.method:
        path = out_dir / f"{method}.jsonl"
        run_eval(items, method=method, out_jsonl=path, profile=args.profile, store_dir=args.store,
                 llm=args.llm, vlm=args.vlm)
        paths.append(path)
    report = write_report(paths, out_dir / "report.md")
    print(f"wrote {report}")
    return 0


# --- parser -------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vidrecall", description="Question answering over long videos by deep memory backtracking.")
    parser.add_argument("--version", action="version", version=f"vidrecall {__import__('vidrecall').__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, fn: Callable[[argparse.Namespace], int], help: str, backbones: bool = True):
        p = sub.add_parser(name, help=help, description=help)
        if backbones:
            _add_backbone_flags(p)
        p.set_defaults(func=fn)
        return p

    p = command("index", cmd_index, "build the memory of a video (resumable; re-captions nothing)")
    p.add_argument("video")
    p.add_argument("--levels", default="coarse", help="comma-separated levels to build, coarse first (default: coarse)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = command("memory", cmd_memory, "show what is stored for a video")
    p.add_argument("video")
    p.add_argument("--level", default=None)
    p.add_argument("--search", default=None, help="search the memory by meaning")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--full", action="store_true", help="print whole captions")
    p.add_argument("--json", action="store_true")

    p = command("ask", cmd_ask, "ask a question about a video (indexes the coarse level if needed)")
    p.add_argument("video")
    p.add_argument("question")
    p.add_argument("--option", action="append", default=[], help='a multiple-choice option, e.g. --option "A. red" (repeat)')
    p.add_argument("--strategy", choices=["default", "videolucy"], default=None)
    p.add_argument("--json", action="store_true", help="print the whole result as JSON")

    p = command("chat", cmd_chat, "interactive multi-turn questions about a video; sessions persist")
    p.add_argument("video")
    p.add_argument("--session", default=None, help="resume this session id")

    p = command("show", cmd_show, "write the memory timeline of a video as a PNG")
    p.add_argument("video")
    p.add_argument("--out", default=None)

    command("profiles", cmd_profiles, "list the bundled profiles", backbones=False)
    command("check", cmd_check, "build and preflight the backbones of a profile (no video work)")

    p = command("haystack", cmd_haystack, "compose a long needle-in-a-haystack test video from real clips", backbones=False)
    p.add_argument("clips", help="folder of clips")
    p.add_argument("out", help="output .mp4")
    p.add_argument("--minutes", type=float, default=None)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--size", default="640x360")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--needle", action="append", default=[], help="needle clip at a fraction, e.g. mdn_frog.mp4@0.15 (repeat)")

    p = command("eval", cmd_eval, "run a benchmark's questions and write JSONL rows plus a markdown report")
    p.add_argument("--format", required=True, help="videomme | lvbench | mlvu | egoschema | egomem | nextqa | haystack | ...")
    p.add_argument("--annotations", required=True)
    p.add_argument("--videos", default=None, help="directory holding the videos")
    p.add_argument("--method", action="append", choices=["default", "videolucy", "uniform", "dense"], default=None)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--out", default="runs/eval")
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    if getattr(args, "command", None) == "eval" and not args.method:
        args.method = ["default"]
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("vidrecall: interrupted — everything finished so far is saved; run the same command to continue",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, RuntimeError, FileNotFoundError, OSError) as exc:
        if os.environ.get("VIDRECALL_DEBUG"):
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"vidrecall: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
