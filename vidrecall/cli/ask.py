"""`vidrecall ask` (one question) and `vidrecall chat` (multi-turn, sessions persist)."""
from __future__ import annotations

import argparse

from vidrecall.cli.common import add_command, console, make_qa, print_answer, stream_answer, video_path


def run_ask(args: argparse.Namespace) -> int:
    overrides = {"strategy": args.strategy} if args.strategy else {}
    qa = make_qa(args, **overrides)
    out = console()
    answer = stream_answer(qa, video_path(args.video), args.question, args.option, out, args.json)
    if args.json:
        print(answer.model_dump_json(indent=1))
    else:
        print_answer(out, answer)
    return 0


def run_chat(args: argparse.Namespace) -> int:
    qa = make_qa(args)
    out = console()
    session = qa.chat(video_path(args.video), session_id=args.session)
    out.print(f"[bold]chat session {session.session_id}[/] — resume later with --session {session.session_id}; "
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
                out.print(f"[magenta]{item.node:>9}[/] {item.message}")
            else:
                answer = item
        print_answer(out, answer)
    out.print(f"[dim]session {session.session_id} saved[/]")
    return 0


def register(sub) -> None:
    p = add_command(sub, "ask", run_ask, "ask a question about a video (indexes the coarse level if needed)")
    p.add_argument("video")
    p.add_argument("question")
    p.add_argument("--option", action="append", default=[], help='a multiple-choice option, e.g. --option "A. red" (repeat)')
    p.add_argument("--strategy", choices=["default", "videolucy"], default=None)
    p.add_argument("--json", action="store_true", help="print the whole result as JSON")

    p = add_command(sub, "chat", run_chat, "interactive multi-turn questions about a video; sessions persist")
    p.add_argument("video")
    p.add_argument("--session", default=None, help="resume this session id")
