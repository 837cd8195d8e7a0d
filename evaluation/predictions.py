"""What `run_eval` keeps beside its results file so a run can be replayed and re-scored without models:
`predictions.jsonl` (one row per question and method) and `trajectories/<method>/<question id>.json` (the
full Answer JSON, steps, evidence and provenance included).

A predictions row: {"id", "method", "prediction" (the option letter of a multiple-choice answer, else the
answer text), "answer", "option", "gold", "gold_spans", "correct", "confidence", "provenance" (config digest,
model ids, caption keys read, version; null for an error row), "cost", "error", "source", "video_id",
"question_type", "multiple_choice", "trajectory" (the trajectory file, relative to the folder; null when the
question raised)}.

`load_predictions(folder)` rebuilds the result rows from these files alone -- correctness and evidence hits
recomputed from each trajectory's Answer and the gold -- so `vidrecall report FOLDER` gives the table the run
wrote, with no model and no store.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Iterable

from pydantic import ValidationError

from vidrecall.core.result import Answer
from vidrecall.core.types import Span
from vidrecall.evaluation.scoring import ResultsError, ResultsFile, evidence_hit, is_correct, load_results

PREDICTIONS_NAME = "predictions.jsonl"
TRAJECTORIES_DIR = "trajectories"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


# --- the parts of a result row an Answer decides (shared with runner.result_row) -------------------------------

def evidence_spans(evidence: Iterable[Any]) -> list[Span]:
    out = []
    for e in evidence:
        try:
            out.append(Span(float(e.start), float(e.end)))
        except (ValueError, AttributeError):
            continue
    return out


def trajectory_summary(answer: Answer) -> dict[str, Any]:
    nodes = [step.node for step in answer.trajectory]
    spans = [[round(s, 3), round(e, 3)] for step in answer.trajectory for s, e in step.spans]
    return {"steps": len(nodes), "nodes": nodes, "spans": spans,
            "levels": sorted({step.level for step in answer.trajectory if step.level})}


def answer_fields(answer: Answer, gold: str, gold_spans: list[Span], multiple_choice: bool) -> dict[str, Any]:
    """The result-row fields that come from the Answer and the gold: scored here, and again by the report."""
    predicted = evidence_spans(answer.evidence)
    return {"answer": answer.answer, "option": answer.option, "gold": gold,
            "correct": is_correct(gold, answer.option, answer.answer, multiple_choice),
            "confidence": round(float(answer.confidence), 4), "forced": answer.forced,
            "decided_by": answer.decided_by, "evidence": [s.as_list() for s in predicted],
            "gold_spans": [s.as_list() for s in gold_spans], "evidence_hit": evidence_hit(predicted, gold_spans),
            "trajectory": trajectory_summary(answer), "strategy": answer.strategy, "error": answer.error,
            **trust_fields(answer),
            "provenance": answer.provenance.model_dump() if answer.provenance is not None else None}


def trust_fields(answer: Answer) -> dict[str, Any]:
    """Whether the answer is backed, abstained or guessed, and its confidence before and after calibration (a
    calibration is fitted on `raw_confidence`, evaluation/calibration.py)."""
    raw = answer.raw_confidence if answer.raw_confidence is not None else answer.confidence
    return {"raw_confidence": round(float(raw), 4), "calibrated": answer.calibrated, "grounded": answer.grounded,
            "abstained": answer.abstained, "guess": answer.guess}


def error_fields(gold: str, gold_spans: list[Span]) -> dict[str, Any]:
    """The result-row fields of a question that raised (counted wrong)."""
    return {"answer": "", "option": None, "gold": gold, "correct": False if gold else None, "confidence": 0.0,
            "forced": False, "decided_by": "error", "evidence": [], "gold_spans": [s.as_list() for s in gold_spans],
            "evidence_hit": False if gold_spans else None, "trajectory": {"steps": 0, "nodes": [], "spans": []},
            "strategy": "", "raw_confidence": 0.0, "calibrated": False, "grounded": False, "abstained": False,
            "guess": False, "provenance": None}


# --- writing ---------------------------------------------------------------------------------------------------

def safe_name(text: str) -> str:
    """`text` as one file name: other characters than letters, digits, '.', '_' and '-' replaced, with a short
    hash of the original when anything was changed (so two ids never share a file)."""
    name = _UNSAFE.sub("_", text)[:100].lstrip(".") or "_"
    if name != text:
        name += "-" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return name


def trajectory_path(method: str, question_id: str) -> str:
    """Where a question's Answer is kept, relative to the run folder."""
    return f"{TRAJECTORIES_DIR}/{safe_name(method)}/{safe_name(str(question_id))}.json"


def prediction_row(row: dict[str, Any], trajectory: str | None) -> dict[str, Any]:
    """The predictions.jsonl row of a result row (see the module)."""
    mc = bool(row.get("multiple_choice"))
    return {"id": row["id"], "method": row["method"],
            "prediction": (row.get("option") or "") if mc else row.get("answer", ""),
            "answer": row.get("answer", ""), "option": row.get("option"), "gold": row.get("gold"),
            "gold_spans": row.get("gold_spans") or [], "correct": row.get("correct"),
            "confidence": row.get("confidence", 0.0),
            **{k: row.get(k) for k in ("raw_confidence", "calibrated", "grounded", "abstained", "guess")},
            "provenance": row.get("provenance"), "cost": row.get("cost"),
            "error": row.get("error"), "source": row.get("source"), "video_id": row.get("video_id"),
            "question_type": row.get("question_type"), "multiple_choice": mc, "trajectory": trajectory}


def record_prediction(folder: str | os.PathLike, row: dict[str, Any], answer: Answer | None) -> None:
    """Write the question's trajectory file (when it has an Answer), then append its predictions row."""
    folder = Path(folder)
    relative = None
    if answer is not None:
        relative = trajectory_path(str(row["method"]), str(row["id"]))
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(answer.model_dump_json(indent=1), encoding="utf-8")
        os.replace(tmp, path)
    with open(folder / PREDICTIONS_NAME, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(prediction_row(row, relative), ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


# --- reading ----------------------------------------------------------------------------------------------------

def _gold_spans(raw: Any) -> list[Span]:
    spans = []
    for pair in raw or []:
        try:
            spans.append(Span(float(pair[0]), float(pair[1])))
        except (TypeError, ValueError, IndexError):
            continue
    return spans


def rebuilt_row(prediction: dict[str, Any], answer: Answer | None) -> dict[str, Any]:
    """The result row of one prediction, scored again from its Answer (or as an error row without one)."""
    gold = str(prediction.get("gold") or "")
    gold_spans = _gold_spans(prediction.get("gold_spans"))
    multiple_choice = bool(prediction.get("multiple_choice"))
    base = {k: prediction.get(k) for k in ("id", "method", "source", "video_id", "question_type")}
    base["multiple_choice"] = multiple_choice
    if answer is None:
        fields = error_fields(gold, gold_spans)
        fields["error"] = prediction.get("error")
    else:
        fields = answer_fields(answer, gold, gold_spans, multiple_choice)
    return {**base, **fields, "cost": prediction.get("cost") or {}}


def load_predictions(folder: str | os.PathLike) -> ResultsFile:
    """The result rows of a run folder, rebuilt from predictions.jsonl and the trajectory files alone.

    ResultsError (one line naming the file) when the folder has no predictions, or a row's trajectory file is
    missing or is not an Answer."""
    folder = Path(folder)
    path = folder / PREDICTIONS_NAME
    if not path.is_file():
        raise ResultsError(f"{folder}: no {PREDICTIONS_NAME} (a folder that `vidrecall eval --out` wrote holds one)")
    predictions = load_results(path)  # bad lines left out and counted, the last row of an (id, method) wins
    predictions.require_rows()
    rows = []
    for prediction in predictions.rows:
        answer = None
        if prediction.get("trajectory"):
            answer = read_answer(_inside(folder, str(prediction["trajectory"])))
        rows.append(rebuilt_row(prediction, answer))
    return ResultsFile(path, rows, predictions.left_out, predictions.lines)


def _inside(folder: Path, relative: str) -> Path:
    """A trajectory path from a predictions row, kept inside the run folder."""
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise ResultsError(f"{folder / PREDICTIONS_NAME}: trajectory {relative!r} lies outside the run folder")
    return path


def read_answer(path: Path) -> Answer:
    """A trajectory file's Answer; ResultsError naming the file when it is missing or not an Answer."""
    try:
        return Answer.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise ResultsError(f"{path}: trajectory file missing; the report needs every file `vidrecall eval` "
                           "wrote in its folder") from None
    except (OSError, ValueError, ValidationError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ResultsError(f"{path}: not an Answer JSON ({first})") from None
