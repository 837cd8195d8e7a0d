"""What vidrecall remembers: video records, caption and speech nodes (SQLite), embeddings (FAISS),
behind the `Memory` interface (one video: VideoMemory; a library on one timeline: LibraryMemory)."""
from vidrecall.memory.embedder import Embedder, load_embedder
from vidrecall.memory.memory import VideoMemory
from vidrecall.memory.protocol import Memory
from vidrecall.memory.render import render_memory
from vidrecall.memory.store import MemoryStore, VideoRecord, video_id_for

__all__ = ["Embedder", "Memory", "MemoryStore", "VideoMemory", "VideoRecord", "load_embedder", "render_memory",
           "video_id_for"]
