"""Asking with live progress: in Jupyter one output area updates in place as the agent steps (no wall of
logs) and turns into the answer; in a terminal a tqdm bar shows the current step. Progress inside a step
("captioning 7/22 of 2:00-3:00", "asking the LLM…") replaces the status line as it arrives.

Interrupting (Kernel ▸ Interrupt, Ctrl-C) stops the question, closes the stream so that its cleanup runs,
and says so in the output. Memory stays consistent because it commits each caption as it is made; asking
again reuses every caption made before the interrupt.
"""
from __future__ import annotations

import html
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Protocol

from vidrecall.display.html import STYLE, HtmlView, answer_html, enable_rich_display

if TYPE_CHECKING:
    from vidrecall.core.result import Answer, Progress as StepProgress, Step

MAX_LIVE_ROWS = 12  # the live panel shows the latest steps only; the full trajectory is in the answer


class Progress(Protocol):
    def step(self, step: "Step") -> None: ...
    def progress(self, item: "StepProgress") -> None: ...
    def finish(self, answer: "Answer") -> None: ...
    def interrupted(self, message: str) -> None: ...


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where rich HTML output is shown)."""
    try:
        from IPython import get_ipython
        from ipykernel.zmqshell import ZMQInteractiveShell  # Jupyter, VS Code and Colab shells derive from it
    except ImportError:
        return False
    return isinstance(get_ipython(), ZMQInteractiveShell)


def setup_notebook() -> None:
    """Answers render as HTML cards; tqdm's "IProgress not found" warning (no ipywidgets: text bars) is hidden.

    Call it before importing the rest of vidrecall, so that the warning filter is in place when tqdm loads."""
    warnings.filterwarnings("ignore", message="IProgress not found")
    enable_rich_display()


class NotebookProgress:
    """One output area, updated in place: the question, the steps so far, then the answer."""

    def __init__(self, question: str, *, video_path: str | Path | None = None, handle: Any = None):
        self.question = question
        self.video_path = video_path
        self.steps: list["Step"] = []
        self.started = time.monotonic()
        if handle is None:
            from IPython.display import display

            handle = display(HtmlView(self._panel("starting…")), display_id=True)
        self.handle = handle

    def step(self, step: "Step") -> None:
        self.steps.append(step)
        self.handle.update(HtmlView(self._panel(f"step {step.index} ({step.node}) done; working on the next…")))

    def progress(self, item: "StepProgress") -> None:
        self.handle.update(HtmlView(self._panel(f"{item.node}: {item.message}")))

    def finish(self, answer: "Answer") -> None:
        self.handle.update(HtmlView(answer_html(answer, self.video_path), answer.summary()))

    def interrupted(self, message: str) -> None:
        self.handle.update(HtmlView(self._panel(message, done=True)))

    def _panel(self, status: str, done: bool = False) -> str:
        elapsed = time.monotonic() - self.started
        rows = "".join(
            f"<tr><td>{s.index}</td><td><b>{html.escape(s.node)}</b></td><td class=vr-text>{html.escape(s.message)}</td>"
            f"<td>{html.escape(s.level or '')}</td><td>+{s.captions_added}</td></tr>"
            for s in self.steps[-MAX_LIVE_ROWS:])
        hidden = len(self.steps) - MAX_LIVE_ROWS
        earlier = f'<div class="vr-muted">{hidden} earlier steps</div>' if hidden > 0 else ""
        icon = "■" if done else "⏳"
        return (f'<div class="vr vr-live">{STYLE}<div class="vr-q">Q: {html.escape(self.question)}</div>'
                f'<div>{icon} {html.escape(status)} <span class="vr-muted">({elapsed:.1f} s, {len(self.steps)} steps, '
                f'{sum(s.captions_added for s in self.steps)} new captions)</span></div>{earlier}'
                f"<table>{rows}</table></div>")


class TerminalProgress:
    """A tqdm bar whose text is the current step; the answer's one-line summary at the end."""

    def __init__(self, question: str, *, file: Any = None):
        from tqdm import tqdm  # the plain text bar: this class is for terminals

        self.file = file
        self.bar = tqdm(desc=_shorten(question, 40), unit="step", file=file, leave=True)

    def step(self, step: "Step") -> None:
        self.bar.update(1)
        self.bar.set_postfix_str(_shorten(f"{step.node}: {step.message}", 70))

    def progress(self, item: "StepProgress") -> None:
        self.bar.set_postfix_str(_shorten(f"{item.node}: {item.message}", 70))

    def finish(self, answer: "Answer") -> None:
        self.bar.close()
        print(answer.summary(), file=self.file)

    def interrupted(self, message: str) -> None:
        self.bar.close()
        print(message, file=self.file)


def make_progress(question: str, mode: str = "auto", *, video_path: str | Path | None = None) -> Progress:
    """`mode`: "auto" (HTML in Jupyter, else a terminal bar), "notebook" or "terminal"."""
    if mode not in ("auto", "notebook", "terminal"):
        raise ValueError(f"progress mode must be 'auto', 'notebook' or 'terminal', not {mode!r}")
    if mode == "notebook" or (mode == "auto" and in_notebook()):
        return NotebookProgress(question, video_path=video_path)
    return TerminalProgress(question)


def follow_stream(items: Iterable["Step | StepProgress | Answer"], progress: Progress) -> "Answer":
    """Show each step (and progress inside it) of a stream as it arrives and return its final Answer.

    On KeyboardInterrupt the stream is closed (its cleanup runs), the output says what was kept, and the
    interrupt is raised again so that the notebook cell stops as the user asked.
    """
    from vidrecall.core.result import Answer, Progress as StepProgress

    stream = iter(items)
    steps = captions = 0
    try:
        for item in stream:
            if isinstance(item, Answer):
                progress.finish(item)
                return item
            if isinstance(item, StepProgress):
                progress.progress(item)
                continue
            steps += 1
            captions += item.captions_added
            progress.step(item)
    except KeyboardInterrupt:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
        progress.interrupted(f"interrupted after {steps} steps; memory keeps the {captions} captions made so far "
                             "(each is saved as it is made), and asking again reuses them")
        raise
    raise RuntimeError(f"the stream ended after {steps} steps without an answer")


def ask_live(qa: Any, video: str | Path, question: str, options: list[str] | None = None, *,
             session_id: str | None = None, mode: str = "auto") -> "Answer":
    """`qa.stream(...)` shown live (see module doc); returns the Answer."""
    progress = make_progress(question, mode, video_path=video)
    return follow_stream(qa.stream(video, question, options, session_id=session_id), progress)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
