"""`vidrecall index DIR|GLOB|FILE …` over many videos, serially or on Ray (`--engine ray`).

Progress is printed per file and in total; a bad file is reported and skipped, the rest are indexed
(exit 4 when any was skipped); a file whose speech cannot be read (a damaged audio track, an unreadable
subtitle file) is indexed without it, after one warning. Like the one-file form, a rerun continues where
an interrupted run stopped (per clip). With --json, stdout carries the JSON alone: whatever else would be
printed there meanwhile (Ray's notices under --verbose) goes to stderr.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, redirect_stdout
from pathlib import Path

from vidrecall.cli.common import EXIT_SOME_SKIPPED, console, make_qa, safe, styled
from vidrecall.core.config import Config, ConfigError
from vidrecall.core.progress import TqdmBars, silent
from vidrecall.core.run_context import RunContext
from vidrecall.indexing.engines import CaptionEngine, SerialEngine
from vidrecall.indexing.indexer import Indexer
from vidrecall.indexing.pipelined import PipelinedEngine

EXIT_SOME_FILES_BAD = EXIT_SOME_SKIPPED  # 4: some inputs were skipped, the others are indexed


def run_many(args: argparse.Namespace, levels: tuple[str, ...]) -> int:
    from vidrecall.memory.library import expand_targets

    files, problems = expand_targets(list(args.video))
    if not files:
        raise ConfigError("; ".join(problems) or "no video files given")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers {args.workers}: give at least 1")
    as_json = bool(getattr(args, "json", False))
    out = console()
    qa = make_qa(args)
    for lv in levels:
        qa.config.level(lv)  # an unknown level fails here, before any file is read
    for line in problems:
        out.print(styled(("skipped ", "yellow"), line))

    def report(done: int, total: int, result) -> None:
        if as_json:
            return
        head = f"[{done}/{total}] "
        if not result.ok:
            shown, why = safe(result.path), safe(result.error)
            out.print(styled(head, ("skipped ", "yellow"), why if why.startswith(shown) else f"{shown}: {why}"))
            return
        levels_text = ", ".join(f"{r.level} {r.created} new + {r.reused} stored" for r in result.reports)
        left_out = sorted({s.source or "speech" for s in result.speech if s.status.startswith("skipped")})
        speech_text = f", {' and '.join(left_out)} skipped (see the warning)" if left_out else ""
        out.print(styled(head, (Path(result.path).name, "bold"),
                         f": {levels_text}{speech_text}, {result.seconds:.1f} s"))

    run = RunContext(silent if args.quiet or as_json else TqdmBars())
    stdout = sys.stdout
    # --json: stdout is the JSON alone; anything a library prints there meanwhile goes to stderr
    with redirect_stdout(sys.stderr) if as_json else nullcontext():
        with engine_for(args, qa.config) as engine:
            results = Indexer(qa.memory, qa.backbones.captioner, engine=engine).index(files, levels, run=run,
                                                                                      on_file=report)
    bad = [r for r in results if not r.ok] + [None] * len(problems)
    if as_json:
        print(json.dumps({"files": [{"path": r.path, "video_id": r.video_id, "error": r.error, "seconds": r.seconds,
                                     "levels": [x.to_dict() for x in r.reports],
                                     "speech": [x.to_dict() for x in r.speech]} for r in results],
                          "problems": problems}, indent=1), file=stdout)
    else:
        made = sum(r.created for r in results)
        stored = sum(r.reused for r in results)
        out.print(styled(("total", "bold"), f": {sum(r.ok for r in results)}/{len(results)} videos indexed, "
                         f"{made} clips captioned, {stored} already stored"
                         + (f", {len(bad)} skipped" if bad else "")))
    if bad:
        print(f"vidrecall: {len(bad)} input(s) skipped (see above); the others are indexed (exit {EXIT_SOME_SKIPPED})",
              file=sys.stderr)
        return EXIT_SOME_FILES_BAD
    return 0


@contextmanager
def engine_for(args: argparse.Namespace, config: Config) -> Iterator[CaptionEngine]:
    """The engine `--engine` names (Ray's cluster is shut down after)."""
    if args.engine == "serial":
        yield SerialEngine()
    elif args.engine != "ray":
        yield PipelinedEngine()
    else:
        from vidrecall.indexing.ray_engine import CaptionerFactory, RayEngine, RaySettings

        factory = CaptionerFactory(config.captioner, dict(config.captioner_options or {}),
                                   tuple(args.captioner_url or ()))
        settings = RaySettings(address=args.address, workers=args.workers, num_cpus=args.num_cpus,
                               clips_per_task=args.clips_per_task, gpus_per_worker=args.gpus_per_worker)
        with RayEngine(factory, settings) as ray_engine:
            yield ray_engine


def add_many_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=["pipelined", "serial", "ray"], default="pipelined",
                   help="pipelined (this process: decoding runs ahead of captioning; the default), serial (one clip "
                        "after another), or ray (workers decode and caption, this process writes the store)")
    p.add_argument("--address", default=None, help="Ray cluster to join (e.g. auto); default: start a local Ray")
    p.add_argument("--workers", type=int, default=None, help="captioner workers (default: one per GPU, else per CPU)")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: --workers or all)")
    p.add_argument("--clips-per-task", type=int, default=4, help="clips one Ray task decodes and captions")
    p.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPUs each worker reserves (local VLMs)")
    p.add_argument("--captioner-url", action="append", default=[], metavar="URL",
                   help="a captioning server (vLLM, OpenAI-compatible); repeat: worker i uses URL i mod n")
