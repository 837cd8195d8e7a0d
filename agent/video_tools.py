"""vidrecall's memory as tools: one typed tool set over a store, for the MCP server (`vidrecall mcp`), the
search strategy's LLM (agent/strategies/search.py) and Python callers alike.

    list_videos()                              the store's videos, and the libraries opened here
    index_video(video, levels, speech)         build the memory (resumable: stored clips cost nothing)
    search_memory(query, video, levels, k)     stored captions and speech closest in meaning: times, scores
    read_span(video, start, end, level)        what is stored for a range, captions and speech together
    look(video, start, end, instruction)       the zoom: caption a span one level finer, instructed; cached
    frames(video, times)                       small JPEGs of the frames on screen at those times
    ask(video, question, options)              the whole agent (the roof's VideoQA, injected as `ask`)

Every tool takes `video` as a video file, a folder or glob of videos (a library seen as one timeline), or
a video id from list_videos; times are seconds on that timeline. Every call counts into the tool set's one
CostMeter (`meter`), and each result carries what that call cost (`cost`). Bad input raises
ToolInputError, one line. The result types hold text read from the video as it is; `as_text()` and
`fenced()` render a result for a model with that text fenced as data (`<<<DATA … DATA>>>`), the way the
prompts fence it. Long tools (index_video, look, ask) report progress to `on_progress`, or to the callback
`reporting(...)` sets for the calls made inside it.

The parameter annotations (`Annotated[..., Field(description=...)]`) and the docstrings are the tool
descriptions: the MCP server and the LLM's tool schemas are generated from them (`args_model`,
`tool_schema`), so there is one definition of each tool.
"""
from __future__ import annotations

import contextvars
import inspect
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from vidrecall.core.accounting import CostMeter
from vidrecall.core.config import Config
from vidrecall.core.errors import first_line
from vidrecall.core.progress import ProgressEvent, ProgressSink
from vidrecall.core.result import Answer, Cost, Progress, Step
from vidrecall.core.run_context import RunContext
from vidrecall.core.types import SPEECH_LEVEL, TIME_EPS, MemoryNode, Span, Usage, fmt_time
from vidrecall.indexing.indexer import Indexer
from vidrecall.indexing.plans import timeline_grid
from vidrecall.memory.library import LibraryRecord, is_library_target, open_library
from vidrecall.memory.library_memory import LibraryMemory
from vidrecall.memory.memory import VideoMemory
from vidrecall.memory.protocol import Memory
from vidrecall.memory.store import VideoRecord
from vidrecall.prompts import quote_data

TOOL_NAMES = ("list_videos", "index_video", "search_memory", "read_span", "look", "frames", "ask")
LONG_TOOLS = ("index_video", "look", "ask")  # the ones that report progress
READ_ONLY_TOOLS = ("list_videos", "search_memory", "read_span", "frames")
MAX_LOOK_CAPTIONS = 12  # one look: the span itself plus at most this many minus one finer clips inside it
MAX_READ_ENTRIES = 80
MAX_FRAMES = 16
TEXT_CHARS = 600  # per entry in as_text(); the result itself keeps the whole text

ProgressCallback = Callable[[str, "float | None", "float | None"], None]  # (message, done, total)
Asker = Callable[..., Iterable[object]]  # VideoQA.stream(video, question, options): Steps, Progress, the Answer


class ToolInputError(ValueError):
    """A tool was given something it cannot work on (no such video, a bad time range); one line."""


# --- what the tools take ----------------------------------------------------------------------------
VideoArg = Annotated[str, Field(description="a video file path, a folder or glob of videos (a library seen as "
                                            "one timeline), or a video id from list_videos")]
Seconds = Annotated[float, Field(description="seconds from the start of the video (of the library's timeline)")]
Levels = Annotated[list[str] | None, Field(description="memory levels to read, e.g. ['coarse', 'fine', 'speech']; "
                                                       "omitted: every level and speech")]


# --- what they return ---------------------------------------------------------------------------------
class SpanText(BaseModel):
    """One stored entry: a caption of a span at one level, or what was said in it (level 'speech')."""

    start: float
    end: float
    level: str
    text: str
    video: str = ""  # the file it was read from
    node_id: int | None = None
    speaker: str | None = None
    instruction: str | None = None  # what the captioner was told to look for, when anything


class MemoryHit(SpanText):
    score: float


class VideoEntry(BaseModel):
    video: str  # the id to pass back as `video`
    path: str
    duration: float
    kind: Literal["video", "library"] = "video"
    captions: dict[str, int] = Field(default_factory=dict)  # stored captions per level
    speech: int = 0  # stored speech segments


class VideoList(BaseModel):
    videos: list[VideoEntry]
    cost: Cost = Field(default_factory=Cost)


class IndexedFile(BaseModel):
    path: str
    video_id: str = ""
    levels: dict[str, dict[str, int]] = Field(default_factory=dict)  # level -> clips, created, reused
    speech: int = 0  # speech segments stored for the file after indexing
    error: str | None = None


class IndexResult(BaseModel):
    video: str
    duration: float
    files: list[IndexedFile]
    cost: Cost = Field(default_factory=Cost)


class SearchResult(BaseModel):
    query: str
    video: str
    hits: list[MemoryHit]
    cost: Cost = Field(default_factory=Cost)


class SpanReading(BaseModel):
    video: str
    start: float
    end: float
    captions: list[SpanText]
    speech: list[SpanText]
    more: int = 0  # entries left out beyond MAX_READ_ENTRIES
    cost: Cost = Field(default_factory=Cost)


class LookResult(BaseModel):
    video: str
    start: float
    end: float
    level: str  # the level the captions were made at
    instruction: str
    captions: list[SpanText]
    created: int
    reused: int
    note: str = ""
    cost: Cost = Field(default_factory=Cost)


class Frame(BaseModel):
    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    time: float  # on the timeline
    video: str  # the file
    width: int
    height: int
    jpeg: bytes = Field(repr=False)


class FramesResult(BaseModel):
    video: str
    frames: list[Frame]
    cost: Cost = Field(default_factory=Cost)


# --- rendering for a model: text from the video fenced as data ----------------------------------------------
def _secs(t: float) -> str:
    return f"{round(t, 1):g}"


def _entry(e: SpanText, many_files: bool) -> str:
    where = f" {Path(e.video).name}" if many_files and e.video else ""
    score = f" score {e.score:.2f}" if isinstance(e, MemoryHit) else ""
    who = f" {e.speaker}" if e.speaker else ""
    head = f"[{_secs(e.start)}-{_secs(e.end)} s, {fmt_time(e.start)}-{fmt_time(e.end)}] {e.level}{who}{where}{score}"
    text = e.text if len(e.text) <= TEXT_CHARS else e.text[: TEXT_CHARS - 1] + "…"
    return f"{head}\n{quote_data(text)}"


def _files(entries: list[SpanText]) -> bool:
    return len({e.video for e in entries}) > 1


def as_text(result: BaseModel) -> str:
    """A result as a model reads it: one header line, then each entry's times, level and fenced text."""
    if isinstance(result, SearchResult):
        lines = [f"{len(result.hits)} hits for {result.query!r} (times in seconds; the text is quoted data):"]
        lines += [_entry(h, _files(list(result.hits))) for h in result.hits]
        return "\n".join(lines) if result.hits else f"nothing stored matches {result.query!r}"
    if isinstance(result, SpanReading):
        every = list(result.captions) + list(result.speech)
        lines = [f"{_secs(result.start)}-{_secs(result.end)} s: {len(result.captions)} captions, "
                 f"{len(result.speech)} speech segments (the text is quoted data)"
                 + (f"; {result.more} more left out" if result.more else "")]
        lines += [_entry(e, _files(every)) for e in sorted(every, key=lambda e: (e.start, e.level != SPEECH_LEVEL))]
        return "\n".join(lines)
    if isinstance(result, LookResult):
        lines = [f"looked at {_secs(result.start)}-{_secs(result.end)} s at level {result.level}: {result.created} "
                 f"new captions, {result.reused} reused" + (f" ({result.note})" if result.note else "")]
        lines += [_entry(c, _files(list(result.captions))) for c in result.captions]
        return "\n".join(lines)
    if isinstance(result, VideoList):
        if not result.videos:
            return "no videos in this store yet: index one with index_video"
        return "\n".join(f"{v.video}  {v.kind}  {_secs(v.duration)} s  {v.path}  captions "
                         f"{v.captions or 'none'}  speech {v.speech}" for v in result.videos)
    if isinstance(result, IndexResult):
        parts = []
        for f in result.files:
            done = ", ".join(f"{lv} {c['clips']} clips ({c['created']} new, {c['reused']} reused)"
                             for lv, c in f.levels.items())
            parts.append(f"{f.path}: " + (f"skipped ({f.error})" if f.error else f"{done or 'nothing'}; "
                                                                                   f"speech {f.speech} segments"))
        return f"indexed {result.video} ({_secs(result.duration)} s):\n" + "\n".join(parts)
    if isinstance(result, FramesResult):
        return f"{len(result.frames)} frames of {result.video} at " + ", ".join(
            f"{_secs(f.time)} s" for f in result.frames)
    if isinstance(result, Answer):
        evidence = "\n".join(f"[{e.label()}] {e.level}\n{quote_data(e.text[:TEXT_CHARS])}" for e in result.evidence)
        return (f"answer: {result.summary()}\nstop: {result.stop or '—'}; decided by {result.decided_by or '?'}"
                + (f"\nerror: {result.error}" if result.error else "") + (f"\nevidence:\n{evidence}" if evidence else ""))
    return result.model_dump_json()


def fenced(result: BaseModel) -> dict[str, Any]:
    """The result's JSON dump with every `text` read from the video fenced as data (frames' bytes left out)."""
    return _fence(result.model_dump(mode="json", exclude={"frames": {"__all__": {"jpeg"}}}
                                    if isinstance(result, FramesResult) else None))


def _fence(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: quote_data(v) if k == "text" and isinstance(v, str) else _fence(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fence(v) for v in value]
    return value


# --- progress -------------------------------------------------------------------------------------------
_REPORT: contextvars.ContextVar[ProgressCallback | None] = contextvars.ContextVar("vidrecall_tool_progress",
                                                                                  default=None)


@contextmanager
def reporting(callback: ProgressCallback) -> Iterator[None]:
    """Tool calls made inside report their progress to `callback` (per call: the MCP server's request)."""
    token = _REPORT.set(callback)
    try:
        yield
    finally:
        _REPORT.reset(token)


@dataclass
class _Target:
    view: Memory
    record: VideoRecord | LibraryRecord

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def duration(self) -> float:
        return float(self.record.duration)


# --- the tools ------------------------------------------------------------------------------------------
class VideoTools:
    """The tool set over one store. `memory` and `indexer` may be functions that build them on first use (the
    embedder and the captioner load there); `ask` is the roof's `VideoQA.stream`; `caption_budget` (captions
    still allowed) bounds `look`."""

    def __init__(self, memory: VideoMemory | Callable[[], VideoMemory], indexer: Indexer | Callable[[], Indexer], *,
                 ask: Asker | None = None, meter: CostMeter | None = None, on_progress: ProgressCallback | None = None,
                 caption_budget: Callable[[], int] | None = None, frame_side: int = 320) -> None:
        self._memory = memory
        self._indexer = indexer
        self._ask = ask
        self.meter = meter if meter is not None else CostMeter()
        self.on_progress = on_progress
        self.caption_budget = caption_budget
        self.frame_side = frame_side
        self._opened: dict[str, _Target] = {}
        self._reader_lock = threading.Lock()
        self._reader: Any = None

    @property
    def memory(self) -> VideoMemory:
        if not isinstance(self._memory, VideoMemory):
            self._memory = self._memory()
        return self._memory

    @property
    def config(self) -> Config:
        return self.memory.config

    @property
    def indexer(self) -> Indexer:
        if not isinstance(self._indexer, Indexer):
            self._indexer = self._indexer()
        return self._indexer

    def pin(self, view: Memory, record: VideoRecord | LibraryRecord) -> str:
        """Make `record.id` name this (already opened) view: the search strategy's question target."""
        self._opened[record.id] = _Target(view, record)
        return record.id

    # --- the tool functions -----------------------------------------------------------------------------
    def list_videos(self) -> VideoList:
        """List the videos in this memory store (and the libraries opened in this session): for each, the id to
        pass as `video`, its file, duration, and how many captions per level and speech segments are stored."""
        meter = self.meter.child()
        levels = [lv.name for lv in self.config.levels]
        entries = [VideoEntry(video=r.id, path=r.path, duration=round(r.duration, 3),
                              captions={lv: n for lv in levels if (n := self.memory.count(r.id, lv))},
                              speech=self.memory.count(r.id, SPEECH_LEVEL)) for r in self.memory.videos()]
        libraries = {t.id: t for t in self._opened.values() if isinstance(t.view, LibraryMemory)}
        for target in libraries.values():
            assert isinstance(target.view, LibraryMemory)
            files = [e.record.id for e in target.view.library.entries]
            counts = {lv: sum(self.memory.count(f, lv) for f in files) for lv in levels}
            entries.append(VideoEntry(video=target.id, path=target.record.path, duration=round(target.duration, 3),
                                      kind="library", captions={lv: n for lv, n in counts.items() if n},
                                      speech=sum(self.memory.count(f, SPEECH_LEVEL) for f in files)))
        return VideoList(videos=entries, cost=_cost(meter))

    def index_video(self, video: VideoArg,
                    levels: Annotated[list[str] | None, Field(description="levels to build, coarse first; omitted: "
                                                                          "the coarsest level only")] = None,
                    speech: Annotated[bool, Field(description="also build the speech lane when the profile "
                                                              "hears speech")] = True) -> IndexResult:
        """Index a video (or every file of a folder/glob) into the memory: caption each level's clips and
        transcribe its speech. Resumable: what is stored is reused and costs nothing. Long: reports progress."""
        names = self._levels(levels, default=[self.config.levels[0].name], speech=False)
        target = self._target(video)
        if isinstance(target.view, LibraryMemory):
            records = [e.record for e in target.view.library.entries]
        elif isinstance(target.record, VideoRecord):
            records = [target.record]
        else:  # a library id whose files this tool set did not open
            raise ToolInputError(f"index_video: give the folder or glob of library {target.id}")
        meter = self.meter.child()
        report = self._reporter()
        run = RunContext(_progress_events(report), meter)
        results = self.indexer.index(records, names, speech=speech, run=run)
        if len(results) == 1 and results[0].failure is not None:
            raise ToolInputError(results[0].error or first_line(results[0].failure))
        files = [IndexedFile(path=r.path, video_id=r.video_id, error=r.error,
                             levels={rep.level: {"clips": rep.clips, "created": rep.created, "reused": rep.reused}
                                     for rep in r.reports},
                             speech=self.memory.count(r.video_id, SPEECH_LEVEL) if r.video_id else 0)
                 for r in results]
        report("indexed", 1, 1)
        return IndexResult(video=target.id, duration=round(target.duration, 3), files=files, cost=_cost(meter))

    def search_memory(self, query: Annotated[str, Field(description="what to look for, in words")], video: VideoArg,
                      levels: Levels = None,
                      k: Annotated[int, Field(description="how many hits, best first (1 to 50)")] = 8) -> SearchResult:
        """Search a video's memory for the stored captions and speech closest in meaning to `query`; each hit
        has its time span (seconds), level, similarity score and text. Cheap: no model but the embedder runs."""
        if not query.strip():
            raise ToolInputError("search_memory: the query is empty; say what to look for")
        if not 1 <= k <= 50:
            raise ToolInputError(f"search_memory: k={k}; ask for 1 to 50 hits")
        target = self._target(video)
        meter = self.meter.child()
        found = target.view.search(query, target.id, levels=self._levels(levels), k=k)
        hits = [MemoryHit(**self._span_text(target, node).model_dump(), score=round(float(score), 4))
                for node, score in found]
        return SearchResult(query=query, video=target.id, hits=hits, cost=_cost(meter))

    def read_span(self, video: VideoArg, start: Seconds, end: Seconds,
                  level: Annotated[str | None, Field(description="one level to read (e.g. 'fine' or 'speech'); "
                                                                 "omitted: every level and speech")] = None
                  ) -> SpanReading:
        """Read everything stored for a time range of a video: the captions of every level (or one) and what
        was said, in time order. Reads only what is stored; use `look` to see a range in more detail."""
        target = self._target(video)
        span = self._span(target, start, end, "read_span")
        meter = self.meter.child()
        nodes = target.view.nodes(target.id, self._levels([level] if level else None), span)
        nodes = sorted(nodes, key=lambda n: (n.start, n.depth, n.end))
        kept, more = nodes[:MAX_READ_ENTRIES], max(0, len(nodes) - MAX_READ_ENTRIES)
        entries = [self._span_text(target, n) for n in kept]
        return SpanReading(video=target.id, start=span.start, end=span.end,
                           captions=[e for e in entries if e.level != SPEECH_LEVEL],
                           speech=[e for e in entries if e.level == SPEECH_LEVEL], more=more, cost=_cost(meter))

    def look(self, video: VideoArg, start: Seconds, end: Seconds,
             instruction: Annotated[str, Field(description="what the captioner should look for there, e.g. "
                                                           "'read the number on the jersey'")] = "",
             level: Annotated[str | None, Field(description="the level the range is stored at; omitted: the finest "
                                                            "level holding a caption of the whole range")] = None
             ) -> LookResult:
        """Look closer at a time range: caption it one level finer than it is stored at, as a whole with the
        instruction and clip by clip, and store the captions (cached: looking again costs nothing). Returns the
        new captions. Costs captioner calls; long: reports progress."""
        target = self._target(video)
        span = self._span(target, start, end, "look")
        instruction = " ".join((instruction or "").split())[:300]
        stored_at = self.config.level(level).name if level else self._stored_level(target, span)
        finer = self.config.finer(stored_at)
        note = ""
        if finer is None:
            finer, note = self.config.level(stored_at), f"{stored_at} is the finest level"
        requests: list[tuple[Span, str | None]] = [(span, instruction or None)]
        # the finer clips inside the range, not instructed: any later look (any question) reuses them
        children = [c for c in timeline_grid(target.view, target.id, finer.name, within=span)
                    if c.start >= span.start - 0.5 and c.end <= span.end + 0.5]
        if not (len(children) == 1 and children[0].same_as(span, 0.5)):
            requests += [(child, None) for child in children]
        if len(requests) > MAX_LOOK_CAPTIONS:
            note = "; ".join(filter(None, [note, f"{len(requests) - MAX_LOOK_CAPTIONS} finer clips left out: "
                                                 "look at a shorter range for them"]))
            requests = requests[:MAX_LOOK_CAPTIONS]
        parent = _node_at(target, stored_at, span)
        meter = self.meter.child()
        run = RunContext(meter=meter)
        report = self._reporter()
        captions: list[SpanText] = []
        for number, (piece, instructed) in enumerate(requests, 1):
            if self.caption_budget is not None and self.caption_budget() <= 0:
                note = "; ".join(filter(None, [note, "the caption budget is spent"]))
                break
            report(f"captioning {number}/{len(requests)}: {finer.name} {piece.label()}", number - 1, len(requests))
            node, _created = self.indexer.caption(target.view, target.id, finer.name, piece, instruction=instructed,
                                                  parent_id=parent.id if parent else None, run=run)
            captions.append(self._span_text(target, node))
        report(f"looked at {span.label()}", len(requests), len(requests))
        return LookResult(video=target.id, start=span.start, end=span.end, level=finer.name,
                          instruction=instruction, captions=captions, created=sum(meter.captions_by_level.values()),
                          reused=meter.captions_reused, note=note, cost=_cost(meter))

    def frames(self, video: VideoArg,
               times: Annotated[list[float], Field(description="seconds on the video's timeline, at most 16")]
               ) -> FramesResult:
        """Small JPEG pictures of the frames on screen at the given times of a video (the longer side at most
        320 pixels), to see for yourself what a caption describes."""
        target = self._target(video)
        if not times or len(times) > MAX_FRAMES:
            raise ToolInputError(f"frames: give 1 to {MAX_FRAMES} times, got {len(times)}")
        from vidrecall.tools.captioners.images import jpeg_bytes

        meter = self.meter.child()
        out = []
        for t in times:
            if not (-TIME_EPS <= t <= target.duration + TIME_EPS):
                raise ToolInputError(f"frames: {t:g} s lies outside the video (0 to {target.duration:.2f} s)")
            t = min(max(0.0, t), target.duration)
            around = Span(max(0.0, min(t, target.duration - 0.04) - 0.02), min(target.duration, max(t, 0.04) + 0.02))
            record, local, _offset = target.view.locate(target.id, around)
            with self._read(record) as reader:
                batch = reader.sample(local, num_frames=1)
            meter.add_frames(len(batch))
            for frame in batch.frames[:1]:
                data = jpeg_bytes(frame, quality=80, max_side=self.frame_side)
                height, width = _shrunk(frame.shape[0], frame.shape[1], self.frame_side)
                out.append(Frame(time=round(t, 3), video=record.path, width=width, height=height, jpeg=data))
        return FramesResult(video=target.id, frames=out, cost=_cost(meter))

    def ask(self, video: VideoArg, question: Annotated[str, Field(description="the question about the video")],
            options: Annotated[list[str] | None, Field(description="multiple-choice options, e.g. ['A. red', "
                                                                   "'B. blue']; omitted: an open question")] = None
            ) -> Answer:
        """Answer a question about a video with vidrecall's whole agent (index if needed, recall, zoom where
        needed, judge the evidence): the answer, its confidence, the evidence spans, every step and the cost.
        Long: reports each step as progress."""
        if self._ask is None:
            raise ToolInputError("ask is not available in this tool set (it needs the VideoQA that built it)")
        target = self._target(video)
        report = self._reporter()
        answer: Answer | None = None
        meter = self.meter.child()
        path = video if is_library_target(video) or Path(video).expanduser().is_file() else target.record.path
        for item in self._ask(path, question, options or None):
            if isinstance(item, Answer):
                answer = item
            elif isinstance(item, Progress):
                report(f"{item.node}: {item.message}", item.done, item.total)
            elif isinstance(item, Step):
                report(f"{item.node}: {item.message}", None, None)
        if answer is None:
            raise RuntimeError("the agent ended without an answer")
        _absorb(meter, answer)
        return answer

    # --- calling by name (the LLM's tool calls, the MCP server) -------------------------------------------
    def call(self, name: str, args: dict[str, Any], **fixed: Any) -> BaseModel:
        """Run tool `name` with `args` (validated against its signature, one-line errors) and `fixed` on top."""
        if name not in TOOL_NAMES:
            raise ToolInputError(f"no tool {name!r}; the tools are: {', '.join(TOOL_NAMES)}")
        model = args_model(name, drop=tuple(fixed))
        try:
            values = model.model_validate(args or {})
        except ValidationError as exc:
            raise ToolInputError(f"{name}: {validation_line(exc)}") from None
        return getattr(self, name)(**{k: getattr(values, k) for k in type(values).model_fields}, **fixed)

    # --- helpers ---------------------------------------------------------------------------------------
    def _reporter(self) -> ProgressCallback:
        callback = _REPORT.get() or self.on_progress

        def report(message: str, done: float | None, total: float | None) -> None:
            if callback is not None:
                callback(message, done, total)

        return report

    def _levels(self, levels: list[str] | None, *, default: list[str] | None = None, speech: bool = True) -> list[str]:
        known = [lv.name for lv in self.config.levels] + ([SPEECH_LEVEL] if speech else [])
        if not levels:
            return default or known
        unknown = [lv for lv in levels if lv not in known]
        if unknown:
            raise ToolInputError(f"unknown level {unknown[0]!r}; this profile has {', '.join(known)}")
        return list(dict.fromkeys(levels))

    def _target(self, video: str) -> _Target:
        text = str(video or "").strip()
        if not text:
            raise ToolInputError("no video given: pass a video file, a folder or glob, or an id from list_videos")
        if text in self._opened:
            return self._opened[text]
        record = self.memory.video(text) or self._by_prefix(text)
        if record is not None:
            return self._opened.setdefault(record.id, _Target(self.memory, record))
        if is_library_target(text):
            library = LibraryMemory(self.memory, open_library(self.memory, text))
            target = _Target(library, library.record)
            self._opened[text] = self._opened[target.id] = target
            return target
        path = Path(text).expanduser()
        if not path.is_file():
            raise ToolInputError(f"no video {text!r}: give a video file, a folder or glob of videos, or an id from "
                                 "list_videos")
        record = self.memory.register(path)
        return self._opened.setdefault(record.id, _Target(self.memory, record))

    def _by_prefix(self, text: str) -> VideoRecord | None:
        if len(text) < 8 or "/" in text or "." in text:
            return None
        matches = [r for r in self.memory.videos() if r.id.startswith(text)]
        return matches[0] if len(matches) == 1 else None

    def _span(self, target: _Target, start: float, end: float, tool: str) -> Span:
        duration = target.duration
        if not (start == start and end == end):  # NaN
            raise ToolInputError(f"{tool}: bad time range: start and end must be numbers of seconds")
        if end <= start + TIME_EPS:
            raise ToolInputError(f"{tool}: bad time range {start:g}-{end:g} s: end must come after start")
        if start < -TIME_EPS or start >= duration - TIME_EPS:
            raise ToolInputError(f"{tool}: bad time range {start:g}-{end:g} s: it lies outside the video "
                                 f"(0 to {duration:.2f} s)")
        return Span(round(max(0.0, start), 3), round(min(end, duration), 3))

    def _stored_level(self, target: _Target, span: Span) -> str:
        """The finest level whose grid caption covers all of `span` (the coarsest when none). Captions made for
        an instruction (an earlier look) do not count, so looking again at a range is the same request: cached."""
        covering = [n for n in target.view.nodes(target.id, [lv.name for lv in self.config.levels], span)
                    if not n.instruction and n.start <= span.start + 0.5 and n.end >= span.end - 0.5]
        if not covering:
            return self.config.levels[0].name
        return max(covering, key=lambda n: n.depth).level

    def _span_text(self, target: _Target, node: MemoryNode) -> SpanText:
        file = node.video_id
        if isinstance(target.view, LibraryMemory):
            stored = target.view.base.nodes_by_id([node.stored_id]) if node.id is not None else []
            entry = target.view.library.entry(stored[0].video_id) if stored else None
            file = entry.path if entry else target.record.path
        else:
            record = self.memory.video(node.video_id)
            file = record.path if record else node.video_id
        return SpanText(start=round(node.start, 3), end=round(node.end, 3), level=node.level, text=node.text,
                        video=file, node_id=node.id, speaker=node.speaker, instruction=node.instruction)

    @contextmanager
    def _read(self, record: VideoRecord) -> Iterator[Any]:
        from vidrecall.tools.video import VideoReader

        with self._reader_lock:
            if self._reader is None or self._reader.path != record.path:
                self.close()
                self._reader = VideoReader(record.path)
            yield self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


# --- tool schemas from the signatures -----------------------------------------------------------------------
def tool_description(name: str) -> str:
    """The tool's docstring as one paragraph: what an MCP client or an LLM is told the tool does."""
    return " ".join((inspect.getdoc(getattr(VideoTools, name)) or "").split())


def tool_parameters(name: str, drop: tuple[str, ...] = ()) -> list[inspect.Parameter]:
    """The tool's parameters (annotations resolved, `Annotated` descriptions kept), less `drop`."""
    method = getattr(VideoTools, name)
    hints = get_type_hints(method, include_extras=True)
    return [p.replace(annotation=hints.get(p.name, Any)) for p in inspect.signature(method).parameters.values()
            if p.name != "self" and p.name not in drop]


def tool_result_type(name: str) -> Any:
    return get_type_hints(getattr(VideoTools, name))["return"]


def args_model(name: str, drop: tuple[str, ...] = ()) -> type[BaseModel]:
    fields: dict[str, Any] = {p.name: (p.annotation, ... if p.default is inspect.Parameter.empty else p.default)
                              for p in tool_parameters(name, drop)}
    return create_model(f"{name}_arguments", __config__=ConfigDict(extra="ignore"), **fields)


def tool_schema(name: str, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """The tool in OpenAI's function format (what `bind_tools` takes), less the parameters in `drop`."""
    schema = args_model(name, drop).model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    return {"type": "function", "function": {"name": name, "description": tool_description(name),
                                             "parameters": schema}}


def validation_line(exc: ValidationError) -> str:
    """A pydantic validation error as one line: each bad argument and what was wrong."""
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "arguments"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


# --- small helpers ------------------------------------------------------------------------------------------
def _cost(meter: CostMeter) -> Cost:
    return Cost(**meter.summary())


def _progress_events(report: ProgressCallback) -> ProgressSink:
    def sink(event: ProgressEvent) -> None:
        what = event.task if event.span is None else f"{event.task} ({event.span.label()})"
        report(what, event.done, event.total)

    return sink


def _node_at(target: _Target, level: str, span: Span) -> MemoryNode | None:
    for node in target.view.nodes(target.id, level=level, window=span):
        if node.span.same_as(span, 0.5) and not node.instruction:
            return node
    return None


def _shrunk(height: int, width: int, side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


_USAGE_FIELDS = set(Usage.__dataclass_fields__)


def _absorb(meter: CostMeter, answer: Answer) -> None:
    """What a whole-agent answer cost, counted into the tool set's meter (its steps' model calls, frames and
    captions)."""
    for step in answer.trajectory:
        for call in step.model_calls:
            meter.record(Usage(**{k: v for k, v in call.items() if k in _USAGE_FIELDS}))
    meter.add_frames(answer.cost.frames_decoded)
    for level, count in answer.cost.captions_by_level.items():
        for _ in range(count):
            meter.add_caption(level, reused=False)
    for _ in range(answer.cost.captions_reused):
        meter.add_caption("", reused=True)


__all__ = ["Asker", "Frame", "FramesResult", "IndexResult", "IndexedFile", "LONG_TOOLS", "LookResult", "MemoryHit",
           "ProgressCallback", "READ_ONLY_TOOLS", "SearchResult", "SpanReading", "SpanText", "TOOL_NAMES",
           "ToolInputError", "VideoEntry", "VideoList", "VideoTools", "args_model", "as_text", "fenced", "reporting",
           "tool_description", "tool_parameters", "tool_result_type", "tool_schema", "validation_line"]
