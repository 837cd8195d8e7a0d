"""`vidrecall replay RESULT.json`: an answer saved by `vidrecall ask --json` (or a trajectory file that
`vidrecall eval` wrote) shown again -- its provenance, steps, answer and evidence, with frame thumbnails taken
from the video when the same file is still there -- without loading any model or opening any store."""
from __future__ import annotations

import argparse
import base64
from pathlib import Path
from typing import TYPE_CHECKING

from vidrecall.cli.common import add_command, console, print_answer, print_step, safe, styled
from vidrecall.core.config import ConfigError

if TYPE_CHECKING:
    from vidrecall.core.result import Answer

THUMBS_PER_SPAN = 2


def load_answer(path: str) -> "Answer":
    """The Answer in `path`; ConfigError (one line naming the file) when it is not one."""
    from pydantic import ValidationError

    from vidrecall.core.result import Answer

    try:
        return Answer.model_validate_json(Path(path).read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, ValueError, ValidationError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"{path}: not an answer saved by 'vidrecall ask --json' or 'vidrecall eval' "
                          f"({first})") from None


def video_at_hand(path: str, video_id: str, seen: dict[str, str | None]) -> str | None:
    """Why the file the answer was about cannot give thumbnails ("the video is gone: ..."), or None when it
    is there with the same content (its sha256 is the video id). Each path is hashed once."""
    from vidrecall.memory.store import MemoryStoreError, video_id_for

    if path in seen:
        return seen[path]
    file = Path(path)
    why: str | None = None
    if not path or not file.is_file():
        why = f"the video is gone: {path or '(no path recorded)'} (no thumbnails)"
    elif video_id and len(video_id) == 64:  # a file's content hash (a library's id is not one)
        try:
            if video_id_for(file) != video_id:
                why = f"the video at {path} is not the one answered about (its content changed; no thumbnails)"
        except MemoryStoreError as exc:
            why = f"{exc} (no thumbnails)"
    seen[path] = why
    return why


def evidence_files(answer: "Answer") -> list[tuple[str, str]]:
    """(file, its video id) behind each evidence row: the row's own file over a library, else the answer's."""
    return [(e.video, e.video_id or "") if e.video else (answer.video, answer.video_id) for e in answer.evidence]


def run_replay(args: argparse.Namespace) -> int:
    from vidrecall.core.types import fmt_time

    answer = load_answer(args.result)
    out = console()
    out.print(styled(("Question:", "bold"), " ", answer.question))
    for option in answer.options:
        out.print(styled("  ", option))
    out.print(styled(("video:", "dim"), " ", answer.video or "?", (f"  id {answer.video_id[:12]}", "dim")))
    p = answer.provenance
    if p is None:
        out.print(styled(("provenance: none recorded (an answer from an older vidrecall)", "yellow")))
    else:
        m = p.models
        out.print(styled(("provenance:", "dim"), f" config {p.config_digest} (profile {p.profile}), vidrecall "
                         f"{p.version}; llm {m.llm}, captioner {m.captioner}, embedder {m.embedder}"
                         + (f", asr {m.asr}" if m.asr else "") + f"; {len(p.caption_keys)} caption keys read"))
    out.print()
    for step in answer.trajectory:
        print_step(out, step)
    print_answer(out, answer)

    seen: dict[str, str | None] = {}
    files = evidence_files(answer)
    frames_dir = Path(args.frames) if args.frames else None
    if frames_dir is not None:
        frames_dir.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for n, (ev, (file, vid)) in enumerate(zip(answer.evidence, files), 1):
        why = video_at_hand(file, vid, seen)
        if why is not None:
            if why not in problems:
                problems.append(why)
            continue
        from vidrecall.display.thumbnails import thumbnails_for_spans

        try:
            (thumbs,) = thumbnails_for_spans(file, [(ev.start, ev.end)], THUMBS_PER_SPAN, skip_bad_spans=True)
        except (ValueError, RuntimeError, OSError) as exc:
            problems.append(f"no thumbnails from {file}: {exc}")
            continue
        saved = []
        for k, thumb in enumerate(thumbs, 1):
            if frames_dir is not None:
                target = frames_dir / f"evidence{n:02d}_{k}_{thumb.time:.1f}s.jpg"
                target.write_bytes(base64.b64decode(thumb.data_uri.split(",", 1)[1]))
                saved.append(str(target))
        times = ", ".join(fmt_time(t.time) for t in thumbs) or "none (outside the video)"
        out.print(styled(("  thumbnails ", "dim"), (ev.label(), "cyan"), f": frames at {times}"
                         + (f" -> {', '.join(saved)}" if saved else "")))
    for line in problems:
        out.print(styled((line, "yellow")))
    if args.html:
        write_html(answer, Path(args.html), files, seen)
        out.print(safe(f"wrote {args.html}"))
    return 0


def write_html(answer: "Answer", path: Path, files: list[tuple[str, str]], seen: dict[str, str | None]) -> None:
    """The answer card of the notebooks (vidrecall.display.html.answer_html), thumbnails included when the one
    video is at hand, as a page of its own."""
    import html

    from vidrecall.display.html import answer_html

    one = {f for f, _ in files} if files else {answer.video}
    video = next(iter(one)) if len(one) == 1 else None
    usable = video is not None and video_at_hand(video, answer.video_id if video == answer.video else "", seen) is None
    card = answer_html(answer, video_path=video if usable else None, thumbnails=usable)
    notes = [why for why in seen.values() if why]
    page = ["<!doctype html>", '<html><head><meta charset="utf-8">',
            f"<title>{html.escape(answer.question[:80])}</title></head><body>", card,
            *(f"<p><em>{html.escape(n)}</em></p>" for n in dict.fromkeys(notes)), "</body></html>"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(page), encoding="utf-8")


def register(sub) -> None:
    p = add_command(sub, "replay", run_replay, "show a saved answer again (ask --json output or an eval trajectory "
                    "file): steps, evidence and thumbnails, without loading any model", backbones=False)
    p.add_argument("result", metavar="RESULT.json")
    p.add_argument("--html", default=None, metavar="OUT.html", help="also write the answer card, thumbnails inline")
    p.add_argument("--frames", default=None, metavar="DIR", help="also save the evidence thumbnails as JPEG files")
