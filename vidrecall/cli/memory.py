"""`vidrecall memory` (what is stored for a video, or a search over it) and `vidrecall show` (its timeline)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from vidrecall.cli.common import add_command, console, make_qa, video_path


def run_memory(args: argparse.Namespace) -> int:
    from rich.table import Table

    from vidrecall.core.types import fmt_time

    qa = make_qa(args)
    video = qa.memory.register(video_path(args.video))
    out = console()
    if args.search:
        hits = qa.memory.search(args.search, video.id, levels=[args.level] if args.level else None, k=args.k)
        rows = [(n, f"{score:.3f}") for n, score in hits]
    else:
        rows = [(n, "") for n in qa.memory.nodes(video.id, level=args.level)]
    if args.json:
        print(json.dumps([{**node_dict(n), **({"score": float(s)} if s else {})} for n, s in rows], indent=1))
        return 0
    out.print(f"[bold]{video.path}[/]  id {video.id[:12]}  {video.duration:.1f} s  "
              f"{qa.memory.store.count(video.id)} captions stored in {qa.config.store_path}")
    table = Table("level", "span", "frames", "captioner", "instruction", "caption" + (" (score)" if args.search else ""))
    for node, score in rows:
        text = node.text if args.full else (node.text[:160] + ("…" if len(node.text) > 160 else ""))
        table.add_row(node.level, f"{fmt_time(node.start)}-{fmt_time(node.end)}", str(node.frames), node.captioner,
                      (node.instruction or "")[:40], f"{text} {f'({score})' if score else ''}")
    out.print(table)
    return 0


def node_dict(node) -> dict:
    return {"id": node.id, "level": node.level, "start": node.start, "end": node.end, "frames": node.frames,
            "captioner": node.captioner, "instruction": node.instruction, "text": node.text}


def run_show(args: argparse.Namespace) -> int:
    from vidrecall.display.timeline import save_timeline_png

    qa = make_qa(args)
    video = qa.memory.register(video_path(args.video))
    nodes = qa.memory.nodes(video.id)
    out = Path(args.out or f"{Path(args.video).stem}.timeline.png")
    save_timeline_png(nodes, video.duration, out, title=Path(video.path).name)
    print(f"wrote {out} ({len(nodes)} captions)")
    return 0


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
