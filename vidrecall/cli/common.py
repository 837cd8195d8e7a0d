"""Pieces every command shares: the console, backbone flags, building a VideoQA, checking a video path,
printing an answer and following a stream of steps."""
from __future__ import annotations

import argparse
import functools
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
EXIT_SOME_SKIPPED = 4  # `index`: some inputs were skipped (unreadable files, names that name nothing); the rest indexed
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # the reader of our output went away (`... | head`): 128 + SIGPIPE, as a shell reports it


def safe(text: object) -> str:
    """`text` as it may reach a terminal: control characters and undecodable file-name bytes escaped."""
    from vidrecall.core.progress import terminal_text

    return terminal_text(str(text))


def console():
    """A console that prints text as text: captions, OCR, model replies and paths are data, so a price tag
    "[/] 42" or a caption "[bold]" must print verbatim, never be parsed as Rich markup or emoji codes, and
    an escape sequence in a subtitle, on screen or in a file name ("\\x1b[2J", an OSC-8 link) prints as
    the visible text `\\x1b[2J`, never obeyed by the terminal. What we style, we style with `styled(...)`."""
    import sys

    # Piped or redirected output is not wrapped at 80 columns mid-message: lines stay whole for grep and files.
    soft = not sys.stdout.isatty()
    return _safe_console_class()(markup=False, highlight=False, emoji=False, soft_wrap=soft)


@functools.cache
def _safe_console_class():
    from rich.console import Console
    from rich.segment import Segment
    from rich.text import Text

    from vidrecall.core.progress import terminal_text

    class SafeConsole(Console):
        """Strings and Text printed with their control characters escaped; as a last guard (tables, status
        lines), every segment of text is escaped again just before it is written (a no-op when clean)."""

        def print(self, *objects, **kwargs) -> None:
            super().print(*(_safe_renderable(o) for o in objects), **kwargs)

        def _render_buffer(self, buffer) -> str:
            return super()._render_buffer(
                Segment(terminal_text(seg.text), seg.style, seg.control) if not seg.control else seg
                for seg in buffer)

    def _safe_renderable(obj):
        if isinstance(obj, str):
            return terminal_text(obj)
        if isinstance(obj, Text) and terminal_text(obj.plain) != obj.plain:
            return styled(*((terminal_text(obj.plain[span.start:span.end]), span.style) if span.style else
                            terminal_text(obj.plain[span.start:span.end]) for span in _runs(obj)))
        return obj

    return SafeConsole


def _runs(text):
    """A Text cut into runs of one style each (unstyled runs with style ""), covering its whole plain text."""
    from rich.text import Span

    cuts = sorted({0, len(text.plain), *(s.start for s in text.spans), *(s.end for s in text.spans)})
    for a, b in zip(cuts, cuts[1:]):
        styles = [s.style for s in text.spans if s.start <= a and s.end >= b]
        yield Span(a, b, styles[-1] if styles else "")


def styled(*parts: str | tuple[str, str]):
    """One line from plain strings (data, printed verbatim) and (string, style) pairs (our own labels); the
    control characters of both escaped (see `console`)."""
    from rich.text import Text

    from vidrecall.core.progress import terminal_text

    return Text.assemble(*((terminal_text(p[0]), p[1]) if isinstance(p, tuple) else terminal_text(p)
                           for p in parts))


def install_safe_logging() -> None:
    """Warnings the libraries and vidrecall log to stderr (a skipped speech lane naming its file, say) get
    their control characters escaped like everything else printed."""
    import logging

    handlers = [logging.lastResort, *logging.getLogger().handlers]
    for handler in handlers:
        if handler is not None and not any(isinstance(f, _SafeRecords) for f in handler.filters):
            handler.addFilter(_SafeRecords())


class _SafeRecords:
    def filter(self, record) -> bool:
        from vidrecall.core.progress import terminal_text

        message = record.getMessage()
        safe_message = terminal_text(message)
        if safe_message != message:
            record.msg, record.args = safe_message, None
        return True


def exit_on_broken_pipe() -> int:
    """After BrokenPipeError on stdout (`vidrecall ask --json | head -c 10`): no error message, and no second
    one when Python flushes stdout at exit (the Python docs' recipe: point stdout at /dev/null)."""
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout file (captured, closed): nothing to redirect
        pass
    return EXIT_BROKEN_PIPE


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
    abstained = bool(getattr(answer, "abstained", False))
    out.print(styled(("Answer:", "bold yellow" if abstained else "bold green"), " ", answer.summary()))
    if abstained and answer.option is not None:  # a letter unlike a grounded one: what it is, what was searched
        searched = answer.searched.describe() if answer.searched else "?"
        out.print(styled((answer.trust_label(), "bold yellow"), " ", (f"searched {searched}", "dim")))
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
