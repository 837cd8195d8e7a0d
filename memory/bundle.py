"""Memory bundles: what a store remembers about some videos, in one file (`NAME.vrmem`, a zip) that another
store can import, so the captions are never made twice.

    manifest.json                   format, version, vidrecall version, profile + profile digest, embedder
                                    (id, dim), the videos, and {member: {sha256, bytes}} for every member
    manifest.sha256                 the sha256 of manifest.json (each member also has the zip's CRC-32)
    videos/<video id>/video.json    the video record (content hash = id, path, duration, fps, size, ...)
    videos/<video id>/nodes.jsonl   one caption or speech segment a line: its caption key, its parent's key,
                                    level, span, text, captioner, prompt hash, sampling, frame times, words...
    videos/<video id>/embeddings.npy  float32 (nodes, dim): the index's vectors, rows in nodes.jsonl order
    videos/<video id>/marks.json    the speech lane's progress marks ("done": no audio is transcribed again)

Reading checks everything before anything is written: a truncated file or a bad CRC, a member missing, extra
or not matching its sha256, a manifest not matching its own sha256, a node whose key is not the key of its
fields -- each a BundleError (one line naming the bundle). An import also refuses a bundle whose video is not
the local file named (`video=`) or the file at the recorded path, when one is there with other content.
Importing merges: a node whose key the store holds already is kept as it is (keys are unique), so importing
twice, or into a store holding some of the nodes, adds nothing twice. Embeddings go into the index as they are
when the store's embedder made them too; otherwise the new nodes are embedded again (and the report says so).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import time
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vidrecall.core.digests import package_version, profile_digest
from vidrecall.core.types import SPEECH_LEVEL, MemoryNode
from vidrecall.memory.memory import VideoMemory
from vidrecall.memory.store import MemoryStoreError, VideoRecord

FORMAT = "vidrecall-memory-bundle"
FORMAT_VERSION = 1
SUFFIX = ".vrmem"
MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.sha256"
MAX_MEMBER_BYTES = 4 << 30  # a member declaring more than this is no bundle of ours (a zip bomb)
NODE_FIELDS = ("level", "depth", "start", "end", "text", "captioner", "prompt_hash", "fps", "frames", "max_pixels",
               "instruction", "sampling", "frame_times", "speaker", "words", "created_at")
# The progress marks of a video (its speech lane) travel with it: `speech:<video id>:<run key>`.
MARK_PREFIX = "speech:{video_id}:"


class BundleError(ValueError):
    """A bundle that cannot be written, read or imported; one line naming the file and the fix."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _member(video_id: str, name: str) -> str:
    return f"videos/{video_id}/{name}"


# --- export -------------------------------------------------------------------------------------------------

@dataclass
class BundledVideo:
    record: VideoRecord
    nodes: int
    speech: int


@dataclass
class ExportReport:
    path: Path
    videos: list[BundledVideo]
    embedder: str
    bytes: int

    def line(self) -> str:
        nodes, speech = sum(v.nodes for v in self.videos), sum(v.speech for v in self.videos)
        return (f"wrote {self.path}: {len(self.videos)} video(s), {nodes - speech} captions and {speech} speech "
                f"segments with their {self.embedder} embeddings, {self.bytes / 1024:.0f} KiB")


def export_bundle(memory: VideoMemory, video_ids: list[str], out: str | os.PathLike, *,
                  paths: dict[str, str] | None = None) -> ExportReport:
    """Write the nodes, embeddings and marks of `video_ids` (each stored in `memory`) to `out`, atomically.
    `paths`: where each video is now (the file the user named), recorded instead of the store's last path."""
    out = Path(out)
    if not video_ids:
        raise BundleError(f"{out}: no video to export")
    members: dict[str, bytes] = {}
    videos: list[BundledVideo] = []
    for video_id in dict.fromkeys(video_ids):
        record = memory.video(video_id)
        keyed = memory.store.keyed_nodes(video_id)
        if record is None or not keyed:
            raise BundleError(f"video {video_id[:12]}: nothing stored for it in {memory.store_dir}; index it first")
        if paths and video_id in paths:
            record = VideoRecord(**{**asdict(record), "path": paths[video_id]})
        ids = [node.stored_id for _, node in keyed]
        key_of = dict(zip(ids, (key for key, _ in keyed)))
        lines = []
        for key, node in keyed:
            row: dict[str, Any] = {"key": key, "parent_key": key_of.get(node.parent_id) if node.parent_id else None}
            row.update({name: getattr(node, name) for name in NODE_FIELDS})
            lines.append(json.dumps(row, ensure_ascii=False, sort_keys=True))
        vectors = np.ascontiguousarray(memory.vectors(ids), dtype=np.float32)
        buffer = io.BytesIO()
        np.save(buffer, vectors, allow_pickle=False)
        members[_member(video_id, "video.json")] = json.dumps(asdict(record), sort_keys=True).encode()
        members[_member(video_id, "nodes.jsonl")] = ("\n".join(lines) + "\n").encode()
        members[_member(video_id, "embeddings.npy")] = buffer.getvalue()
        marks = memory.store.meta_items(MARK_PREFIX.format(video_id=video_id))
        members[_member(video_id, "marks.json")] = json.dumps(marks, sort_keys=True).encode()
        videos.append(BundledVideo(record, len(keyed), sum(1 for _, n in keyed if n.level == SPEECH_LEVEL)))
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "created_at": time.time(),
        "vidrecall_version": package_version(), "profile": memory.config.profile,
        "profile_digest": profile_digest(memory.config),
        "embedder": {"id": memory.embedder.id, "dim": memory.embedder.dim},
        "videos": [{"id": v.record.id, "name": Path(v.record.path).name, "path": v.record.path, "nodes": v.nodes,
                    "speech": v.speech} for v in videos],
        "members": {name: {"sha256": sha256(data), "bytes": len(data)} for name, data in sorted(members.items())},
    }
    manifest_bytes = json.dumps(manifest, indent=1, sort_keys=True).encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST, manifest_bytes)
            zf.writestr(MANIFEST_SUM, f"{sha256(manifest_bytes)}  {MANIFEST}\n")
            for name, data in sorted(members.items()):
                zf.writestr(name, data)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return ExportReport(out, videos, memory.embedder.id, out.stat().st_size)


# --- reading and checking ------------------------------------------------------------------------------------

@dataclass
class VideoPart:
    record: VideoRecord
    keys: list[str]
    parent_keys: list[str | None]
    nodes: list[MemoryNode]
    vectors: np.ndarray
    marks: dict[str, str]


@dataclass
class Bundle:
    path: Path
    manifest: dict[str, Any]
    videos: list[VideoPart] = field(default_factory=list)

    @property
    def embedder(self) -> str:
        return str(self.manifest["embedder"]["id"])

    @property
    def dim(self) -> int:
        return int(self.manifest["embedder"]["dim"])


def read_bundle(path: str | os.PathLike) -> Bundle:
    """The bundle at `path`, every member checked (see the module); BundleError, one line, otherwise."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: no such bundle file")
    try:
        with zipfile.ZipFile(path) as zf:
            return _read(path, zf)
    except BundleError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise BundleError(f"{path}: damaged, truncated or tampered bundle ({_first(exc)}); export it again") from None
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise BundleError(f"{path}: not a vidrecall memory bundle ({type(exc).__name__}: {_first(exc)})") from None


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _read_member(path: Path, zf: zipfile.ZipFile, name: str) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > MAX_MEMBER_BYTES:
        raise BundleError(f"{path}: member {name} claims {info.file_size} bytes; not a bundle vidrecall wrote")
    return zf.read(name)  # the zip's CRC-32 is checked as it is read (BadZipFile on a flipped byte)


def _read(path: Path, zf: zipfile.ZipFile) -> Bundle:
    names = set(zf.namelist())
    if MANIFEST not in names or MANIFEST_SUM not in names:
        raise BundleError(f"{path}: not a vidrecall memory bundle (no {MANIFEST}); export one with 'vidrecall export'")
    manifest_bytes = _read_member(path, zf, MANIFEST)
    recorded = _read_member(path, zf, MANIFEST_SUM).decode("ascii", "replace").split()
    if not recorded or recorded[0] != sha256(manifest_bytes):
        raise BundleError(f"{path}: tampered bundle ({MANIFEST} does not match {MANIFEST_SUM}); export it again")
    manifest = json.loads(manifest_bytes)
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{path}: not a vidrecall memory bundle (format {manifest.get('format')!r})")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise BundleError(f"{path}: bundle format {manifest['format_version']} is newer than this vidrecall reads "
                          f"({FORMAT_VERSION}); upgrade vidrecall")
    listed: dict[str, dict[str, Any]] = manifest["members"]
    extra = sorted(names - set(listed) - {MANIFEST, MANIFEST_SUM})
    missing = sorted(set(listed) - names)
    if extra or missing:
        what = f"member {missing[0]} missing" if missing else f"member {extra[0]} not in the manifest"
        raise BundleError(f"{path}: tampered or incomplete bundle ({what}); export it again")
    data: dict[str, bytes] = {}
    for name, entry in sorted(listed.items()):
        blob = _read_member(path, zf, name)
        if len(blob) != int(entry["bytes"]) or sha256(blob) != entry["sha256"]:
            raise BundleError(f"{path}: tampered bundle (member {name} does not match its sha256 in the manifest); "
                              "export it again")
        data[name] = blob
    bundle = Bundle(path, manifest)
    for video in manifest["videos"]:
        bundle.videos.append(_video_part(path, str(video["id"]), data, bundle.dim))
    return bundle


def _video_part(path: Path, video_id: str, data: dict[str, bytes], dim: int) -> VideoPart:
    record = VideoRecord(**json.loads(data[_member(video_id, "video.json")]))
    if record.id != video_id:
        raise BundleError(f"{path}: video {video_id[:12]} has the record of another ({record.id[:12]})")
    keys, parents, nodes = [], [], []
    for n, line in enumerate(data[_member(video_id, "nodes.jsonl")].decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        node = MemoryNode(video_id=video_id, **{name: row.get(name) for name in NODE_FIELDS})
        node.sampling = node.sampling or ""
        if node.key != row["key"]:
            raise BundleError(f"{path}: node {n} of video {video_id[:12]}: its caption key does not match its "
                              "fields (tampered, or written by another caption-key scheme)")
        keys.append(str(row["key"]))
        parents.append(row.get("parent_key"))
        nodes.append(node)
    vectors = np.load(io.BytesIO(data[_member(video_id, "embeddings.npy")]), allow_pickle=False)
    if vectors.shape != (len(nodes), dim) or vectors.dtype != np.float32:
        raise BundleError(f"{path}: embeddings of video {video_id[:12]} are {vectors.shape} {vectors.dtype}, "
                          f"not ({len(nodes)}, {dim}) float32")
    marks = {str(k): str(v) for k, v in json.loads(data[_member(video_id, "marks.json")]).items()
             if str(k).startswith(MARK_PREFIX.format(video_id=video_id))}
    return VideoPart(record, keys, parents, nodes, vectors, marks)


# --- import -------------------------------------------------------------------------------------------------

@dataclass
class ImportedVideo:
    record: VideoRecord
    added: int
    already: int


@dataclass
class ImportReport:
    path: Path
    videos: list[ImportedVideo]
    reembedded: int = 0  # new nodes embedded again (the bundle's embedder is not the store's)
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        parts = [f"{Path(v.record.path).name}: {v.added} new, {v.already} already stored" for v in self.videos]
        return f"imported {self.path}: " + "; ".join(parts)


def import_bundle(memory: VideoMemory, path: str | os.PathLike | Bundle, *,
                  video: str | os.PathLike | None = None) -> ImportReport:
    """Merge the bundle at `path` (or one read already) into `memory` (see the module). `video`: the local file
    the bundle is about (its content must be the bundled video's; it becomes the recorded path)."""
    bundle = path if isinstance(path, Bundle) else read_bundle(path)
    local = _checked_files(memory, bundle, Path(video) if video is not None else None)
    same_embedder = bundle.embedder == memory.embedder.id and bundle.dim == memory.embedder.dim
    report = ImportReport(bundle.path, [])
    if bundle.manifest.get("profile_digest") != profile_digest(memory.config):
        report.notes.append(f"the bundle was made with profile {bundle.manifest.get('profile')!r}; this store's profile "
                            f"{memory.config.profile!r} differs in what shapes captions, so questions asked with it "
                            "reuse only the captions whose keys match")
    for part in bundle.videos:
        record = part.record
        if part.record.id in local:
            record = VideoRecord(**{**asdict(record), "path": local[part.record.id]})
        memory.store.upsert_video(record)
        added, already, new_ids, rows = 0, 0, [], []
        stored_id: dict[str, int] = {}
        for row, (key, parent_key, node) in enumerate(zip(part.keys, part.parent_keys, part.nodes)):
            found = memory.store.find(key)
            if found is not None:
                stored_id[key] = found.stored_id
                already += 1
                continue
            parent = None
            if parent_key:
                parent = stored_id.get(parent_key)
                if parent is None and (p := memory.store.find(parent_key)) is not None:
                    parent = p.stored_id
            node.parent_id, node.id = parent, None
            stored = memory.store.add(node)
            stored_id[key] = stored.stored_id
            added += 1
            new_ids.append(stored.stored_id)
            rows.append(row)
        if same_embedder:
            memory.add_vectors(new_ids, part.vectors[rows])
        else:
            report.reembedded += len(new_ids)
        for name, value in part.marks.items():
            if value == "done" or memory.mark(name) is None:
                memory.set_mark(name, value)
        report.videos.append(ImportedVideo(record, added, already))
    if report.reembedded:
        report.notes.append(f"re-embedding {report.reembedded} captions with {memory.embedder.id} (the bundle's "
                            f"embeddings were made with {bundle.embedder})")
    memory.sync_index(memory.progress)  # embeds what has no vector yet (none when the embedders match), writes the file
    return report


def _checked_files(memory: VideoMemory, bundle: Bundle, video: Path | None) -> dict[str, str]:
    """{video id: local path} of the files the bundle is about; BundleError when a named file, or the file at
    a recorded path, has other content. Nothing is written before this passes."""
    local: dict[str, str] = {}
    ids = {part.record.id for part in bundle.videos}
    if video is not None:
        if not video.is_file():
            raise BundleError(f"{video}: no such video file")
        try:
            vid = memory.store.video_id(video, memory.progress)
        except MemoryStoreError as exc:
            raise BundleError(str(exc)) from None
        if vid not in ids:
            held = ", ".join(sorted(i[:12] for i in ids))
            raise BundleError(f"{bundle.path}: holds the memory of video {held}, but {video} is another video "
                              f"(sha256 {vid[:12]}); name the file the bundle was exported from")
        local[vid] = str(video.resolve())
    for part in bundle.videos:
        recorded = Path(part.record.path)
        if part.record.id in local or not recorded.is_file():
            continue
        try:
            vid = memory.store.video_id(recorded, memory.progress)
        except MemoryStoreError:
            continue  # unreadable there: nothing to compare with
        if vid != part.record.id:
            raise BundleError(f"{bundle.path}: {recorded} (the path recorded in the bundle) holds another video "
                              f"(sha256 {vid[:12]}, the bundle's is {part.record.id[:12]}); pass --video with the "
                              "file the bundle was exported from")
    return local
