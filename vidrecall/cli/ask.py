"""`vidrecall ask` (one question) and `vidrecall chat` (multi-turn, sessions persist)."""
from __future__ import annotations

import argparse
import sys

from vidrecall.cli.library import question_target
from vidrecall.cli.common import (EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_MODEL_FAILED, add_command,
                                  console, follow_steps, make_qa, print_answer, safe, stream_answer, styled)


def run_ask(args: argparse.Namespace) -> int:
    overrides = {"strategy": args.strategy} if args.strategy else {}
    target = question_target(args.video)  # a bad path fails before anything loads
    qa = make_qa(args, **overrides)
    out = console()
    answer = stream_answer(qa, target, args.question, args.option, out, args.json)
    if args.json:
        print(answer.model_dump_json(indent=1))
    else:
        print_answer(out, answer)
    if answer.error:
        print(f"vidrecall: error: the model never answered: {safe(answer.error)}", file=sys.stderr)
        return EXIT_MODEL_FAILED
    return 0


def run_chat(args: argparse.Namespace) -> int:
    video = question_target(args.video)
    qa = make_qa(args)
    out = console()
    if args.list:
        return list_sessions(qa, out)
    earlier = resumed_turns(qa, args.session) if args.session else []
    session = qa.chat(video, session_id=args.session)
    for turn in earlier:  # a resumed session shows where it stands
        out.print(styled(("you> ", "bold"), turn.get("question", "")))
        out.print(styled(("Answer:", "green"), f" {turn.get('answer') or '—'} (confidence {turn.get('confidence', 0.0):.2f})"))
    out.print(styled((f"chat session {session.session_id}", "bold"),
                     f" — resume later with --session {session.session_id}; "
                     "options as 'question | A. … | B. …'; empty line or Ctrl-D ends"))
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            break
        if not line:
            break
        question, *options = [part.strip() for part in line.split("|")]
        print_answer(out, follow_steps(session.stream(question, options or None), out))
    out.print(styled((f"session {session.session_id} saved", "dim")))
    return 0


def resumed_turns(qa, session_id: str) -> list[dict]:
    """The earlier turns of `session_id`; ConfigError (one line, saying how to list sessions) when none exist."""
    from vidrecall.core.config import ConfigError

    turns = qa.session_history(session_id)
    if not turns:
        raise ConfigError(f"no chat session {session_id!r} in {qa.config.store_path}: list the saved ones with "
                          "'vidrecall chat VIDEO --list', or leave out --session to start a new one")
    return turns


def list_sessions(qa, out) -> int:
    ids = qa.session_ids()
    if not ids:
        out.print(f"no chat sessions saved in {qa.config.store_path}")
    for session_id in ids:
        turns = qa.session_history(session_id)
        first = turns[0].get("question", "") if turns else ""
        out.print(styled((session_id, "bold"), f"  {len(turns)} turn(s)  {first[:80]}"))
    return 0


class StrategyNames:
    """argparse choices read from the strategy registry only when --strategy is given or help is shown:
    importing the agent (LangGraph) costs seconds that a bad-input error should not wait for."""

    def _names(self) -> list[str]:
        from vidrecall.agent.strategies import strategy_names

        return strategy_names()

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self):
        return iter(self._names())


def register(sub) -> None:
    p = add_command(sub, "ask", run_ask, "ask a question about a video (indexes the coarse level if needed)")
    p.epilog = (f"exit status: 0 answered (possibly forced by a budget), {EXIT_BAD_INPUT} bad input or setup, "
                f"{EXIT_MODEL_FAILED} the model never answered (the cause is printed and in the JSON 'error' field), "
                f"{EXIT_INTERRUPTED} interrupted, {EXIT_BROKEN_PIPE} the output's reader went away (`ask --json | head`)")
    p.add_argument("video", help="a video file, or a folder / glob of videos asked as one timeline (a library)")
    p.add_argument("question")
    p.add_argument("--option", action="append", default=[], help='a multiple-choice option, e.g. --option "A. red" (repeat)')
    p.add_argument("--strategy", choices=StrategyNames(), default=None, metavar="STRATEGY",
                   help="the agent strategy (default, videolucy, … : a wrong name lists them all)")
    p.add_argument("--json", action="store_true", help="print the whole result as JSON")

    p = add_command(sub, "chat", run_chat, "interactive multi-turn questions about a video; sessions persist")
    p.add_argument("video", help="a video file, or a folder / glob of videos asked as one timeline (a library)")
    p.add_argument("--session", default=None, help="resume this session id")
    p.add_argument("--list", action="store_true", help="list the saved chat sessions and exit")
