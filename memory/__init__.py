"""The persistent hierarchical caption memory: levels, SQLite nodes, FAISS embeddings."""
from vidrecall.memory.embedder import Embedder, load_embedder
from vidrecall.memory.memory import IndexReport, VideoMemory
from vidrecall.memory.pipeline import LevelProgress
from vidrecall.memory.render import render_memory
from vidrecall.memory.store import MemoryStore, VideoRecord, video_id_for

__all__ = ["Embedder", "IndexReport", "LevelProgress", "MemoryStore", "VideoMemory", "VideoRecord", "load_embedder",
           "render_memory", "video_id_for"]
