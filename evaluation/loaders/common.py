"""What every loader shares: the load result, malformed-item reports, file reading, video lookup."""
from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from vidrecall.evaluation.items import LETTERS, QAItem, option_letter
from vidrecall.core.types import Span

from vidrecall.core.video_files import VIDEO_EXTENSIONS


class LoaderError(ValueError):
    """An annotation file that cannot be read at all; the message names the file and the fix."""


@dataclass(frozen=True)
class Malformed:
    """An item the loader left out, and why."""

    id: str
    reason: str


@dataclass
class LoadResult:
    """The usable items of one annotation file, plus what was wrong with the rest.

    Iterating, len() and indexing go to `items`. Items without a published gold answer (test splits)
    are kept with answer "" and listed in `unlabelled`; they are run but not scored.
    """

    source: str
    path: str
    items: list[QAItem] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)
    missing_videos: list[str] = field(default_factory=list)  # video ids not found in video_dir
    unlabelled: list[str] = field(default_factory=list)
    video_dir: str | None = None

    def __iter__(self) -> Iterator[QAItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> QAItem:
        return self.items[i]

    def with_videos(self) -> list[QAItem]:
        return [it for it in self.items if it.video_path]

    def report(self) -> str:
        lines = [f"{self.source}: {len(self.items)} items from {self.path}"]
        if self.malformed:
            lines.append(f"  {len(self.malformed)} malformed item(s) left out:")
            lines += [f"    {m.id}: {m.reason}" for m in self.malformed]
        if self.unlabelled:
            lines.append(f"  {len(self.unlabelled)} item(s) have no gold answer (run, not scored)")
        if self.video_dir is not None:
            found = len({it.video_id for it in self.items if it.video_path})
            lines.append(f"  videos: {found} found in {self.video_dir}, {len(self.missing_videos)} missing"
                         + (f" (e.g. {', '.join(self.missing_videos[:5])})" if self.missing_videos else ""))
        return "\n".join(lines)


# --- reading files -------------------------------------------------------------------------------------------

def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LoaderError(f"{path}: annotation file not found") from None
    except json.JSONDecodeError as exc:
        raise LoaderError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None


def read_jsonl(path: Path) -> list[Any]:
    rows = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise LoaderError(f"{path}: annotation file not found") from None
    for n, line in enumerate(lines, 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise LoaderError(f"{path}: line {n} is not valid JSON ({exc.msg})") from None
    return rows


def read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh, delimiter="\t" if str(path).endswith(".tsv") else ","))
    except FileNotFoundError:
        raise LoaderError(f"{path}: annotation file not found") from None


def read_parquet(path: Path) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise LoaderError(f"{path}: reading parquet needs pyarrow (pip install pyarrow), "
                          "or convert the file to JSON first") from None
    return pq.read_table(path).to_pylist()


def read_rows(path: Path) -> list[Any]:
    """JSON (a list, or a dict of lists), JSONL, CSV/TSV or parquet, chosen by extension."""
    suffix = Path(path).suffix.lower()
    if suffix == ".jsonl":
        return read_jsonl(path)
    if suffix in (".csv", ".tsv"):
        return read_csv(path)
    if suffix == ".parquet":
        return read_parquet(path)
    data = read_json(path)
    if isinstance(data, dict):
        for key in ("data", "questions", "items", "annotations"):
            if isinstance(data.get(key), list):
                return data[key]
    if not isinstance(data, list):
        raise LoaderError(f"{path}: expected a list of question records")
    return data


# --- checking items ------------------------------------------------------------------------------------------

def multiple_choice_problem(item: QAItem) -> str | None:
    """Why a multiple-choice item cannot be scored, or None when it is fine (no answer is fine: unlabelled)."""
    if not item.question.strip():
        return "empty question"
    letters = [option_letter(o) for o in item.options]
    lettered = LETTERS[:len(letters)]
    if letters != list(lettered):  # an option without a letter (None) never matches
        return f"options are not lettered A, B, C, ... ({item.options[:2]}...)"
    if item.answer and item.answer not in letters:
        return f"answer {item.answer!r} is not one of the {len(letters)} options {lettered}"
    return None


_TIME = re.compile(r"^\s*(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)\s*$")


def parse_clock(text: str) -> float:
    """"01:02:03" / "02:03" / "2:03.5" -> seconds."""
    m = _TIME.match(text)
    if not m:
        raise ValueError(f"not a time: {text!r}")
    h, mnt, s = m.groups()
    return int(h or 0) * 3600 + int(mnt) * 60 + float(s)


def parse_time_range(text: str) -> Span | None:
    """"mm:ss-mm:ss" (or h:mm:ss) -> Span; None when absent or unreadable."""
    if not text or "-" not in str(text):
        return None
    a, _, b = str(text).partition("-")
    try:
        start, end = parse_clock(a), parse_clock(b)
    except ValueError:
        return None
    return Span(start, end) if end >= start else None


# --- finding videos ------------------------------------------------------------------------------------------

class VideoResolver:
    """Finds a video file in a folder (recursively) from a benchmark's video name.

    Tries the name as a relative path, with each common extension, then by file name or stem anywhere
    below the folder. The folder is scanned once.
    """

    def __init__(self, video_dir: str | os.PathLike | None):
        self.root = Path(video_dir) if video_dir else None
        self._by_rel: dict[str, Path] = {}
        self._by_name: dict[str, Path] = {}
        self._by_stem: dict[str, Path] = {}
        if self.root is None:
            return
        if not self.root.is_dir():
            raise LoaderError(f"{self.root}: video folder not found")
        rank = {ext: i for i, ext in enumerate(VIDEO_EXTENSIONS)}
        files = sorted((p for p in self.root.rglob("*") if p.is_file() and p.suffix.lower() in rank),
                       key=lambda p: (rank[p.suffix.lower()], str(p)))
        for p in files:
            rel = p.relative_to(self.root).as_posix()
            self._by_rel.setdefault(rel, p)
            self._by_rel.setdefault(rel.rsplit(".", 1)[0], p)
            self._by_name.setdefault(p.name, p)
            self._by_stem.setdefault(p.stem, p)

    def find(self, *hints: str) -> Path | None:
        if self.root is None:
            return None
        for hint in hints:
            if not hint:
                continue
            hint = str(hint).strip().lstrip("./")
            for table, key in ((self._by_rel, hint), (self._by_name, Path(hint).name),
                               (self._by_stem, Path(hint).stem), (self._by_stem, Path(hint).name)):
                if key in table:
                    return table[key]
        return None
