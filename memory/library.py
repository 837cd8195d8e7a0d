"""A library: many video files placed on ONE timeline, ordered by when each was recorded.

Where a file's start time comes from, first source that covers every file wins:
  1. a sidecar manifest in the folder (`library.json` / `library.yaml`): `{"videos": [{"file": "a.mp4",
     "start": "2025-05-01T11:09:42"}, ...]}` — it also decides which files belong, and their order;
  2. an EgoLife-style name `..DAY1_11094208..` = day 1, 11:09:42.08;
  3. the container's `creation_time` metadata (PyAV);
  4. none: name order.
Files sit back to back on the timeline (gaps between recordings are compressed away, so every timeline
second is a video second); their real clock times are kept for labels.

Nothing about a manifest or a file name is trusted blindly: a manifest that cannot be read is one line
naming it (LibraryError); an entry naming a file outside the folder (`../x.mp4`, `/abs/x.mp4`) is refused
with a skip line; a start that is not a time (`"inf"`, `"tomorrow"`, `DAY1_99999999`) is named in a note
and the order falls back, saying so (`Library.notes`); a file whose name is not valid UTF-8 is skipped with
its name escaped (the store cannot keep it, see memory/store.py). Every skip and note line encodes as UTF-8.
"""
from __future__ import annotations

import glob
import json
import logging
import math
import os
import posixpath
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from vidrecall.core.errors import first_line
from vidrecall.core.types import TIME_EPS, Span, fmt_time, stable_hash
from vidrecall.core.video_files import VIDEO_EXTENSIONS
from vidrecall.memory.memory import BAD_FILE_ERRORS
from vidrecall.memory.store import VideoRecord, safe_path_text, safe_text, unstorable_name

if TYPE_CHECKING:
    from vidrecall.memory.memory import VideoMemory

log = logging.getLogger(__name__)

MANIFEST_NAMES = ("library.json", "library.yaml", "library.yml")
# DAY1_11094208, and EgoLife's DAY1_A1_JAKE_11094208: the day, any name tokens, then HHMMSS + hundredths
_EGOLIFE = re.compile(r"DAY(\d+)_(?:[A-Za-z0-9]+_)*?(\d{2})(\d{2})(\d{2})(\d{2})?(?!\d)", re.I)
DAY_SECONDS = 86400
MAX_DAY = 99999  # DAYn beyond this is no recording day (and would overflow a float's seconds)
DESCRIBE_MAX_FILES = 40
START_FORMS = "a date-time (2025-05-01T11:09:42), a DAYn_HHMMSSff stamp or a number of seconds"


class LibraryError(ValueError):
    """A library that cannot be built (no videos, unreadable manifest); one line naming the path."""


@dataclass(frozen=True)
class StartTime:
    """When a file starts on a clock: `seconds` comparable across the files of one library, `label` for people."""

    seconds: float
    label: str
    source: str  # "manifest" | "name" | "metadata"


@dataclass(frozen=True)
class LibraryEntry:
    """One file of the library: its memory record and where it sits on the library timeline."""

    record: VideoRecord
    offset: float  # timeline second at which this file begins
    start: StartTime | None = None
    file: str = ""  # the path as the library names it (a link in the folder stays a link), else the record's

    @property
    def path(self) -> str:
        return self.file or self.record.path

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def duration(self) -> float:
        return float(self.record.duration)

    @property
    def span(self) -> Span:
        return Span(self.offset, self.offset + self.duration)

    def clock(self, local: float) -> str | None:
        """The recording's clock time at `local` seconds into this file (None when unknown)."""
        if self.start is None:
            return None
        return clock_label(self.start, local)


@dataclass(frozen=True)
class LibraryRecord:
    """The library as one long video for the agent: `id`, `path`, `duration` like a VideoRecord."""

    id: str
    path: str
    duration: float


@dataclass
class Library:
    """Files in timeline order. `locate` maps a timeline time to (file, local time); `to_timeline` back."""

    root: str
    entries: list[LibraryEntry]
    skipped: list[str] = field(default_factory=list)  # "path: why" for files left out
    order_source: str = "name"
    notes: list[str] = field(default_factory=list)  # kept files with something to say (an unreadable start)

    def __post_init__(self) -> None:
        if not self.entries:
            raise LibraryError(f"{self.root}: no readable videos to build a library from")
        self._by_id = {e.record.id: e for e in self.entries}

    @property
    def duration(self) -> float:
        last = self.entries[-1]
        return last.offset + last.duration

    @property
    def record(self) -> LibraryRecord:
        ids = [e.record.id for e in self.entries]
        return LibraryRecord(id=f"library:{stable_hash(ids)}", path=self.root, duration=self.duration)

    def entry(self, video_id: str) -> LibraryEntry | None:
        return self._by_id.get(video_id)

    def locate(self, t: float) -> tuple[LibraryEntry, float]:
        """The file playing at timeline second `t`, and how far into it (the last file owns the very end)."""
        for e in self.entries:
            if t < e.offset + e.duration - TIME_EPS:
                return e, max(0.0, t - e.offset)
        last = self.entries[-1]
        return last, last.duration

    def split(self, span: Span) -> list[tuple[LibraryEntry, Span]]:
        """The pieces of a timeline span inside each file, in local times, longest overlap first."""
        pieces = []
        for e in self.entries:
            inter = e.span.overlap(span)
            if inter > TIME_EPS:
                local = Span(max(span.start, e.offset) - e.offset, min(span.end, e.offset + e.duration) - e.offset)
                pieces.append((inter, e, local))
        pieces.sort(key=lambda p: -p[0])
        return [(e, local) for _, e, local in pieces]

    def to_timeline(self, video_id: str, local: float) -> float:
        e = self._by_id[video_id]
        return e.offset + local

    def describe(self, spans: list[Span] | None = None) -> str:
        """One line per file for the LLM: which file covers which timeline period and when it was recorded
        (only the files `spans` touch, when given; at most DESCRIBE_MAX_FILES lines)."""
        lines = [f"The timeline joins {len(self.entries)} videos back to back, in recording order:"]
        shown = [(i, e) for i, e in enumerate(self.entries, 1)
                 if spans is None or any(e.span.overlap(s) > TIME_EPS for s in spans)]
        if len(shown) > DESCRIBE_MAX_FILES:
            lines.append(f"({len(shown) - DESCRIBE_MAX_FILES} more videos are not listed)")
            shown = shown[:DESCRIBE_MAX_FILES]
        for i, e in shown:
            when = f", recorded from {e.start.label}" if e.start else ""
            lines.append(f"- video {i} ({e.name}): timeline {_secs(e.offset)}s to {_secs(e.offset + e.duration)}s{when}")
        return "\n".join(lines)


# --- which files -----------------------------------------------------------------------------------
def expand_targets(targets: list[str]) -> tuple[list[Path], list[str]]:
    """Video files named by paths, folders (searched recursively) and glob patterns; (files, problems).

    Files keep their first-seen order and appear once; every target that names nothing is a problem line.
    """
    files: list[Path] = []
    problems: list[str] = []
    for target in targets:
        path = Path(target).expanduser()
        if path.is_dir():
            found = video_files(path)
        elif path.is_file():
            found = [path]
        elif glob.has_magic(target):
            found = sorted(Path(p) for p in glob.glob(str(path), recursive=True)
                           if Path(p).is_file() and Path(p).suffix.lower() in VIDEO_EXTENSIONS)
        else:
            problems.append(f"{target}: no such file or folder")
            continue
        if not found:
            problems.append(f"{target}: no video files ({', '.join(VIDEO_EXTENSIONS)})")
        files.extend(found)
    unique = list(dict.fromkeys(p.absolute() for p in files))  # links stay links: the library names them
    return unique, problems


def video_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)


def is_library_target(target) -> bool:
    """A folder, a glob pattern, a list of paths or a Library: something `VideoQA.ask` treats as a library."""
    if isinstance(target, (Library, list, tuple)):
        return True
    text = str(target)
    return Path(text).expanduser().is_dir() or (glob.has_magic(text) and not Path(text).exists())


# --- start times --------------------------------------------------------------------------------------
def read_manifest(folder: Path) -> tuple[Path, list[tuple[str, str | None]]] | None:
    """(manifest path, [(file, start or None), ...]) from the folder's sidecar manifest, or None without one.

    LibraryError, one line naming the manifest (and the entry, when one entry is the problem), for a file
    that is not JSON/YAML, is nested too deeply to read, or is not shaped like a manifest. Starts come back
    as text, unchecked: `order_files` says which of them are not times."""
    for name in MANIFEST_NAMES:
        path = folder / name
        if not path.exists():
            continue
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix == ".json" else _yaml(text)
        except RecursionError:  # [[[[... 100,000 deep: Python's parsers give up
            raise LibraryError(f"{path}: unreadable library manifest (nested too deeply to read)") from None
        except (OSError, ValueError) as exc:
            raise LibraryError(f"{path}: unreadable library manifest ({safe_text(first_line(exc, 120))})") from None
        rows = data.get("videos") if isinstance(data, dict) else data
        if isinstance(rows, dict):  # {"file.mp4": "start", ...}
            rows = [{"file": k, "start": v} for k, v in rows.items()]
        if not isinstance(rows, list):
            raise LibraryError(f"{path}: expected {{'videos': [{{'file': ..., 'start': ...}}, ...]}}")
        return path, [_manifest_row(path, n, r) for n, r in enumerate(rows, 1)]
    return None


def _manifest_row(path: Path, n: int, row: object) -> tuple[str, str | None]:
    """(file, start text or None) of entry `n`; LibraryError naming the entry when it has no usable file."""
    file = row.get("file") if isinstance(row, dict) else None
    if isinstance(file, bool) or not isinstance(file, (str, int)) or str(file).strip() == "":
        shown = safe_text(json.dumps(row, default=str, ensure_ascii=False))
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise LibraryError(f"{path}: entry {n} ({shown}) needs a 'file' naming a video in the folder, "
                           "e.g. {'file': 'a.mp4', 'start': '2025-05-01T11:09:42'}")
    assert isinstance(row, dict)
    start = row.get("start")
    if start is None or start == "":
        return str(file), None
    if isinstance(start, datetime):  # YAML reads an unquoted date-time as one
        start = start.isoformat()
    return str(file), str(start)


def _yaml(text: str):
    """YAML, any error (a syntax error, an unhashable key) as one ValueError line with its position."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or first_line(exc)
        raise ValueError(f"not valid YAML ({where}{problem})") from None


def start_from_text(text: str, source: str) -> StartTime | None:
    """An ISO date-time ("2025-05-01T11:09:42Z"), an EgoLife stamp ("DAY1_11094208") or seconds ("3600");
    None for anything else, including "inf"/"nan" and stamps past the clock ("DAY1_99999999")."""
    m = _EGOLIFE.search(text)
    if m:
        return _egolife(m, source)
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return StartTime(seconds, fmt_time(seconds), source) if math.isfinite(seconds) else None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return StartTime(when.timestamp(), when.strftime("%Y-%m-%d %H:%M:%S"), source)
    except (ValueError, OverflowError, OSError):
        return None


def start_from_name(path: Path) -> StartTime | None:
    """The EgoLife stamp in a file's name; None without one or when it is no clock time (DAY1_99999999)."""
    m = _EGOLIFE.search(path.stem)
    return _egolife(m, "name") if m else None


def start_from_metadata(path: Path) -> StartTime | None:
    """The container's creation_time tag (cameras and phones write it), read with PyAV."""
    import av

    try:
        with av.open(str(path)) as container:
            tags = dict(container.metadata or {})
            for stream in container.streams:
                created = (stream.metadata or {}).get("creation_time")
                if created is not None:
                    tags.setdefault("creation_time", created)
    except (av.FFmpegError, OSError):
        return None
    raw = tags.get("creation_time")
    if not raw:
        return None
    start = start_from_text(str(raw), "metadata")
    if start is not None and start.seconds <= 0:  # "1970-01-01" / "0": an unset clock, not a time
        return None
    return start


def _egolife(m: re.Match, source: str) -> StartTime | None:
    """The stamp's time; None when it is no clock time (hour 24+, minute or second 60+, an absurd day)."""
    day, hh, mm, ss, cs = int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5) or 0)
    if day > MAX_DAY or hh > 23 or mm > 59 or ss > 59:
        return None
    seconds = day * DAY_SECONDS + hh * 3600 + mm * 60 + ss + cs / 100
    return StartTime(seconds, f"DAY{day} {hh:02d}:{mm:02d}:{ss:02d}", source)


def clock_label(start: StartTime, local: float) -> str:
    """`start` moved on by `local` seconds, written the way the start was (DAY-clock or date-time)."""
    t = start.seconds + local
    if start.label.upper().startswith("DAY"):
        day, rem = divmod(int(t), DAY_SECONDS)
        return f"DAY{day} {rem // 3600:02d}:{rem % 3600 // 60:02d}:{rem % 60:02d}"
    if start.source in ("manifest", "metadata") and t > DAY_SECONDS * 365:
        try:
            return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        except (ValueError, OverflowError, OSError):  # seconds past year 9999: no calendar date
            pass
    return fmt_time(t)


def order_files(paths: list[Path], manifest: list[tuple[str, str | None]] | None = None, *,
                notes: list[str] | None = None, manifest_path: Path | None = None
                ) -> tuple[list[tuple[Path, StartTime | None]], str]:
    """Files with their start times, in timeline order, and the name of the source that ordered them.

    A fallback is never silent: each manifest start that is not a time is named, and so is the order used
    instead, in `notes` (as is a folder where only some file names carry a DAYn_HHMMSSff stamp)."""
    notes = notes if notes is not None else []
    if manifest is not None:
        where = safe_path_text(manifest_path) if manifest_path is not None else "the manifest"
        starts = [start_from_text(s, "manifest") if s else None for _, s in manifest]
        listed = list(zip([p for p in paths], starts))
        known: list[tuple[Path, StartTime]] = [(p, s) for p, s in listed if s is not None]
        if len(known) == len(listed):
            return [(p, t) for p, t in sorted(known, key=lambda ps: ps[1].seconds)], "manifest"
        unread = [(name, text) for (name, text), t in zip(manifest, starts) if text and t is None]
        for name, text in unread:
            notes.append(f"{where}: entry {safe_text(name)!r}: start {safe_text(text)[:60]!r} is not {START_FORMS}")
        if unread or known:  # some starts were meant to order the files: say that they did not
            without = [safe_text(name) for (name, _), t in zip(manifest, starts) if t is None]
            notes.append(f"{where}: no usable start for {_some(without)}, so the files are not sorted by start "
                         f"time: they keep the order the manifest lists them in")
        return listed, "manifest order"
    stamped = [p for p in paths if start_from_name(p) is not None]
    for source, reader in (("name", start_from_name), ("metadata", start_from_metadata)):
        found: list[tuple[Path, StartTime]] = [(p, s) for p in paths if (s := reader(p)) is not None]
        if paths and len(found) == len(paths):
            if stamped and source != "name":
                _note_unstamped(notes, paths, stamped, source)
            return [(p, t) for p, t in sorted(found, key=lambda ps: (ps[1].seconds, ps[0].name))], source
    if stamped:
        _note_unstamped(notes, paths, stamped, "name order")
    return [(p, None) for p in sorted(paths, key=lambda p: p.name)], "name order"


def _note_unstamped(notes: list[str], paths: list[Path], stamped: list[Path], source: str) -> None:
    missing = [safe_path_text(p.name) for p in paths if p not in stamped]
    notes.append(f"{len(missing)} of {len(paths)} file names carry no valid DAYn_HHMMSSff stamp ({_some(missing)}), "
                 f"so the files are ordered by {source} instead")


def _some(names: list[str], shown: int = 3) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def build_library(root: str, files: list[tuple[VideoRecord, StartTime | None, Path]], skipped: list[str],
                  order_source: str, notes: list[str] | None = None) -> Library:
    """Entries back to back from (VideoRecord, start, path) already in timeline order; repeated content once."""
    entries: list[LibraryEntry] = []
    seen: set[str] = set()
    offset = 0.0
    for record, start, file in files:
        if record.id in seen:
            skipped.append(f"{safe_path_text(file)}: same content as another file of the library; left out")
            continue
        seen.add(record.id)
        entries.append(LibraryEntry(record, round(offset, 3), start, str(file)))
        offset += float(record.duration)
    return Library(root, entries, skipped, order_source, notes if notes is not None else [])


def manifest_entry_problem(name: str) -> str | None:
    """Why a manifest entry cannot name a file of its folder (absolute, `..` out of it), or None.

    Judged on the text, as written: a link inside the folder is the folder's own file (as without a manifest)."""
    if "\0" in name:
        return "is not a file name (it holds a NUL character)"
    if posixpath.isabs(name) or os.path.isabs(name):
        return "is an absolute path: a manifest lists files inside its own folder"
    normal = posixpath.normpath(name.replace(os.sep, "/"))
    if normal == ".." or normal.startswith("../"):
        return "points outside the folder: a manifest lists files inside its own folder"
    return None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long for the file system, say
        return False


def open_library(memory: "VideoMemory", target: object, *, on_skip: Callable[[str], None] | None = None,
                 on_note: Callable[[str], None] | None = None) -> Library:
    """Register every video of a folder / glob / list of paths with `memory` and place them on a timeline.

    A file that cannot be read is left out with one line in `Library.skipped`; a kept file with something
    to say (a manifest start that is not a time, and the order used instead) gets one in `Library.notes`.
    Each line goes once to `on_skip` / `on_note` when given, else to the log as a warning."""
    if isinstance(target, Library):
        return target
    targets = [str(t) for t in target] if isinstance(target, (list, tuple)) else [str(target)]
    root_path = Path(targets[0]).expanduser()
    manifest = read_manifest(root_path) if len(targets) == 1 and root_path.is_dir() else None
    skipped: list[str] = []
    notes: list[str] = []
    rows: list[tuple[str, str | None]] | None = None
    mpath: Path | None = None
    paths: list[Path] = []
    if manifest is not None:
        mpath, listed = manifest
        rows = []
        for name, start in listed:
            if (why := manifest_entry_problem(name)) is not None:
                skipped.append(f"{safe_path_text(mpath)}: entry {safe_text(name)!r} {why}; refused")
                continue
            p = root_path / name
            if not _is_file(p):
                skipped.append(f"{safe_path_text(p)}: listed in {mpath.name} but not found")
                continue
            if p in paths:
                skipped.append(f"{safe_path_text(mpath)}: entry {safe_text(name)!r} lists a file a second time; "
                               "the first listing is used")
                continue
            rows.append((name, start))
            paths.append(p)
    else:
        paths, skipped = expand_targets(targets)
        skipped = [safe_text(line) for line in skipped]
    records = {}
    for path in paths:  # bad files first, so they cannot spoil the ordering of the good ones
        if (problem := unstorable_name(path)) is not None:  # before probing: the store cannot keep its name
            skipped.append(problem)
            continue
        try:
            records[path] = memory.register(path)
        except BAD_FILE_ERRORS as exc:
            text, shown = safe_text(first_line(exc)), safe_path_text(path)
            skipped.append(text if shown in text else f"{shown}: {text}")
    if rows is not None:
        rows = [r for r, p in zip(rows, paths) if p in records]
    ordered, source = order_files([p for p in paths if p in records], rows, notes=notes, manifest_path=mpath)
    registered = [(records[p], start, p) for p, start in ordered]
    root = safe_text(str(root_path.resolve()) if len(targets) == 1 and root_path.exists() else ", ".join(targets))
    try:
        return build_library(root, registered, skipped, source, notes)
    finally:  # every line once, to the caller's callback or else the log; also when no file was usable
        for line in skipped:
            (on_skip or _log_line)(line)
        for line in notes:
            (on_note or _log_line)(line)


def _log_line(line: str) -> None:
    log.warning("library: %s", line)


def _secs(t: float) -> str:
    return f"{round(t, 1):g}"
