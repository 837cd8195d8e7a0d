"""Needle-in-a-haystack test videos: long videos composed from real clips, with known needles.

Every clip is re-encoded once to one format (default 640x360 so on-screen text stays readable, 15 fps,
H.264, no audio) and cached; the haystack is the filler clips (repeated or cycled up to a target
length) with the needle clips inserted at chosen fractions, joined without re-encoding by ffmpeg's
concat demuxer. `<out>.segments.json` records where every clip lies; `<out>.needle_qa.json` holds
multiple-choice questions whose answers follow from where the needles were put (which object, colour,
order, count, when, and on-screen text), options placed so that every answer letter is used equally.

ffmpeg is the binary shipped with imageio-ffmpeg; durations are probed with PyAV (no ffprobe).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from tqdm.auto import tqdm

from vidrecall.core.types import Span, fmt_time, stable_hash

log = logging.getLogger(__name__)

from vidrecall.core.video_files import VIDEO_EXTENSIONS
_ENCODE_VERSION = 1  # bump when the encoding settings change, so cached clips are rebuilt


class HaystackError(ValueError):
    """Bad haystack input (no clips, unknown needle, bad position); one line naming the value."""


@dataclass(frozen=True)
class Needle:
    """A clip inserted once at `position` (a fraction of the filler time, 0..1).

    `label` is the answer text of "which object" questions ("a green toy frog"); `subject` names it
    without giving the asked attribute away ("a small toy frog"). Needles of one `group` share a
    setting ("on a wooden tabletop"), which order/count questions refer to. A text needle declares the
    on-screen `text` and `text_window`, the seconds within the clip where that text is visible.
    """

    clip: str
    position: float = 0.5
    label: str = ""
    subject: str = ""
    colour: str | None = None
    group: str = ""
    text: str | None = None
    text_window: tuple[float, float] | None = None
    text_context: str = ""
    text_decoys: tuple[str, ...] = ()
    max_seconds: float | None = None

    @property
    def kind(self) -> str:
        return "text" if self.text else "visual"

    @property
    def stem(self) -> str:
        return Path(self.clip).stem

    def at(self, position: float) -> "Needle":
        return dataclasses.replace(self, position=position)


_TABLE = "on a wooden tabletop"

# Needles whose answers follow from the clips' content (see /work/shared/media/manifest.json).
# Text windows were read with RapidOCR off the original clips.
KNOWN_NEEDLES: dict[str, Needle] = {n.clip: n for n in [
    Needle("mdn_frog.mp4", label="A green toy frog", subject="A small toy frog", colour="Green", group=_TABLE),
    Needle("mdn_pig.mp4", label="A pink toy pig", subject="A toy pig", colour="Pink", group=_TABLE),
    Needle("mdn_crystal.mp4", label="A clear crystal lotus flower", subject="A lotus flower figure",
           colour="Clear (transparent)", group=_TABLE),
    Needle("mdn_rabbit.mp4", label="A white rabbit figurine", subject="A rabbit figurine", colour="White",
           group=_TABLE),
    Needle("mdn_elf.mp4", label="A green-and-black elf toy", subject="An elf toy figure", colour="Green and black",
           group=_TABLE),
    Needle("mdn_monster.mp4", label="A blue-grey monster toy with a red antenna", subject="A monster toy",
           colour="Blue-grey", group=_TABLE),
    Needle("vl2_00003491.mp4", text="Strings: D'Addario Pro Art Tenor J71", text_window=(0.0, 9.0),
           label="Two men playing ukuleles", text_context="a caption naming the strings of the ukuleles",
           text_decoys=("Strings: Aquila Nylgut Tenor AQ-10", "Strings: Martin M600 Tenor",
                        "Strings: D'Addario EJ46 Classical")),
    Needle("moviepy_sintel_trailer_480p.mp4", text="SINTEL", text_window=(41.0, 48.0),
           label="The Sintel trailer", text_context="the title card of an animated film trailer",
           text_decoys=("ELEPHANTS DREAM", "BIG BUCK BUNNY", "TEARS OF STEEL")),
    Needle("moviepy_big_buck_bunny_0_30.webm", text="THE PEACH OPEN MOVIE PROJECT PRESENTS",
           text_window=(21.0, 23.0), label="The Big Buck Bunny opening",
           text_context="an opening credit of an animated film",
           text_decoys=("THE ORANGE OPEN MOVIE PROJECT PRESENTS", "BLENDER INSTITUTE PRESENTS",
                        "A DURIAN OPEN MOVIE PROJECT")),
]}

DEFAULT_NEEDLES: tuple[Needle, ...] = (
    KNOWN_NEEDLES["mdn_frog.mp4"].at(0.15),
    KNOWN_NEEDLES["vl2_00003491.mp4"].at(0.35),
    KNOWN_NEEDLES["mdn_pig.mp4"].at(0.5),
    KNOWN_NEEDLES["moviepy_sintel_trailer_480p.mp4"].at(0.7),
    KNOWN_NEEDLES["mdn_crystal.mp4"].at(0.85),
)

_COLOURS = ("Red", "Green", "Blue", "Yellow", "Pink", "White", "Black", "Orange", "Purple")
_WHEN = ("In the first quarter of the video", "In the second quarter of the video",
         "In the third quarter of the video", "In the last quarter of the video")


@dataclass
class Segment:
    source_clip: str
    description: str
    needle: bool
    start_s: float
    end_s: float
    text: str | None = None
    text_s: list[float] | None = None  # where the needle's text is visible, in haystack seconds

    @property
    def span(self) -> Span:
        return Span(self.start_s, self.end_s)


@dataclass
class HaystackSpec:
    video: Path
    duration: float
    size: tuple[int, int]
    fps: float
    segments: list[Segment]
    questions: list[dict[str, Any]]
    segments_path: Path
    qa_path: Path
    skipped: list[str] = field(default_factory=list)

    @property
    def needles(self) -> list[Segment]:
        return [s for s in self.segments if s.needle]


def parse_needle(spec: str) -> Needle:
    """"mdn_frog.mp4@0.15" -> the known needle for that clip at 15 % (CLI syntax)."""
    clip, _, pos = spec.partition("@")
    try:
        position = float(pos) if pos else 0.5
    except ValueError:
        raise HaystackError(f"needle {spec!r}: position must be a number, e.g. mdn_frog.mp4@0.15") from None
    return resolve_needle((clip, position))


def resolve_needle(n: Needle | tuple[str, float] | str) -> Needle:
    if isinstance(n, str):
        return parse_needle(n)
    if isinstance(n, tuple):
        clip, position = n
        if clip not in KNOWN_NEEDLES:
            raise HaystackError(f"needle clip {clip!r} is not in KNOWN_NEEDLES; pass a Needle(...) with a label "
                                f"(known: {sorted(KNOWN_NEEDLES)})")
        n = KNOWN_NEEDLES[clip].at(float(position))
    if not 0.0 <= n.position <= 1.0:
        raise HaystackError(f"needle {n.clip}: position {n.position} must be a fraction between 0 and 1")
    if not (n.label or n.text):
        raise HaystackError(f"needle {n.clip}: give a label (what it shows) or the on-screen text")
    return n


# --- normalising clips -------------------------------------------------------------------------------------

def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def probe_seconds(path: Path) -> float:
    """Duration of a video by PyAV: frame count / rate when known, else the stream or container duration."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if stream.frames and stream.average_rate:
                return float(stream.frames / stream.average_rate)
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / 1_000_000
            return float(sum(1 for _ in container.decode(stream)) / (stream.average_rate or 1))
    except (av.error.FFmpegError, IndexError) as exc:
        raise HaystackError(f"{path}: cannot read as a video ({exc})") from None


@dataclass(frozen=True)
class _Normalised:
    path: Path
    seconds: float


class ClipCache:
    """Clips re-encoded to one format, stored under `root` by a key of source file and settings."""

    def __init__(self, root: Path, size: tuple[int, int], fps: float):
        self.root, self.size, self.fps = Path(root), size, fps
        self.root.mkdir(parents=True, exist_ok=True)

    def key(self, src: Path, max_seconds: float | None) -> str:
        st = src.stat()
        return stable_hash([str(src.resolve()), st.st_size, int(st.st_mtime), self.size, self.fps, max_seconds,
                            _ENCODE_VERSION])

    def get(self, src: Path, max_seconds: float | None = None) -> _Normalised:
        key = self.key(src, max_seconds)
        video, meta = self.root / f"{src.stem}-{key}.mp4", self.root / f"{src.stem}-{key}.json"
        if video.exists() and meta.exists():
            return _Normalised(video, float(json.loads(meta.read_text())["seconds"]))
        tmp = video.with_suffix(".part.mp4")
        self._encode(src, tmp, max_seconds)
        seconds = probe_seconds(tmp)
        os.replace(tmp, video)
        meta.write_text(json.dumps({"source": str(src), "seconds": seconds}))
        return _Normalised(video, seconds)

    def _encode(self, src: Path, dst: Path, max_seconds: float | None) -> None:
        w, h = self.size
        vf = (f"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,"
              f"fps={self.fps},format=yuv420p,setsar=1")
        cmd = [ffmpeg_exe(), "-v", "error", "-y", "-i", str(src)]
        if max_seconds:
            cmd += ["-t", f"{max_seconds:.3f}"]
        # A keyframe every 2 s keeps seeking cheap; no B-frames keeps concat timestamps simple.
        cmd += ["-an", "-sn", "-vf", vf, "-c:v", "libx264", "-preset", "veryfast", "-crf", "26",
                "-g", str(int(2 * self.fps)), "-bf", "0", "-f", "mp4", str(dst)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            dst.unlink(missing_ok=True)
            last = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
            raise HaystackError(f"{src}: ffmpeg could not re-encode it ({last})")


# --- planning -------------------------------------------------------------------------------------------------

def default_filler(clips_dir: Path, needles: Sequence[Needle]) -> list[str]:
    """Every video directly in clips_dir except the needles and the other known needle clips.

    Unused known needles stay out so that "is X shown?" and count questions keep a known answer.
    """
    excluded = {n.clip for n in needles} | set(KNOWN_NEEDLES)
    return sorted(p.name for p in Path(clips_dir).iterdir()
                  if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS and p.name not in excluded)


def _filler_sequence(filler: list[tuple[str, _Normalised]], repeat: int, target_seconds: float | None,
                     needle_seconds: float) -> list[tuple[str, _Normalised]]:
    if not target_seconds:
        return filler * max(1, repeat)
    want = max(0.0, target_seconds - needle_seconds)
    out, total, i = [], 0.0, 0
    while total < want - 0.5:
        name, norm = filler[i % len(filler)]
        if total + norm.seconds / 2 > want:  # this clip would overshoot the target by more than it adds
            break
        out.append((name, norm))
        total += norm.seconds
        i += 1
    return out


def _place_needles(filler: list[tuple[str, _Normalised]], needles: list[tuple[Needle, _Normalised]]
                   ) -> list[tuple[str, _Normalised, Needle | None]]:
    """Insert each needle at the filler boundary nearest to its fraction of the filler time."""
    bounds, t = [0.0], 0.0
    for _, norm in filler:
        t += norm.seconds
        bounds.append(t)
    slots: dict[int, list[tuple[Needle, _Normalised]]] = {}
    for needle, norm in sorted(needles, key=lambda x: x[0].position):
        target = needle.position * bounds[-1]
        slot = min(range(len(bounds)), key=lambda i: abs(bounds[i] - target))
        slots.setdefault(slot, []).append((needle, norm))
    plan: list[tuple[str, _Normalised, Needle | None]] = []
    for i in range(len(filler) + 1):
        plan += [(n.clip, norm, n) for n, norm in slots.get(i, [])]
        if i < len(filler):
            plan.append((filler[i][0], filler[i][1], None))
    return plan


def _concat(paths: list[Path], out_path: Path, work: Path) -> None:
    listfile = work / f"{out_path.stem}.concat.txt"
    listfile.write_text("".join("file '%s'\n" % str(p.resolve()).replace("'", r"'\''") for p in paths))
    tmp = out_path.with_name(out_path.stem + ".part" + out_path.suffix)
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listfile),
           "-c", "copy", "-movflags", "+faststart", str(tmp)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise HaystackError(f"{out_path}: ffmpeg concat failed ({(done.stderr.strip().splitlines() or ['?'])[-1]})")
    os.replace(tmp, out_path)


def _describe(clip: str, descriptions: dict[str, str]) -> str:
    return descriptions.get(clip, Path(clip).stem.replace("_", " "))


def _manifest_descriptions(clips_dir: Path) -> dict[str, str]:
    for manifest in (clips_dir / "manifest.json", clips_dir.parent / "manifest.json"):
        if manifest.exists():
            try:
                return {Path(e["path"]).name: e.get("description", "") for e in json.loads(manifest.read_text())}
            except (ValueError, KeyError, TypeError):
                log.warning("%s: unreadable manifest, clip descriptions left out", manifest)
    return {}


# --- the builder -------------------------------------------------------------------------------------------

def build_haystack(clips_dir: str | os.PathLike, out_path: str | os.PathLike, *, target_seconds: float | None = None,
                   repeat: int = 1, needles: Iterable[Needle | tuple[str, float] | str] | None = None,
                   filler: Sequence[str] | None = None, size: tuple[int, int] = (640, 360), fps: float = 15,
                   seed: int = 0, cache_dir: str | os.PathLike | None = None, progress: bool = True) -> HaystackSpec:
    """Compose a haystack video from the clips in `clips_dir` and write its segments and needle QA.

    `filler` names the filler clips in order (default: every other video in the folder); with
    `target_seconds` the filler is cycled until the video reaches about that length, otherwise it is
    played `repeat` times. Missing or unreadable clips are skipped with a warning.
    """
    clips_dir, out_path = Path(clips_dir), Path(out_path)
    if not clips_dir.is_dir():
        raise HaystackError(f"{clips_dir}: clips folder not found")
    if out_path.suffix.lower() != ".mp4":
        raise HaystackError(f"{out_path}: the haystack is written as H.264 MP4; give a path ending in .mp4")
    if size[0] % 2 or size[1] % 2 or min(size) <= 0:
        raise HaystackError(f"size {size}: width and height must be positive even numbers")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    needle_list = [resolve_needle(n) for n in (DEFAULT_NEEDLES if needles is None else needles)]
    filler_names = list(filler) if filler is not None else default_filler(clips_dir, needle_list)
    cache = ClipCache(Path(cache_dir) if cache_dir else out_path.parent / ".haystack_cache", size, fps)

    skipped: list[str] = []
    wanted = [(n.clip, n.max_seconds) for n in needle_list] + [(name, None) for name in dict.fromkeys(filler_names)]
    normalised: dict[str, _Normalised] = {}
    for name, max_s in tqdm(wanted, desc="normalising clips", unit="clip", disable=not progress):
        src = clips_dir / name
        if not src.is_file():
            log.warning("haystack: clip %s not found in %s, skipped", name, clips_dir)
            skipped.append(f"{name} (not found)")
            continue
        try:
            normalised[name] = cache.get(src, max_s)
        except HaystackError as exc:
            log.warning("haystack: %s, skipped", exc)
            skipped.append(f"{name} ({exc})")

    placed_needles = [(n, normalised[n.clip]) for n in needle_list if n.clip in normalised]
    if target_seconds:  # needles that would make the video longer than asked stay out (the first always goes in)
        fitting: list[tuple[Needle, _Normalised]] = []
        room = float(target_seconds)
        for candidate, norm in placed_needles:
            if fitting and norm.seconds > room:
                skipped.append(f"{candidate.clip} (no room in a {target_seconds:g}-s video)")
                continue
            fitting.append((candidate, norm))
            room -= norm.seconds
        placed_needles = fitting
    filler_clips = [(name, normalised[name]) for name in filler_names if name in normalised]
    if not filler_clips and not placed_needles:
        raise HaystackError(f"{clips_dir}: none of the requested clips could be used ({', '.join(skipped)})")
    needle_seconds = sum(norm.seconds for _, norm in placed_needles)
    sequence = _filler_sequence(filler_clips, repeat, target_seconds, needle_seconds) if filler_clips else []
    plan = _place_needles(sequence, placed_needles)

    descriptions = _manifest_descriptions(clips_dir)
    segments, t = [], 0.0
    for name, norm, needle in plan:
        seg = Segment(name, needle.label if needle and needle.label else _describe(name, descriptions),
                      needle is not None, round(t, 3), round(t + norm.seconds, 3))
        if needle and needle.text:
            a, b = needle.text_window or (0.0, norm.seconds)
            seg.text, seg.text_s = needle.text, [round(t + a, 3), round(t + min(b, norm.seconds), 3)]
        segments.append(seg)
        t += norm.seconds

    _concat([norm.path for _, norm, _ in plan], out_path, cache.root)
    duration = probe_seconds(out_path)
    if abs(duration - t) > 1.0:
        log.warning("%s: video lasts %.2f s but its segments add up to %.2f s", out_path, duration, t)

    questions = needle_questions(segments, [n for n, _ in placed_needles], duration, seed=seed)
    base = out_path.with_suffix("")
    segments_path, qa_path = Path(f"{base}.segments.json"), Path(f"{base}.needle_qa.json")
    fmt = f"{size[0]}x{size[1]}, {fps:g} fps, H.264, no audio"
    segments_path.write_text(json.dumps({"video": out_path.name, "duration_s": round(duration, 3), "format": fmt,
                                         "seed": seed, "skipped": skipped,
                                         "segments": [dataclasses.asdict(s) for s in segments]}, indent=1))
    qa_path.write_text(json.dumps({"video": out_path.name, "duration_s": round(duration, 3), "questions": questions},
                                  indent=1, ensure_ascii=False))
    return HaystackSpec(out_path, duration, (size[0], size[1]), fps, segments, questions, segments_path, qa_path, skipped)


# --- questions -----------------------------------------------------------------------------------------------

class _OptionPlacer:
    """Puts the correct option at the letter used least so far (ties broken by the seeded RNG)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: Counter[int] = Counter()  # how often each option index held the correct answer

    def place(self, correct: str, distractors: Sequence[str]) -> tuple[list[str], str]:
        distractors = [d for d in dict.fromkeys(distractors) if d != correct]
        self.rng.shuffle(distractors)
        n = len(distractors) + 1
        least = min(self.used[i] for i in range(n))
        index = self.rng.choice([i for i in range(n) if self.used[i] == least])
        self.used[index] += 1
        texts = distractors[:index] + [correct] + distractors[index:]
        letters = "ABCDEFGHIJ"
        return [f"{letters[i]}. {t}" for i, t in enumerate(texts)], letters[index]


def _pick(rng: random.Random, pool: Sequence[str], k: int, exclude: Iterable[str] = ()) -> list[str]:
    excluded = set(exclude)
    candidates = [p for p in dict.fromkeys(pool) if p not in excluded]
    return rng.sample(candidates, min(k, len(candidates)))


def needle_questions(segments: list[Segment], needles: list[Needle], duration: float, *, seed: int = 0
                     ) -> list[dict[str, Any]]:
    """Multiple-choice questions whose answers follow from where the needles lie in `segments`."""
    rng, placer = random.Random(seed), _OptionPlacer(random.Random(seed + 1))
    by_clip = {n.clip: n for n in needles}
    needle_segs = [s for s in segments if s.needle and s.source_clip in by_clip]
    present = {s.source_clip for s in segments}
    questions: list[dict[str, Any]] = []

    def add(qid: str, qtype: str, question: str, correct: str, distractors: Sequence[str],
            evidence: list[list[float]], needle: str | None) -> None:
        options, letter = placer.place(correct, distractors)
        questions.append({"id": qid, "question_type": qtype, "question": question, "options": options,
                          "answer": letter, "evidence_s": evidence, "needle": needle})

    visual_labels = [n.label for n in KNOWN_NEEDLES.values() if not n.text]
    for seg in needle_segs:
        n, ev = by_clip[seg.source_clip], [[seg.start_s, seg.end_s]]
        if n.text:
            decoys = list(n.text_decoys) or [k.text for k in KNOWN_NEEDLES.values() if k.text and k.text != n.text]
            text_ev = [seg.text_s or [seg.start_s, seg.end_s]]
            t0, t1 = text_ev[0]
            add(f"text_at_{n.stem}", "text", f"The video shows {n.text_context} between {fmt_time(t0)} and "
                f"{fmt_time(t1)}. What does the on-screen text say?", n.text, decoys[:3], text_ev, n.clip)
            add(f"text_find_{n.stem}", "text", f"At one point the video shows {n.text_context}. "
                "What does the on-screen text say?", n.text, decoys[:3], text_ev, n.clip)
            continue
        add(f"identify_{n.stem}", "identify", f"Which of these is shown {n.group or 'in the video'} between "
            f"{fmt_time(seg.start_s)} and {fmt_time(seg.end_s)}?", n.label,
            _pick(rng, visual_labels, 3, exclude=[n.label]), ev, n.clip)
        if n.colour:
            add(f"colour_{n.stem}", "colour", f"{n.subject} is filmed {n.group or 'in the video'} at one point. "
                "What colour is it?", n.colour, _pick(rng, _COLOURS, 3, exclude=[n.colour]), ev, n.clip)
        quarter = min(3, int(4 * seg.span.mid / duration)) if duration > 0 else 0
        add(f"when_{n.stem}", "when", f"Roughly when is {n.label[0].lower() + n.label[1:]} shown?", _WHEN[quarter],
            [w for w in _WHEN if w != _WHEN[quarter]], ev, n.clip)

    visual = [s for s in needle_segs if not by_clip[s.source_clip].text]
    if len(visual) >= 2:
        labels = [by_clip[s.source_clip].label for s in visual]
        absent_labels = [lb for lb in visual_labels if lb not in labels]
        for qid, seg, word in (("order_first", visual[0], "first"), ("order_last", visual[-1], "last")):
            label = by_clip[seg.source_clip].label
            others = _pick(rng, labels, 2, exclude=[label])
            others += _pick(rng, absent_labels, 3 - len(others))
            add(qid, "order", f"Several objects are filmed close-up {by_clip[seg.source_clip].group or 'in the video'}. "
                f"Which of them appears {word} in the video?", label, others, [[seg.start_s, seg.end_s]], seg.source_clip)

    for group in sorted({by_clip[s.source_clip].group for s in visual if by_clip[s.source_clip].group}):
        members = [s for s in visual if by_clip[s.source_clip].group == group]
        count = len(members)
        numbers = [str(k) for k in range(max(1, count - 2), count + 4) if k != count]
        add(f"count_{group.split()[-1]}", "count", f"How many different objects are filmed close-up {group} in "
            "this video?", str(count), _pick(rng, numbers, 3), [[s.start_s, s.end_s] for s in members], None)
        absent = [k for k in KNOWN_NEEDLES.values() if k.group == group and k.clip not in present]
        if absent:
            gone = rng.choice(absent)
            add(f"absent_{gone.stem}", "absent", f"Is {gone.label[0].lower() + gone.label[1:]} shown {group} at any "
                "point?", "No", ["Yes"], [], gone.clip)
    return questions
