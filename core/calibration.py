"""Applying a confidence calibration: the judge's confidence in, the chance the answer is right out.

A calibration is fitted on evaluation runs by `vidrecall calibrate` (vidrecall/evaluation/calibration.py) and
stored as a small JSON file that a profile names (`calibration: path`, relative to the profile):

    {"vidrecall_calibration": 1, "method": "temperature", "temperature": 2.4, "bias": -0.3, "fitted_on": {...}}
    {"vidrecall_calibration": 1, "method": "isotonic", "x": [0.0, 0.5, 0.9], "y": [0.1, 0.4, 0.7], ...}

- temperature: p' = sigmoid(logit(p) / temperature + bias). Two numbers, so a few dozen rows fit them
  without overfitting; the bias lets a confidence the judge gives as 0 (a forced guess) take its base rate.
- isotonic: a non-decreasing step function through (x, y), interpolated linearly between its points; for
  runs of hundreds of rows.

`apply_calibration` is pure; `load_calibration` reads and checks a file and fails with one line naming it.
"""
from __future__ import annotations

import json
import math
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
METHODS = ("temperature", "isotonic")
EPS = 1e-4  # confidences are clipped to [EPS, 1 - EPS] before the logit


class CalibrationError(ValueError):
    """An unreadable or malformed calibration file; one line naming the file and the fix."""


@dataclass(frozen=True)
class Calibration:
    method: str  # "temperature" | "isotonic"
    temperature: float = 1.0
    bias: float = 0.0
    x: tuple[float, ...] = ()  # isotonic: raw confidences, increasing
    y: tuple[float, ...] = ()  # isotonic: calibrated values, non-decreasing
    fitted_on: dict[str, Any] = field(default_factory=dict, compare=False)  # rows, runs, ECE before/after
    path: str = ""  # the file it was read from ("" when built in memory)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"vidrecall_calibration": FORMAT_VERSION, "method": self.method}
        if self.method == "temperature":
            out.update(temperature=round(self.temperature, 6), bias=round(self.bias, 6))
        else:
            out.update(x=[round(v, 6) for v in self.x], y=[round(v, 6) for v in self.y])
        out["fitted_on"] = dict(self.fitted_on)
        return out

    def __call__(self, confidence: float) -> float:
        return apply_calibration(self, confidence)


def logit(p: float) -> float:
    p = min(1.0 - EPS, max(EPS, float(p)))
    return math.log(p / (1.0 - p))


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def apply_calibration(calibration: Calibration | None, confidence: float) -> float:
    """The calibrated confidence (0 to 1, rounded to 3 places); `confidence` unchanged without a calibration."""
    if calibration is None:
        return confidence
    p = min(1.0, max(0.0, float(confidence)))
    if calibration.method == "temperature":
        out = sigmoid(logit(p) / calibration.temperature + calibration.bias)
    else:
        out = _interpolate(calibration.x, calibration.y, p)
    return round(min(1.0, max(0.0, out)), 3)


def _interpolate(xs: tuple[float, ...], ys: tuple[float, ...], p: float) -> float:
    if p <= xs[0]:
        return ys[0]
    if p >= xs[-1]:
        return ys[-1]
    i = bisect_right(xs, p)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 if x1 <= x0 else y0 + (y1 - y0) * (p - x0) / (x1 - x0)


def calibration_from_dict(data: Any, where: str = "calibration") -> Calibration:
    """A Calibration from its JSON form; CalibrationError (one line, naming `where`) when malformed."""
    def bad(why: str) -> CalibrationError:
        return CalibrationError(f"{where}: not a vidrecall calibration ({why}); fit one with "
                                "`vidrecall calibrate RUNS.jsonl -o FILE.json`")

    if not isinstance(data, dict):
        raise bad("the file must hold a JSON object")
    if data.get("vidrecall_calibration") != FORMAT_VERSION:
        raise bad(f"'vidrecall_calibration' must be {FORMAT_VERSION}")
    method = data.get("method")
    if method not in METHODS:
        raise bad(f"'method' is {method!r}, not one of {list(METHODS)}")
    given = data.get("fitted_on")
    fitted_on: dict[str, Any] = dict(given) if isinstance(given, dict) else {}
    if method == "temperature":
        t, b = data.get("temperature"), data.get("bias", 0.0)
        if not (isinstance(t, (int, float)) and _finite(t) and t > 0):
            raise bad(f"'temperature' must be a positive number, got {t!r}")
        if not (isinstance(b, (int, float)) and _finite(b)):
            raise bad(f"'bias' must be a number, got {b!r}")
        return Calibration("temperature", temperature=float(t), bias=float(b), fitted_on=fitted_on, path=where)
    xs, ys = data.get("x"), data.get("y")
    if not (isinstance(xs, list) and isinstance(ys, list) and xs and len(xs) == len(ys)
            and all(_finite(v) and 0 <= v <= 1 for v in xs + ys)):
        raise bad("'x' and 'y' must be equally long, non-empty lists of numbers from 0 to 1")
    if any(b < a for a, b in zip(xs, xs[1:])) or any(b < a for a, b in zip(ys, ys[1:])):
        raise bad("'x' and 'y' must both be non-decreasing")
    return Calibration("isotonic", x=tuple(map(float, xs)), y=tuple(map(float, ys)), fitted_on=fitted_on, path=where)


def load_calibration(path: str | Path) -> Calibration:
    """The calibration in `path`; CalibrationError, one line naming the file, when missing or unreadable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalibrationError(f"{path}: calibration file not found; fit one with "
                               f"`vidrecall calibrate RUNS.jsonl -o {path.name}` or remove `calibration` "
                               "from the profile") from None
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or type(exc).__name__
        raise CalibrationError(f"{path}: cannot read the calibration file ({why})") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        msg = getattr(exc, "msg", "too deeply nested")
        raise CalibrationError(f"{path}: not a vidrecall calibration (not valid JSON: {msg}); fit one with "
                               "`vidrecall calibrate RUNS.jsonl -o FILE.json`") from None
    return calibration_from_dict(data, str(path))


def save_calibration(calibration: Calibration, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(calibration.to_dict(), indent=1) + "\n", encoding="utf-8")
    return path


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
