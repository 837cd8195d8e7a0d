"""Running a method over QA items, one JSONL row per question, resumable.

Methods: `videolucy` and `default` (the agent, through `VideoQA.ask` with that strategy, its sibling from
`VideoQA.with_strategy` when the strategies differ), `uniform` and `dense` (baselines.py). The VideoQA
comes from the caller: evaluation sits below the API and never imports it. Same backbones, same questions, same row format, so one report compares them.
A rerun skips every (id, method) already in the file; a question that raises is written as an error row
(counted wrong) and the run goes on. `retry_errors=True` runs error rows again.
Beside the results file go `predictions.jsonl` and one trajectory file per question (evaluation/predictions.py):
what `vidrecall report FOLDER` re-scores without any model or store.
"""
from __future__ import annotations

import json
import logging
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, runtime_checkable

from tqdm.auto import tqdm

from vidrecall.agent.strategies import strategy_names
from vidrecall.core.config import Config
from vidrecall.core.result import Answer
from vidrecall.evaluation.items import QAItem
from vidrecall.evaluation.predictions import (answer_fields, error_fields, record_prediction,  # noqa: F401
                                              trajectory_summary)
from vidrecall.evaluation.scoring import read_results
from vidrecall.core.errors import first_line

log = logging.getLogger(__name__)

AGENT_METHODS = tuple(strategy_names())  # one method per agent strategy, from the registry
BASELINE_METHODS = ("uniform", "dense")
METHODS = AGENT_METHODS + BASELINE_METHODS


class EvalError(ValueError):
    """Bad run settings (unknown method, no results file); one line naming the value."""


@runtime_checkable
class Answerer(Protocol):
    """What the runner needs of a vidrecall.api.VideoQA (the runner is given one; it never imports the API)."""

    config: Config

    def ask(self, video: Any, question: str, options: list[str] | None = None) -> Answer: ...

    def with_strategy(self, strategy: str) -> "Answerer": ...


QA = Answerer | Callable[[], Answerer]


def built(qa: QA) -> Answerer:
    """The VideoQA itself, or the one a factory builds."""
    return qa if isinstance(qa, Answerer) else qa()


class Method(Protocol):
    name: str

    def answer(self, item: QAItem) -> Answer: ...


@dataclass
class AgentMethod:
    """The agent with one strategy. A VideoQA built for another strategy gets a sibling sharing its backbones."""

    qa: Any  # vidrecall.api.VideoQA
    strategy: str
    name: str = ""
    _sibling: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.name = self.name or self.strategy

    def _qa(self) -> Any:
        if self.qa.config.strategy == self.strategy:
            return self.qa
        if self._sibling is None:
            self._sibling = self.qa.with_strategy(self.strategy)
        return self._sibling

    def answer(self, item: QAItem) -> Answer:
        return self._qa().ask(item.video_path, item.question, item.options or None)


def make_method(name: str, qa: Any, **options: Any) -> Method:
    """A runnable method by name over one VideoQA (its memory and backbones are shared by all methods)."""
    if name in AGENT_METHODS:
        return AgentMethod(qa, name)
    if name in BASELINE_METHODS:
        from vidrecall.evaluation.baselines import DenseBaseline, UniformBaseline

        return (UniformBaseline if name == "uniform" else DenseBaseline)(qa, **options)
    raise EvalError(f"unknown method {name!r}; choose one of {list(METHODS)}")


# --- rows -------------------------------------------------------------------------------------------------------

def result_row(item: QAItem, method: str, answer: Answer, seconds: float) -> dict[str, Any]:
    cost = answer.cost.model_dump()
    cost["seconds"] = round(cost.get("seconds") or seconds, 3)
    return {
        "id": item.id, "method": method, "source": item.source, "video_id": item.video_id,
        "question_type": item.question_type, "multiple_choice": item.is_multiple_choice,
        **answer_fields(answer, item.answer, list(item.gold_spans), item.is_multiple_choice),
        "cost": cost, "finished_at": time.time(),
    }


def error_row(item: QAItem, method: str, exc: BaseException, seconds: float) -> dict[str, Any]:
    return {
        "id": item.id, "method": method, "source": item.source, "video_id": item.video_id,
        "question_type": item.question_type, "multiple_choice": item.is_multiple_choice,
        **error_fields(item.answer, list(item.gold_spans)),
        "cost": {"seconds": round(seconds, 3)},
        "error": f"{type(exc).__name__}: {first_line(exc)}".strip(),
        "traceback": traceback.format_exception(exc)[-3:], "finished_at": time.time(),
    }


def _append(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


# --- the loop ----------------------------------------------------------------------------------------------------

@dataclass
class RunSummary:
    method: str
    out_path: Path
    total: int
    ran: int = 0
    skipped_done: int = 0
    skipped_no_video: int = 0
    errors: int = 0
    correct: int = 0
    scored: int = 0

    def line(self) -> str:
        acc = f"{self.correct}/{self.scored} correct" if self.scored else "nothing scored"
        return (f"{self.method}: ran {self.ran} of {self.total} ({self.skipped_done} already done, "
                f"{self.skipped_no_video} without video, {self.errors} errors); {acc} -> {self.out_path}")


def run_eval(items: Iterable[QAItem], qa: QA | None = None, method: str | Method = "default",
             out_jsonl: str | os.PathLike | None = None, *, limit: int | None = None, retry_errors: bool = False,
             progress: bool = True, method_options: dict[str, Any] | None = None) -> RunSummary:
    """Answer every item with `method`, appending one row per question to `out_jsonl`.

    `qa` is a VideoQA, or a zero-argument factory returning one (called only when something is left to
    run, so a finished run loads no model); the caller (the CLI, a notebook) builds it, so this layer
    never imports the API above it. `method` is a name from METHODS or any object with `.name` and
    `.answer(item) -> Answer` (used by tests to script outcomes).
    """
    if out_jsonl is None:
        raise EvalError("run_eval needs out_jsonl, the results file to write (and resume from)")
    if qa is None and isinstance(method, str) and method in METHODS:
        raise EvalError(f"method {method!r} needs a VideoQA: pass qa= (a VideoQA or a function that builds one)")
    out_path = Path(out_jsonl)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    name = method if isinstance(method, str) else method.name
    if isinstance(method, str) and method not in METHODS:
        raise EvalError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    done = {r["id"] for r in read_results(out_path)
            if r.get("method") == name and not (retry_errors and r.get("error"))}
    items = list(items)[:limit] if limit else list(items)
    summary = RunSummary(name, out_path, len(items))
    todo = []
    for item in items:
        if item.id in done:
            summary.skipped_done += 1
        elif not item.video_path:
            summary.skipped_no_video += 1
        else:
            todo.append(item)
    if summary.skipped_no_video:
        log.warning("%s: %d item(s) have no video file and were not run", name, summary.skipped_no_video)
    if not todo:
        return summary
    runner: Method = method if not isinstance(method, str) else make_method(
        method, built(qa) if qa is not None else None, **(method_options or {}))
    for item in tqdm(todo, desc=f"eval {name}", unit="q", disable=not progress):
        started = time.monotonic()
        answer: Answer | None = None
        try:
            answer = runner.answer(item)
            row = result_row(item, name, answer, time.monotonic() - started)
            summary.errors += bool(row["error"])  # the model never answered: counted as an error, kept for retry
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one bad question must not end a long run; the row keeps the error
            log.warning("%s: question %s failed: %s", name, item.id, exc)
            row = error_row(item, name, exc, time.monotonic() - started)
            answer = None
            summary.errors += 1
        # predictions.jsonl + trajectories/ beside the results file: replayable, re-scored by `vidrecall report`
        record_prediction(out_path.parent, row, answer)
        _append(out_path, row)
        summary.ran += 1
        if row["correct"] is not None:
            summary.scored += 1
            summary.correct += bool(row["correct"])
    return summary


def run_methods(items: Iterable[QAItem], qa: QA, methods: Iterable[str], out_dir: str | os.PathLike,
                **kw: Any) -> list[RunSummary]:
    """Every method over the same items, one `<method>.jsonl` each in `out_dir`; the VideoQA is built once."""
    items, made = list(items), {}

    def shared_qa() -> Answerer:
        if "qa" not in made:
            made["qa"] = built(qa)
        return made["qa"]

    return [run_eval(items, shared_qa, m, Path(out_dir) / f"{m}.jsonl", **kw) for m in methods]
