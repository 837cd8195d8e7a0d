"""The `Memory` interface: what the agent, the indexer, the web app and the tools read and write.

`VideoMemory` (one store, each video its own timeline) and `LibraryMemory` (a library's files seen as one
long timeline over the same store) both implement it, so nothing above memory/ asks which one it holds.
Times are timeline seconds; `files`/`locate`/`on_timeline` map them to the files that hold the nodes.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from vidrecall.core.config import Config
from vidrecall.core.types import MemoryNode, Span
from vidrecall.memory.store import VideoRecord

if TYPE_CHECKING:
    from vidrecall.memory.embedder import Embedder
    from vidrecall.memory.render import RenderedMemory


@runtime_checkable
class Memory(Protocol):
    @property
    def config(self) -> Config: ...

    @property
    def embedder(self) -> "Embedder": ...

    def register(self, path: str) -> VideoRecord:
        """Probe, hash and remember a video file (VideoError, one line, on a bad one)."""
        ...

    def nodes(self, video_id: str, level: str | list[str] | None = None,
              window: Span | None = None) -> list[MemoryNode]: ...

    def nodes_by_id(self, node_ids: Iterable[int]) -> list[MemoryNode]: ...

    def search(self, text: str, video_id: str, *, levels: str | list[str] | None = None,
               window: Span | None = None, k: int = 10) -> list[tuple[MemoryNode, float]]: ...

    def add(self, nodes: list[MemoryNode]) -> list[MemoryNode]:
        """Store and embed finished nodes (file-local times); stored duplicates come back unchanged."""
        ...

    def find(self, key: str) -> MemoryNode | None: ...

    def render(self, nodes: list[MemoryNode], duration: float, *, max_tokens: int | None = None,
               relevance: dict[int, float] | None = None) -> "RenderedMemory": ...

    def describe(self, nodes: list[MemoryNode] | None = None) -> str:
        """What the LLM is told about the files behind the timeline ("" for one video)."""
        ...

    def cite(self, evidence: dict) -> dict:
        """An evidence span as the user reads it (file, local time, clock time for a library)."""
        ...

    def files(self, video_id: str) -> list[tuple[VideoRecord, float]]:
        """(file, offset on the timeline) for each file behind `video_id`."""
        ...

    def locate(self, video_id: str, span: Span) -> tuple[VideoRecord, Span, float]:
        """(file, the span in that file's seconds, the file's offset) for a timeline span."""
        ...

    def on_timeline(self, node: MemoryNode) -> MemoryNode:
        """A stored node moved onto the timeline `video_id` names."""
        ...

    def flush(self) -> None: ...
