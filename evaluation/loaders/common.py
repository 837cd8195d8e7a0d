"""What every loader shares: the load result, malformed-item reports, file reading, video lookup."""
from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from vidrecall.core.errors import first_line

from vidrecall.evaluation.items import LETTERS, QAItem, option_letter
from vidrecall.core.types import Span

from vidrecall.core.video_files import VIDEO_EXTENSIONS


REPORT_LISTED = 20  # malformed items listed one by one in LoadResult.report()
REPORT_REASONS = 5  # distinct reasons counted in its summary line


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

    def report(self, listed: int = REPORT_LISTED) -> str:
        """What was loaded, and how many items were left out and why: every reason with its count, then the
        first `listed` items by id (a 10,000-item file with many bad rows stays a short report)."""
        lines = [f"{self.source}: {len(self.items)} items from {self.path}"]
        if self.malformed:
            reasons = Counter(m.reason for m in self.malformed).most_common()
            counted = [f"{reason} ({n})" for reason, n in reasons[:REPORT_REASONS]]
            if len(reasons) > REPORT_REASONS:
                counted.append(f"{len(reasons) - REPORT_REASONS} other reasons")
            lines.append(f"  {len(self.malformed)} malformed item(s) left out: " + "; ".join(counted))
            lines += [f"    {m.id}: {m.reason}" for m in self.malformed[:listed]]
            if len(self.malformed) > listed:
                lines.append(f"    ... and {len(self.malformed) - listed} more")
        if self.unlabelled:
            lines.append(f"  {len(self.unlabelled)} item(s) have no gold answer (run, not scored)")
        if self.video_dir is not None:
            found = len({it.video_id for it in self.items if it.video_path})
            lines.append(f"  videos: {found} found in {self.video_dir}, {len(self.missing_videos)} missing"
                         + (f" (e.g. {', '.join(self.missing_videos[:5])})" if self.missing_videos else ""))
        return "\n".join(lines)


# --- reading files -------------------------------------------------------------------------------------------

def _read_text(path: Path) -> str:
    """The file as UTF-8 text; LoaderError naming it when missing, unreadable or not text."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LoaderError(f"{path}: annotation file not found") from None
    except UnicodeDecodeError as exc:
        raise LoaderError(f"{path}: not UTF-8 text (byte {exc.start}); is it an annotation file?") from None
    except OSError as exc:
        raise LoaderError(f"{path}: cannot read the annotation file ({exc.strerror or exc})") from None


def read_json(path: Path) -> Any:
    text = _read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoaderError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise LoaderError(f"{path}: not readable JSON (nested too deeply)") from None


def read_jsonl(path: Path) -> list[Any]:
    rows = []
    for n, line in enumerate(_read_text(path).splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise LoaderError(f"{path}: line {n} is not valid JSON ({exc.msg})") from None
            except RecursionError:
                raise LoaderError(f"{path}: line {n} is not readable JSON (nested too deeply)") from None
    return rows


def read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh, delimiter="\t" if str(path).endswith(".tsv") else ","))
    except FileNotFoundError:
        raise LoaderError(f"{path}: annotation file not found") from None
    except UnicodeDecodeError as exc:
        raise LoaderError(f"{path}: not UTF-8 text (byte {exc.start}); is it an annotation file?") from None
    except csv.Error as exc:
        raise LoaderError(f"{path}: not a readable CSV file ({first_line(exc, 100)})") from None


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


# --- one row at a time ---------------------------------------------------------------------------------------

ROW_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError)


def json_kind(value: Any) -> str:
    """How JSON would name a value's type: null, a string, a number, a list, an object, true/false."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def each_item(rows: Iterable[Any], build: Callable[[int, dict[str, Any]], QAItem | Malformed],
              row_id: Callable[[int, dict[str, Any]], str]) -> Iterator[QAItem | Malformed]:
    """`build(n, row)` for every row, n counting from 0. A row that is not a JSON object (`null`, a string,
    a list), or whose fields have the wrong types (`"options": null`), is one Malformed with the reason;
    the rows after it are read as usual."""
    for n, row in enumerate(rows):
        if not isinstance(row, dict):
            yield Malformed(f"#{n + 1}", f"not an object: the item is {json_kind(row)}")
            continue
        try:
            yield build(n, row)
        except ROW_ERRORS as exc:
            try:
                qid = row_id(n, row)
            except ROW_ERRORS:
                qid = f"#{n + 1}"
            yield Malformed(qid, f"unreadable fields: {first_line(exc, 100)}")


def text_list(row: dict[str, Any], key: str, *, required: bool = True) -> list[str]:
    """`row[key]` as a list of stripped strings; ValueError naming the field when it is not a list of scalars
    (`null`, a string, an object), or missing when `required`."""
    value = row.get(key)
    if value is None and not required and key not in row:
        return []
    if not isinstance(value, list):
        raise ValueError(f"'{key}' is {json_kind(value)}, not a list")
    if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        raise ValueError(f"'{key}' holds something other than text")
    return [str(v).strip() for v in value]


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
