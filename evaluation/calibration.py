"""Fitting a confidence calibration on evaluation runs, and measuring how calibrated confidences are.

    rows = [r for path in runs for r in load_results(path).rows]
    cal = fit_calibration(*calibration_data(rows))               # temperature or isotonic, by cross-validation
    save_calibration(cal, "offline.calibration.json")            # a profile names it: `calibration: ...`
    expected_calibration_error(confidences, correct)             # 0 = calibrated; the gap, weighted by bin
    reliability_diagram(confidences, correct, "reliability.png") # accuracy per confidence bin vs the diagonal

The method, and why: **temperature scaling with a bias** (p' = sigmoid(logit(p) / T + b), fitted by
maximum likelihood with a weak pull towards the identity) or **isotonic regression** (pool-adjacent-violators,
each step shrunk towards the overall accuracy by two pseudo-answers), chosen by default (`method="auto"`) by a
5-fold cross-validated Brier score on the rows given. Two parameters cannot memorise a run of tens of
questions; but a judge's confidences are a few discrete values (0.4, 0.5, 0.9, 1.0), not always in the order
of their accuracy (on issue 31's runs, 0.9 was right 8/8 and 1.0 10/12), and a monotone squashing of the
logit cannot follow that, where a few isotonic steps can. The bias is there because the judge answers 0.0 for
a forced guess and 1.0 for VideoLucy's boolean "confident", which a pure temperature keeps near 0 and 1.

Only numpy here (matplotlib draws the diagram). Rows are results-JSONL rows (`vidrecall eval`): the fit
reads `raw_confidence` when a row has it (the judge's own, before any calibration the run had) and else
`confidence`, and `correct` (true/false; null rows are left out). Rows that abstained by replacing the
model's answer are left out (their confidence belongs to the withheld answer); runs made with abstention off
(`abstain_below: 0`) give the cleanest fit: every confidence there belongs to the answer it is scored with.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from vidrecall.core.calibration import EPS, Calibration, apply_calibration

MIN_ROWS = 5  # fewer scored rows than this fit nothing
PRIOR = 0.5  # L2 pull of (1/T, b) towards (1, 0): with few rows, stay near the identity
MIN_INVERSE_TEMPERATURE = 1e-3  # a run whose confidence is anti-correlated with being right: flat, not inverted
ISOTONIC_SHRINK = 2.0  # pseudo-answers at the overall accuracy in every isotonic step (no step says 0 or 1)
CV_FOLDS = 5  # method="auto": temperature or isotonic, whichever predicts held-out folds better


def calibration_data(rows: Iterable[dict[str, Any]], *, shown: bool = False) -> tuple[list[float], list[bool]]:
    """(confidences, correct) of the scored rows: `raw_confidence` when present, else `confidence` (with
    `shown`, the `confidence` the answer gave, calibrated or not). An answer that abstained by replacing the
    model's ("not found in the video", or the "not mentioned" option) is left out: its confidence is the one of
    the answer it withheld. A letter kept as a guess stays in; a question that raised is left out."""
    conf: list[float] = []
    correct: list[bool] = []
    for row in rows:
        if row.get("abstained") is True and not row.get("guess", row.get("multiple_choice")):
            continue
        if row.get("decided_by") == "error":  # the question raised: no answer, so no confidence to judge
            continue
        ok = row.get("correct")
        c = None if shown else row.get("raw_confidence")
        if c is None:
            c = row.get("confidence")
        if not isinstance(ok, bool) or isinstance(c, bool) or not isinstance(c, (int, float)) or not np.isfinite(c):
            continue
        conf.append(min(1.0, max(0.0, float(c))))
        correct.append(ok)
    return conf, correct


def _arrays(confidences: ArrayLike, correct: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p = np.clip(np.asarray(confidences, dtype=float), 0.0, 1.0)
    y = np.asarray(correct, dtype=float)
    if p.shape != y.shape:
        raise ValueError(f"{len(p)} confidences but {len(y)} correct flags; give one of each per answer")
    return p, y


def expected_calibration_error(confidences: ArrayLike, correct: ArrayLike, bins: int = 10) -> float:
    """Expected calibration error: over `bins` equal-width confidence bins, |accuracy - mean confidence| of
    each bin weighted by its share of the answers (0 = calibrated, 1 = always sure and always wrong). A
    confidence of exactly 1 falls in the last bin. 0.0 for no answers."""
    p, y = _arrays(confidences, correct)
    if not len(p):
        return 0.0
    which = np.minimum((p * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            ece += inside.mean() * abs(y[inside].mean() - p[inside].mean())
    return float(ece)


def reliability_bins(confidences: ArrayLike, correct: ArrayLike, bins: int = 10) -> list[dict[str, float]]:
    """Per non-empty bin: its range, answers, mean confidence and accuracy (what the diagram draws)."""
    p, y = _arrays(confidences, correct)
    which = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            out.append({"lo": b / bins, "hi": (b + 1) / bins, "n": int(inside.sum()),
                        "confidence": float(p[inside].mean()), "accuracy": float(y[inside].mean())})
    return out


def reliability_diagram(confidences: ArrayLike, correct: ArrayLike, out_png: str | Path, *,
                        bins: int = 10, title: str = "", compare: tuple[ArrayLike, str] | None = None) -> Path:
    """A reliability diagram as a PNG: accuracy per confidence bin (bars, answers per bin written on them)
    against the diagonal of perfect calibration, the ECE in the title. `compare=(other confidences, label)`
    draws a second series for the same answers (e.g. before and after calibration). Returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    series = [(confidences, "confidence" if compare is None else "calibrated")]
    if compare is not None:
        series.insert(0, (compare[0], compare[1]))
    fig, ax = plt.subplots(figsize=(4.6, 4.2), dpi=110)
    width = 1.0 / bins / len(series)
    colors = ("#8c8c8c", "#4C72B0")
    for i, (conf, label) in enumerate(series):
        ece = expected_calibration_error(conf, correct, bins)
        cells = reliability_bins(conf, correct, bins)
        xs = [c["lo"] + width * (i + 0.5) for c in cells]
        bars = ax.bar(xs, [c["accuracy"] for c in cells], width=width * 0.92, color=colors[i % len(colors)],
                      alpha=0.85, label=f"{label} (ECE {ece:.3f})")
        for bar, cell in zip(bars, cells):
            ax.annotate(str(cell["n"]), (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                        va="bottom", fontsize=6)
    ax.plot([0, 1], [0, 1], "--", color="#C44E52", linewidth=1, label="perfectly calibrated")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(title or f"reliability ({np.asarray(correct).size} answers)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


# --- fitting ------------------------------------------------------------------------------------------------

def fit_calibration(confidences: ArrayLike, correct: ArrayLike, *, method: str = "auto",
                    fitted_on: dict[str, Any] | None = None) -> Calibration:
    """A Calibration fitted on (confidence, correct) pairs; ValueError (one line) with too few scored rows.
    `method`: "auto" (see the module doc), "temperature" or "isotonic". `fitted_on` (runs, notes) is stored
    with it, plus rows, accuracy, the ECE before and after, and for "auto" the cross-validated scores."""
    p, y = _arrays(confidences, correct)
    if len(p) < MIN_ROWS:
        raise ValueError(f"{len(p)} scored answers; a calibration needs at least {MIN_ROWS} (rows with "
                         "'correct' true or false)")
    chosen: dict[str, Any] = {}
    if method == "auto":
        cv = {m: cross_validated_brier(p, y, m) for m in ("temperature", "isotonic")}
        method = min(cv, key=lambda m: (cv[m], m != "temperature"))  # a tie keeps the two-number fit
        chosen = {"chosen_by": f"{CV_FOLDS}-fold cross-validated Brier score",
                  "cv_brier": {m: round(v, 4) for m, v in cv.items()}}
    if method not in ("temperature", "isotonic"):
        raise ValueError(f"calibration method {method!r} is not one of ['auto', 'temperature', 'isotonic']")
    cal = _fit(p, y, method)
    after = [apply_calibration(cal, float(c)) for c in p]
    info = {**(fitted_on or {}), **chosen, "rows": int(len(p)), "accuracy": round(float(y.mean()), 4),
            "ece_before": round(expected_calibration_error(p, y), 4),
            "ece_after": round(expected_calibration_error(after, y), 4)}
    return Calibration(cal.method, cal.temperature, cal.bias, cal.x, cal.y, fitted_on=info)


def fit_temperature(p: np.ndarray, y: np.ndarray, *, prior: float = PRIOR, steps: int = 100) -> tuple[float, float]:
    """(T, b) maximising the likelihood of sigmoid(logit(p) / T + b) minus prior * |(1/T, b) - (1, 0)|^2 / 2,
    by damped Newton steps on (a = 1/T, b): a regularised one-feature logistic regression, so convex."""
    clipped = np.clip(p, EPS, 1 - EPS)
    x = np.stack([np.log(clipped / (1 - clipped)), np.ones_like(clipped)], axis=1)
    centre = np.array([1.0, 0.0])

    def loss(w: np.ndarray) -> float:
        s = x @ w
        return float(np.sum(np.logaddexp(0.0, s) - y * s) + prior / 2 * np.sum((w - centre) ** 2))

    w = centre.copy()
    current = loss(w)
    for _ in range(steps):
        q = 0.5 * (1.0 + np.tanh(0.5 * (x @ w)))  # sigmoid, without overflow
        grad = x.T @ (q - y) + prior * (w - centre)
        hess = (x * (q * (1 - q))[:, None]).T @ x + (prior + 1e-9) * np.eye(2)
        step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        scale = 1.0
        while scale > 1e-6 and loss(w - scale * step) > current:  # backtrack: never a worse fit
            scale /= 2
        if scale <= 1e-6:
            break
        w = w - scale * step
        previous, current = current, loss(w)
        if previous - current < 1e-10:
            break
    a = max(float(w[0]), MIN_INVERSE_TEMPERATURE)
    return 1.0 / a, float(w[1])


def fit_isotonic(p: np.ndarray, y: np.ndarray, *, shrink: float = 0.0) -> tuple[list[float], list[float]]:
    """Isotonic regression by pool-adjacent-violators: the non-decreasing fit of y on p (ties in p pooled
    first). Returns the blocks' mean confidences and values, the points `apply_calibration` interpolates.
    `shrink` pseudo-answers at the overall accuracy are added to every block, so that a block of three
    wrong answers says "rarely right", not "never"."""
    order = np.argsort(p, kind="stable")
    ps, ys = p[order], y[order]
    # blocks: [sum of y, count, sum of p]; equal confidences start as one block
    blocks: list[list[float]] = []
    for value in np.unique(ps):
        same = ps == value
        blocks.append([float(ys[same].sum()), float(same.sum()), float(ps[same].sum())])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            last = blocks.pop()
            blocks[-1] = [blocks[-1][0] + last[0], blocks[-1][1] + last[1], blocks[-1][2] + last[2]]
    base = float(y.mean()) if len(y) else 0.0
    xs = [b[2] / b[1] for b in blocks]
    # shrinking a small block more than a large one may undo the order: keep it non-decreasing
    values = list(np.maximum.accumulate([(b[0] + shrink * base) / (b[1] + shrink) for b in blocks]))
    return [round(float(v), 6) for v in xs], [round(float(v), 6) for v in values]


def _fit(p: np.ndarray, y: np.ndarray, method: str) -> Calibration:
    if method == "temperature":
        t, b = fit_temperature(p, y)
        return Calibration("temperature", temperature=t, bias=b)
    xs, ys = fit_isotonic(p, y, shrink=ISOTONIC_SHRINK)
    return Calibration("isotonic", x=tuple(xs), y=tuple(ys))


def cross_validated_brier(p: np.ndarray, y: np.ndarray, method: str, folds: int = CV_FOLDS) -> float:
    """The mean Brier score of `method` on held-out folds of (p, y) (a seeded shuffle, so reruns agree)."""
    order = np.random.default_rng(0).permutation(len(p))
    scores = []
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        if not len(test) or len(train) < MIN_ROWS:
            continue
        cal = _fit(p[train], y[train], method)
        predicted = np.array([apply_calibration(cal, float(c)) for c in p[test]])
        scores.append(float(np.mean((predicted - y[test]) ** 2)))
    return float(np.mean(scores)) if scores else float("inf")


def calibrated(confidences: Iterable[float], calibration: Calibration | None) -> list[float]:
    """The confidences as `calibration` maps them (unchanged without one)."""
    return [apply_calibration(calibration, float(c)) for c in confidences]
