"""The video file itself (HTTP range requests: 206 Partial Content, so seeking is instant) and frame thumbnails.

Only videos registered in the store are served, by id; there is no route that takes a file path. What is
served is decided from the stored record, never from the file's name (an upload's name may have been cut):
the file at the recorded path is served only while it is still the file that was added:
- its real path (symlinks followed) is still under an --allow folder or the uploads folder (a file swapped
  for a link to /etc/passwd is refused);
- its bytes are still the video's: size, mtime, inode and a sha256 of its first and last 64 KiB are
  compared with what they were when the file was first checked (kept in the store's web_media.json); the
  first check, and any after the file was touched, confirm the full content hash (the video's id) through the
  store's hash cache, so a file hashes at most once per change.
"""
from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response

from vidrecall.core.errors import first_line
from vidrecall.memory.store import MemoryStoreError, VideoRecord
from vidrecall.web.services import Services, services, video_or_404

router = APIRouter(tags=["media"])
MEDIA_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mkv": "video/x-matroska", ".webm": "video/webm",
               ".mov": "video/quicktime", ".avi": "video/x-msvideo"}
SAMPLE_BYTES = 64 << 10


@dataclass(frozen=True)
class Fingerprint:
    """What a video file is, cheaply: its stat and a hash of its first and last SAMPLE_BYTES."""
    path: str
    size: int
    mtime_ns: int
    dev: int
    ino: int
    sample: str


class MediaBook:
    """The fingerprint each video's file had when it was last confirmed, by video id (a small JSON file)."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._book: dict[str, Fingerprint] | None = None

    def get(self, video_id: str) -> Fingerprint | None:
        with self._lock:
            return self._load().get(video_id)

    def put(self, video_id: str, fp: Fingerprint) -> None:
        with self._lock:
            book = self._load()
            if book.get(video_id) == fp:
                return
            book[video_id] = fp
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({k: asdict(v) for k, v in book.items()}, fh)
            os.replace(tmp, self.path)

    def _load(self) -> dict[str, Fingerprint]:
        if self._book is None:
            try:
                raw = json.loads(self.path.read_text(encoding="utf-8"))
                self._book = {k: Fingerprint(**v) for k, v in raw.items()}
            except (OSError, ValueError, TypeError, AttributeError):  # none yet, or damaged: confirmed again by hash
                self._book = {}
        return self._book


def media_book(request: Request) -> MediaBook:
    return request.app.state.media_book


@dataclass(frozen=True)
class Served:
    record: VideoRecord
    path: Path  # the real file (symlinks resolved), checked
    media_type: str


def _checked(svc: Services, book: MediaBook, video_id: str) -> Served:
    """The recorded file of `video_id` if it is still the one that was added; else one-line HTTPException."""
    record = video_or_404(svc, video_id)
    recorded = Path(record.path)
    try:
        real = recorded.resolve(strict=True)
    except (OSError, RuntimeError):
        raise HTTPException(410, f"{recorded}: the video file is gone (moved or deleted); add it again") from None
    roots = [Path(r).resolve() for r in svc.settings.readable_roots]
    # A file the store recorded outside those folders (indexed by `vidrecall index`) is served only where it was
    # recorded: a link put in its place (or in place of a folder above it) resolves elsewhere and is refused.
    if real != recorded and not any(real.is_relative_to(root) for root in roots):
        raise HTTPException(403, f"{recorded.name}: the file was replaced by a link that leads outside the "
                                 "--allow folders and the uploads folder; not served (add the video again)")
    if not real.is_file():
        raise HTTPException(410, f"{recorded.name}: not a regular file any more; add the video again")
    try:
        fp, head = _fingerprint(real)
    except OSError as exc:
        raise HTTPException(410, f"{recorded.name}: cannot read the video file ({exc.strerror or exc})") from None
    changed = HTTPException(409, f"{recorded.name}: the file is no longer the video that was added (its content "
                                 "changed or another file took its place); add it again")
    if fp.size != record.size_bytes:
        raise changed
    known = book.get(record.id)
    if known != fp:
        if known is not None and known.sample != fp.sample:
            raise changed  # other bytes: no need to hash the whole file to know
        try:  # first check, or touched/copied: the whole content must still hash to the video's id
            same = svc.engine.memory.store.video_id(real) == record.id
        except MemoryStoreError as exc:
            raise HTTPException(410, first_line(exc)) from None
        if not same:
            raise changed
        book.put(record.id, fp)
    return Served(record, real, _media_type(recorded, head))


def _fingerprint(path: Path) -> tuple[Fingerprint, bytes]:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        st = os.fstat(fh.fileno())
        head = fh.read(SAMPLE_BYTES)
        digest.update(head)
        if st.st_size > SAMPLE_BYTES:
            fh.seek(max(SAMPLE_BYTES, st.st_size - SAMPLE_BYTES))
            digest.update(fh.read(SAMPLE_BYTES))
    return Fingerprint(str(path), st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino, digest.hexdigest()), head


def _media_type(path: Path, head: bytes) -> str:
    """From the name when it says a video type, else from the first bytes (a cut upload name has no suffix)."""
    by_name = MEDIA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or ""
    if by_name.startswith("video/"):
        return by_name
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head[:4] == b"\x00\x00\x01\xba":
        return "video/mpeg"
    return "application/octet-stream"


@router.get("/media/{video_id}", summary="The video file (supports Range requests)",
            response_class=FileResponse, responses={206: {"description": "the requested byte range"}})
def media(video_id: str, svc: Services = Depends(services), book: MediaBook = Depends(media_book)):
    served = _checked(svc, book, video_id)
    return FileResponse(served.path, media_type=served.media_type, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/api/videos/{video_id}/frame", summary="A JPEG of the frame at time t", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}})
def frame(video_id: str, t: float = Query(..., ge=0), size: int = Query(160, ge=32, le=640),
          svc: Services = Depends(services), book: MediaBook = Depends(media_book)):
    from vidrecall.display.thumbnails import span_thumbnails
    from vidrecall.tools.video import VideoError

    served = _checked(svc, book, video_id)
    record = served.record
    start = min(t, max(0.0, record.duration - 0.5))
    try:
        thumbs = span_thumbnails(served.path, (start, min(record.duration, start + 0.5)), n=1, max_side=size)
    except (VideoError, ValueError) as exc:
        raise HTTPException(400, f"no frame at {t:.1f} s: {first_line(exc)}") from None
    if not thumbs:
        raise HTTPException(404, f"no frame at {t:.1f} s")
    data = base64.b64decode(thumbs[0].data_uri.split(",", 1)[1])
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})
