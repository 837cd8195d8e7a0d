"""Background indexing: one job per (video, levels) through the one Indexer, with progress and cancel.

The job runs `Indexer.build` (levels, then speech) with a RunContext whose progress events become the
job's counters and whose cancel flag stops it between clips. Every finished clip is committed at once
(cancel or a crash loses only the clips in flight), and leases keep a second job or a question from
captioning the same clip again (it waits for it, or finds it stored).
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from enum import Enum

from pydantic import BaseModel

from vidrecall.core.errors import first_line
from vidrecall.core.progress import ProgressEvent
from vidrecall.core.run_context import Cancelled, RunContext
from vidrecall.indexing.plans import level_grid
from vidrecall.web.engine import Engine


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
    speech: str = ""  # how far the speech lane got ("" when speech is off or not reached)
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
        self._level_done: dict[str, dict[str, int]] = defaultdict(dict)
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
        run = RunContext(progress=lambda event: self._progress(job, event), cancel=self._cancel[job_id])
        try:
            qa = self.engine.qa()
            record = self.engine.video(job.video_id)
            if record is None:
                raise ValueError(f"video {job.video_id} is no longer in the store")
            total = sum(len(level_grid(qa.config, record.duration, name)) for name in job.levels)
            with self._lock:
                self._update(job, total=total, message="captioning")
            # the one indexing path: pipelined captioning, leases, speech (a question meanwhile never
            # captions the same clip again: it waits for this job's lease or finds the caption stored)
            qa.indexer.build(record, job.levels, run=run)
            with self._lock:
                self._update(job, state=JobState.done, message=f"{job.created} new captions, {job.reused} reused"
                             + (f", {job.speech}" if job.speech else ""))
        except Cancelled:
            with self._lock:
                self._update(job, state=JobState.cancelled, message=f"cancelled after {job.done}/{job.total} clips")
        except Exception as exc:  # the job records why; the server keeps serving
            with self._lock:
                self._update(job, state=JobState.failed, error=first_line(exc), message="failed")
        finally:
            with self._lock:
                job.finished_at = time.time()

    def _progress(self, job: Job, event: ProgressEvent) -> None:
        """The job's counters from the indexer's progress events (the page polls them)."""
        with self._lock:
            if event.level is not None:
                self._level_done[job.id][event.level] = int(event.done)
                done = sum(self._level_done[job.id].values())
                created = job.created + (1 if event.created else 0)
                where = f": {event.span.label()}" if event.span is not None else ""
                self._update(job, level=event.level, done=done, created=created, reused=done - created,
                             message=f"{event.level} {done}/{job.total}{where}")
            elif event.task == "speech":
                self._update(job, speech=f"speech {event.done:.0f}/{event.total or 0:.0f} s",
                             message=f"speech {event.done:.0f}/{event.total or 0:.0f} s")
