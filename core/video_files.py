"""Which files are videos: the one list of extensions the CLI, the library, the web app and the
evaluation loaders agree on."""
from __future__ import annotations

from pathlib import Path

# Containers PyAV/ffmpeg read and that users keep videos in; anything else is not looked at.
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".ts", ".wmv",
                    ".ogv", ".3gp")


def is_video_file(path: str | Path) -> bool:
    """True for an existing file whose extension is a video container's."""
    p = Path(path)
    return p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file()


def has_video_extension(name: str | Path) -> bool:
    return Path(name).suffix.lower() in VIDEO_EXTENSIONS
