"""`vidrecall calibrate RUNS.jsonl... -o FILE.json`: fit a confidence calibration on evaluation results (rows
with a confidence and whether the answer was right) and write the small JSON file a profile names
(`calibration: FILE.json`, relative to the profile). See vidrecall/evaluation/calibration.py for the method."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vidrecall.cli.common import add_command, safe
from vidrecall.core.config import ConfigError


def run(args: argparse.Namespace) -> int:
    from vidrecall.core.calibration import save_calibration
    from vidrecall.evaluation.calibration import calibration_data, fit_calibration, reliability_diagram
    from vidrecall.evaluation.scoring import load_results

    rows: list[dict] = []
    used: list[str] = []
    for given in args.runs:
        path = Path(given)
        if path.is_dir():  # a run folder: its predictions
            path = path / "predictions.jsonl"
        if not path.is_file():
            raise ConfigError(f"{given}: no such results file (give the JSONL files `vidrecall eval` wrote, "
                              "e.g. runs/eval/default.jsonl)")
        results = load_results(path)
        results.require_rows()  # ResultsError (one line naming the file) when it holds no result row
        if (line := results.left_out_line()) is not None:
            print(f"note: {safe(line)}", file=sys.stderr)
        rows += results.rows
        used.append(str(path))
    if Path(args.out).suffix.lower() != ".json":
        raise ConfigError(f"-o {args.out}: a calibration is JSON; give a path ending in .json")
    confidences, correct = calibration_data(rows)
    calibration = fit_calibration(confidences, correct, method=args.method,
                                  fitted_on={"runs": [Path(u).name for u in used]})
    written = save_calibration(calibration, args.out)
    info = calibration.fitted_on
    what = (f"temperature {calibration.temperature:.3f}, bias {calibration.bias:+.3f}"
            if calibration.method == "temperature" else f"isotonic, {len(calibration.x)} steps")
    why = (f" (chosen by {info['chosen_by']}: " + ", ".join(f"{m} {v:.3f}" for m, v in info["cv_brier"].items())
           + ")") if "cv_brier" in info else ""
    print(safe(f"wrote {written}: {what}{why}; fitted on {info['rows']} scored answers (accuracy "
               f"{info['accuracy']:.2f}); ECE on them {info['ece_before']:.3f} -> {info['ece_after']:.3f}"))
    if args.diagram:
        from vidrecall.evaluation.calibration import calibrated

        png = reliability_diagram(calibrated(confidences, calibration), correct, args.diagram,
                                  compare=(confidences, "raw"), title=f"{Path(args.out).name} (fitted rows)")
        print(safe(f"wrote {png}"))
    print("name it in a profile: calibration: " + safe(Path(args.out).name) + "  (relative to the profile file)")
    return 0


def register(sub) -> None:
    p = add_command(sub, "calibrate", run, "fit a confidence calibration on evaluation results (JSONL files from "
                    "'eval') and write the JSON file a profile names with `calibration:`", backbones=False)
    p.add_argument("runs", nargs="+", metavar="RUNS.jsonl", help="results files (or run folders) to fit on")
    p.add_argument("-o", "--out", required=True, metavar="FILE.json", help="where to write the calibration")
    p.add_argument("--method", choices=["auto", "temperature", "isotonic"], default="auto",
                   help="auto (default): temperature scaling or isotonic steps, whichever predicts held-out folds "
                        "of the rows better (5-fold Brier score); or force one")
    p.add_argument("--diagram", default=None, metavar="PNG", help="also write a reliability diagram (raw vs calibrated)")
