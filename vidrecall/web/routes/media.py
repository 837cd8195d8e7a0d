"""The video file itself (HTTP range requests: 206 Partial Content, so seeking is instant) and frame thumbnails.

Only videos registered in the store are served, by id; there is no route that takes a file path."""
from __future__ import annotations

import base64
import mimetypes
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse, Response

from vidrecall.core.video_files import VIDEO_EXTENSIONS
from vidrecall.web.services import Services, services, video_or_404
from vidrecall.core.errors import first_line

router = APIRouter(tags=["media"])
MEDIA_TYPES = {".mkv": "video/x-matroska", ".webm": "video/webm", ".mov": "video/quicktime", ".avi": "video/x-msvideo"}


def _file_of(svc: Services, video_id: str) -> Path:
    record = video_or_404(svc, video_id)
    path = Path(record.path)
    if not path.is_file():
        raise HTTPException(410, f"{path}: the video file is gone (moved or deleted); add it again")
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        raise HTTPException(415, f"{path.name}: not a video file")
    return path


@router.get("/media/{video_id}", summary="The video file (supports Range requests)",
            response_class=FileResponse, responses={206: {"description": "the requested byte range"}})
def media(video_id: str, svc: Services = Depends(services)):
    path = _file_of(svc, video_id)
    kind = MEDIA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=kind, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/api/videos/{video_id}/frame", summary="A JPEG of the frame at time t", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}})
def frame(video_id: str, t: float = Query(..., ge=0), size: int = Query(160, ge=32, le=640),
          svc: Services = Depends(services)):
    from vidrecall.display.thumbnails import span_thumbnails
    from vidrecall.tools.video import VideoError

    path = _file_of(svc, video_id)
    record = video_or_404(svc, video_id)
    start = min(t, max(0.0, record.duration - 0.5))
    try:
        thumbs = span_thumbnails(path, (start, min(record.duration, start + 0.5)), n=1, max_side=size)
    except (VideoError, ValueError) as exc:
        raise HTTPException(400, f"no frame at {t:.1f} s: {first_line(exc)}") from None
    if not thumbs:
        raise HTTPException(404, f"no frame at {t:.1f} s")
    data = base64.b64decode(thumbs[0].data_uri.split(",", 1)[1])
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})
