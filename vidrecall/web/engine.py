"""The one VideoQA of a server, built lazily in a worker thread, and the per-video locks around it.

Models load once, on the first request that needs them (the library, the media and the memory views
are served from the SQLite store alone, so the page is usable at once). All model work runs in this
engine's thread pool, never in the event loop. Work on one video (indexing, a question) holds that
video's lock, so two questions at once both get answers and no clip is captioned twice.
"""
from __future__ import annotations

import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from vidrecall.memory.memory import DB_NAME
from vidrecall.memory.store import MemoryStore, VideoRecord
from vidrecall.web.settings import ServeSettings

WORKERS = 4


class Engine:
    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self.store = MemoryStore(Path(settings.store) / DB_NAME)  # reads without loading any model
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="vidrecall-model")
        self._qa = None
        self._qa_lock = threading.Lock()
        self._locks: dict[str, threading.RLock] = defaultdict(threading.RLock)
        self._locks_guard = threading.Lock()
        self.loading = False
        self._active = 0
        self._active_lock = threading.Lock()

    @property
    def busy(self) -> bool:
        with self._active_lock:
            return self._active > 0

    def submit(self, fn, *args) -> None:
        """Run `fn` in the model pool (never in the event loop)."""
        def counted():
            with self._active_lock:
                self._active += 1
            try:
                fn(*args)
            finally:
                with self._active_lock:
                    self._active -= 1

        self.pool.submit(counted)

    @property
    def loaded(self) -> bool:
        return self._qa is not None

    def qa(self):
        """The VideoQA with its memory (captioner, embedder) ready; builds it on first use. Blocking."""
        if self._qa is None:
            with self._qa_lock:
                if self._qa is None:
                    self.loading = True
                    try:
                        qa = self._build()
                        qa.memory  # noqa: B018 - load the captioner and embedder now, not mid-question
                        self._qa = qa
                    finally:
                        self.loading = False
        return self._qa

    def _build(self):
        if self.settings.qa_factory is not None:
            return self.settings.qa_factory()
        from vidrecall.api import VideoQA

        return VideoQA(self.settings.profile, store_dir=self.settings.store)

    def video_lock(self, video_id: str) -> threading.RLock:
        with self._locks_guard:
            return self._locks[video_id]

    def video(self, video_id: str) -> VideoRecord | None:
        return self.store.video(video_id)

    def close(self) -> None:
        """Stop taking work. A question still running is not waited for: every caption it made is already
        committed, so the memory stays whole; its connections close with the process."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        if not self.busy:
            if self._qa is not None:
                self._qa.close()
            self.store.close()
