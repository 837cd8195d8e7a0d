"""LibraryMemory: a library's videos seen as one long video, with the interface the agent uses on VideoMemory.

The agent asks for nodes, searches, level grids and captions in library-timeline seconds; each call is
mapped to (file, local span), served by the one shared VideoMemory (one SQLite store, one FAISS index
filtered to the library's videos), and its nodes come back shifted onto the timeline, with the library's
id as their video id. Nothing shifted is ever stored: the store keeps file-local times, so a file's
captions are reused whichever library (or single-file question) asks for them.
"""
from __future__ import annotations

from dataclasses import replace

from vidrecall.core.types import TIME_EPS, MemoryNode, Span
from vidrecall.memory.library import Library, LibraryRecord
from vidrecall.memory.store import VideoRecord


class LibraryMemory:
    def __init__(self, memory, library: Library) -> None:
        self.base = memory  # the VideoMemory holding every file's captions
        self.library = library
        self.record: LibraryRecord = library.record
        self.store = _LibraryStore(self)

    # --- what the agent reads from a memory --------------------------------------------------------
    @property
    def config(self):
        return self.base.config

    @property
    def embedder(self):
        return self.base.embedder

    @property
    def captioner(self):
        return self.base.captioner

    def describe(self, nodes: list[MemoryNode] | None = None) -> str:
        """The files on the timeline (only those `nodes` fall in, when given), for the LLM's prompt."""
        return self.library.describe([n.span for n in nodes] if nodes is not None else None)

    def register(self, path):
        return self.base.register(path)

    def nodes_by_id(self, node_ids) -> list[MemoryNode]:
        return [self.on_timeline(n) for n in self.base.nodes_by_id(node_ids)]

    def render(self, nodes: list[MemoryNode], duration: float, **kw):
        return self.base.render(nodes, duration, **kw)

    def on_timeline(self, node: MemoryNode) -> MemoryNode:
        """A stored (file-local) node moved onto the library timeline; nodes of other videos pass unchanged."""
        entry = self.library.entry(node.video_id)
        if entry is None:
            return node
        return replace(node, video_id=self.record.id, start=round(node.start + entry.offset, 3),
                       end=round(node.end + entry.offset, 3))

    def _pieces(self, video_id: str, window: Span | None):
        """(entry, local window or None) for each file a library-level call touches."""
        if window is None:
            return [(e, None) for e in self.library.entries]
        return sorted(self.library.split(window), key=lambda p: p[0].offset)

    def nodes(self, video_id: str, level: str | list[str] | None = None,
              window: Span | None = None) -> list[MemoryNode]:
        if video_id != self.record.id:
            return self.base.nodes(video_id, level, window)
        out = []
        for entry, local in self._pieces(video_id, window):
            out += [self.on_timeline(n) for n in self.base.nodes(entry.record.id, level, local)]
        return sorted(out, key=lambda n: (n.start, n.depth, n.id or 0))

    def search(self, text: str, video_id: str, *, levels: str | list[str] | None = None,
               window: Span | None = None, k: int = 10) -> list[tuple[MemoryNode, float]]:
        """The library's stored captions closest to `text`, across every file (one FAISS search, filtered)."""
        if video_id != self.record.id:
            return self.base.search(text, video_id, levels=levels, window=window, k=k)
        allowed: set[int] = set()
        for entry, local in self._pieces(video_id, window):
            allowed |= self.base.store.node_ids(entry.record.id, levels, local)
        return [(self.on_timeline(n), s) for n, s in self.base.search_among(text, allowed, k=k)]

    def level_spans(self, video, level: str, within: Span | None = None) -> list[Span]:
        """Each file's own clip grid, shifted onto the timeline (a clip never straddles two files)."""
        if getattr(video, "id", None) != self.record.id:
            return self.base.level_spans(video, level, within)
        spans = []
        for entry in self.library.entries:
            for s in self.base.level_spans(entry.record, level):
                shifted = Span(round(s.start + entry.offset, 3), round(s.end + entry.offset, 3))
                if within is None or shifted.overlap(within) > TIME_EPS:
                    spans.append(shifted)
        return spans

    def caption(self, video, level: str, span: Span, *, instruction: str | None = None,
                parent_id: int | None = None, meter=None) -> tuple[MemoryNode, bool]:
        """Caption the part of `span` in the file it mostly covers; the node comes back on the timeline."""
        if getattr(video, "id", None) != self.record.id:
            return self.base.caption(video, level, span, instruction=instruction, parent_id=parent_id, meter=meter)
        entry, local = self.library.split(span)[0]
        node, created = self.base.caption(entry.record, level, local, instruction=instruction,
                                          parent_id=parent_id, meter=meter)
        return self.on_timeline(node), created

    def locate_span(self, span: Span):
        """(entry, local span) of the file a timeline span mostly lies in."""
        return self.library.split(span)[0]

    # --- building ------------------------------------------------------------------------------
    def missing(self, level: str) -> int:
        """How many clips of `level` are not stored yet, over every file."""
        return sum(len(self.base.missing_clips(e.record, level)) for e in self.library.entries)

    def build_level(self, video=None, level: str = "coarse", *, progress: bool = True, meter=None):
        """Caption `level` over every file (resumable per clip); the per-file IndexReports."""
        return [self.base.build_level(e.record, level, progress=progress, meter=meter) for e in self.library.entries]

    def flush(self) -> None:
        self.base.flush()

    def close(self) -> None:  # the shared VideoMemory belongs to whoever made it
        self.base.flush()

    # --- citing -------------------------------------------------------------------------------------
    def cite(self, evidence: dict) -> dict:
        """An evidence span of the timeline as (file, local time, clock time)."""
        node_id = evidence.get("node_id")
        stored = self.base.store.get_many([node_id]).get(node_id) if node_id is not None else None
        entry = self.library.entry(stored.video_id) if stored is not None else None
        if entry is not None:
            start, end = stored.start, stored.end
        else:
            entry, local = self.locate_span(Span(evidence["start"], max(evidence["start"], evidence["end"])))
            start, end = local.start, local.end
        return {**evidence, "start": start, "end": end, "video": entry.path, "video_id": entry.record.id,
                "clock": entry.clock(start)}


class _LibraryStore:
    """The store as the agent reads it through a library: node lookups come back on the timeline."""

    def __init__(self, owner: LibraryMemory) -> None:
        self._owner = owner

    def get_many(self, node_ids) -> dict[int, MemoryNode]:
        found = self._owner.base.store.get_many(node_ids)
        return {i: self._owner.on_timeline(n) for i, n in found.items()}

    def get(self, node_id: int) -> MemoryNode:
        return self._owner.on_timeline(self._owner.base.store.get(node_id))

    def __getattr__(self, name: str):
        return getattr(self._owner.base.store, name)


def open_target(memory, target, level: str, meter=None, *, on_skip=None):
    """(memory, record) the agent works on for a question target, with `level` built over all of it:
    one file (or its VideoRecord, already registered) -> (VideoMemory, VideoRecord); a folder / glob / list of files / Library -> (LibraryMemory,
    LibraryRecord). Bad input fails here, with one line naming the file, before any captioning."""
    from vidrecall.memory.library import is_library_target, open_library

    if isinstance(target, VideoRecord) or not is_library_target(target):
        record = target if isinstance(target, VideoRecord) else memory.register(target)
        missing = bool(memory.missing_clips(record, level))
        memory.build_level(record, level, progress=missing, meter=meter)
        memory.build_speech(record, progress=missing, meter=meter)  # no-op unless config.speech is on
        return memory, record
    library = LibraryMemory(memory, open_library(memory, target, on_skip=on_skip))
    library.build_level(level=level, progress=library.missing(level) > 0, meter=meter)
    for entry in library.library.entries:  # speech per file; a no-op unless config.speech is on
        memory.build_speech(entry.record, progress=False, meter=meter)
    return library, library.record
