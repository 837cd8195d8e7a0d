"""What indexing did: per level (`IndexReport`), per file (`FileIndexResult`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class IndexReport:
    """What one level of one video took."""

    video_id: str
    level: str
    clips: int
    created: int
    reused: int
    frames: int
    seconds: float
    skipped_frames: int = 0
    frames_sent: int = 0  # frames given to the captioner (fewer than `frames` on change-aware levels)
    found: int = 0  # clips another process captioned while this run waited for them (also in `reused`)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FileIndexResult:
    """What indexing one file did: its per-level reports and speech, or why it was skipped."""

    path: str
    video_id: str = ""
    reports: list[IndexReport] = field(default_factory=list)
    speech: list[Any] = field(default_factory=list)  # SpeechReport per speech source tried
    error: str | None = None
    seconds: float = 0.0
    failure: BaseException | None = field(default=None, repr=False, compare=False)  # the error itself

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def created(self) -> int:
        return sum(r.created for r in self.reports)

    @property
    def reused(self) -> int:
        return sum(r.reused for r in self.reports)
