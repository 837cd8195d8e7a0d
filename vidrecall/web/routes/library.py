"""The library: videos in the store, adding one (by path or upload), removing one, indexing jobs."""
from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections import Counter
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from vidrecall.memory.store import VideoRecord
from vidrecall.tools.video import VideoError
from vidrecall.web.jobs import Job
from vidrecall.core.video_files import VIDEO_EXTENSIONS
from vidrecall.web.paths import PathRefused
from vidrecall.web.schemas import AddByPath, AllowedFile, IndexRequest, LevelCount, VideoEntry
from vidrecall.web.services import Services, services, video_or_404
from vidrecall.core.errors import first_line
from vidrecall.core.types import SPEECH_LEVEL

router = APIRouter(prefix="/api", tags=["library"])
log = logging.getLogger(__name__)

CHUNK = 1 << 20
MAX_NAME = 120  # characters of an uploaded file's name, its extension included
PARTIAL = ".partial-"  # the server's own unfinished uploads (.partial-<random>); refused as a user's name


def entry(svc: Services, record: VideoRecord) -> VideoEntry:
    counts = Counter(n.level for n in svc.engine.memory.every_node(record.id))
    first = svc.config.levels[0].name
    order = {lv.name: i for i, lv in enumerate(svc.config.levels)}
    levels = [LevelCount(level=k, captions=v) for k, v in sorted(counts.items(), key=lambda kv: (order.get(kv[0], 99), kv[0]))]
    return VideoEntry(id=record.id, name=Path(record.path).name, path=record.path, duration=record.duration,
                      width=record.width, height=record.height, size_bytes=record.size_bytes, added_at=record.added_at,
                      captions=sum(counts.values()), levels=levels, speech=counts.get(SPEECH_LEVEL, 0) > 0,
                      coarse_complete=counts.get(first, 0) >= svc.clips_in_first_level(record),
                      jobs=svc.jobs.all(record.id))


@router.get("/videos", response_model=list[VideoEntry], summary="The videos in the store")
def list_videos(svc: Services = Depends(services)):
    return [entry(svc, r) for r in svc.engine.memory.videos()]


@router.get("/videos/{video_id}", response_model=VideoEntry, summary="One video")
def get_video(video_id: str, svc: Services = Depends(services)):
    return entry(svc, video_or_404(svc, video_id))


@router.get("/allowed", response_model=list[AllowedFile], summary="Video files under the --allow folders")
def allowed_files(svc: Services = Depends(services)):
    return [AllowedFile(path=str(p), name=p.name, size_bytes=p.stat().st_size) for p in svc.policy.listing()]


def _register(svc: Services, path: Path) -> VideoRecord:
    try:
        return svc.engine.memory.register(path)
    except VideoError as exc:
        raise HTTPException(415, first_line(exc)) from None


@router.post("/videos", response_model=VideoEntry, status_code=201, summary="Add a video by its path (under --allow)")
def add_by_path(body: AddByPath, svc: Services = Depends(services)):
    try:
        path = svc.policy.check(body.path)
    except PathRefused as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return entry(svc, _register(svc, path))


@router.post("/videos/upload", response_model=VideoEntry, status_code=201, summary="Upload a video (raw request body)",
             openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                 "schema": {"type": "string", "format": "binary"}}}}})
async def upload(request: Request, filename: str = Query(..., description="the file's name, e.g. talk.mp4"),
                 svc: Services = Depends(services)):
    """The body is the file itself. It is written to a temporary file in the store's uploads folder and renamed
    into place only when complete and within the size limit, so a cut or refused upload leaves nothing."""
    name = _safe_name(filename)
    limit = svc.settings.upload_limit
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"{name}: {int(declared):,} bytes is over the upload limit of {limit:,} bytes")
    uploads = svc.settings.uploads
    partial = uploads / f"{PARTIAL}{uuid.uuid4().hex}"
    size, digest = 0, hashlib.sha256()
    try:
        with partial.open("wb") as fh:
            try:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise HTTPException(413, f"{name}: over the upload limit of {limit:,} bytes")
                    digest.update(chunk)
                    fh.write(chunk)
            except ClientDisconnect:  # the browser went away (a closed tab, a cancelled upload): nothing to answer
                log.debug("upload of %s cut off by the client after %d bytes; nothing kept", name, size)
                return Response(status_code=400)
        if size == 0:
            raise HTTPException(400, f"{name}: the upload is empty")
        known = svc.engine.video(digest.hexdigest())  # a video's id is the sha256 of its bytes
        if known is not None and Path(known.path).is_file():
            return entry(svc, known)  # already in the store: keep no second copy
        final = _free_name(uploads, name)
        partial.rename(final)  # atomic: same folder, same file system
    finally:
        partial.unlink(missing_ok=True)
    try:
        record = await run_in_threadpool(_register, svc, final)
    except HTTPException as exc:
        final.unlink(missing_ok=True)
        # the user sent a file, not a path on this server: the message names the file as they named it
        raise HTTPException(exc.status_code, _without_server_paths(str(exc.detail), final, name)) from None
    return entry(svc, record)


def _without_server_paths(message: str, stored: Path, name: str) -> str:
    for path in sorted({str(stored), str(stored.resolve())}, key=len, reverse=True):
        message = message.replace(path, name)
    for folder in sorted({str(stored.parent), str(stored.parent.resolve())}, key=len, reverse=True):
        message = message.replace(folder + "/", "").replace(folder, "uploads")
    return message


def _safe_name(filename: str) -> str:
    """The name an upload is stored under: its base name in safe characters, at most MAX_NAME characters
    with its extension kept (media and frames are served by the extension)."""
    base = Path(filename.replace("\\", "/")).name
    if base.lower().startswith(PARTIAL):
        raise HTTPException(400, f"{base}: names starting with {PARTIAL} are kept for the server's unfinished uploads; "
                                 "rename the file")
    name = re.sub(r"[^A-Za-z0-9._ -]", "_", base).strip(" .")
    if not name:
        raise HTTPException(400, f"{filename!r}: give the file's name, e.g. talk.mp4")
    suffix = Path(name).suffix
    if suffix.lower() not in VIDEO_EXTENSIONS:
        raise HTTPException(415, f"{name[:MAX_NAME]}: not a video file "
                                 f"(expected one of {', '.join(sorted(VIDEO_EXTENSIONS))})")
    if len(name) > MAX_NAME:
        name = name[: MAX_NAME - len(suffix)].rstrip(" .") + suffix
    return name


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    while target.exists():
        target = folder / f"{Path(name).stem}-{uuid.uuid4().hex[:6]}{Path(name).suffix}"
    return target


@router.delete("/videos/{video_id}", summary="Remove a video and its captions from the store")
def remove_video(video_id: str, svc: Services = Depends(services)) -> dict:
    record = video_or_404(svc, video_id)
    for job in svc.jobs.all(video_id):
        svc.jobs.cancel(job.id)
    with svc.engine.video_lock(video_id):
        removed = svc.engine.memory.remove_video(video_id)
    path = Path(record.path)
    deleted_file = path.parent == svc.settings.uploads and path.exists()
    if deleted_file:
        path.unlink()
    return {"removed": video_id, "captions_removed": removed, "file_deleted": deleted_file}


# --- index jobs ---------------------------------------------------------------------------------------

@router.post("/videos/{video_id}/index", response_model=Job, status_code=202, tags=["jobs"],
             summary="Start indexing a video in the background")
def start_index(video_id: str, body: IndexRequest | None = None, svc: Services = Depends(services)):
    video_or_404(svc, video_id)
    known = [lv.name for lv in svc.config.levels]
    levels = (body.levels if body and body.levels else None) or list(svc.settings.index_levels)
    unknown = [lv for lv in levels if lv not in known]
    if unknown:
        raise HTTPException(400, f"unknown level {unknown[0]!r}: this profile has {', '.join(known)}")
    return svc.jobs.start(video_id, levels)


@router.get("/jobs", response_model=list[Job], tags=["jobs"], summary="Index jobs (optionally of one video)")
def list_jobs(video_id: str | None = None, svc: Services = Depends(services)):
    return svc.jobs.all(video_id)


@router.get("/jobs/{job_id}", response_model=Job, tags=["jobs"], summary="An index job's progress")
def get_job(job_id: str, svc: Services = Depends(services)):
    job = svc.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no index job {job_id!r}")
    return job


@router.post("/jobs/{job_id}/cancel", response_model=Job, tags=["jobs"],
             summary="Cancel an index job (captions finished so far are kept)")
def cancel_job(job_id: str, svc: Services = Depends(services)):
    job = svc.jobs.cancel(job_id)
    if job is None:
        raise HTTPException(404, f"no index job {job_id!r}")
    return job
