"""The Indexer: the one way a video's memory is built, whoever asks (CLI, web job, Python API, library,
baselines, the agent's zoom).

    index(targets, levels, speech, run)   register each file -> for each level, coarse first: plan the grid,
                                           skip what is stored, engine captions the rest -> speech lane
    caption(view, video_id, level, span)  one clip (the zoom), through the same caption step and leases
    keep(video, clip, run)                the only place a caption becomes a stored node

A file that cannot be read is reported in its FileIndexResult and skipped; the others go on. Interrupted
(Ctrl-C, kill, a captioner error, a cancelled web job), a rerun continues where this one stopped.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from vidrecall.core.config import Config
from vidrecall.core.errors import first_line
from vidrecall.core.progress import ProgressEvent
from vidrecall.core.run_context import RunContext
from vidrecall.core.types import TIME_EPS, MemoryNode, Span
from vidrecall.indexing.caption_step import CaptionedClip, caption_clips, sample_clip
from vidrecall.indexing.engines import CaptionEngine, LevelWork
from vidrecall.indexing.leases import LEASE_SECONDS, Claim, Leases
from vidrecall.indexing.pipelined import PipelinedEngine
from vidrecall.indexing.plans import CaptionPlan, level_grid, plan_caption
from vidrecall.indexing.reports import FileIndexResult, IndexReport
from vidrecall.indexing.speech import NOT_SPEECH_ERRORS, SpeechModels, SpeechReport, build_speech, skipped
from vidrecall.memory.memory import BAD_FILE_ERRORS, VideoMemory
from vidrecall.memory.protocol import Memory
from vidrecall.memory.store import MemoryStoreError, VideoRecord
from vidrecall.tools.captioners.base import Captioner
from vidrecall.tools.video import VideoReader

Target = str | Path | VideoRecord


class Indexer:
    def __init__(self, memory: VideoMemory, captioner: Captioner, *, engine: CaptionEngine | None = None,
                 lease_seconds: float = LEASE_SECONDS) -> None:
        self.memory = memory
        self.captioner = captioner
        self.engine: CaptionEngine = engine or PipelinedEngine()
        self.lease_seconds = lease_seconds
        self.speech_models = SpeechModels(memory.config)
        self._reader_lock = threading.Lock()
        self._reader: VideoReader | None = None
        self._reader_path = ""

    @property
    def config(self) -> Config:
        return self.memory.config

    # --- plans ----------------------------------------------------------------------------------------
    def plan(self, video: VideoRecord, level: str, span: Span, instruction: str | None = None) -> CaptionPlan:
        return plan_caption(self.config, self.captioner.id, video, level, span, instruction)

    def missing_clips(self, video: VideoRecord, level: str) -> list[Span]:
        """The clips of the level's grid with no stored caption yet (what `index` would caption)."""
        return [s for s in level_grid(self.config, video.duration, level)
                if self.memory.find(self.plan(video, level, s).key) is None]

    # --- whole videos -----------------------------------------------------------------------------------
    def index(self, targets: Sequence[Target], levels: Sequence[str] = ("coarse",), *, speech: bool = True,
              run: RunContext | None = None,
              on_file: Callable[[int, int, FileIndexResult], None] | None = None) -> list[FileIndexResult]:
        """Index every file at `levels` (coarse first), then its speech (when `config.speech` is on);
        `on_file(done, total, result)` after each file. Bad files are reported, never raised."""
        run = run or RunContext()
        names = [self.config.level(lv).name for lv in levels]  # an unknown level fails before any file is read
        results: list[FileIndexResult] = []
        registered: list[tuple[FileIndexResult, VideoRecord]] = []
        for target in targets:
            result = FileIndexResult(str(target.path if isinstance(target, VideoRecord) else target))
            results.append(result)
            try:
                record = target if isinstance(target, VideoRecord) else self.memory.register(target)
                result.video_id = record.id
                registered.append((result, record))
            except BAD_FILE_ERRORS as exc:
                _failed(result, exc)
        done = [0]

        def finished(result: FileIndexResult) -> None:
            done[0] += 1
            if len(results) > 1:
                run.report(ProgressEvent("videos", done[0], len(results), "video"))
            if on_file:
                on_file(done[0], len(results), result)

        if self.engine.whole_level:  # Ray spreads one level of every file at once
            self._index_batch(registered, names, speech, run)
            for result in results:
                finished(result)
            return results
        records = {id(result): record for result, record in registered}
        for result in results:  # file by file, in order; a file that could not be registered in its place
            if id(result) in records:
                self._index_batch([(result, records[id(result)])], names, speech, run)
            finished(result)
        return results

    def build(self, target: Target, levels: Sequence[str] = ("coarse",), *, speech: bool = True,
              run: RunContext | None = None) -> FileIndexResult:
        """As `index` for one file, raising its error (VideoError, one line) instead of reporting it."""
        (result,) = self.index([target], levels, speech=speech, run=run)
        if result.failure is not None:
            raise result.failure
        return result

    def _index_batch(self, batch: list[tuple[FileIndexResult, VideoRecord]], levels: list[str], speech: bool,
                     run: RunContext) -> None:
        started = time.monotonic()
        for level in levels:
            works = [self._work(record, level, run) for result, record in batch if result.ok]
            for work in works:
                work.start(run)
            try:
                self.engine.caption_level(self, [w for w in works if w.todo], run)
            finally:
                self.memory.flush()
            by_video = {w.video.id: w for w in works}
            for result, record in batch:
                if (done := by_video.get(record.id)) is None:
                    continue
                done.finish()
                result.reports.append(done.report)
                if done.failure is not None:
                    _failed(result, done.failure)
        for result, record in batch:  # speech per file, a lane that fails alone: never the file's failure
            if speech and result.ok:
                try:
                    result.speech = self.build_speech(record, run)
                except MemoryStoreError as exc:  # the store failed, not speech: as for captions
                    _failed(result, exc)
                except NOT_SPEECH_ERRORS:
                    raise
                except Exception as exc:  # noqa: BLE001 - build_speech skips its own; this is the last guard
                    result.speech = [skipped(record, "speech", exc)]
            result.seconds = round(time.monotonic() - started, 3)

    def _work(self, video: VideoRecord, level: str, run: RunContext) -> LevelWork:
        plans = [self.plan(video, level, s) for s in level_grid(self.config, video.duration, level)]
        todo = [p for p in plans if self.memory.find(p.key) is None]
        reused = len(plans) - len(todo)
        for _ in range(reused):
            run.meter.add_caption(level, reused=True)
        return LevelWork(video, level, todo, IndexReport(video.id, level, len(plans), 0, reused, 0, 0.0))

    def build_speech(self, video: VideoRecord, run: RunContext | None = None) -> list[SpeechReport]:
        """The speech lane of one video as `config.speech` says (resumable; a no-op when speech is off)."""
        return build_speech(self.memory, self.speech_models, video, run or RunContext())

    # --- one clip: the zoom ---------------------------------------------------------------------------
    def caption(self, view: Memory, video_id: str, level: str, span: Span, *, instruction: str | None = None,
                parent_id: int | None = None, run: RunContext | None = None) -> tuple[MemoryNode, bool]:
        """(node on `view`'s timeline, created): the stored caption of a span when there is one (no decoding,
        no model call), else a new one, made in the file the span mostly covers."""
        run = run or RunContext()
        record, local, _ = view.locate(video_id, span)
        plan = self.plan(record, level, local, instruction)
        with Leases(self.memory, self.lease_seconds) as leases:
            while (claim := leases.take(plan.key)) is Claim.HELD:  # another run is making it: wait for theirs
                run.check()
                leases.wait()
            if claim is Claim.STORED:
                run.meter.add_caption(plan.level.name, reused=True)
                stored = self.memory.find(plan.key)
                assert stored is not None
                return view.on_timeline(stored), False
            with self.reader(record) as reader:
                sampled = sample_clip(reader, plan)
            (clip,) = caption_clips(self.captioner, [sampled])
            node = self.keep(record, clip, run, parent_id=parent_id)
        return view.on_timeline(node), True

    # --- keeping a caption --------------------------------------------------------------------------------
    def keep(self, video: VideoRecord, clip: CaptionedClip, run: RunContext, *,
             parent_id: int | None = None) -> MemoryNode:
        """Account for, store and embed one new caption."""
        plan = clip.plan
        run.meter.add_frames(clip.frames_decoded)
        run.meter.record(clip.usage)
        run.meter.add_caption(plan.level.name, reused=False)
        if parent_id is None and plan.depth > 0:
            parent_id = self._parent_for(video.id, plan)
        (node,) = self.memory.add([MemoryNode(
            video_id=video.id, level=plan.level.name, depth=plan.depth, start=plan.span.start, end=plan.span.end,
            text=clip.text, captioner=self.captioner.id, prompt_hash=plan.prompt_hash, fps=plan.level.fps,
            frames=plan.frames, max_pixels=plan.level.max_pixels, instruction=plan.instruction,
            parent_id=parent_id, sampling=plan.level.sampling_tag, frame_times=clip.frame_times)])
        return node

    def _parent_for(self, video_id: str, plan: CaptionPlan) -> int | None:
        """The tightest, newest node one level up that contains the span."""
        coarser = self.config.level(plan.depth - 1).name
        around = [n for n in self.memory.nodes(video_id, coarser, plan.span)
                  if n.start <= plan.span.start + TIME_EPS and n.end >= plan.span.end - TIME_EPS]
        if not around:
            return None
        return min(around, key=lambda n: (n.end - n.start, -n.created_at)).id

    # --- decoding ---------------------------------------------------------------------------------------
    @contextmanager
    def reader(self, video: VideoRecord) -> Iterator[VideoReader]:
        """The indexer's one open reader (kept while the same video is captioned: opening a long video is not
        free), for the calling thread alone while the block runs."""
        with self._reader_lock:
            if self._reader is None or self._reader_path != video.path:
                self._close_reader()
                self._reader = VideoReader(video.path)
                self._reader_path = video.path
            yield self._reader

    def twin_reader(self, video: VideoRecord) -> VideoReader | None:
        """A reader of `video` of the caller's own, sharing the shared reader's scan of the file; None unless
        that reader is PyAV's (only its frames are known not to depend on where decoding started)."""
        with self.reader(video) as shared:
            return shared.twin() if shared.backend == "pyav" else None

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def close(self) -> None:
        with self._reader_lock:
            self._close_reader()
        self.memory.flush()


def _failed(result: FileIndexResult, exc: BaseException) -> str:
    result.failure = exc
    result.error = first_line(exc)
    return result.error
