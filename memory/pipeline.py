"""The captioning pipeline of one level: decoding runs ahead of captioning, captions commit as they finish.

    decoder thread(s) ──(bounded queue: a few clips of frames)──► k caption workers ──► SQLite + FAISS
                                                                   (k = the captioner's max_concurrency,
                                                                    clips per call = its batch_size)

- The queue holds at most k x batch_size decoded clips, so memory stays a few clips whatever the video's
  length, and the captioner never waits for the decoder unless decoding is the slower side.
- Change-aware levels decode every frame at the level's fps (15-30 decoded for each one kept), so two
  decoder threads, each with its own reader, take clips in turn: with one, a 60-min 640x360 coarse pass
  with local OCR kept both cores busy only 1.75 of 2 on average, the captioner waiting for frames (two:
  57 -> 47 s). A clip's frames are the same whichever decoder takes it, after a seek or decoded on to
  (tools/video_colour.py), so the memory does not depend on which thread took which clip.
- Every caption is committed the moment it comes back, whatever order clips finish in: a kill loses only
  the clips in flight, and a rerun continues (the store is keyed by caption key, not by position).
- Before decoding a clip the pipeline claims its caption key (a lease in the store). A clip another live
  process holds is skipped, and waited for at the end: its caption arrives in the store (reused), or its
  lease expires or its holder dies and this run takes it over. So two runs on one store split the work
  instead of doing it twice. Leases are renewed while held and released on commit or exit.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vidrecall.core.accounting import CostMeter
from vidrecall.core.types import Span
from vidrecall.memory.owners import holder_is_dead, new_owner
from vidrecall.tools.change_sampling import ChangeSampled

if TYPE_CHECKING:
    from vidrecall.memory.memory import CaptionPlan, VideoMemory
    from vidrecall.memory.store import VideoRecord
    from vidrecall.tools.video import VideoReader

LEASE_SECONDS = 60.0  # a crashed holder on another machine delays its clips by at most this long
POLL_SECONDS = 0.25  # how often a run waiting for another's clips looks again


@dataclass(frozen=True)
class LevelProgress:
    """One step of a level's build, for progress bars and the web app: `done` of `total` clips stored.

    `span` is the clip that just finished (None for the first record, which counts clips stored before);
    `created` says whether this run captioned it (False: found stored, perhaps by another process)."""

    level: str
    done: int
    total: int
    span: Span | None = None
    created: bool = False


@dataclass
class PipelineCounts:
    frames_decoded: int = 0
    frames_sent: int = 0
    skipped_frames: int = 0
    created: int = 0
    found: int = 0  # clips another process captioned while this run waited for them


def capacity(captioner) -> tuple[int, int]:
    """(requests in flight, clips per request): an API captioner says max_concurrency (one clip per
    request); a local batching one says batch_size (one call at a time, several clips per call)."""
    concurrency = getattr(captioner, "max_concurrency", None)
    if concurrency:
        return max(1, int(concurrency)), 1
    return 1, max(1, int(getattr(captioner, "batch_size", 1) or 1))


def decoder_threads(plans: list["CaptionPlan"]) -> int:
    """Two decoders for a change-aware level where there are two cores; one otherwise."""
    change_aware = any(plan.level.change_aware for plan in plans)
    return 2 if change_aware and (os.cpu_count() or 1) >= 2 else 1


@dataclass
class _Decoded:
    plan: "CaptionPlan"
    sampled: ChangeSampled


class CaptionPipeline:
    """Caption `plans` (clips not yet stored) of one video and level; `run()` returns the counts."""

    def __init__(self, memory: "VideoMemory", video: "VideoRecord", plans: list["CaptionPlan"], *,
                 meter: CostMeter | None = None, on_clip: Callable[["CaptionPlan", bool], None] | None = None,
                 lease_seconds: float = LEASE_SECONDS, owner: str | None = None, decoders: int | None = None) -> None:
        self.memory = memory
        self.store = memory.store
        self.video = video
        self.plans = plans
        self.meter = meter
        self.on_clip = on_clip or (lambda plan, created: None)
        self.lease_seconds = lease_seconds
        self.owner = owner or new_owner()
        self.workers, self.batch = capacity(memory.captioner)
        self.decoders = max(1, decoders or decoder_threads(plans))
        self._decoders_left = self.decoders
        self._next = iter(plans)  # clips go to the decoders in time order, one at a time
        self.counts = PipelineCounts()
        self._queue: queue.Queue[_Decoded | None] = queue.Queue(maxsize=self.workers * self.batch)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._error: BaseException | None = None

    # --- running ------------------------------------------------------------------------------------
    def run(self) -> PipelineCounts:
        if not self.plans:
            return self.counts
        threads = [threading.Thread(target=self._guard, args=(self._decode_all, i), name=f"clip-decoder-{i}",
                                    daemon=True) for i in range(self.decoders)]
        threads += [threading.Thread(target=self._guard, args=(self._caption_loop,), name=f"caption-{i}",
                                     daemon=True) for i in range(self.workers)]
        for thread in threads:
            thread.start()
        renew_every = self.lease_seconds / 3
        renewed = time.monotonic()
        try:
            while alive := [t for t in threads if t.is_alive()]:
                alive[0].join(timeout=0.1)
                if time.monotonic() - renewed >= renew_every:
                    self.store.renew_claims(self.owner, self.lease_seconds)
                    renewed = time.monotonic()
        except BaseException:  # Ctrl-C: stop the threads, give the leases back, keep what is committed
            self._stop.set()
            raise
        finally:
            self._stop.set()
            self.store.release_all(self.owner)
        if self._error is not None:
            raise self._error
        return self.counts

    def _guard(self, fn: Callable[..., None], *args) -> None:
        try:
            fn(*args)
        except BaseException as exc:  # the first failure stops the pipeline and is raised by run()
            with self._lock:
                if self._error is None:
                    self._error = exc
            self._stop.set()

    # --- decoding -----------------------------------------------------------------------------------
    def _decode_all(self, decoder: int) -> None:
        """One decoder thread: the first uses the memory's shared reader, the others one of their own."""
        reader = None
        try:
            if decoder:
                reader = self.memory._twin_reader(self.video)
                if reader is None:  # one decoder it is
                    return
            waiting = [plan for plan in iter(self._next_plan, None) if not self._offer(plan, reader)]
            while waiting and not self._stop.is_set():  # clips other processes hold: theirs or ours later
                waiting = [plan for plan in waiting if not self._offer(plan, reader)]
                if waiting:
                    self._stop.wait(POLL_SECONDS)
        finally:
            if reader is not None:
                reader.close()
            with self._lock:
                self._decoders_left -= 1
                last = self._decoders_left == 0
            if last:  # the caption workers stop once every decoder is done
                for _ in range(self.workers):
                    self._put(None)

    def _next_plan(self) -> "CaptionPlan | None":
        with self._lock:
            return next(self._next, None)

    def _offer(self, plan: "CaptionPlan", reader: "VideoReader | None" = None) -> bool:
        """Handle one clip if nobody else is on it: True when it is stored or queued, False to retry later."""
        if self._stop.is_set():
            return True
        if self.store.find(plan.key) is not None:
            self._finished(plan, created=False)
            return True
        if not self.store.claim(plan.key, self.owner, self.lease_seconds, take_over=holder_is_dead):
            return False
        if self.store.find(plan.key) is not None:  # committed by its last holder just before we claimed
            self.store.release(plan.key, self.owner)
            self._finished(plan, created=False)
            return True
        sampled = self.memory._sample_clip(self.video, plan, reader)
        self._put(_Decoded(plan, sampled))
        return True

    def _put(self, item: _Decoded | None) -> None:
        while True:
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                if self._stop.is_set():
                    return

    def _get(self) -> _Decoded | None:
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
            self._caption(group)
            if last:
                return

    def _caption(self, group: list[_Decoded]) -> None:
        memory = self.memory
        results = memory._caption_many([memory._request(d.sampled.batch, d.plan) for d in group])
        for item, result in zip(group, results):
            memory._keep(self.video, item.plan, item.sampled.batch, result, None, self.meter,
                         decoded=item.sampled.decoded)
            self.store.release(item.plan.key, self.owner)
            with self._lock:
                self.counts.frames_decoded += item.sampled.decoded
                self.counts.frames_sent += len(item.sampled.batch)
                self.counts.skipped_frames += item.sampled.batch.skipped
            self._finished(item.plan, created=True)

    def _finished(self, plan: "CaptionPlan", created: bool) -> None:
        with self._lock:
            if created:
                self.counts.created += 1
            else:
                self.counts.found += 1
        if not created and self.meter:
            self.meter.add_caption(plan.level.name, reused=True)
        self.on_clip(plan, created)
