"""LibraryMemory: a library's videos seen as one long video, behind the same `Memory` interface as VideoMemory.

The agent asks for nodes and searches in library-timeline seconds; each call is mapped to (file, local
span), served by the one shared VideoMemory (one SQLite store, one FAISS index filtered to the library's
videos), and its nodes come back shifted onto the timeline, with the library's id as their video id.
Nothing shifted is ever stored: the store keeps file-local times, so a file's captions are reused
whichever library (or single-file question) asks for them.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from vidrecall.core.config import Config
from vidrecall.core.types import MemoryNode, Span
from vidrecall.memory.embedder import Embedder
from vidrecall.memory.library import Library, LibraryEntry, LibraryRecord
from vidrecall.memory.memory import VideoMemory
from vidrecall.memory.render import RenderedMemory
from vidrecall.memory.store import VideoRecord


class LibraryMemory:
    def __init__(self, memory: VideoMemory, library: Library) -> None:
        self.base = memory  # the VideoMemory holding every file's captions
        self.library = library
        self.record: LibraryRecord = library.record

    @property
    def config(self) -> Config:
        return self.base.config

    @property
    def embedder(self) -> Embedder:
        return self.base.embedder

    def register(self, path: str) -> VideoRecord:
        return self.base.register(path)

    def describe(self, nodes: list[MemoryNode] | None = None) -> str:
        """The files on the timeline (only those `nodes` fall in, when given), for the LLM's prompt."""
        return self.library.describe([n.span for n in nodes] if nodes is not None else None)

    def add(self, nodes: list[MemoryNode]) -> list[MemoryNode]:
        return self.base.add(nodes)

    def find(self, key: str) -> MemoryNode | None:
        return self.base.find(key)

    def flush(self) -> None:
        self.base.flush()

    def render(self, nodes: list[MemoryNode], duration: float, *, max_tokens: int | None = None,
               relevance: dict[int, float] | None = None) -> RenderedMemory:
        return self.base.render(nodes, duration, max_tokens=max_tokens, relevance=relevance)

    # --- the timeline -------------------------------------------------------------------------------
    def on_timeline(self, node: MemoryNode) -> MemoryNode:
        """A stored (file-local) node moved onto the library timeline; nodes of other videos pass unchanged."""
        entry = self.library.entry(node.video_id)
        if entry is None:
            return node
        return replace(node, video_id=self.record.id, start=round(node.start + entry.offset, 3),
                       end=round(node.end + entry.offset, 3))

    def files(self, video_id: str) -> list[tuple[VideoRecord, float]]:
        if video_id != self.record.id:
            return self.base.files(video_id)
        return [(e.record, e.offset) for e in self.library.entries]

    def locate(self, video_id: str, span: Span) -> tuple[VideoRecord, Span, float]:
        """The file a timeline span mostly lies in, the part of the span inside it, and its offset."""
        if video_id != self.record.id:
            return self.base.locate(video_id, span)
        entry, local = self.library.split(span)[0]
        return entry.record, local, entry.offset

    def _pieces(self, window: Span | None) -> list[tuple[LibraryEntry, Span | None]]:
        """(entry, local window or None) for each file a library-level call touches."""
        if window is None:
            return [(e, None) for e in self.library.entries]
        return sorted(self.library.split(window), key=lambda p: p[0].offset)

    # --- reading --------------------------------------------------------------------------------------
    def nodes_by_id(self, node_ids: Iterable[int]) -> list[MemoryNode]:
        return [self.on_timeline(n) for n in self.base.nodes_by_id(node_ids)]

    def nodes(self, video_id: str, level: str | list[str] | None = None,
              window: Span | None = None) -> list[MemoryNode]:
        if video_id != self.record.id:
            return self.base.nodes(video_id, level, window)
        out = []
        for entry, local in self._pieces(window):
            out += [self.on_timeline(n) for n in self.base.nodes(entry.record.id, level, local)]
        return sorted(out, key=lambda n: (n.start, n.depth, n.id or 0))

    def search(self, text: str, video_id: str, *, levels: str | list[str] | None = None,
               window: Span | None = None, k: int = 10) -> list[tuple[MemoryNode, float]]:
        """The library's stored captions closest to `text`, across every file (one FAISS search, filtered)."""
        if video_id != self.record.id:
            return self.base.search(text, video_id, levels=levels, window=window, k=k)
        allowed: set[int] = set()
        for entry, local in self._pieces(window):
            allowed |= self.base.node_ids(entry.record.id, levels, local)
        return [(self.on_timeline(n), s) for n, s in self.base.search_among(text, allowed, k=k)]

    # --- citing -------------------------------------------------------------------------------------
    def cite(self, evidence: dict) -> dict:
        """An evidence span of the timeline as (file, local time, clock time)."""
        node_id = evidence.get("node_id")
        stored = self.base.nodes_by_id([node_id]) if node_id is not None else []
        entry = self.library.entry(stored[0].video_id) if stored else None
        if entry is not None:
            start, end = stored[0].start, stored[0].end
        else:
            entry, local = self.library.split(Span(evidence["start"], max(evidence["start"], evidence["end"])))[0]
            start, end = local.start, local.end
        return {**evidence, "start": start, "end": end, "video": entry.path, "video_id": entry.record.id,
                "clock": entry.clock(start)}
