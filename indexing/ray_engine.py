"""The Ray engine: workers decode and caption, the driver alone writes the store.

    driver (this process)                          Ray cluster (local, or `--address auto`)
    plan every clip, claim its lease ──────────►   CaptionWorker actors, one per GPU / server connection:
    skip clips already stored                      open the video, sample_clip + caption_clips (the same
    Indexer.keep each returned caption ◄────────   code as every engine), return only CaptionedClips

- One task = one video's chunk of clips at one level; levels go coarse first, so a finer caption finds
  its coarser parent exactly as a serial run does. The store ends with the same keys and texts as the
  serial and pipelined engines write.
- Decoded frames stay in the worker that decoded them; nothing but caption text crosses to the driver.
- A worker that dies mid-task is restarted by Ray and the task retried (`max_restarts`,
  `max_task_retries`); results are committed only when a task returns, and a key already stored is
  never stored again, so nothing is lost or duplicated.
- Leases as in every engine: a clip another run holds is left to it and waited for.
- A file that cannot be read is reported and skipped; the other files go on.
- `--address host:port` is checked before Ray is asked to join it (a TCP connect and a gRPC hello, a few
  seconds at most): Ray itself retries an unreachable address for many minutes, printing C++ warnings,
  deaf to Ctrl-C. An unreachable cluster is one line (RayUnreachable), exit 2.
- Quiet unless --verbose: no worker output, no "(raylet) A worker died" / "Task ... will be retried"
  notices on the driver's stdout (they would break `index --json`); a worker restart is still survived.

Test hook: with VIDRECALL_TEST_CRASH_ONCE=<path> a worker exits hard on its first task when <path> does
not exist yet (creating it first), so a test can kill a worker mid-run exactly once.
"""
from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidrecall.core.run_context import RunContext
from vidrecall.indexing.caption_step import CaptionedClip, caption_clips, sample_clip
from vidrecall.indexing.engines import LevelWork
from vidrecall.indexing.leases import Claim, Leases
from vidrecall.indexing.plans import CaptionPlan
from vidrecall.memory.memory import BAD_FILE_ERRORS
from vidrecall.tools.captioners.base import Captioner

if TYPE_CHECKING:
    from vidrecall.indexing.indexer import Indexer

log = logging.getLogger(__name__)

CRASH_ENV = "VIDRECALL_TEST_CRASH_ONCE"
IN_FLIGHT = 2  # tasks queued per worker: one running, one ready, so a worker never waits on the driver
CONNECT_TIMEOUT_S = 3.0  # for the reachability check of --address (each of: TCP connect, gRPC hello)
CLIENT_PORT = 10001  # Ray Client's port when a ray:// address names none
HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # preface + SETTINGS


class RayUnreachable(RuntimeError):
    """The Ray cluster `--address` names cannot be reached; one line with the fix."""


def _unreachable(address: str, why: str) -> RayUnreachable:
    return RayUnreachable(f"cannot reach the Ray cluster at {address} ({why}); start it with `ray start --head` "
                          "or drop --address to start a local Ray")


def bootstrap_address(address: str) -> tuple[str, int] | None:
    """(host, port) that joining `address` connects to first; None when Ray starts a local instance
    ("local") or the address is not one this check understands (Ray's own error then says why)."""
    text = address.strip()
    if text == "local":
        return None
    if text == "auto":
        try:
            from ray._private.services import canonicalize_bootstrap_address

            text = canonicalize_bootstrap_address("auto") or ""
        except ConnectionError as exc:
            raise RayUnreachable(f"--address auto: no running Ray cluster found ({_first(exc)}); start one with "
                                 "`ray start --head` or drop --address to start a local Ray") from None
        except Exception:  # noqa: BLE001 - Ray's internals moved: leave the check to ray.init
            return None
        if not text:
            return None
    client = "://" in text
    if client:
        text = text.split("://", 1)[1].rstrip("/")
    m = re.fullmatch(r"\[(.+)\](?::(\d+))?", text) or re.fullmatch(r"([^:/]+)(?::(\d+))?", text)
    if m is None:
        return None
    if m.group(2) is None:
        return (m.group(1), CLIENT_PORT) if client else None
    return m.group(1), int(m.group(2))


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """RayUnreachable unless something answers at `address` the way a Ray cluster (gRPC over HTTP/2) does,
    within `timeout` per step."""
    target = bootstrap_address(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=timeout) as sock:
            if os.environ.get("RAY_USE_TLS", "").lower() in ("1", "true"):
                return  # TLS first: the plain gRPC hello below cannot be answered
            sock.settimeout(timeout)
            sock.sendall(HTTP2_HELLO)
            reply = sock.recv(9)
    except socket.timeout:
        raise _unreachable(address, f"no answer within {timeout:.0f} s") from None
    except OSError as exc:
        raise _unreachable(address, exc.strerror or _first(exc)) from None
    if len(reply) < 4 or reply[3] != 0x04:  # an HTTP/2 server answers the preface with its SETTINGS frame
        raise _unreachable(address, "something listens there, but it does not answer like a Ray cluster")


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


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
    options: dict[str, Any] = field(default_factory=dict)
    base_urls: tuple[str, ...] = ()

    def __call__(self, worker: int) -> Captioner:
        from vidrecall.tools.captioners.factory import make_captioner

        options = dict(self.options)
        if self.base_urls:
            options["base_url"] = self.base_urls[worker % len(self.base_urls)]
        return make_captioner(self.spec, options)


class CaptionWorker:
    """A Ray actor holding one captioner (model weights or a server connection) for its whole life."""

    def __init__(self, factory: Callable[[int], Captioner], worker: int, expected_id: str) -> None:
        self.captioner = factory(worker)
        if self.captioner.id != expected_id:
            raise RuntimeError(f"worker {worker} built captioner {self.captioner.id!r}, but the store's keys "
                               f"are for {expected_id!r}; give every node the same captioner settings")
        self.captioner.preflight()

    def caption_chunk(self, path: str, plans: list[CaptionPlan]) -> list[CaptionedClip]:
        """Decode and caption a few clips of one video."""
        _crash_once_for_tests()
        from vidrecall.tools.video import VideoReader

        with VideoReader(path) as reader:
            sampled = [sample_clip(reader, p) for p in plans]
        return caption_clips(self.captioner, sampled)

    def pid(self) -> int:
        return os.getpid()


def _crash_once_for_tests() -> None:
    marker = os.environ.get(CRASH_ENV)
    if marker and not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)


Chunk = tuple[LevelWork, list[CaptionPlan]]


class RayEngine:
    name = "ray"
    whole_level = True

    def __init__(self, factory: Callable[[int], Captioner], settings: RaySettings | None = None) -> None:
        self.factory = factory
        self.settings = settings or RaySettings()
        self._actors: list[Any] = []
        self._started_ray = False
        self._logs_were: bool | None = None

    # --- cluster ----------------------------------------------------------------------------------
    def _connect(self) -> Any:
        import ray

        from vidrecall.core.quiet import verbose

        self._quiet(not verbose())
        if not ray.is_initialized():
            s = self.settings
            # Ray's own start-up notices are library noise unless --verbose
            level = logging.INFO if verbose() else logging.ERROR
            if s.address:
                check_reachable(s.address)
                try:
                    ray.init(address=s.address, include_dashboard=False, log_to_driver=verbose(),
                             logging_level=level)
                except ConnectionError as exc:
                    raise _unreachable(s.address, _first(exc)) from None
            else:
                ray.init(num_cpus=s.num_cpus or s.workers or os.cpu_count(), include_dashboard=False,
                         log_to_driver=verbose(), logging_level=level)
            self._started_ray = True
        return ray

    def _quiet(self, on: bool) -> None:
        """Ray prints its error notices ("(raylet) A worker died ...", "Task ... will be retried") to the
        driver's stdout from a thread, whatever log_to_driver says; its module switch turns that off while
        this engine runs (restored at shutdown)."""
        try:
            import ray._private.worker as ray_worker
        except ImportError:
            return
        if not hasattr(ray_worker, "_worker_logs_enabled"):
            return
        if self._logs_were is None:
            self._logs_were = ray_worker._worker_logs_enabled
        ray_worker._worker_logs_enabled = not on and self._logs_were

    def _workers(self, ray: Any, captioner_id: str) -> list[Any]:
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
        self._actors = [actor.remote(self.factory, i, captioner_id) for i in range(max(1, count))]
        return self._actors

    def shutdown(self) -> None:
        import ray

        for a in self._actors:
            ray.kill(a)
        self._actors = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False
        if self._logs_were is not None:
            import ray._private.worker as ray_worker

            ray_worker._worker_logs_enabled = self._logs_were
            self._logs_were = None

    def __enter__(self) -> "RayEngine":
        """Checks that `--address` can be reached (seconds), before any file is read; joins it lazily."""
        if self.settings.address:
            check_reachable(self.settings.address)
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # --- one level over every file ------------------------------------------------------------------------
    def caption_level(self, indexer: "Indexer", works: list[LevelWork], run: RunContext) -> None:
        ray = self._connect()
        workers = self._workers(ray, indexer.captioner.id)
        with Leases(indexer.memory, indexer.lease_seconds) as leases:
            queue, held = self._claimed_chunks(works, leases, run)
            while queue or held:
                for work, chunk, outcome in self._run(ray, workers, queue):
                    if isinstance(outcome, BaseException):
                        work.failed(outcome)
                        continue
                    for clip in outcome:
                        if indexer.memory.find(clip.plan.key) is None:
                            indexer.keep(work.video, clip, run)
                            work.made(clip, run)
                        else:  # another writer got there first: keep theirs
                            work.found(clip.plan, run)
                        leases.release(clip.plan.key)
                if held:  # clips other runs held: theirs by now, or ours to take over
                    leases.wait()
                    queue, held = self._claimed_chunks(held, leases, run)
                else:
                    queue = []

    def _claimed_chunks(self, works: list[LevelWork], leases: Leases,
                        run: RunContext) -> tuple[list[Chunk], list[LevelWork]]:
        """Chunks of the clips this run now holds, and the works (with only their held clips left) to retry."""
        step = max(1, self.settings.clips_per_task)
        queue: list[Chunk] = []
        retry: list[LevelWork] = []
        for work in works:
            if work.failure is not None:
                continue
            mine: list[CaptionPlan] = []
            held: list[CaptionPlan] = []
            for plan in work.todo:
                claim = leases.take(plan.key)
                if claim is Claim.STORED:
                    work.found(plan, run)
                else:
                    (mine if claim is Claim.MINE else held).append(plan)
            queue += [(work, mine[c:c + step]) for c in range(0, len(mine), step)]
            if held:
                work.todo = held
                retry.append(work)
        return queue, retry

    def _run(self, ray: Any, workers: list[Any], queue: list[Chunk]
             ) -> Iterator[tuple[LevelWork, list[CaptionPlan], list[CaptionedClip] | BaseException]]:
        """Yield (work, chunk, captions or the file's error) as tasks finish; each worker has at most
        IN_FLIGHT tasks, and gets the next chunk when one of its own finishes (slow workers get less)."""
        pending: dict[Any, tuple[LevelWork, list[CaptionPlan], Any]] = {}
        todo = list(reversed(queue))

        def submit(worker: Any) -> None:
            if todo:
                work, chunk = todo.pop()
                pending[worker.caption_chunk.remote(work.video.path, chunk)] = (work, chunk, worker)

        for worker in workers:
            for _ in range(IN_FLIGHT):
                submit(worker)
        while pending:
            (ready,), _ = ray.wait(list(pending), num_returns=1)
            work, chunk, worker = pending.pop(ready)
            submit(worker)
            try:
                outcome = ray.get(ready)
            except Exception as exc:  # noqa: BLE001 - a bad file's error names that file; the rest go on
                cause = exc.cause if isinstance(exc, ray.exceptions.RayTaskError) and exc.cause else exc
                if not isinstance(cause, BAD_FILE_ERRORS):
                    raise
                outcome = cause
            yield work, chunk, outcome
