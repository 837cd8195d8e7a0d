"""Spoken needles: synthetic speech (espeak-ng) mixed into a haystack's audio track at known times.

A spoken needle is one sentence stating a fact; spoken filler (neutral sentences) runs between them, so
the audio is not silent except for the needles. Questions follow from what was said and when: what was
said (`said`), which fact came first (`said_order`), roughly when it was said (`said_when`), and a fact
never said (`never_said`). The speech track replaces the video's audio (the video stream is copied).
"""
from __future__ import annotations

import dataclasses
import json
import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from vidrecall.core.types import fmt_time, stable_hash
from vidrecall.evaluation.haystack import HaystackError, HaystackSpec, _OptionPlacer, ffmpeg_exe

_WHEN = ("In the first quarter of the video", "In the second quarter of the video",
         "In the third quarter of the video", "In the last quarter of the video")


@dataclass(frozen=True)
class SpokenNeedle:
    """`sentence` is said at `position` (fraction of the video); `question`/`answer`/`decoys` ask about it;
    `topic` names the fact without giving it away (for order questions)."""

    sentence: str
    position: float
    topic: str
    question: str
    answer: str
    decoys: tuple[str, ...]


DEFAULT_SPOKEN: tuple[SpokenNeedle, ...] = (
    SpokenNeedle("Listen carefully. The secret password for the vault is pineapple.", 0.2, "The vault password",
                 "What is the secret password for the vault that the narrator says?", "Pineapple",
                 ("Mango", "Coconut", "Papaya")),
    SpokenNeedle("Attention please. The team meeting has been moved to Thursday.", 0.55, "The team meeting",
                 "According to the narrator, which day was the team meeting moved to?", "Thursday",
                 ("Monday", "Tuesday", "Friday")),
    SpokenNeedle("One more thing. The lost dog we are looking for is called Biscuit.", 0.8, "The lost dog",
                 "What is the name of the lost dog the narrator mentions?", "Biscuit",
                 ("Rocket", "Pepper", "Shadow")),
)
NEVER_SAID = ("A parking permit", "The fire drill", "A birthday party", "The broken elevator")

FILLER_SENTENCES = (
    "The weather today is mild with a light breeze from the west.",
    "Traffic on the main road is moving slowly this afternoon.",
    "The library will stay open until eight in the evening.",
    "Fresh bread is available at the bakery on the corner.",
    "The garden looks green after last week's rain.",
    "Remember to drink some water and take a short break.",
)


@dataclass
class SpokenLine:
    """One sentence in the track: when it starts and ends (haystack seconds), and whether it is a needle."""

    text: str
    start_s: float
    end_s: float
    needle: bool


def espeak_wav(text: str, cache: Path, words_per_minute: int = 150) -> tuple[Path, float]:
    """The sentence spoken by espeak-ng as a WAV (cached by text and speed), and its length in seconds."""
    import wave

    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        raise HaystackError("spoken needles need espeak-ng: apt-get install espeak-ng")
    cache.mkdir(parents=True, exist_ok=True)
    out = cache / f"say-{stable_hash([text, words_per_minute])}.wav"
    if not out.exists():
        tmp = out.with_suffix(".part.wav")
        done = subprocess.run([exe, "-s", str(words_per_minute), "-w", str(tmp), text], capture_output=True, text=True)
        if done.returncode != 0:
            raise HaystackError(f"espeak-ng failed for {text[:40]!r}: {done.stderr.strip()[:120]}")
        tmp.replace(out)
    with wave.open(str(out)) as w:
        return out, w.getnframes() / w.getframerate()


def plan_speech(duration: float, needles: Sequence[SpokenNeedle], cache: Path, *, filler: bool = True,
                filler_every_s: float = 45.0, gap_s: float = 3.0) -> list[tuple[SpokenLine, Path]]:
    """Needles at their positions; filler sentences every `filler_every_s` where they do not crowd a needle."""
    lines: list[tuple[SpokenLine, Path]] = []
    for n in needles:
        if not 0.0 <= n.position < 1.0:
            raise HaystackError(f"spoken needle {n.topic!r}: position {n.position} must be in [0, 1)")
        wav, seconds = espeak_wav(n.sentence, cache)
        start = round(n.position * duration, 2)
        if start + seconds > duration:
            raise HaystackError(f"spoken needle {n.topic!r} does not fit in a {duration:.0f} s video")
        lines.append((SpokenLine(n.sentence, start, round(start + seconds, 2), True), wav))
    if filler:
        t, i = 5.0, 0
        while t < duration - 10:
            sentence = FILLER_SENTENCES[i % len(FILLER_SENTENCES)]
            wav, seconds = espeak_wav(sentence, cache)
            end = t + seconds
            if end < duration and all(end + gap_s < a.start_s or t > a.end_s + gap_s for a, _ in lines):
                lines.append((SpokenLine(sentence, round(t, 2), round(end, 2), False), wav))
                i += 1
            t += filler_every_s
    return sorted(lines, key=lambda x: x[0].start_s)


def mix_speech(video: Path, lines: list[tuple[SpokenLine, Path]], duration: float) -> None:
    """Replace `video`'s audio with the lines placed at their start times (video stream copied)."""
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-i", str(video)]
    chains, labels = [], []
    for i, (line, wav) in enumerate(lines, 1):
        cmd += ["-i", str(wav)]
        ms = int(round(line.start_s * 1000))
        chains.append(f"[{i}:a]aresample=16000,adelay={ms}:all=1[a{i}]")
        labels.append(f"[a{i}]")
    graph = ";".join(chains) + f";{''.join(labels)}amix=inputs={len(labels)}:normalize=0:dropout_transition=0," \
                               f"apad,atrim=0:{duration:.3f}[aout]"
    tmp = video.with_name(video.stem + ".speech.part.mp4")
    cmd += ["-filter_complex", graph, "-map", "0:v", "-map", "[aout]", "-c:v", "copy", "-c:a", "aac",
            "-b:a", "48k", "-ac", "1", "-ar", "16000", "-movflags", "+faststart", str(tmp)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise HaystackError(f"{video}: mixing the speech track failed "
                            f"({(done.stderr.strip().splitlines() or ['?'])[-1][:160]})")
    tmp.replace(video)


def spoken_questions(lines: list[SpokenLine], needles: Sequence[SpokenNeedle], duration: float, *,
                     seed: int = 0) -> list[dict]:
    rng, placer = random.Random(seed + 7), _OptionPlacer(random.Random(seed + 8))
    questions: list[dict] = []
    said = {line.text: line for line in lines if line.needle}

    def add(qid: str, qtype: str, question: str, correct: str, distractors: Sequence[str], evidence: list) -> None:
        options, letter = placer.place(correct, distractors)
        questions.append({"id": qid, "question_type": qtype, "question": question, "options": options,
                          "answer": letter, "evidence_s": evidence, "needle": None, "spoken": True})

    ordered = sorted(needles, key=lambda n: said[n.sentence].start_s)
    for n in ordered:
        line = said[n.sentence]
        slug = n.topic.lower().replace("the ", "").replace(" ", "_")
        add(f"said_{slug}", "said", n.question, n.answer, list(n.decoys), [[line.start_s, line.end_s]])
        quarter = min(3, int(4 * (line.start_s + line.end_s) / 2 / duration))
        add(f"said_when_{slug}", "said_when", f"Roughly when does the narrator talk about "
            f"{n.topic[0].lower() + n.topic[1:]}?", _WHEN[quarter], [w for w in _WHEN if w != _WHEN[quarter]],
            [[line.start_s, line.end_s]])
    if len(ordered) >= 2:
        first = ordered[0]
        others = [n.topic for n in ordered[1:]] + [rng.choice(NEVER_SAID)]
        add("said_order_first", "said_order", "Which of these does the narrator talk about first?", first.topic,
            others[:3], [[said[first.sentence].start_s, said[first.sentence].end_s]])
    never = rng.choice(NEVER_SAID)
    add("never_said", "never_said", f"Does the narrator ever talk about {never[0].lower() + never[1:]}?", "No",
        ["Yes"], [])
    return questions


def add_spoken_needles(spec: HaystackSpec, needles: Sequence[SpokenNeedle] = DEFAULT_SPOKEN, *,
                       filler: bool = True, seed: int = 0, cache_dir: Path | None = None) -> HaystackSpec:
    """Give a built haystack a speech track with `needles` (plus spoken filler) and their questions.

    Rewrites the video's audio in place, appends the spoken questions to its needle QA file and records
    the spoken lines in `<out>.speech.json`."""
    cache = Path(cache_dir) if cache_dir else spec.video.parent / ".haystack_cache" / "speech"
    planned = plan_speech(spec.duration, needles, cache, filler=filler)
    mix_speech(spec.video, planned, spec.duration)
    lines = [line for line, _ in planned]
    questions = [q for q in spec.questions if not q.get("spoken")] + spoken_questions(
        lines, needles, spec.duration, seed=seed)
    qa = json.loads(spec.qa_path.read_text())
    qa["questions"] = questions
    spec.qa_path.write_text(json.dumps(qa, indent=1, ensure_ascii=False))
    speech_path = spec.video.with_suffix("").with_name(spec.video.stem + ".speech.json")
    speech_path.write_text(json.dumps({"video": spec.video.name, "lines": [dataclasses.asdict(x) for x in lines]},
                                      indent=1))
    return dataclasses.replace(spec, questions=questions)


def spoken_lines(video: Path) -> list[SpokenLine]:
    """The spoken lines recorded next to a haystack (empty when it has no speech track)."""
    path = video.with_suffix("").with_name(video.stem + ".speech.json")
    if not path.exists():
        return []
    return [SpokenLine(**x) for x in json.loads(path.read_text())["lines"]]


def describe_lines(lines: list[SpokenLine]) -> str:
    return "; ".join(f"{fmt_time(x.start_s)} {x.text!r}" for x in lines if x.needle)
