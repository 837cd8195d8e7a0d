"""Everything the routes share, built once per app: settings, the engine, jobs, sessions, the path policy."""
from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, Request

from vidrecall.core.config import Config
from vidrecall.indexing.plans import level_grid
from vidrecall.memory.store import VideoRecord
from vidrecall.web.engine import Engine
from vidrecall.web.jobs import JobManager
from vidrecall.web.paths import PathPolicy
from vidrecall.web.session_book import SessionBook
from vidrecall.web.settings import ServeSettings


@dataclass
class Services:
    settings: ServeSettings
    engine: Engine
    jobs: JobManager
    book: SessionBook
    policy: PathPolicy  # for adding by path: the --allow folders

    @classmethod
    def build(cls, settings: ServeSettings) -> "Services":
        engine = Engine(settings)
        settings.uploads.mkdir(parents=True, exist_ok=True)
        return cls(settings, engine, JobManager(engine), SessionBook(settings.store), PathPolicy(list(settings.allow)))

    @property
    def config(self) -> Config:
        return self.engine.config

    def clips_in_first_level(self, record: VideoRecord) -> int:
        """How many clips the first level's grid has (counted without decoding)."""
        return len(level_grid(self.config, record.duration, self.config.levels[0].name))

    def close(self) -> None:
        busy = self.engine.busy  # work still running keeps its connections (see Engine.close)
        self.engine.close()
        if not busy:
            self.book.close()


def services(request: Request) -> Services:
    return request.app.state.services


def video_or_404(svc: Services, video_id: str) -> VideoRecord:
    record = svc.engine.video(video_id)
    if record is None:
        raise HTTPException(404, f"no video {video_id!r} in the store {svc.settings.store}")
    return record
