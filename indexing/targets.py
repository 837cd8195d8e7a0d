"""What a question is asked about: one file, or a library (folder, glob, list, Library) seen as one
timeline -- opened as a `Memory` with its first level built over all of it."""
from __future__ import annotations

from collections.abc import Callable

from vidrecall.core.run_context import RunContext
from vidrecall.indexing.indexer import Indexer
from vidrecall.memory.library import LibraryRecord, is_library_target, open_library
from vidrecall.memory.library_memory import LibraryMemory
from vidrecall.memory.protocol import Memory
from vidrecall.memory.store import VideoRecord


def open_target(indexer: Indexer, target: object, level: str, run: RunContext, *,
                on_skip: Callable[[str], None] | None = None) -> tuple[Memory, VideoRecord | LibraryRecord]:
    """(memory, record) the agent works on: one file (or its VideoRecord) -> (VideoMemory, VideoRecord); a
    folder / glob / list of files / Library -> (LibraryMemory, LibraryRecord). Bad input fails here, with
    one line naming the file, before any captioning."""
    memory = indexer.memory
    if isinstance(target, VideoRecord) or not is_library_target(target):
        record = target if isinstance(target, VideoRecord) else memory.register(str(target))
        indexer.build(record, (level,), run=run)
        return memory, record
    library = LibraryMemory(memory, open_library(memory, target, on_skip=on_skip))
    indexer.index([e.record for e in library.library.entries], (level,), run=run)
    return library, library.record


__all__ = ["open_target"]
