"""The pipelined engine: decoding runs ahead of captioning, captions commit as they finish.

    decoder thread(s) ──(bounded queue: a few clips of frames)──► k caption workers ──► Indexer.keep
                                                                   (k = the captioner's requests in flight,
                                                                    clips per call = its batch size)

- The queue holds at most k x batch clips, so memory stays a few clips whatever the video's length,
  and the captioner never waits for the decoder unless decoding is the slower side.
- Change-aware levels decode every frame at the level's fps (15-30 decoded for each one kept), so two
  decoder threads, each with its own reader, take clips in turn: with one, a 60-min 640x360 coarse pass
  with local OCR kept both cores busy only 1.75 of 2 on average (two: 57 -> 47 s). A clip's frames are
  the same whichever decoder takes it (tools/video_colour.py), so the memory does not depend on which
  thread took which clip.
- Every caption is committed the moment it comes back, whatever order clips finish in: a kill loses only
  the clips in flight, and a rerun continues (the store is keyed by caption key, not by position).
- Leases (indexing/leases.py) as in every engine: a clip another run holds is skipped, then waited for.
"""
from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from vidrecall.core.run_context import RunContext
from vidrecall.indexing.caption_step import SampledClip, caption_clips, sample_clip
from vidrecall.indexing.engines import LevelWork
from vidrecall.indexing.leases import Claim, Leases
from vidrecall.indexing.plans import CaptionPlan
from vidrecall.memory.memory import BAD_FILE_ERRORS
from vidrecall.tools.video import VideoReader

if TYPE_CHECKING:
    from vidrecall.indexing.indexer import Indexer


def decoder_threads(plans: list[CaptionPlan]) -> int:
    """Two decoders for a change-aware level where there are two cores; one otherwise."""
    change_aware = any(plan.level.change_aware for plan in plans)
    return 2 if change_aware and (os.cpu_count() or 1) >= 2 else 1


class PipelinedEngine:
    name = "pipelined"
    whole_level = False

    def __init__(self, decoders: int | None = None) -> None:
        self.decoders = decoders

    def caption_level(self, indexer: "Indexer", works: list[LevelWork], run: RunContext) -> None:
        with Leases(indexer.memory, indexer.lease_seconds) as leases:
            for work in works:
                try:
                    _Pipeline(indexer, work, leases, run, self.decoders).run()
                except BAD_FILE_ERRORS as exc:
                    work.failed(exc)


class _Pipeline:
    """One video's clips of one level through decoder and caption threads."""

    def __init__(self, indexer: "Indexer", work: LevelWork, leases: Leases, run: RunContext,
                 decoders: int | None) -> None:
        self.indexer, self.work, self.leases, self.run_ctx = indexer, work, leases, run
        capacity = indexer.captioner.capacity
        self.workers, self.batch = capacity.in_flight, capacity.per_call
        self.decoders = max(1, decoders or decoder_threads(work.todo))
        self._decoders_left = self.decoders
        self._next = iter(work.todo)  # clips go to the decoders in time order, one at a time
        self._queue: queue.Queue[SampledClip | None] = queue.Queue(maxsize=self.workers * self.batch)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._error: BaseException | None = None

    def run(self) -> None:
        if not self.work.todo:
            return
        threads = [threading.Thread(target=self._guard, args=(self._decode_all, i), name=f"clip-decoder-{i}",
                                    daemon=True) for i in range(self.decoders)]
        threads += [threading.Thread(target=self._guard, args=(self._caption_loop,), name=f"caption-{i}",
                                     daemon=True) for i in range(self.workers)]
        for thread in threads:
            thread.start()
        try:
            while alive := [t for t in threads if t.is_alive()]:
                alive[0].join(timeout=0.1)
                if self.run_ctx.cancelled:
                    self._stop.set()
        finally:  # Ctrl-C or an error: stop the threads; what is committed stays, the leases go back at exit
            self._stop.set()
        if self._error is not None:
            raise self._error
        self.run_ctx.check()

    def _guard(self, fn: Callable[..., None], *args: object) -> None:
        try:
            fn(*args)
        except BaseException as exc:  # the first failure stops the pipeline and is raised by run()
            with self._lock:
                if self._error is None:
                    self._error = exc
            self._stop.set()

    # --- decoding -----------------------------------------------------------------------------------
    def _decode_all(self, decoder: int) -> None:
        """One decoder thread: the first uses the indexer's shared reader, the others one of their own."""
        reader = None
        try:
            if decoder:
                reader = self.indexer.twin_reader(self.work.video)
                if reader is None:  # one decoder it is
                    return
            waiting = [plan for plan in iter(self._next_plan, None) if not self._offer(plan, reader)]
            while waiting and not self._stop.is_set():  # clips other runs hold: theirs or ours later
                waiting = [plan for plan in waiting if not self._offer(plan, reader)]
                if waiting:
                    self.leases.wait()
        finally:
            if reader is not None:
                reader.close()
            with self._lock:
                self._decoders_left -= 1
                last = self._decoders_left == 0
            if last:  # the caption workers stop once every decoder is done
                for _ in range(self.workers):
                    self._put(None)

    def _next_plan(self) -> CaptionPlan | None:
        with self._lock:
            return next(self._next, None)

    def _offer(self, plan: CaptionPlan, reader: VideoReader | None) -> bool:
        """Handle one clip if nobody else is on it: True when it is stored or queued, False to retry later."""
        if self._stop.is_set():
            return True
        claim = self.leases.take(plan.key)
        if claim is Claim.HELD:
            return False
        if claim is Claim.STORED:
            self.work.found(plan, self.run_ctx)
            return True
        if reader is not None:
            self._put(sample_clip(reader, plan))
        else:
            with self.indexer.reader(self.work.video) as shared:
                sampled = sample_clip(shared, plan)
            self._put(sampled)
        return True

    def _put(self, item: SampledClip | None) -> None:
        while True:
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                if self._stop.is_set():
                    return

    def _get(self) -> SampledClip | None:
        while not self._stop.is_set():
            try:
                return self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
        return None

    # --- captioning ----------------------------------------------------------------------------------
    def _caption_loop(self) -> None:
        while True:
            first = self._get()
            if first is None:
                return
            group, last = [first], False
            while len(group) < self.batch:  # a batching captioner waits for a full batch, or the end
                item = self._get()
                if item is None:
                    last = True
                    break
                group.append(item)
            for clip in caption_clips(self.indexer.captioner, group):
                self.indexer.keep(self.work.video, clip, self.run_ctx)
                self.leases.release(clip.plan.key)
                self.work.made(clip, self.run_ctx)
            if last:
                return
