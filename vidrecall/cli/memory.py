"""`vidrecall memory` (what is stored for a video, or a search over it) and `vidrecall show` (its timeline)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from vidrecall.cli.common import add_command, console, make_config, make_qa, safe, styled, video_path


def run_memory(args: argparse.Namespace) -> int:
    from rich.table import Table
    from rich.text import Text

    from vidrecall.core.types import fmt_time

    path = video_path(args.video)
    config = make_config(args)  # the flags merged once, before anything loads
    if args.level:
        checked_level(config, args.level)
    qa = make_qa(args, config)
    video = qa.memory.register(path)
    out = console()
    if args.search:
        hits = qa.memory.search(args.search, video.id, levels=[args.level] if args.level else None, k=args.k)
        rows = [(n, f"{score:.3f}") for n, score in hits]
    else:
        rows = [(n, "") for n in qa.memory.nodes(video.id, level=args.level)]
    if args.json:
        print(json.dumps([{**node_dict(n), **({"score": float(s)} if s else {})} for n, s in rows], indent=1))
        return 0
    out.print(styled((video.path, "bold"), f"  id {video.id[:12]}  {video.duration:.1f} s  "
                     f"{qa.memory.count(video.id)} captions stored in {qa.config.store_path}"))
    table = Table("level", "span", "frames", "captioner", "instruction", "caption" + (" (score)" if args.search else ""))
    for node, score in rows:
        text = node.text if args.full else (node.text[:160] + ("…" if len(node.text) > 160 else ""))
        if node.speaker:
            text = f"{node.speaker}: {text}"
        cells = (node.level, f"{fmt_time(node.start)}-{fmt_time(node.end)}", str(node.frames), node.captioner,
                 (node.instruction or "")[:40], f"{text} {f'({score})' if score else ''}")
        # Text: a caption's "[/]" is not markup; safe: its "\x1b[2J" (subtitles, OCR) is not obeyed
        table.add_row(*(Text(safe(cell)) for cell in cells))
    out.print(table)
    return 0


def node_dict(node) -> dict:
    out = {"id": node.id, "level": node.level, "start": node.start, "end": node.end, "frames": node.frames,
           "captioner": node.captioner, "instruction": node.instruction, "text": node.text}
    if node.frame_times:  # change-aware levels: the frames the captioner actually saw
        out["frame_times"] = node.frame_times
    if node.is_speech:  # what was said: who said it, and each word's time
        from vidrecall.tools.speech.types import words_from_json

        out["speaker"] = node.speaker
        out["words"] = [[w.start, w.end, w.text] for w in words_from_json(node.words)]
    return out


def checked_level(config, level: str) -> str:
    """`level` when the profile has it (or it is the speech lane); else ConfigError naming the levels."""
    from vidrecall.core.config import ConfigError
    from vidrecall.core.types import SPEECH_LEVEL

    names = [lv.name for lv in config.levels] + [SPEECH_LEVEL]
    if level not in names:
        raise ConfigError(f"--level {level!r}: no such level; choose one of {', '.join(names)}")
    return level


def run_show(args: argparse.Namespace) -> int:
    from vidrecall.display.timeline import checked_png_path, save_timeline_png

    out = checked_png_path(args.out or f"{Path(args.video).stem}.timeline.png")  # before anything loads
    path = video_path(args.video)
    answer = answer_from_json(args.answer) if args.answer else None
    qa = make_qa(args)
    video = qa.memory.register(path)
    nodes = qa.memory.nodes(video.id)
    save_timeline_png(nodes, video.duration, out, answer, title=Path(video.path).name)
    drawn = f", evidence and zoom path of {args.answer}" if answer else ""
    print(safe(f"wrote {out} ({len(nodes)} captions{drawn})"))
    return 0


def answer_from_json(path: str):
    """An Answer saved by `vidrecall ask --json > answer.json`; ConfigError naming the file otherwise."""
    from pydantic import ValidationError

    from vidrecall.core.config import ConfigError
    from vidrecall.core.result import Answer

    try:
        return Answer.model_validate_json(Path(path).read_text())
    except (OSError, ValueError, ValidationError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"--answer {path}: not an answer saved by 'vidrecall ask --json' ({first})") from None


def register(sub) -> None:
    p = add_command(sub, "memory", run_memory, "show what is stored for a video")
    p.add_argument("video")
    p.add_argument("--level", default=None)
    p.add_argument("--search", default=None, help="search the memory by meaning")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--full", action="store_true", help="print whole captions")
    p.add_argument("--json", action="store_true")

    p = add_command(sub, "show", run_show, "write the memory timeline of a video as a PNG")
    p.add_argument("video")
    p.add_argument("--out", default=None)
    p.add_argument("--answer", default=None, metavar="ANSWER.json",
                   help="draw this answer's evidence and zoom path too (saved by 'vidrecall ask --json > ANSWER.json')")
