"""`vidrecall index DIR|GLOB|FILE …` over many videos, serially or on Ray (`--engine ray`).

Progress is printed per file and in total; a bad file is reported and skipped, the rest are indexed;
like the one-file form, a rerun continues where an interrupted run stopped (per clip).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vidrecall.cli.common import console, make_qa, styled
from vidrecall.core.config import ConfigError

EXIT_SOME_FILES_BAD = 3


def wants_many(args: argparse.Namespace) -> bool:
    """More than one target, a folder or a glob, or a non-serial engine: this module's form."""
    paths = list(args.video)
    return len(paths) > 1 or getattr(args, "engine", "serial") != "serial" or not Path(paths[0]).expanduser().is_file()


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
            out.print(styled(head, ("skipped ", "yellow"), f"{result.path}: {result.error}"))
            return
        levels_text = ", ".join(f"{r.level} {r.created} new + {r.reused} stored" for r in result.reports)
        out.print(styled(head, (Path(result.path).name, "bold"), f": {levels_text}, {result.seconds:.1f} s"))

    progress = not args.quiet and not as_json
    if args.engine == "ray":
        from vidrecall.memory.distributed import CaptionerFactory, RayIndexer, RaySettings

        cfg = qa.config
        factory = CaptionerFactory(cfg.captioner if isinstance(cfg.captioner, str) else str(cfg.captioner),
                                   dict(cfg.captioner_options or {}), tuple(args.captioner_url or ()))
        settings = RaySettings(address=args.address, workers=args.workers, num_cpus=args.num_cpus,
                               clips_per_task=args.clips_per_task, gpus_per_worker=args.gpus_per_worker)
        with RayIndexer(qa.memory, factory, settings) as engine:
            results = engine.index(files, levels, progress=progress, on_result=report)
    else:
        from vidrecall.memory.batch_index import index_files

        results = index_files(qa.memory, files, levels, progress=progress, on_result=report)
    bad = [r for r in results if not r.ok] + [None] * len(problems)
    if as_json:
        print(json.dumps({"files": [{"path": r.path, "video_id": r.video_id, "error": r.error, "seconds": r.seconds,
                                     "levels": [x.to_dict() for x in r.reports]} for r in results],
                          "problems": problems}, indent=1))
    else:
        made = sum(r.created for r in results)
        stored = sum(r.reused for r in results)
        out.print(styled(("total", "bold"), f": {sum(r.ok for r in results)}/{len(results)} videos indexed, "
                         f"{made} clips captioned, {stored} already stored"
                         + (f", {len(bad)} skipped" if bad else "")))
    if bad:
        print(f"vidrecall: {len(bad)} input(s) skipped (see above); the others are indexed", file=sys.stderr)
        return EXIT_SOME_FILES_BAD
    return 0


def add_many_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=["serial", "ray"], default="serial",
                   help="serial (this process) or ray (workers decode and caption, this process writes the store)")
    p.add_argument("--address", default=None, help="Ray cluster to join (e.g. auto); default: start a local Ray")
    p.add_argument("--workers", type=int, default=None, help="captioner workers (default: one per GPU, else per CPU)")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: --workers or all)")
    p.add_argument("--clips-per-task", type=int, default=4, help="clips one Ray task decodes and captions")
    p.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPUs each worker reserves (local VLMs)")
    p.add_argument("--captioner-url", action="append", default=[], metavar="URL",
                   help="a captioning server (vLLM, OpenAI-compatible); repeat: worker i uses URL i mod n")
