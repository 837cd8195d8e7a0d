"""How a level's missing clips get captioned: the `CaptionEngine` interface and the serial engine.

An engine gets `LevelWork`s (one video's clips of one level still to caption), claims each clip's lease,
samples and captions it through `caption_clips`, and hands each caption to `Indexer.keep`. Engines
differ only in how they spread that over threads or machines: serial (one clip after another, in this
thread), pipelined (decoding ahead of a captioner that takes several requests; indexing/pipelined.py) and
Ray (workers on a cluster; indexing/ray_engine.py). A file that turns out unreadable sets `error` on its
work and the others go on; any other error stops the run (what is committed stays).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from vidrecall.core.progress import ProgressEvent
from vidrecall.core.run_context import RunContext
from vidrecall.indexing.caption_step import CaptionedClip, caption_clips, sample_clip
from vidrecall.indexing.leases import Claim, Leases
from vidrecall.indexing.plans import CaptionPlan
from vidrecall.indexing.reports import IndexReport
from vidrecall.memory.memory import BAD_FILE_ERRORS
from vidrecall.memory.store import VideoRecord

if TYPE_CHECKING:
    from vidrecall.indexing.indexer import Indexer


@dataclass
class LevelWork:
    """One video's level: the clips still to caption, and the report that counts what happened."""

    video: VideoRecord
    level: str
    todo: list[CaptionPlan]
    report: IndexReport
    failure: BaseException | None = None  # why this file could not be captioned (a bad file)
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, run: RunContext) -> None:
        """The first progress event: what was stored before."""
        run.report(ProgressEvent(f"{self.level} captions", self.report.reused, self.report.clips, level=self.level))

    def made(self, clip: CaptionedClip, run: RunContext) -> None:
        with self._lock:
            r = self.report
            r.created += 1
            r.frames += clip.frames_decoded
            r.frames_sent += clip.frames_sent
            r.skipped_frames += clip.frames_skipped
            done = r.created + r.reused
        run.report(ProgressEvent(f"{self.level} captions", done, r.clips, level=self.level, span=clip.plan.span,
                                 created=True))

    def found(self, plan: CaptionPlan, run: RunContext) -> None:
        """A clip another run captioned while this one waited for it."""
        run.meter.add_caption(plan.level.name, reused=True)
        with self._lock:
            self.report.reused += 1
            self.report.found += 1
            done = self.report.created + self.report.reused
        run.report(ProgressEvent(f"{self.level} captions", done, self.report.clips, level=self.level, span=plan.span))

    def failed(self, exc: BaseException) -> None:
        self.failure = exc

    def finish(self) -> None:
        self.report.seconds = round(time.monotonic() - self.started, 3)


class CaptionEngine(Protocol):
    name: str
    whole_level: bool  # True: takes one level of every file at once (Ray); False: one file at a time

    def caption_level(self, indexer: "Indexer", works: list[LevelWork], run: RunContext) -> None:
        """Caption every clip of `works` (one level), keeping each as it finishes."""
        ...


class SerialEngine:
    """One clip (or one batch, for a batching captioner) after another, in the calling thread."""

    name = "serial"
    whole_level = False

    def caption_level(self, indexer: "Indexer", works: list[LevelWork], run: RunContext) -> None:
        per_call = indexer.captioner.capacity.per_call
        with Leases(indexer.memory, indexer.lease_seconds) as leases:
            for work in works:
                try:
                    self._one(indexer, work, leases, per_call, run)
                except BAD_FILE_ERRORS as exc:
                    work.failed(exc)

    def _one(self, indexer: "Indexer", work: LevelWork, leases: Leases, per_call: int, run: RunContext) -> None:
        pending = list(work.todo)
        while pending:
            held, mine = [], []
            for plan in pending:
                run.check()
                claim = leases.take(plan.key)
                if claim is Claim.STORED:
                    work.found(plan, run)
                elif claim is Claim.HELD:
                    held.append(plan)
                else:
                    mine.append(plan)
                if len(mine) == per_call:
                    self._caption(indexer, work, mine, leases, run)
                    mine = []
            self._caption(indexer, work, mine, leases, run)
            pending = held
            if pending:
                leases.wait()

    @staticmethod
    def _caption(indexer: "Indexer", work: LevelWork, plans: list[CaptionPlan], leases: Leases,
                 run: RunContext) -> None:
        if not plans:
            return
        with indexer.reader(work.video) as reader:
            sampled = [sample_clip(reader, plan) for plan in plans]
        for clip in caption_clips(indexer.captioner, sampled):
            indexer.keep(work.video, clip, run)
            leases.release(clip.plan.key)
            work.made(clip, run)
