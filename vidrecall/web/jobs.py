"""Background indexing: one job per (video, levels), clip by clip, with progress and cancel.

A job captions the level grid one clip at a time under the video's lock, so a question about the same
video waits at most one clip, every finished clip is committed at once (cancel or a crash loses only the
clip in flight), and a second job or question never captions the same clip again (it finds it stored).
"""
from __future__ import annotations

import threading
import time
import uuid
from enum import Enum

from pydantic import BaseModel

from vidrecall.web.engine import Engine
from vidrecall.core.errors import first_line


class JobState(str, Enum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


class Job(BaseModel):
    id: str
    video_id: str
    levels: list[str]
    state: JobState = JobState.queued
    level: str | None = None
    done: int = 0
    total: int | None = None
    created: int = 0  # captions made by this job
    reused: int = 0  # captions already stored
    message: str = "waiting to start"
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.state in (JobState.done, JobState.failed, JobState.cancelled)


class JobManager:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._jobs: dict[str, Job] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def start(self, video_id: str, levels: list[str]) -> Job:
        """A running or queued job for the same video and levels is returned instead of a second one."""
        with self._lock:
            for job in self._jobs.values():
                if job.video_id == video_id and job.levels == levels and not job.finished:
                    return job
            job = Job(id=uuid.uuid4().hex[:10], video_id=video_id, levels=levels)
            self._jobs[job.id] = job
            self._cancel[job.id] = threading.Event()
        self.engine.submit(self._run, job.id)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return job.model_copy() if job else None

    def all(self, video_id: str | None = None) -> list[Job]:
        with self._lock:
            return [j.model_copy() for j in self._jobs.values() if video_id is None or j.video_id == video_id]

    def cancel(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if not job.finished:
                self._cancel[job_id].set()
                if job.state == JobState.queued:
                    self._update(job, state=JobState.cancelled, message="cancelled before it started",
                                 finished_at=time.time())
            return job.model_copy()

    def _update(self, job: Job, **changes) -> None:
        for name, value in changes.items():
            setattr(job, name, value)

    def _run(self, job_id: str) -> None:
        with self._lock:
            job = self._jobs[job_id]
            if job.finished:
                return
            self._update(job, state=JobState.running, started_at=time.time(), message="loading models")
        cancel = self._cancel[job_id]
        try:
            qa = self.engine.qa()
            memory = qa.memory
            record = self.engine.video(job.video_id)
            if record is None:
                raise ValueError(f"video {job.video_id} is no longer in the store")
            grids = [(memory.config.level(name).name, memory.level_spans(record, name)) for name in job.levels]
            with self._lock:
                self._update(job, total=sum(len(spans) for _, spans in grids), message="captioning")
            for level, spans in grids:
                for span in spans:
                    if cancel.is_set():
                        break
                    with self.engine.video_lock(record.id):
                        _, made = memory.caption(record, level, span)
                    with self._lock:
                        self._update(job, level=level, done=job.done + 1, created=job.created + made,
                                     reused=job.reused + (not made),
                                     message=f"{level} {job.done + 1}/{job.total}: {span.label()}")
            memory.flush()
            with self._lock:
                if cancel.is_set():
                    self._update(job, state=JobState.cancelled, message=f"cancelled after {job.done}/{job.total} clips")
                else:
                    self._update(job, state=JobState.done, message=f"{job.created} new captions, {job.reused} reused")
        except Exception as exc:  # the job records why; the server keeps serving
            with self._lock:
                self._update(job, state=JobState.failed, error=first_line(exc), message="failed")
        finally:
            with self._lock:
                job.finished_at = time.time()

