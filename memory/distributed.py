"""Indexing many videos on Ray: workers decode and caption, the driver alone writes the store.

    driver (this process)                          Ray cluster (local, or `--address auto`)
    register + plan every clip (cache keys) ──►    CaptionWorker actors, one per GPU / server connection:
    skip clips already stored                      open the video, sample the plan's frames, caption them,
    commit each returned caption (SQLite+FAISS) ◄──   return only (key, text, usage, frame counts)

- One task = one video's chunk of clips at one level; levels go coarse first, so a finer caption finds
  its coarser parent exactly as a serial run does. The store ends with the same keys and texts as
  `memory/batch_index.py` would write (the frames sampled, prompts and keys are the same code's).
- Decoded frames stay in the worker that decoded them; nothing but caption text crosses to the driver.
- A worker that dies mid-task is restarted by Ray and the task retried (`max_restarts`,
  `max_task_retries`); results are committed only when a task returns, and a key already stored is
  never stored again, so nothing is lost or duplicated.
- A file that cannot be read is reported and skipped; the other files go on.

Test hook: with VIDRECALL_TEST_CRASH_ONCE=<path> a worker exits hard on its first task when <path> does
not exist yet (creating it first), so a test can kill a worker mid-run exactly once.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vidrecall.core.types import CaptionRequest, CaptionResult, Usage
from vidrecall.core.errors import first_line
from vidrecall.memory.batch_index import FileIndexResult, file_errors

log = logging.getLogger(__name__)

CRASH_ENV = "VIDRECALL_TEST_CRASH_ONCE"
IN_FLIGHT = 2  # tasks queued per worker: one running, one ready, so a worker never waits on the driver


@dataclass(frozen=True)
class RaySettings:
    """`address`: None starts a local Ray (`num_cpus` CPUs); "auto" or "ray://host:10001" joins a cluster.
    `workers`: captioner actors (default: one per GPU, else one per CPU, at most 8).
    `clips_per_task`: clips one task decodes and captions. `gpus_per_worker`: GPUs each actor reserves."""

    address: str | None = None
    workers: int | None = None
    num_cpus: int | None = None
    clips_per_task: int = 4
    gpus_per_worker: float = 0.0
    max_restarts: int = 3


@dataclass(frozen=True)
class CaptionerFactory:
    """How a worker builds its captioner: a spec and options, plus one base URL per worker when captioning
    goes to several servers (worker i talks to base_urls[i % len]), so it pickles to any node."""

    spec: str
    options: dict = field(default_factory=dict)
    base_urls: tuple[str, ...] = ()

    def __call__(self, worker: int):
        from vidrecall.tools.captioners.factory import make_captioner

        options = dict(self.options)
        if self.base_urls:
            options["base_url"] = self.base_urls[worker % len(self.base_urls)]
        return make_captioner(self.spec, options)


@dataclass(frozen=True)
class ClipDone:
    key: str
    text: str
    usage: Usage
    frames: int  # decoded to choose the frames sent (more than sent on change-aware levels)
    skipped: int
    sent: int = 0  # frames given to the captioner
    frame_times: list[float] | None = None  # the frames sent, on change-aware levels (stored with the node)


class CaptionWorker:
    """A Ray actor holding one captioner (model weights or a server connection) for its whole life."""

    def __init__(self, factory: Callable[[int], object], worker: int, expected_id: str) -> None:
        self.captioner = factory(worker)
        if self.captioner.id != expected_id:
            raise RuntimeError(f"worker {worker} built captioner {self.captioner.id!r}, but the store's keys "
                               f"are for {expected_id!r}; give every node the same captioner settings")
        self.captioner.preflight()

    def caption_chunk(self, path: str, plans: list) -> list[ClipDone]:
        """Decode and caption a few clips of one video (CaptionPlans: spans, sampling, prompts, keys)."""
        _crash_once_for_tests()
        from vidrecall.memory.memory import sample_clip
        from vidrecall.tools.video import VideoReader

        with VideoReader(path) as reader:
            sampled = [sample_clip(reader, p) for p in plans]
        batches = [s.batch for s in sampled]
        requests = [CaptionRequest(frames=b, prompt=p.prompt, level=p.level.name, instruction=p.instruction)
                    for b, p in zip(batches, plans)]
        results = (self.captioner.caption_batch(requests) if len(requests) > 1
                   else [self.captioner.caption(requests[0])])
        if len(results) != len(plans):
            raise RuntimeError(f"captioner {self.captioner.id!r} returned {len(results)} captions for {len(plans)} clips")
        return [ClipDone(p.key, r.text, r.usage, s.decoded, s.batch.skipped, len(s.batch),
                         [round(t, 3) for t in s.batch.timestamps] if p.level.change_aware else None)
                for p, r, s in zip(plans, results, sampled)]

    def pid(self) -> int:
        return os.getpid()


def _crash_once_for_tests() -> None:
    marker = os.environ.get(CRASH_ENV)
    if marker and not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)


class RayIndexer:
    """Index files at levels on Ray; results like `batch_index.index_files`."""

    def __init__(self, memory, factory: Callable[[int], object], settings: RaySettings | None = None) -> None:
        self.memory = memory
        self.factory = factory
        self.settings = settings or RaySettings()
        self._actors: list = []
        self._started_ray = False

    # --- cluster ----------------------------------------------------------------------------------
    def _connect(self):
        import ray

        if not ray.is_initialized():
            s = self.settings
            from vidrecall.core.quiet import verbose

            # Ray's own start-up notices are library noise unless --verbose
            kwargs = {"include_dashboard": False, "log_to_driver": verbose(),
                      "logging_level": logging.INFO if verbose() else logging.ERROR}
            if s.address:
                ray.init(address=s.address, **kwargs)
            else:
                ray.init(num_cpus=s.num_cpus or s.workers or os.cpu_count(), **kwargs)
            self._started_ray = True
        return ray

    def _workers(self, ray) -> list:
        if self._actors:
            return self._actors
        s = self.settings
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        count = s.workers or (gpus if gpus and s.gpus_per_worker else min(8, int(resources.get("CPU", 1))))
        env = {CRASH_ENV: os.environ[CRASH_ENV]} if os.environ.get(CRASH_ENV) else {}
        actor = ray.remote(CaptionWorker).options(
            num_cpus=1, num_gpus=s.gpus_per_worker, max_restarts=s.max_restarts, max_task_retries=s.max_restarts,
            runtime_env={"env_vars": env} if env else None)
        self._actors = [actor.remote(self.factory, i, self.memory.captioner.id) for i in range(max(1, count))]
        return self._actors

    def shutdown(self) -> None:
        import ray

        for a in self._actors:
            ray.kill(a)
        self._actors = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False

    # --- indexing ------------------------------------------------------------------------------------
    def index(self, files: list[Path], levels: tuple[str, ...], *, progress: bool = True,
              on_result: Callable[[int, int, FileIndexResult], None] | None = None) -> list[FileIndexResult]:
        from tqdm.auto import tqdm

        ray = self._connect()
        results = [FileIndexResult(str(p)) for p in files]
        records = {}
        for i, path in enumerate(files):
            try:
                records[i] = self.memory.register(path)
                results[i].video_id = records[i].id
            except file_errors() as exc:
                results[i].error = first_line(exc)
        started = {i: time.monotonic() for i in records}
        workers = self._workers(ray)
        from vidrecall.memory.memory import IndexReport

        for level in levels:
            name = self.memory.config.level(level).name
            queue, reports = [], {}
            for i, rec in records.items():
                if results[i].error:
                    continue
                plans = [self.memory.plan(rec, name, s) for s in self.memory.level_spans(rec, name)]
                todo = [p for p in plans if self.memory.store.find(p.key) is None]
                reports[i] = IndexReport(rec.id, name, len(plans), 0, len(plans) - len(todo), 0, 0.0)
                step = max(1, self.settings.clips_per_task)
                queue += [(i, todo[c:c + step]) for c in range(0, len(todo), step)]
            with tqdm(total=sum(len(c) for _, c in queue), disable=not progress, unit="clip",
                      desc=f"{name} captions (ray)") as bar:
                for i, chunk, outcome in self._run(ray, workers, queue, records):
                    if isinstance(outcome, BaseException):
                        results[i].error = first_line(outcome)
                        continue
                    plan_of = {p.key: p for p in chunk}
                    for clip in outcome:
                        self._commit(records[i], plan_of[clip.key], clip, reports[i])
                    bar.update(len(outcome))
            self.memory.flush()
            for i, report in reports.items():
                results[i].reports.append(report)
        for i, rec in records.items():  # speech is not distributed: the driver transcribes (a no-op when off)
            if results[i].error is None and hasattr(self.memory, "build_speech"):
                try:
                    self.memory.build_speech(rec, progress=progress)
                except file_errors() as exc:
                    results[i].error = first_line(exc)
        for i, res in enumerate(results):
            if i in started:
                res.seconds = round(time.monotonic() - started[i], 3)
            if on_result:
                on_result(i + 1, len(results), res)
        return results

    def _run(self, ray, workers: list, queue: list, records: dict):
        """Yield (file index, chunk, list of ClipDone or the file's error) as tasks finish; each worker has
        at most IN_FLIGHT tasks, and gets the next chunk when one of its own finishes (slow workers get less)."""
        pending: dict = {}
        queue = list(reversed(queue))

        def submit(worker) -> None:
            if queue:
                i, chunk = queue.pop()
                pending[worker.caption_chunk.remote(records[i].path, chunk)] = (i, chunk, worker)

        for worker in workers:
            for _ in range(IN_FLIGHT):
                submit(worker)
        while pending:
            (ready,), _ = ray.wait(list(pending), num_returns=1)
            i, chunk, worker = pending.pop(ready)
            submit(worker)
            try:
                outcome = ray.get(ready)
            except Exception as exc:  # noqa: BLE001 - a bad file's error names that file; the rest go on
                cause = getattr(exc, "cause", None) or exc
                if not isinstance(cause, file_errors()):
                    raise
                outcome = cause
            yield i, chunk, outcome

    def _commit(self, record, plan, clip: ClipDone, report) -> None:
        if self.memory.store.find(plan.key) is not None:  # another writer got there first: keep theirs
            report.reused += 1
            return
        self.memory.commit(record, plan, CaptionResult(clip.text, clip.usage), frames=clip.frames,
                           frame_times=clip.frame_times)
        report.created += 1
        report.frames += clip.frames
        report.skipped_frames += clip.skipped
        report.frames_sent += clip.sent

    def __enter__(self) -> "RayIndexer":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

