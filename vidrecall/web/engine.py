"""The one VideoQA of a server, its models loaded lazily in a worker thread, and the per-video locks around it.

Models load once, on the first request that needs them (the library, the media and the memory views
read the VideoQA's memory, which loads no model, so the page is usable at once): an index job loads the
captioner; a question loads the captioner, the LLM and the embedder, all before its "thinking" begins, while
`loading` is True (the page says "loading models"). All model work runs in this
engine's thread pool, never in the event loop. Work on one video (indexing, a question) holds that
video's lock, so two questions at once both get answers and no clip is captioned twice.
"""
from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING

from vidrecall.core.config import Config
from vidrecall.core.progress import ProgressEvent, ProgressSink
from vidrecall.memory.memory import VideoMemory
from vidrecall.memory.store import VideoRecord
from vidrecall.web.settings import ServeSettings

if TYPE_CHECKING:
    from vidrecall.api import VideoQA

WORKERS = 4


class ThreadSinks:
    """The server's one progress sink. A question sends the indexing it waits for (an unindexed video's first
    level) to its page: events from its own thread go there, and so do those of the captioning threads it starts
    while it is the only question doing so (events carry no video, so with two at once those are dropped).
    Nothing else reaches a sink: the server's log stays quiet (no tqdm bars); index jobs report to their page."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._active: list[ProgressSink] = []
        self._lock = threading.Lock()

    def __call__(self, event: ProgressEvent) -> None:
        sink = getattr(self._local, "sink", None)
        if sink is None:
            with self._lock:
                sink = self._active[0] if len(self._active) == 1 else None
        if sink is not None:
            sink(event)

    @contextmanager
    def to(self, sink: ProgressSink) -> Iterator[None]:
        """Within the block, this thread's events (and its helpers', see above) go to `sink`."""
        before = getattr(self._local, "sink", None)
        self._local.sink = sink
        with self._lock:
            self._active.append(sink)
        try:
            yield
        finally:
            with self._lock:
                self._active.remove(sink)
            self._local.sink = before


class Engine:
    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self._qa = self._build()  # a configuration: no model loads until qa()
        self.progress = ThreadSinks()
        self._qa.progress = self.progress  # a server's log stays quiet; jobs and questions report to the page
        self.memory: VideoMemory = self._qa.memory  # every route reads the store through this one memory
        self._twins: dict[str, "VideoQA"] = {}  # the VideoQA of each other strategy a question named
        self._loaded = False  # the captioner (what indexing needs)
        self._ready = False  # and the LLM and embedder (what a question needs)
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="vidrecall-model")
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
        return self._loaded

    @property
    def config(self) -> Config:
        return self._qa.config

    @property
    def ready_for_questions(self) -> bool:
        return self._ready

    def qa(self, *, for_questions: bool = False) -> "VideoQA":
        """The VideoQA with its captioner loaded, and with `for_questions` its LLM (checked, weights loaded) and
        embedder too; each loads on first use. Blocking."""
        if not self._loaded or (for_questions and not self._ready):
            with self._qa_lock:
                if not self._loaded or (for_questions and not self._ready):
                    self.loading = True
                    try:
                        self._load(for_questions)
                    finally:
                        self.loading = False
        return self._qa

    def with_strategy(self, strategy: str) -> "VideoQA":
        """The loaded VideoQA's twin for another strategy (same models, store and progress), made once."""
        with self._qa_lock:
            if strategy not in self._twins:
                self._twins[strategy] = self._qa.with_strategy(strategy)
            return self._twins[strategy]

    def _load(self, for_questions: bool) -> None:
        if not self._loaded:
            self._qa.indexer  # noqa: B018 - load the captioner now, not mid-question
            self._loaded = True
        if for_questions and not self._ready:
            from vidrecall.tools.llm.local_transformers import load_local_weights

            # What VideoQA.stream would otherwise load after the page says "thinking": a bad LLM or captioner
            # fails here (one line), local weights load (or the loopback llama.cpp server starts), and the
            # embedder's weights load for retrieval.
            self._qa.preflight()
            load_local_weights(self._qa.backbones.llm)
            self._qa.memory.embedder.model  # noqa: B018
            self._ready = True

    def _build(self) -> "VideoQA":
        if self.settings.qa_factory is not None:
            return self.settings.qa_factory()
        from vidrecall.api import VideoQA

        return VideoQA(self.settings.profile, store_dir=self.settings.store)

    def video_lock(self, video_id: str) -> threading.RLock:
        with self._locks_guard:
            return self._locks[video_id]

    def video(self, video_id: str) -> VideoRecord | None:
        return self.memory.video(video_id)

    def close(self) -> None:
        """Stop taking work. A question still running is not waited for: every caption it made is already
        committed, so the memory stays whole; its connections close with the process."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        if not self.busy:
            self._qa.close()
