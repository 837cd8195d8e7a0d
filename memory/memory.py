"""VideoMemory: the one object the rest of vidrecall uses to caption, remember and recall video spans.

A caption is identified by its caption key (video content hash, level, span, sampling, pixel cap, captioner,
rendered prompt). Asking for a caption that is already stored costs nothing: no decoding, no model call.
New captions are committed to SQLite at once and embedded into the FAISS index; the index file is written
when a build ends and on close, and any node it misses (another process, a crash) is embedded on the next
open or search.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm.auto import tqdm

from vidrecall import prompts
from vidrecall.core.config import Config, Level
from vidrecall.core.sqlite_files import narrow, private_dir
from vidrecall.memory.embedder import Embedder, load_embedder
from vidrecall.memory.pipeline import LEASE_SECONDS, CaptionPipeline, LevelProgress
from vidrecall.memory.store import MemoryStore, VideoRecord
from vidrecall.memory.vector_index import IndexFileError, VectorIndex, sidecar_path
from vidrecall.core.accounting import CostMeter
from vidrecall.tools.captioners.base import Captioner, CaptionerError
from vidrecall.tools.change_sampling import ChangeSampled, keep_changed
from vidrecall.tools.video import VideoError, VideoReader, probe
from vidrecall.core.types import TIME_EPS, CaptionRequest, CaptionResult, FrameBatch, MemoryNode, Span, stable_hash

log = logging.getLogger(__name__)

DB_NAME = "memory.db"
INDEX_NAME = "nodes.faiss"
# A last grid clip shorter than this fraction of a clip joins the clip before it instead of standing alone.
TAIL_FRACTION = 0.1


@dataclass
class IndexReport:
    """What one `build_level` did."""

    video_id: str
    level: str
    clips: int
    created: int
    reused: int
    frames: int
    seconds: float
    skipped_frames: int = 0
    frames_sent: int = 0  # frames given to the captioner (fewer than `frames` on change-aware levels)
    found: int = 0  # clips another process captioned while this run waited for them (also in `reused`)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CaptionPlan:
    """Everything decided before decoding: the span, how it is sampled, the prompt, and so the cache key."""

    level: Level
    depth: int
    span: Span
    prompt: str
    prompt_hash: str
    frames: int
    instruction: str | None
    key: str


class VideoMemory:
    """The facade: callers above memory/ use these methods, never `.store` or `.index` directly.

    videos: `register`, `videos`; grids: `level_spans`, `missing_clips`; captions: `plan`, `caption`,
    `build_level`; recall: `nodes`, `nodes_by_id`, `count`, `search`; prompt text: `render` (with the
    spans its entries are numbered by).
    """

    def __init__(self, config: Config, captioner: Captioner, embedder: Embedder | None = None,
                 store_dir: str | Path | None = None) -> None:
        self.config = config
        self.captioner = captioner
        self.store_dir = Path(store_dir).expanduser() if store_dir else config.store_path
        private_dir(self.store_dir)  # 0700 when new: captions, prompts and questions live here
        for existing in (self.store_dir / INDEX_NAME, sidecar_path(self.store_dir / INDEX_NAME)):
            narrow(existing)  # written world-readable by an older version
        self.store = MemoryStore(self.store_dir / DB_NAME)
        self.embedder = embedder or load_embedder(config.embedder)
        self._index_lock = threading.RLock()
        self._reader_lock = threading.Lock()
        self._reader: VideoReader | None = None
        self._reader_path = ""
        self._index_dirty = False
        self._synced_to = -1  # the last node id known to be in the index
        self.lease_seconds = LEASE_SECONDS  # how long a claim on a clip being captioned lasts unrenewed
        self.index = self._open_index()
        self.sync_index()

    @property
    def index_path(self) -> Path:
        return self.store_dir / INDEX_NAME

    # --- videos ---------------------------------------------------------------------------------
    def register(self, path: str | Path) -> VideoRecord:
        """Probe and hash a video file and remember it; the id is its content hash. VideoError on bad files."""
        info = probe(path)
        size = Path(path).stat().st_size
        rec = VideoRecord(id=self.store.video_id(path), path=str(Path(path).resolve()), duration=info.duration,
                          fps=info.fps, width=info.width, height=info.height, frame_count=info.frame_count,
                          size_bytes=size, added_at=time.time())
        return self.store.upsert_video(rec)

    def videos(self) -> list[VideoRecord]:
        """Every video this store knows."""
        return self.store.videos()

    def level_spans(self, video: VideoRecord, level: str, within: Span | None = None) -> list[Span]:
        """The level's clip grid over the whole video (consecutive clips of clip_seconds), optionally only
        the clips overlapping `within`. Grid-aligned, so the same region always maps to the same clips."""
        lv = self.config.level(level)
        spans = Span(0.0, video.duration).split(lv.clip_seconds)
        if len(spans) > 1 and spans[-1].duration < lv.clip_seconds * TAIL_FRACTION:
            spans[-2:] = [Span(spans[-2].start, spans[-1].end)]
        if within is not None:
            spans = [s for s in spans if s.overlap(within) > TIME_EPS]
        return spans

    # --- captions -------------------------------------------------------------------------------
    def plan(self, video: VideoRecord, level: str, span: Span, instruction: str | None = None) -> CaptionPlan:
        """The cache key and prompt of a caption, without decoding anything."""
        lv = self.config.level(level)
        try:  # floats: caption_key would hash an int start 2 differently from 2.0
            span = Span(float(span.start), float(span.end)).clip_to(float(video.duration))
        except ValueError:
            raise VideoError(f"{video.path}: span {span.start:.2f}-{span.end:.2f} s lies outside the video "
                             f"(0 to {video.duration:.2f} s)") from None
        instruction = (instruction or "").strip() or None
        prompt = prompts.render(lv.prompt, seconds=_seconds_text(span.duration), instruction=instruction)
        prompt_hash = stable_hash(prompt)
        frames = lv.frames_for(span.duration)
        node = MemoryNode(video_id=video.id, level=lv.name, depth=self.config.depth(lv.name), start=span.start,
                          end=span.end, text="", captioner=self.captioner.id, prompt_hash=prompt_hash, fps=lv.fps,
                          frames=frames, max_pixels=lv.max_pixels, instruction=instruction,
                          sampling=lv.sampling_tag)
        return CaptionPlan(lv, node.depth, span, prompt, prompt_hash, frames, instruction, node.key)

    def caption(self, video: VideoRecord, level: str, span: Span, *, instruction: str | None = None,
                parent_id: int | None = None, meter: CostMeter | None = None) -> tuple[MemoryNode, bool]:
        """(node, created): the stored caption when there is one (no decoding, no model call), else a new one."""
        plan = self.plan(video, level, span, instruction)
        stored = self.store.find(plan.key)
        if stored is not None:
            if meter:
                meter.add_caption(plan.level.name, reused=True)
            return stored, False
        sampled = self._sample_clip(video, plan)
        result = self.captioner.caption(self._request(sampled.batch, plan))
        return self._keep(video, plan, sampled.batch, result, parent_id, meter, decoded=sampled.decoded), True

    def build_level(self, video: VideoRecord, level: str = "coarse", *, progress: bool = True,
                    meter: CostMeter | None = None, on_progress: Callable[[LevelProgress], None] | None = None,
                    pipelined: bool = True) -> IndexReport:
        """Caption every clip of the level's grid not already stored, committing each as it finishes.

        Decoding runs ahead of captioning and as many requests are in flight as the captioner takes
        (memory/pipeline.py); clips another process is captioning are waited for, not redone.
        `on_progress` gets a LevelProgress first with the clips already stored, then after every clip
        (from worker threads). `pipelined=False` is the old decode-a-group-then-wait path (benchmarks).
        Interrupted (Ctrl-C, kill, a captioner error), a rerun continues where this one stopped.
        """
        started = time.monotonic()
        name = self.config.level(level).name
        plans = [self.plan(video, name, s) for s in self.level_spans(video, name)]
        todo = [p for p in plans if self.store.find(p.key) is None]
        reused = len(plans) - len(todo)
        if meter:
            for _ in range(reused):
                meter.add_caption(name, reused=True)
        if on_progress:
            on_progress(LevelProgress(name, reused, len(plans)))
        if pipelined:
            return self._build_pipelined(video, name, plans, todo, started, progress, meter, on_progress)
        batch_size = max(1, int(getattr(self.captioner, "batch_size", 1) or 1))
        frames = skipped = 0
        try:
            with tqdm(total=len(plans), initial=reused, disable=not progress, unit="clip",
                      desc=f"{name} captions") as bar:
                for start in range(0, len(todo), batch_size):
                    group = todo[start:start + batch_size]
                    decoded, missing = self._caption_group(video, group, meter)
                    frames, skipped = frames + decoded, skipped + missing
                    bar.update(len(group))
                    if on_progress:
                        on_progress(LevelProgress(name, reused + start + len(group), len(plans), group[-1].span, True))
        finally:
            self.flush()
        return IndexReport(video.id, name, len(plans), len(todo), reused, frames,
                           round(time.monotonic() - started, 3), skipped, frames_sent=frames)

    def _build_pipelined(self, video: VideoRecord, name: str, plans: list[CaptionPlan], todo: list[CaptionPlan],
                         started: float, progress: bool, meter: CostMeter | None,
                         on_progress: Callable[[LevelProgress], None] | None) -> IndexReport:
        reused = len(plans) - len(todo)
        done = [reused]
        lock = threading.Lock()
        with tqdm(total=len(plans), initial=reused, disable=not progress, unit="clip",
                  desc=f"{name} captions") as bar:
            def on_clip(plan: CaptionPlan, created: bool) -> None:
                with lock:
                    done[0] += 1
                    bar.update(1)
                    record = LevelProgress(name, done[0], len(plans), plan.span, created)
                if on_progress:
                    on_progress(record)

            pipeline = CaptionPipeline(self, video, todo, meter=meter, on_clip=on_clip,
                                       lease_seconds=self.lease_seconds)
            try:
                counts = pipeline.run()
            finally:
                self.flush()
        return IndexReport(video.id, name, len(plans), counts.created, reused + counts.found, counts.frames_decoded,
                           round(time.monotonic() - started, 3), counts.skipped_frames,
                           frames_sent=counts.frames_sent, found=counts.found)

    def _caption_group(self, video: VideoRecord, group: list[CaptionPlan],
                       meter: CostMeter | None) -> tuple[int, int]:
        """Decode, caption and keep a few clips; (frames decoded, frames skipped). Their frames are freed
        on return, before the next group is decoded."""
        batches = [self._sample(video, p) for p in group]
        results = self._caption_many([self._request(b, p) for b, p in zip(batches, group)])
        for plan, batch, result in zip(group, batches, results):
            self._keep(video, plan, batch, result, None, meter)
        return sum(len(b) for b in batches), sum(b.skipped for b in batches)

    def _caption_many(self, requests: list[CaptionRequest]) -> list[CaptionResult]:
        if len(requests) == 1:
            return [self.captioner.caption(requests[0])]
        results = self.captioner.caption_batch(requests)
        if len(results) != len(requests):
            raise CaptionerError(f"captioner {self.captioner.id!r} returned {len(results)} captions for "
                                 f"{len(requests)} clips; fix its caption_batch")
        return results

    def _sample(self, video: VideoRecord, plan: CaptionPlan) -> FrameBatch:
        return self._sample_clip(video, plan).batch

    def _sample_clip(self, video: VideoRecord, plan: CaptionPlan, reader: VideoReader | None = None) -> ChangeSampled:
        """The frames the captioner gets, and how many were decoded to choose them (by `reader`, owned by the
        calling thread, when given; else by the memory's one shared reader)."""
        if reader is not None:
            return sample_clip(reader, plan)
        with self._reader_lock:
            return sample_clip(self._reader_for(video.path), plan)

    def _twin_reader(self, video: VideoRecord) -> VideoReader | None:
        """A reader of `video` of the caller's own, sharing the shared reader's scan of the file; None unless
        that reader is PyAV's (only its frames are known not to depend on where decoding started)."""
        with self._reader_lock:
            shared = self._reader_for(video.path)
            return shared.twin() if shared.backend == "pyav" else None

    def _reader_for(self, path: str) -> VideoReader:
        """One open reader, kept while the same video is captioned (opening a long video is not free)."""
        if self._reader is None or self._reader_path != path:
            self._close_reader()
            self._reader = VideoReader(path)
            self._reader_path = path
        return self._reader

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    @staticmethod
    def _request(batch: FrameBatch, plan: CaptionPlan) -> CaptionRequest:
        return CaptionRequest(frames=batch, prompt=plan.prompt, level=plan.level.name, instruction=plan.instruction)

    def _keep(self, video: VideoRecord, plan: CaptionPlan, batch: FrameBatch, result: CaptionResult,
              parent_id: int | None, meter: CostMeter | None, decoded: int | None = None) -> MemoryNode:
        return self.commit(video, plan, result, frames=len(batch) if decoded is None else decoded,
                           parent_id=parent_id, meter=meter,
                           frame_times=[round(t, 3) for t in batch.timestamps] if plan.level.change_aware else None)

    def commit(self, video: VideoRecord, plan: CaptionPlan, result: CaptionResult, *, frames: int,
               parent_id: int | None = None, meter: CostMeter | None = None,
               frame_times: list[float] | None = None) -> MemoryNode:
        """Account for, store and embed one new caption (made here, or by a worker elsewhere: the Ray engine)."""
        if meter:
            meter.add_frames(frames)
            meter.record(result.usage)
            meter.add_caption(plan.level.name, reused=False)
        if parent_id is None and plan.depth > 0:
            parent_id = self._parent_for(video.id, plan)
        before = self.store.last_node_id()
        node = self.store.add(MemoryNode(
            video_id=video.id, level=plan.level.name, depth=plan.depth, start=plan.span.start, end=plan.span.end,
            text=(result.text or "").strip(), captioner=self.captioner.id, prompt_hash=plan.prompt_hash,
            fps=plan.level.fps, frames=plan.frames, max_pixels=plan.level.max_pixels,
            instruction=plan.instruction, parent_id=parent_id, sampling=plan.level.sampling_tag,
            frame_times=frame_times))
        with self._index_lock:
            self.index.add([node.id], self.embedder.embed([node.text]))
            self._index_dirty = True
            if self._synced_to == before and node.id == before + 1:  # nobody else added one meanwhile
                self._synced_to = node.id
        return node

    def add_nodes(self, nodes: list[MemoryNode]) -> list[MemoryNode]:
        """Store and embed ready-made nodes (speech segments); ones already stored come back unchanged."""
        before = self.store.last_node_id()
        stored = [self.store.add(node) for node in nodes]
        fresh = [n for n in stored if n.id > before]
        if fresh:
            with self._index_lock:
                self.index.add([n.id for n in fresh], self.embedder.embed([n.text for n in fresh]))
                self._index_dirty = True
                if self._synced_to == before and self.store.last_node_id() == max(n.id for n in fresh):
                    self._synced_to = max(n.id for n in fresh)
        self.flush()
        return stored

    def build_speech(self, video: VideoRecord, *, progress: bool = True, meter: CostMeter | None = None):
        """Transcribe / read the subtitles of `video` into speech nodes as `config.speech` says (resumable;
        a no-op when speech is off, the video has no audio, or it is already done). See memory/speech.py."""
        from vidrecall.memory.speech import build_speech

        return build_speech(self, video, progress=progress, meter=meter)

    def _parent_for(self, video_id: str, plan: CaptionPlan) -> int | None:
        """The tightest, newest node one level up that contains the span."""
        coarser = self.config.level(plan.depth - 1).name
        around = [n for n in self.store.nodes(video_id, coarser, plan.span)
                  if n.start <= plan.span.start + TIME_EPS and n.end >= plan.span.end - TIME_EPS]
        if not around:
            return None
        return min(around, key=lambda n: (n.end - n.start, -n.created_at)).id

    # --- recall -----------------------------------------------------------------------------------
    def nodes(self, video_id: str, level: str | list[str] | None = None,
              window: Span | None = None) -> list[MemoryNode]:
        """Stored nodes by start; the speech lane is left out when speech is off unless asked for by level."""
        return self.store.nodes(video_id, self._default_levels(level), window)

    def _default_levels(self, levels):
        if levels is None and self.config.speech.source == "off":  # e.g. videolucy over a store with speech
            return [lv.name for lv in self.config.levels]
        return levels

    def nodes_by_id(self, node_ids) -> list[MemoryNode]:
        """The stored nodes with these ids, in the order given (duplicates and unknown ids left out)."""
        ids = list(dict.fromkeys(node_ids))
        found = self.store.get_many(ids)
        return [found[i] for i in ids if i in found]

    def count(self, video_id: str | None = None, level: str | list[str] | None = None) -> int:
        """How many captions are stored (for one video, one level)."""
        return self.store.count(video_id, level)

    def missing_clips(self, video: VideoRecord, level: str) -> list[Span]:
        """The clips of the level's grid that have no stored caption yet (what build_level would caption)."""
        return [s for s in self.level_spans(video, level) if self.store.find(self.plan(video, level, s).key) is None]

    @staticmethod
    def render(nodes: list[MemoryNode], duration: float, *, max_tokens: int | None = None,
               relevance: dict[int, float] | None = None):
        """The nodes as the text an LLM reads, with the spans its entries are numbered by (RenderedMemory)."""
        from vidrecall.memory.render import render_numbered

        return render_numbered(nodes, duration, max_tokens=max_tokens, relevance=relevance)

    def search(self, text: str, video_id: str, *, levels: str | list[str] | None = None,
               window: Span | None = None, k: int = 10) -> list[tuple[MemoryNode, float]]:
        """Stored captions of one video closest in meaning to `text`, best first, with cosine scores."""
        return self.search_among(text, self.store.node_ids(video_id, self._default_levels(levels), window), k=k)

    def search_among(self, text: str, allowed: set[int], *, k: int = 10) -> list[tuple[MemoryNode, float]]:
        """Stored captions among the node ids `allowed` (several videos: a library) closest to `text`."""
        if not allowed or k <= 0:
            return []
        if self.store.last_node_id() != self._synced_to:  # another process (or a crash) added captions
            self.sync_index()
        query = self.embedder.embed([text])[0]
        with self._index_lock:
            hits = self.index.search(query, k, allowed)
        found = self.store.get_many(i for i, _ in hits)
        return [(found[i], score) for i, score in hits if i in found]

    # --- the FAISS file -----------------------------------------------------------------------------
    def _open_index(self) -> VectorIndex:
        """The saved index when it was built for this store with this embedder; else an empty one to fill."""
        fresh = VectorIndex(self.embedder.dim, self.embedder.id, source=self.store.store_id)
        try:
            index = VectorIndex.load(self.index_path)
        except IndexFileError as exc:
            if self.index_path.exists():
                log.warning("%s; rebuilding it from %s", exc, DB_NAME)
            return fresh
        if index.source != fresh.source:
            log.warning("%s belongs to another memory store; rebuilding it from %s", self.index_path, DB_NAME)
            return fresh
        if index.embedder != self.embedder.id or index.dim != self.embedder.dim:
            log.warning("%s was built with embedder %r; rebuilding it for %r", self.index_path, index.embedder,
                        self.embedder.id)
            return fresh
        return index

    def sync_index(self) -> None:
        """Make the index hold exactly the stored nodes: drop strays, embed what is missing, then save."""
        with self._index_lock:
            last = self.store.last_node_id()
            stored, indexed = self.store.node_ids(), self.index.ids()
            stray, missing = indexed - stored, stored - indexed
            if stray:
                self.index.remove(stray)
            if missing:
                with tqdm(total=len(missing), disable=len(missing) < 500, unit="caption",
                          desc="embedding memory") as bar:
                    for rows in self.store.texts(missing):
                        self.index.add([i for i, _ in rows], self.embedder.embed([t for _, t in rows]))
                        bar.update(len(rows))
            self._index_dirty |= bool(stray or missing)
            self._synced_to = last
        self.flush()

    def flush(self) -> None:
        """Write the index file if it changed since it was last written."""
        with self._index_lock:
            if self._index_dirty:
                self.index.save(self.index_path)
                self._index_dirty = False

    def close(self) -> None:
        self.flush()
        with self._reader_lock:
            self._close_reader()
        self.store.close()

    def __enter__(self) -> "VideoMemory":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def sample_plan(reader: VideoReader, plan: CaptionPlan) -> FrameBatch:
    """The frames a plan's caption is made from (the same in every process that decodes the video)."""
    return sample_clip(reader, plan).batch


def sample_clip(reader: VideoReader, plan: CaptionPlan) -> ChangeSampled:
    """As sample_plan, with how many frames were decoded to choose them (more on change-aware levels)."""
    lv = plan.level
    if lv.change_aware:
        # keep_changed shrinks only the frames it keeps (why: its docstring)
        frames = reader.iter_frames(plan.span, fps=lv.fps, stand_ins=True)
        return keep_changed(frames, plan.span, threshold=lv.change_threshold, relative=lv.change_relative,
                            text=lv.change_text, min_keep_seconds=lv.min_keep_seconds, max_pixels=lv.max_pixels,
                            source=reader.path)
    if lv.fps is not None:
        batch = reader.sample(plan.span, fps=lv.fps, max_pixels=lv.max_pixels)
    else:
        batch = reader.sample(plan.span, num_frames=plan.frames, max_pixels=lv.max_pixels)
    return ChangeSampled(batch, len(batch) + batch.skipped)


def _seconds_text(seconds: float) -> str:
    return f"{round(seconds, 1):g}"
