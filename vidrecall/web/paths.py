"""Which files the server may read: videos inside the allowed folders (after resolving symlinks and `..`)."""
from __future__ import annotations

import os
from pathlib import Path

from vidrecall.core.video_files import VIDEO_EXTENSIONS

MAX_LISTED = 500


class PathRefused(ValueError):
    """A path the server will not read; `status` is the HTTP status that says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class PathPolicy:
    def __init__(self, roots: list[Path]):
        self.roots = [Path(r).resolve() for r in roots]

    def check(self, raw: str) -> Path:
        """The resolved file behind `raw` if it is a video file under an allowed folder; else PathRefused."""
        if not raw or not raw.strip():
            raise PathRefused(400, "path is empty: give the full path of a video file")
        if "\x00" in raw:
            raise PathRefused(400, "path contains a NUL byte")
        path = Path(raw.strip()).expanduser()
        if not path.is_absolute():
            raise PathRefused(400, f"{raw}: give an absolute path")
        if not self.roots:
            raise PathRefused(403, f"{raw}: adding videos by path is off; restart with --allow DIR or upload the file")
        resolved = path.resolve()
        if not any(resolved.is_relative_to(root) for root in self.roots):
            shown = ", ".join(str(r) for r in self.roots)
            via = " (through a symlink)" if path.absolute() != resolved and _lexically_inside(path, self.roots) else ""
            raise PathRefused(403, f"{raw}: outside the allowed folders{via}; allowed: {shown}")
        if not resolved.exists():
            raise PathRefused(404, f"{raw}: no such file")
        if not resolved.is_file():
            raise PathRefused(400, f"{raw}: not a file")
        if resolved.suffix.lower() not in VIDEO_EXTENSIONS:
            raise PathRefused(415, f"{raw}: not a video file (suffix {resolved.suffix or 'none'!r}; "
                                   f"expected one of {', '.join(sorted(VIDEO_EXTENSIONS))})")
        return resolved

    def listing(self) -> list[Path]:
        """Video files under the allowed folders (two levels deep), for the page's "add by path" list."""
        found: list[Path] = []
        for root in self.roots:
            for pattern in ("*", "*/*"):
                for p in sorted(root.glob(pattern)):
                    if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file() and p.resolve().is_relative_to(root):
                        found.append(p)
                        if len(found) >= MAX_LISTED:
                            return found
        return found


def _lexically_inside(path: Path, roots: list[Path]) -> bool:
    """Inside a root before symlinks are followed (so the refusal can say a link led out)."""
    normal = Path(os.path.normpath(path.absolute()))
    return any(normal.is_relative_to(r) for r in roots)
