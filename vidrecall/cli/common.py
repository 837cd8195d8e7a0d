"""Pieces every command shares: the console, backbone flags, building a VideoQA, checking a video path,
printing an answer and following a stream of steps."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidrecall.core.config import ConfigError, available_profiles

if TYPE_CHECKING:
    from rich.status import Status

    from vidrecall.api import VideoQA
    from vidrecall.core.config import Config

EXIT_BAD_INPUT = 2
EXIT_MODEL_FAILED = 3  # the question got no answer: the LLM never replied (HTTP error, rejected key, ...)
EXIT_INTERRUPTED = 130


def console():
    """A console that prints text as text: captions, OCR, model replies and paths are data, so a price tag
    "[/] 42" or a caption "[bold]" must print verbatim, never be parsed as Rich markup or emoji codes.
    What we style, we style with `styled(...)`."""
    from rich.console import Console

    import sys

    # Piped or redirected output is not wrapped at 80 columns mid-message: lines stay whole for grep and files.
    soft = not sys.stdout.isatty()
    return Console(markup=False, highlight=False, emoji=False, soft_wrap=soft)


def styled(*parts: str | tuple[str, str]):
    """One line from plain strings (data, printed verbatim) and (string, style) pairs (our own labels)."""
    from rich.text import Text

    return Text.assemble(*parts)


def add_backbone_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default=os.environ.get("VIDRECALL_PROFILE", "offline"),
                   help=f"profile name {available_profiles()} or a YAML path (default: offline)")
    p.add_argument("--store", default=None, help="memory store directory (default: $VIDRECALL_STORE or the user cache dir)")
    p.add_argument("--llm", default=None, help="LLM spec, e.g. smollm2, openai:gpt-4o-mini, ollama:qwen2.5:7b")
    p.add_argument("--vlm", default=None, help="captioner spec, e.g. ocr, transformers:Qwen/Qwen2.5-VL-7B-Instruct+ocr")
    p.add_argument("--base-url", default=None,
                   help="server of the remote backbone(s) named by --llm/--vlm (without them: every remote backbone "
                        "of the profile), e.g. http://127.0.0.1:8000/v1; merged into the profile's options")
    p.add_argument("--api-key-env", default=None, metavar="NAME",
                   help="environment variable holding the API key for those backbones (the key itself never goes "
                        "on the command line)")


def backbone_choices(args: argparse.Namespace):
    from vidrecall.backbones import BackboneChoices

    return BackboneChoices(llm=args.llm, vlm=args.vlm, base_url=args.base_url, api_key_env=args.api_key_env)


def make_config(args: argparse.Namespace, **overrides: Any):
    """The profile with every flag merged in, before anything is built."""
    from vidrecall.backbones import with_backbone_choices
    from vidrecall.core.config import load_config

    config = load_config(args.profile, store_dir=args.store, **overrides)
    return with_backbone_choices(config, backbone_choices(args))


def make_qa(args: argparse.Namespace, config: "Config | None" = None, **overrides: Any) -> "VideoQA":
    """The VideoQA of a command, on `config` when the command built it already (it is built once)."""
    from vidrecall.api import VideoQA

    return VideoQA(config=config or make_config(args, **overrides))


def video_path(value: str) -> str:
    path = Path(value).expanduser()
    if not path.exists():
        raise ConfigError(f"{value}: no such file")
    if path.is_dir():
        raise ConfigError(f"{value}: is a directory, not a video file")
    return str(path)


def print_answer(out, answer) -> None:
    out.print()
    out.print(styled(("Answer:", "bold green"), " ", answer.summary()))
    if answer.error:
        out.print(styled(("No answer:", "bold red"), " ", f"the model never answered: {answer.error}"))
    elif answer.decided_by:
        forced = f" (forced: {answer.stop or 'no more looking allowed'})" if answer.forced else ""
        out.print(styled((f"decided by {answer.decided_by}{forced}", "dim")))
    for note in answer.notes:
        out.print(styled((f"note: {note}", "yellow")))
    if answer.reason:
        out.print(styled((f"reason: {answer.reason[:300]}", "dim")))
    for ev in answer.evidence[:6]:
        out.print(styled("  ", (ev.label(), "cyan"), f" {ev.level}: {ev.text[:140]}"))
    c = answer.cost
    out.print(styled((f"cost: {c.frames_decoded} frames decoded, captions {dict(c.captions_by_level) or 0} "
                      f"(+{c.captions_reused} reused), {c.llm_calls} LLM calls, {c.tokens_in}+{c.tokens_out} tokens"
                      f"{f' ({c.tokens_in_cached} of them from the KV cache)' if c.tokens_in_cached else ''}, "
                      f"{c.cache_hits} cache hits, {c.seconds:.1f} s", "dim")))


def print_step(out, step) -> None:
    out.print(styled((f"{step.node:>9}", "magenta"), " ", step.message))


class StatusLine:
    """Progress inside a step ("zoom: captioning 7/22 of 2:00-3:00") as one transient line under the steps,
    replaced as it changes and gone when the step's own line prints; nothing when output is not a terminal."""

    def __init__(self, out) -> None:
        self.out = out
        self.status: Status | None = None

    def show(self, progress) -> None:
        if not self.out.is_terminal:
            return
        took = f" ({progress.elapsed_s:.0f} s into the step)" if progress.elapsed_s >= 1 else ""
        text = styled((f"{progress.node:>9}", "magenta"), " ", (f"{progress.message}{took}", "dim"))
        if self.status is None:
            self.status = self.out.status(text, spinner="dots")
            self.status.start()
        else:
            self.status.update(text)

    def clear(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


def follow_steps(items, out, *, show: bool = True):
    """Print each Step of a VideoQA stream as it arrives (Progress on the status line); the Answer."""
    from vidrecall.core.result import Answer, Progress

    line, answer = StatusLine(out), None
    try:
        for item in items:
            if isinstance(item, Answer):
                answer = item
            elif isinstance(item, Progress):
                if show:
                    line.show(item)
            elif show:
                line.clear()
                print_step(out, item)
    finally:
        line.clear()
    return answer


def stream_answer(qa, video: str, question: str, options: list[str], out, as_json: bool,
                  session_id: str | None = None):
    return follow_steps(qa.stream(video, question, options or None, session_id=session_id), out, show=not as_json)


def add_command(sub, name: str, fn, help: str, backbones: bool = True) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help, description=help)
    p.add_argument("--verbose", action="store_true",
                   help="show the libraries' logs, progress bars and warnings (hidden by default)")
    if backbones:
        add_backbone_flags(p)
    p.set_defaults(func=fn)
    return p
