"""Time from command to answer for work that needs no model: bad inputs (goal: the one-line error within
2 s) and a re-index of a fully cached clip (goal: about a second; nothing loads when every clip is stored
and FAISS is in step). Each command runs as a fresh `python -m vidrecall` process, like a user's.

    python benchmarks/bench_errors.py [--clip ../shared/media/clips/longva_water.mp4] [--repeat 3]

Prints one line per command: median wall seconds, exit status, and the first line of stderr. The machine's
load matters (these are mostly interpreter start + imports): `python -c pass` is timed too, as a baseline.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CLIP = REPO.parent / "shared" / "media" / "clips" / "longva_water.mp4"
GOAL_S = 2.0


def run(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=900)
    seconds = time.perf_counter() - started
    first = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or [""])[0]
    return seconds, done.returncode, first[:110]


def timed(label: str, args: list[str], env: dict[str, str], repeat: int, goal: float | None) -> None:
    runs = [run(args, env) for _ in range(repeat)]
    median = statistics.median(s for s, _, _ in runs)
    _, code, first = runs[-1]
    verdict = "" if goal is None else ("  ok" if median <= goal else f"  OVER {goal:g} s")
    print(f"{label:38} {median:6.2f} s  exit {code}{verdict}  | {first}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default=str(DEFAULT_CLIP))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    clip = Path(args.clip)
    if not clip.is_file():
        sys.exit(f"{clip}: no such clip")
    store = Path(tempfile.mkdtemp(prefix="bench-errors-"))
    profile = store / "offline-nospeech.yaml"  # the offline profile without the speech lane
    data = yaml.safe_load((REPO / "core" / "profiles" / "offline.yaml").read_text())
    data["speech"] = {"source": "off"}
    profile.write_text(yaml.safe_dump(data))
    env = {**os.environ, "VIDRECALL_STORE": str(store), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cli = [sys.executable, "-m", "vidrecall"]
    print(f"store {store}; clip {clip.name}; median of {args.repeat}")
    timed("baseline: python -c pass", [sys.executable, "-c", "pass"], env, args.repeat, None)
    timed("show --out t.jpg (not .png)", cli + ["show", str(clip), "--out", "t.jpg"], env, args.repeat, GOAL_S)
    timed("memory --level nope", cli + ["memory", str(clip), "--level", "nope"], env, args.repeat, GOAL_S)
    timed("ask on a missing video", cli + ["ask", "missing.mp4", "what?"], env, args.repeat, GOAL_S)
    timed("check --profile vllm (no server)", cli + ["check", "--profile", "vllm"], env, args.repeat, GOAL_S)
    timed("chat --session doesnotexist", cli + ["chat", str(clip), "--session", "doesnotexist"], env, args.repeat,
          GOAL_S)
    first = run(cli + ["index", str(clip), "--quiet", "--profile", str(profile)], env)
    print(f"{'index (first time, OCR captions)':38} {first[0]:6.2f} s  exit {first[1]}  | {first[2]}", flush=True)
    timed("index again (fully cached)", cli + ["index", str(clip), "--quiet", "--profile", str(profile)], env,
          args.repeat, GOAL_S)
    timed("memory (list the stored captions)", cli + ["memory", str(clip), "--profile", str(profile)], env,
          args.repeat, GOAL_S)


if __name__ == "__main__":
    main()
