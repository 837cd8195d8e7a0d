"""The shapes the HTTP API sends and receives (the page uses exactly these)."""
from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from vidrecall.core.result import Answer
from vidrecall.web.jobs import Job
from vidrecall.web.session_book import RunningQuestion, SessionInfo


class LevelCount(BaseModel):
    level: str
    captions: int


class VideoEntry(BaseModel):
    id: str
    name: str
    path: str
    duration: float
    width: int
    height: int
    size_bytes: int
    added_at: float
    captions: int
    levels: list[LevelCount]
    speech: bool  # captions of level "speech" are stored
    coarse_complete: bool  # every clip of the first level is captioned
    jobs: list[Job] = Field(default_factory=list)


class AddByPath(BaseModel):
    path: str = Field(description="absolute path of a video file under one of the --allow folders")


class IndexRequest(BaseModel):
    levels: list[str] | None = Field(default=None, description="levels to caption; default: the server's (coarse)")


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000)
    options: list[str] = Field(default_factory=list, max_length=26, description='e.g. ["A. red", "B. blue"]')
    session_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$",
                                   description="continue this session (follow-up); omit to start a new one")
    strategy: str | None = Field(default=None, max_length=40,
                                 description="default, videolucy or search (see /api/status); omit for the profile's")

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question is empty; ask something about the video")
        return value.strip()

    @field_validator("options")
    @classmethod
    def _options(cls, value: list[str]) -> list[str]:
        cleaned = [o.strip() for o in value]
        if any(not o for o in cleaned):
            raise ValueError("options must be non-empty strings")
        return cleaned


class NodeView(BaseModel):
    id: int
    level: str
    depth: int
    start: float
    end: float
    text: str
    instruction: str | None = None
    parent_id: int | None = None


class MemoryView(BaseModel):
    video_id: str
    duration: float
    lanes: list[str]  # coarse → fine, then "speech" when present
    nodes: list[NodeView]


class SearchHit(BaseModel):
    score: float  # cosine similarity of the query and the caption (all-MiniLM-L6-v2: 1 = same meaning)
    weak: bool = Field(default=False, description="under the search floor: no close match, only the nearest caption")
    node: NodeView


class SessionView(BaseModel):
    session: SessionInfo
    turns: list[Answer]
    running: list[RunningQuestion] = Field(
        default_factory=list, description="questions being answered now: follow each with GET /api/sessions/{id}/live")


class ServerStatus(BaseModel):
    version: str
    profile: str
    store: str
    models_loaded: bool
    models_loading: bool
    token_required: bool
    upload_limit: int
    allow: list[str]
    index_levels: list[str]
    strategy: str  # the profile's strategy, used when a question names none
    strategies: list[str]  # every strategy a question may name


class AllowedFile(BaseModel):
    path: str
    name: str
    size_bytes: int
