"""Old brain vs new brain on fresh haystacks nobody tuned on: spoken and on-screen needles, seeded.

    python benchmarks/bench_brain.py --seeds 2 3 --profiles offline-tiny offline    # the held-out figure
    python benchmarks/bench_brain.py --seeds 1 --profiles offline-tiny --minutes 4  # design seed, quick
    python benchmarks/bench_brain.py --seeds 2 3 --asr-only                         # Whisper tiny.en vs base
    python benchmarks/bench_brain.py --seeds 2 3 --build-only                       # just build the haystacks
    python benchmarks/bench_brain.py --seeds 2 3 --report-only                      # tables from earlier runs

Per seed two haystacks of about --minutes are built from the shared clips (../shared/media/clips) into
<out>/haystacks, everything drawn from the pools below by random.Random(seed):
  speech set (6 questions): espeak-ng needles in the audio track -- a four-digit code said digit by digit
      (code), an answer said beside its negated alternative (negation), a number said aloud with options
      written as words (word_options), a rare name or object (rare_word), which of two facts was said
      first/last (order), roughly when a fact was said (when);
  text set (6 questions): on-screen texts drawn onto shared clips with ffmpeg drawtext (4 s each) -- a code
      or number (code|number), a number shown as digits with options as words (word_options), a name
      (rare_word), which of two signs came first/last (order), when a notice was shown (when), how many
      times a notice was shown (count) or how long after one sign another came (after).
Each haystack's QA is a `*.needle_qa.json` (read by `vidrecall.evaluation.loaders`, format "haystack").

Seeds in --design-seeds (default 1) are the ones this benchmark was developed on: their tables are printed
apart and labelled; the headline tables use held-out seeds only. Every profile gets one store
(<out>/stores/<profile>); indexing (captions, speech) and LLM load are timed apart from asking. Results are
appended to <out>/<profile>.jsonl, keyed by haystack, question and a hash of the profile's settings, so a
rerun resumes (and a changed profile is rerun, not mixed in). The ASR section transcribes the speech
haystacks with the profile's speech settings and `speech.model` packaged (tiny.en) and packaged-base, and
says per needle sentence whether its key fact survives, plus word error rate on needle sentences.
Writes <out>/report.md beside the JSONLs and prints the tables.
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # an offline benchmark: a missing model is reported, not fetched
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
CLIPS = REPO.parent / "shared" / "media" / "clips"
POOL_VERSION = 3  # bump when pools or question wording change: haystacks are rebuilt, results not mixed

SPEECH_TYPES = ("code", "negation", "word_options", "rare_word", "order", "when")
TEXT_TYPES = ("code", "number", "word_options", "rare_word", "order", "when", "count", "after")

# --- pools (disjoint from tests/ and evaluation/spoken_needles.py DEFAULT_SPOKEN) ------------------------
INTROS = ("Write this down.", "Please note.", "Important.", "Listen closely.", "Something to remember.")

# (sentence with {said}, question)
SPEECH_CODES = (
    ("The code for the bicycle lock is {said}.", "What is the code for the bicycle lock that the narrator reads out?"),
    ("The entry code for the back gate is {said}.",
     "According to the narrator, what is the entry code for the back gate?"),
    ("The padlock on the tool shed opens with {said}.",
     "Which code opens the padlock on the tool shed, according to the narrator?"),
    ("To open the storage cage, enter {said}.", "Which code does the narrator give for opening the storage cage?"),
    ("The door of the loading dock uses the code {said}.",
     "What code does the narrator say the loading dock door uses?"),
)

# (sentence, question, answer, negated alternative, other options, (key said, key negated))
SPEECH_NEGATIONS = (
    ("For the outing we ride the silver tram, never the violet one.",
     "Which tram does the narrator say the group rides for the outing?", "The silver tram", "The violet tram",
     ("The scarlet tram", "The cream tram"), ("silver", "violet")),
    ("Water the orchids on the balcony, never the ferns in the hallway.",
     "Which plants does the narrator say should be watered?", "The orchids on the balcony", "The ferns in the hallway",
     ("The cacti on the windowsill", "The roses by the door"), ("orchids", "ferns")),
    ("Park the van behind the chapel, never beside the fountain.",
     "Where does the narrator say the van should be parked?", "Behind the chapel", "Beside the fountain",
     ("Next to the school", "Opposite the pharmacy"), ("chapel", "fountain")),
    ("Guests should use the east staircase, never the west staircase.",
     "Which way does the narrator tell guests to go?", "The east staircase", "The west staircase",
     ("The service lift", "The north staircase"), ("east", "west")),
    ("Send the signed forms by courier, never by email.",
     "How does the narrator say the signed forms must be sent?", "By courier", "By email",
     ("By fax", "In person"), ("courier", "email")),
    ("Feed the parrot sunflower seeds, never avocado.",
     "What does the narrator say the parrot should be fed?", "Sunflower seeds", "Avocado",
     ("Grapes", "Crackers"), ("sunflower", "avocado")),
    ("Bring the copper pan to the cabin, not the iron one.",
     "Which pan does the narrator say to bring to the cabin?", "The copper pan", "The iron pan",
     ("The enamel pan", "The clay pot"), ("copper", "iron")),
)

# (sentence with {n}, question); n is said aloud, the options are words
SPEECH_NUMBERS = (
    ("The tour bus has room for {n} more passengers.",
     "According to the narrator, how many more passengers fit on the tour bus?"),
    ("We spotted {n} herons by the lake this morning.",
     "How many herons does the narrator say were spotted by the lake?"),
    ("The recipe needs {n} spoonfuls of honey.",
     "How many spoonfuls of honey does the recipe need, according to the narrator?"),
    ("There are {n} crates stacked in the old barn.",
     "How many crates does the narrator say are stacked in the old barn?"),
    ("The relay team ran {n} laps around the track.",
     "How many laps did the relay team run, according to the narrator?"),
    ("The shop sold {n} umbrellas this morning.",
     "How many umbrellas does the narrator say the shop sold this morning?"),
)

# (sentence, question, answer, decoys, key words)
SPEECH_RARE = (
    ("The ship's cat answers to the name Marmaduke.", "What is the ship's cat called, according to the narrator?",
     "Marmaduke", ("Montague", "Mortimer", "Barnaby"), ("marmaduke",)),
    ("Our new night guard is called Thaddeus Quimby.", "What is the name of the new night guard?",
     "Thaddeus Quimby", ("Theodore Quinn", "Thomas Kimble", "Tobias Crumb"), ("thaddeus", "quimby")),
    ("Grandfather kept a theodolite in the attic.", "What does the narrator say grandfather kept in the attic?",
     "A theodolite", ("A telescope", "A gramophone", "A metronome"), ("theodolite",)),
    ("The old clock on the mantelpiece sits next to an astrolabe.",
     "Which object does the narrator say sits next to the old clock on the mantelpiece?",
     "An astrolabe", ("A sextant", "A barometer", "An hourglass"), ("astrolabe",)),
    ("The tailor's shop is run by a woman named Ottoline Verity.",
     "Who runs the tailor's shop, according to the narrator?",
     "Ottoline Verity", ("Adeline Merritt", "Caroline Verney", "Evelyn Vickery"), ("ottoline", "verity")),
    ("The pony in the far paddock is called Fennimore.", "What is the name of the pony in the far paddock?",
     "Fennimore", ("Finnegan", "Fitzroy", "Sycamore"), ("fennimore",)),
    ("The gardener's favourite tool is a billhook.",
     "What is the gardener's favourite tool, according to the narrator?",
     "A billhook", ("A hoe", "A scythe", "A trowel"), ("billhook",)),
)

# facts for order / when questions (and never-said distractors): (sentence, topic, key words)
SPEECH_FACTS = (
    ("The plumber is coming to fix the leaking sink.", "The leaking sink", ("plumber", "sink")),
    ("The choir rehearsal will be held in the community hall.", "The choir rehearsal", ("choir", "rehearsal")),
    ("A new bicycle lane has opened along the canal.", "The new bicycle lane", ("bicycle", "canal")),
    ("The harvest festival starts with a parade through the square.", "The harvest festival", ("harvest", "parade")),
    ("The telescope on the roof needs a new lens cover.", "The rooftop telescope", ("telescope", "lens")),
    ("Volunteers are needed to paint the fence around the playground.", "Painting the playground fence",
     ("fence", "playground")),
    ("The chess club has moved its games to the room upstairs.", "The chess club", ("chess", "club")),
    ("A pair of swans has built a nest near the boathouse.", "The swans' nest", ("swans", "nest")),
    ("The old windmill will be shut for repairs.", "The windmill repairs", ("windmill", "repairs")),
    ("The ice rink opens an hour earlier from now on.", "The ice rink", ("ice", "rink")),
)

# on-screen texts: (template, what the question calls it)
TEXT_CODES = (("DOOR CODE {v}", "a door code"), ("GATE PIN {v}", "a gate PIN"),
              ("LOCKER COMBINATION {v}", "a locker combination"), ("ALARM CODE {v}", "an alarm code"))
TEXT_NUMBERS = (("PLATFORM {v}", "a platform number", 2), ("ROOM {v}", "a room number", 3),
                ("BUS {v}", "a bus number", 3))
TEXT_WORD_NUMBERS = (
    ("TICKETS LEFT: {n}", "According to the on-screen sign, how many tickets are left?"),
    ("SEATS FREE: {n}", "How many seats are free, according to the sign shown in the video?"),
    ("{n} DAYS UNTIL OPENING", "According to the on-screen text, how many days are left until the opening?"),
    ("WAITING: {n} PEOPLE AHEAD", "How many people are ahead in the line, according to the on-screen sign?"),
)
TEXT_NAME_SIGNS = (("GUEST SPEAKER: {name}", "Which guest speaker is named on screen?"),
                   ("ON DUTY TODAY: {name}", "Who is on duty today, according to the on-screen sign?"),
                   ("TODAY'S HOST: {name}", "Who is today's host, according to the on-screen sign?"))
NAME_GROUPS = (  # one is shown, the rest are its distractors
    ("Ilse Marwood", "Elsa Marwick", "Ilse Hartwood", "Isla Norwood"),
    ("Bruno Kestrel", "Bruno Kessler", "Bruce Kestner", "Brenda Kessel"),
    ("Orla Fenwick", "Olga Fenner", "Orla Fenton", "Carla Renwick"),
    ("Tobias Quell", "Tobias Quill", "Tomas Quell", "Torben Quist"),
    ("Magnus Ardley", "Marcus Hardley", "Magnus Hartley", "Angus Ardell"),
    ("Sunniva Holt", "Savanna Holt", "Sunniva Hale", "Sonia Voigt"),
)
TEXT_STOPS = ("QUARRY LANE", "MILLPOND ROAD", "FOUNDRY STREET", "ORCHARD HILL", "TANNERY ROW", "LINDEN SQUARE",
              "HERON QUAY", "SALTMARSH WAY")
TEXT_STOP_SIGNS = ("NEXT STOP: {p}", "NOW ARRIVING: {p}")
TEXT_NOTICES = ("LOW TIDE AT DUSK", "CABLE CAR DELAYED", "MARKET CLOSES EARLY", "POOL CLOSED TODAY", "ROAD WORKS AHEAD",
                "FROST WARNING")
TEXT_COUNTED = ("MIND THE STEP", "WET PAINT", "KEEP LEFT", "NO CYCLING", "SILENCE PLEASE")
TEXT_AFTER = (("DOORS OPEN", "SHOW STARTS"), ("KICK-OFF", "HALF TIME"), ("BOARDING NOW", "GATE CLOSED"),
              ("OVEN ON", "BREAD READY"))
TIMES_WORDS = ("Never", "Once", "Twice", "Three times", "Four times")
QUARTERS = ("In the first quarter of the video", "In the second quarter of the video",
            "In the third quarter of the video", "In the last quarter of the video")
TEXT_SECONDS = 4.0  # how long each on-screen text is visible
TEXT_CLIP_SECONDS = 8.0

# --- numbers as words ---------------------------------------------------------------------------------
ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen").split()
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
HOMOPHONES = {"for": "4", "fore": "4", "to": "2", "too": "2", "won": "1", "ate": "8", "oh": "0", "nein": "9"}


def num_word(n: int) -> str:
    if n < 20:
        return ONES[n]
    tens = {v: k for k, v in TENS.items()}[n // 10 * 10]
    return tens + (f"-{ONES[n % 10]}" if n % 10 else "")


def tokens(text: str, *, lenient: bool = False) -> list[str]:
    """Lower-case words, number words as digits ("twenty one" -> "21"), "8 -3 -5" -> 8 3 5."""
    t = re.sub(r"(?<=\d)\s*-\s*(?=\d)", " ", text.lower()).replace("-", " ")
    words = [w.strip("'") for w in re.findall(r"[a-z0-9']+", t)]
    words = [w for w in words if w]
    out, i = [], 0
    while i < len(words):
        w = words[i]
        if w in TENS:
            v = TENS[w]
            if i + 1 < len(words) and words[i + 1] in ONES[1:10]:
                v += ONES.index(words[i + 1])
                i += 1
            out.append(str(v))
        elif w in ONES:
            out.append(str(ONES.index(w)))
        elif lenient and w in HOMOPHONES:
            out.append(HOMOPHONES[w])
        else:
            out.append(w)
        i += 1
    return out


def digit_split(words: list[str]) -> list[str]:
    return [c for w in words for c in (list(w) if w.isdigit() and len(w) > 1 else [w])]


def word_errors(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance over words (substitutions, insertions, deletions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


# --- option and time helpers -------------------------------------------------------------------------------
def m_ss(t: float) -> str:
    t = max(0, int(round(t)))
    return f"{t // 60}:{t % 60:02d}"


def when_options(rng: random.Random, t: float, duration: float) -> tuple[str, list[str], str]:
    """(correct, distractors, style) for "roughly when" at time t: video quarters when t is clearly inside one
    (seeded preference), else one-minute windows with t at least 15 s inside the right one."""
    frac = t / duration
    clear_quarter = all(abs(frac - k / 4) >= 0.04 for k in (1, 2, 3))
    if clear_quarter and rng.random() < 0.5:
        q = min(3, int(4 * frac))
        return QUARTERS[q], [w for w in QUARTERS if w != QUARTERS[q]], "quarters"
    a = max(0.0, 30 * ((t - 15) // 30))
    label = lambda s: f"Around {m_ss(s)}-{m_ss(s + 60)}"  # noqa: E731
    others = [a + 60 * k for k in (-3, -2, -1, 1, 2, 3) if a + 60 * k >= 0 and a + 60 * k < duration]
    others.sort(key=lambda s: (abs(s - a), s))
    if len(others) < 3 and clear_quarter:  # a short video: too few one-minute windows for four options
        q = min(3, int(4 * frac))
        return QUARTERS[q], [w for w in QUARTERS if w != QUARTERS[q]], "quarters"
    return label(a), [label(s) for s in others[:3]], "ranges"


def code_distractors(rng: random.Random, code: str) -> list[str]:
    d = list(code)
    swapped = d[:]
    i = rng.randrange(3)
    swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
    near = d[:]
    j = rng.randrange(4)
    near[j] = str((int(near[j]) + rng.choice((1, 2, 8))) % 10 or 5)
    out = ["".join(swapped), "".join(near), code[::-1], "".join(d[2:] + d[:2])]
    return [x for x in dict.fromkeys(out) if x != code][:3]


def number_word_distractors(n: int) -> list[int]:
    cands = [n + 1, n - 1]
    if 13 <= n <= 19:
        cands.insert(0, (n - 10) * 10)  # fourteen / forty
    else:
        cands.append(n + 10)
    cands += [n + 2, n - 2]
    return [c for c in dict.fromkeys(cands) if c > 0 and c != n][:3]


def number_distractors(rng: random.Random, n: int, digits: int) -> list[str]:
    s = str(n)
    cands = [s[::-1], str(n + 1), str(n - 1), str(n + 10 ** (digits - 1)), str(n + 10)]
    out = [c for c in dict.fromkeys(cands) if c != s and len(c) == digits and not c.startswith("0")]
    rng.shuffle(out)
    return out[:3]


def gap_label(s: float) -> str:
    if s < 90:
        return f"About {max(10, int(round(s / 10)) * 10)} seconds"
    m = round(s / 30) / 2
    return f"About {m:g} minute" + ("" if m == 1 else "s")


def gap_distractors(gap: float) -> list[str]:
    correct = gap_label(gap)
    cands = [gap / 3, gap * 2, gap * 3, gap + 150, gap - 120, gap / 2, gap * 4]
    out = [gap_label(c) for c in cands if c >= 15 and abs(c - gap) >= max(45.0, 0.45 * gap)]
    return [x for x in dict.fromkeys(out) if x != correct][:3]


def spaced_positions(rng: random.Random, n: int, lo: float = 0.05, hi: float = 0.93) -> list[float]:
    """n positions, one per equal bin of [lo, hi], jittered inside the bin's middle 60 %."""
    width = (hi - lo) / n
    return [round(lo + width * (i + 0.2 + 0.6 * rng.random()), 4) for i in range(n)]


class Placer:
    """Each correct option at the letter used least so far (seeded), as the haystack builder does."""

    def __init__(self, rng: random.Random):
        from vidrecall.evaluation.haystack import _OptionPlacer

        self.inner = _OptionPlacer(rng)

    def place(self, correct: str, distractors: list[str]) -> tuple[list[str], str]:
        return self.inner.place(correct, distractors)


def question(placer: Placer, qid: str, qtype: str, set_name: str, text: str, correct: str,
             distractors: list[str], evidence: list, **extra: Any) -> dict:
    options, letter = placer.place(correct, list(distractors))
    return {"id": qid, "question_type": qtype, "type": qtype, "set": set_name, "question": text,
            "options": options, "answer": letter, "answer_text": correct, "evidence_s": evidence, "needle": None,
            **extra}


def filler_for(rng: random.Random, clips_dir: Path) -> list[str]:
    """The shared clips minus the known needle clips, in a seeded order, a few left out."""
    from vidrecall.evaluation.haystack import default_filler

    names = default_filler(clips_dir, [])
    rng.shuffle(names)
    return names[:max(8, len(names) - rng.randint(0, 4))]


# --- the speech haystack ------------------------------------------------------------------------------------
def build_speech_set(seed: int, minutes: float, out: Path, clips_dir: Path, cache: Path, progress: bool) -> Path:
    from vidrecall.evaluation import spoken_needles as sn
    from vidrecall.evaluation.haystack import build_haystack

    rng = random.Random(seed * 1000 + 1)
    video = out / f"speech_seed{seed}_{minutes:g}min.mp4"
    spec = build_haystack(clips_dir, video, target_seconds=minutes * 60, needles=[], filler=filler_for(rng, clips_dir),
                          seed=seed, cache_dir=cache / "clips", progress=progress)
    duration = spec.duration

    code = "".join(rng.sample("123456789", 4))
    said = (", ".join(ONES[int(c)] for c in code) if rng.random() < 0.5 else " ".join(code))
    code_sentence, code_q = rng.choice(SPEECH_CODES)
    neg = rng.choice(SPEECH_NEGATIONS)
    n = rng.randint(3, 19)
    num_sentence, num_q = rng.choice(SPEECH_NUMBERS)
    rare = rng.choice(SPEECH_RARE)
    facts = rng.sample(SPEECH_FACTS, 5)  # two for order, one for when, two never said
    intros = rng.sample(INTROS, 2)

    plan = [  # (key, sentence, key facts)
        ("code", f"{intros[0]} {code_sentence.format(said=said)}", {"kind": "digits", "value": code}),
        ("negation", neg[0], {"kind": "negation", "said": neg[5][0], "negated": neg[5][1]}),
        ("word_options", num_sentence.format(n=n), {"kind": "number", "value": n}),
        ("rare_word", f"{intros[1]} {rare[0]}", {"kind": "words", "value": list(rare[4])}),
        ("order_a", facts[0][0], {"kind": "words", "value": list(facts[0][2])}),
        ("order_b", facts[1][0], {"kind": "words", "value": list(facts[1][2])}),
        ("when", facts[2][0], {"kind": "words", "value": list(facts[2][2])}),
    ]
    rng.shuffle(plan)
    positions = spaced_positions(rng, len(plan))
    needles = [sn.SpokenNeedle(sentence, pos, key, "", "", ()) for (key, sentence, _), pos in zip(plan, positions)]
    planned = sn.plan_speech(duration, needles, cache / "speech")
    sn.mix_speech(spec.video, planned, duration)
    lines = [line for line, _ in planned]
    at = {line.text: line for line in lines if line.needle}
    span = {key: [at[s].start_s, at[s].end_s] for key, s, _ in plan}

    placer = Placer(random.Random(seed * 1000 + 11))
    qs = [
        question(placer, "speech_code", "code", "speech", code_q, code, code_distractors(rng, code), span["code"]),
        question(placer, "speech_negation", "negation", "speech", neg[1], neg[2], [neg[3], *neg[4]],
                 span["negation"]),
        question(placer, "speech_number_words", "word_options", "speech", num_q, num_word(n),
                 [num_word(x) for x in number_word_distractors(n)], span["word_options"]),
        question(placer, "speech_rare_word", "rare_word", "speech", rare[1], rare[2], list(rare[3]),
                 span["rare_word"]),
    ]
    a_first = span["order_a"][0] < span["order_b"][0]
    word = rng.choice(("first", "last"))
    right = facts[0] if (a_first == (word == "first")) else facts[1]
    other = facts[1] if right is facts[0] else facts[0]
    qs.append(question(placer, "speech_order", "order", "speech",
                       f"Which of these does the narrator talk about {word}?", right[1],
                       [other[1], facts[3][1], facts[4][1]],
                       [span["order_a"], span["order_b"]]))
    mid = sum(span["when"]) / 2
    correct, distractors, style = when_options(rng, mid, duration)
    qs.append(question(placer, "speech_when", "when", "speech",
                       f"Roughly when does the narrator talk about {facts[2][1][0].lower() + facts[2][1][1:]}?",
                       correct, distractors, span["when"], style=style))
    needles_meta = [{"key": key, "sentence": s, "start_s": at[s].start_s, "end_s": at[s].end_s, "fact": fact}
                    for key, s, fact in plan]
    speech_path = video.with_name(video.stem + ".speech.json")
    speech_path.write_text(json.dumps({"video": video.name, "lines": [dataclasses.asdict(x) for x in lines]},
                                      indent=1))
    write_qa(spec, qs, seed, minutes, "speech", needles_meta)
    return spec.qa_path


# --- the text haystack --------------------------------------------------------------------------------------
def font_file() -> str:
    dejavu = Path("/usr/share/fonts/truetype/dejavu")
    for p in (dejavu / "DejaVuSans-Bold.ttf", dejavu / "DejaVuSans.ttf"):
        if p.is_file():
            return str(p)
    try:
        import matplotlib

        p = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
        if p.is_file():
            return str(p)
    except ImportError:
        pass
    if shutil.which("fc-list"):
        found = subprocess.run(["fc-list", ":style=Bold", "file"], capture_output=True, text=True).stdout.split()
        found = [f.rstrip(":") for f in found if f.rstrip(":").endswith(".ttf")]
        if found:
            return sorted(found)[0]
    raise SystemExit("no TrueType font found for ffmpeg drawtext (install fonts-dejavu-core)")


def ffmpeg() -> str:
    from vidrecall.evaluation.haystack import ffmpeg_exe

    return shutil.which("ffmpeg") or ffmpeg_exe()


def background_clips(clips_dir: Path) -> list[tuple[str, float]]:
    """Shared clips long enough to carry a text, without text of their own and not known needles."""
    from vidrecall.evaluation.haystack import KNOWN_NEEDLES, VIDEO_EXTENSIONS, probe_seconds

    texty = {"mejs_echo-hereweare.webm", "deb-gnome_display-dual-monitors.webm"}
    out = []
    for p in sorted(clips_dir.iterdir()):
        if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS and p.name not in KNOWN_NEEDLES and p.name not in texty:
            seconds = probe_seconds(p)
            if seconds >= TEXT_CLIP_SECONDS + 0.5:
                out.append((p.name, seconds))
    return out


def render_text_clip(src: Path, start: float, text: str, y_frac: float, cache: Path) -> Path:
    """TEXT_CLIP_SECONDS of `src` from `start` at 640x360/15 fps with `text` drawn from 2 s for TEXT_SECONDS."""
    from vidrecall.core.types import stable_hash

    cache.mkdir(parents=True, exist_ok=True)
    key = stable_hash([src.name, src.stat().st_size, round(start, 2), text, y_frac, TEXT_SECONDS, POOL_VERSION])
    out = cache / f"text-{key}.mp4"
    if out.exists():
        return out
    txt = cache / f"text-{key}.txt"
    txt.write_text(text)
    size = max(22, min(40, int(560 / (0.68 * len(text)))))
    a, b = 2.0, 2.0 + TEXT_SECONDS
    vf = (f"scale=640:360:force_original_aspect_ratio=decrease,pad=640:360:(ow-iw)/2:(oh-ih)/2,fps=15,"
          f"format=yuv420p,setsar=1,drawtext=fontfile={font_file()}:textfile={txt}:fontsize={size}:"
          f"fontcolor=white:box=1:boxcolor=black@0.7:boxborderw=14:x=(w-text_w)/2:y=(h-text_h)*{y_frac:.2f}:"
          f"enable='between(t,{a},{b})'")
    tmp = out.with_suffix(".part.mp4")
    cmd = [ffmpeg(), "-v", "error", "-y", "-ss", f"{start:.2f}", "-i", str(src), "-t", f"{TEXT_CLIP_SECONDS}",
           "-an", "-vf", vf, "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-f", "mp4", str(tmp)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise SystemExit(f"ffmpeg drawtext failed on {src.name}: {done.stderr.strip()[-300:]}")
    tmp.replace(out)
    return out


def build_text_set(seed: int, minutes: float, out: Path, clips_dir: Path, cache: Path, progress: bool) -> Path:
    from vidrecall.evaluation.haystack import Needle, build_haystack

    rng = random.Random(seed * 1000 + 2)
    video = out / f"text_seed{seed}_{minutes:g}min.mp4"
    filler = filler_for(rng, clips_dir)

    if rng.random() < 0.5:
        code = "".join(rng.sample("123456789", 4))
        template, desc = rng.choice(TEXT_CODES)
        first = ("code", template.format(v=code), desc, code, code_distractors(rng, code))
    else:
        template, desc, digits = rng.choice(TEXT_NUMBERS)
        v = rng.randint(10 ** (digits - 1) + 1, 10 ** digits - 2)
        first = ("number", template.format(v=v), desc, str(v), number_distractors(rng, v, digits))
    n = rng.randint(3, 19)
    wn_template, wn_q = rng.choice(TEXT_WORD_NUMBERS)
    group = list(rng.choice(NAME_GROUPS))
    name = rng.choice(group)
    name_template, name_q = rng.choice(TEXT_NAME_SIGNS)
    stops = rng.sample(TEXT_STOPS, 4)
    stop_sign = rng.choice(TEXT_STOP_SIGNS)
    notice = rng.choice(TEXT_NOTICES)
    last_kind = rng.choice(("count", "after"))
    items = [  # (key, text)
        ("first", first[1]), ("word_options", wn_template.format(n=n)),
        ("rare_word", name_template.format(name=name)),
        ("order_a", stop_sign.format(p=stops[0])), ("order_b", stop_sign.format(p=stops[1])),
        ("when", notice),
    ]
    if last_kind == "count":
        counted = rng.choice(TEXT_COUNTED)
        times = rng.choice((2, 3))
        items += [(f"count_{i}", counted) for i in range(times)]
    else:
        pair = rng.choice(TEXT_AFTER)
        items += [("after_a", pair[0]), ("after_b", pair[1])]

    # positions: a seeded order with the repeated notice (or the after pair) at least two bins apart
    positions = spaced_positions(rng, len(items))
    for _ in range(1000):
        order = items[:]
        rng.shuffle(order)
        slot = {key: i for i, (key, _) in enumerate(order)}
        spread = [slot[k] for k, _ in items if k.startswith(("count_", "after_"))]
        ok = all(abs(x - y) >= 2 for i, x in enumerate(spread) for y in spread[i + 1:])
        if last_kind == "after":
            ok = ok and slot["after_a"] < slot["after_b"]
        if ok:
            break
    backgrounds = background_clips(clips_dir)
    needles, meta = [], []
    for (key, text), pos in zip(order, positions):
        bg, seconds = rng.choice(backgrounds)
        start = round(rng.uniform(0, max(0.0, seconds - TEXT_CLIP_SECONDS - 0.3)), 1)
        clip = render_text_clip(clips_dir / bg, start, text, rng.choice((0.2, 0.5, 0.8)), cache / "textclips")
        needles.append(Needle(str(clip), position=pos, text=text, label=f"on-screen text '{text}'",
                              text_window=(2.0, 2.0 + TEXT_SECONDS)))
        meta.append({"key": key, "text": text, "background": bg, "position": pos})
    spec = build_haystack(clips_dir, video, target_seconds=minutes * 60, needles=needles, filler=filler, seed=seed,
                          cache_dir=cache / "clips", progress=progress)
    shown = [s for s in spec.segments if s.needle]
    if len(shown) != len(needles):
        raise SystemExit(f"{video.name}: {len(needles) - len(shown)} text needle(s) did not fit; use more --minutes")
    at: dict[str, list[float]] = {}
    for m, seg in zip(meta, shown):  # the builder keeps needles in position order, as `order` is
        assert seg.text == m["text"], (seg.text, m["text"])
        m["text_s"] = at[m["key"]] = seg.text_s
    duration = spec.duration

    placer = Placer(random.Random(seed * 1000 + 12))
    kind, _, desc, value, distractors = first
    qs = [
        question(placer, f"text_{kind}", kind, "text",
                 f"At one point the video shows {desc} on screen. What is it?", value, distractors, at["first"]),
        question(placer, "text_number_words", "word_options", "text", wn_q, num_word(n),
                 [num_word(x) for x in number_word_distractors(n)], at["word_options"]),
        question(placer, "text_rare_word", "rare_word", "text", name_q, name, [g for g in group if g != name],
                 at["rare_word"]),
    ]
    sign = stop_sign.split(":")[0].lower()
    word = rng.choice(("first", "last"))
    a_first = at["order_a"][0] < at["order_b"][0]
    right, other = (stops[0], stops[1]) if a_first == (word == "first") else (stops[1], stops[0])
    qs.append(question(placer, "text_order", "order", "text",
                       f"Two '{sign}' signs appear in the video. Which of these stops is shown {word}?",
                       right.title(), [other.title(), stops[2].title(), stops[3].title()],
                       [at["order_a"], at["order_b"]]))
    correct, whens, style = when_options(rng, sum(at["when"]) / 2, duration)
    qs.append(question(placer, "text_when", "when", "text",
                       f"Roughly when does the notice '{notice}' appear on screen?", correct, whens, at["when"],
                       style=style))
    if last_kind == "count":
        times = sum(1 for m in meta if m["key"].startswith("count_"))
        qs.append(question(placer, "text_count", "count", "text",
                           f"How many times does the notice '{counted}' appear on screen in the video?",
                           TIMES_WORDS[times], [w for w in TIMES_WORDS[1:] if w != TIMES_WORDS[times]][:3],
                           [at[m["key"]] for m in meta if m["key"].startswith("count_")]))
    else:
        gap = at["after_b"][0] - at["after_a"][0]
        qs.append(question(placer, "text_after", "after", "text",
                           f"How long after the sign '{pair[0]}' is the sign '{pair[1]}' shown?", gap_label(gap),
                           gap_distractors(gap), [at["after_a"], at["after_b"]], gap_s=round(gap, 1)))
    write_qa(spec, qs, seed, minutes, "text", meta)
    return spec.qa_path


def write_qa(spec, questions: list[dict], seed: int, minutes: float, set_name: str, needles: list[dict]) -> None:
    data = {"video": spec.video.name, "duration_s": round(spec.duration, 3), "questions": questions,
            "bench": {"benchmark": "bench_brain", "pool_version": POOL_VERSION, "seed": seed, "minutes": minutes,
                      "set": set_name},
            "needles": needles}
    spec.qa_path.write_text(json.dumps(data, indent=1, ensure_ascii=False))


def haystack_paths(out: Path, seed: int, minutes: float) -> dict[str, Path]:
    return {s: out / "haystacks" / f"{s}_seed{seed}_{minutes:g}min.needle_qa.json" for s in ("speech", "text")}


def ensure_haystacks(args, seed: int) -> dict[str, Path]:
    paths = haystack_paths(args.out, seed, args.minutes)
    builders = {"speech": build_speech_set, "text": build_text_set}
    for set_name in args.sets:
        qa = paths[set_name]
        if qa.exists() and not args.rebuild:
            data = json.loads(qa.read_text())
            bench = data.get("bench", {})
            if bench.get("pool_version") == POOL_VERSION and (qa.parent / data["video"]).exists():
                continue
        started = time.monotonic()
        builders[set_name](seed, args.minutes, qa.parent, args.clips, args.out / ".cache", args.progress)
        print(f"built {qa.name.replace('.needle_qa.json', '.mp4')} in {time.monotonic() - started:.1f} s")
    return {s: paths[s] for s in args.sets}


def load_qa(path: Path) -> dict:
    data = json.loads(path.read_text())
    data["path"] = str(path)
    data["video_path"] = str(path.parent / data["video"])
    data["name"] = Path(data["video"]).stem
    from vidrecall.core.types import stable_hash

    # results count only for the haystack they were asked on: same questions, needles and length
    data["hash"] = stable_hash([data["questions"], data.get("needles"), data["duration_s"]], 12)
    return data


# --- running profiles -------------------------------------------------------------------------------------
def profile_hash(profile: str) -> str:
    from vidrecall.core.config import load_config, to_dict
    from vidrecall.core.types import stable_hash

    cfg = to_dict(load_config(profile))
    cfg.pop("store_dir", None)
    return stable_hash(cfg, 12)


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass  # a line cut by a kill
    return rows


def append_row(path: Path, row: dict) -> None:
    with path.open("a") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")


def run_profile(args, profile: str, haystacks: list[dict], phases: list[tuple[str, float]]) -> None:
    from vidrecall.api import VideoQA
    from vidrecall.core.progress import TqdmBars, silent
    from vidrecall.core.run_context import RunContext
    from vidrecall.tools.llm.local_transformers import load_local_weights

    out = args.out / f"{profile}.jsonl"
    phash = profile_hash(profile)
    hashes = {h["name"]: h["hash"] for h in haystacks}
    done: dict[tuple, dict] = {}
    for r in read_rows(out):
        if r.get("profile_hash") == phash and not r.get("exception") and r.get("haystack_hash") == hashes.get(
                r.get("haystack")):
            done[(r["kind"], r["haystack"], r.get("qid"))] = r
    todo = [(h, q) for h in haystacks for q in h["questions"] if ("answer", h["name"], q["id"]) not in done
            and (not args.types or q["question_type"] in args.types)]
    todo_index = [h for h in haystacks if ("index", h["name"], None) not in done]
    if not todo and not todo_index:
        print(f"[{profile}] all {sum(len(h['questions']) for h in haystacks)} questions done earlier (resumed)")
        return
    qa = VideoQA(profile, store_dir=args.out / "stores" / profile)
    try:
        started = time.monotonic()
        qa.preflight()
        load_local_weights(qa.backbones.llm)
        load_s = time.monotonic() - started
        print(f"[{profile}] backbones loaded in {load_s:.1f} s")
        phases.append((f"{profile}: load backbones", load_s))
        base = {"profile": profile, "profile_hash": phash}
        for h in todo_index:
            record = qa.memory.register(h["video_path"])
            run = RunContext(progress=TqdmBars() if args.progress else silent)
            t0 = time.monotonic()
            level = qa.indexer.build(record, [qa.config.levels[0].name], speech=False, run=run).reports[0]
            t1 = time.monotonic()
            speech = qa.indexer.build_speech(record, run)
            t2 = time.monotonic()
            row = {**base, "kind": "index", "haystack": h["name"], "haystack_hash": h["hash"],
                   "seed": h["bench"]["seed"],
                   "set": h["bench"]["set"], "captions_s": round(t1 - t0, 2), "speech_s": round(t2 - t1, 2),
                   "clips": level.clips, "captions_made": level.created, "frames": level.frames,
                   "frames_sent": level.frames_sent,
                   "speech": [r.to_dict() for r in speech] if speech else [], "load_s": round(load_s, 2)}
            append_row(out, row)
            print(f"[{profile}] indexed {h['name']}: captions {t1 - t0:.1f} s ({level.created} made), "
                  f"speech {t2 - t1:.1f} s")
            phases.append((f"{profile}: index {h['name']}", t2 - t0))
        asked = time.monotonic()
        for h, q in todo:
            t0 = time.monotonic()
            try:
                ans = qa.ask(h["video_path"], q["question"], options=q["options"])
            except Exception as exc:  # noqa: BLE001 - recorded, retried on the next run
                append_row(out, {**base, "kind": "answer", "haystack": h["name"], "qid": q["id"],
                                 "exception": f"{type(exc).__name__}: {exc}"[:300]})
                print(f"[{profile}] {h['name']} {q['id']}: {type(exc).__name__}: {exc}"[:200])
                continue
            wall = time.monotonic() - t0
            c = ans.cost
            row = {**base, "kind": "answer", "haystack": h["name"], "haystack_hash": h["hash"],
                   "seed": h["bench"]["seed"],
                   "set": h["bench"]["set"], "qid": q["id"], "type": q["question_type"], "question": q["question"],
                   "gold": q["answer"], "gold_text": q.get("answer_text"), "option": ans.option,
                   "answer": ans.answer[:200], "correct": ans.option == q["answer"],
                   "confidence": round(ans.confidence, 3), "decided_by": ans.decided_by, "forced": ans.forced,
                   "stop": ans.stop, "error": ans.error, "llm_calls": c.llm_calls, "seconds": round(c.seconds, 2),
                   "wall_s": round(wall, 2), "tokens_in": c.tokens_in, "tokens_out": c.tokens_out,
                   "tokens_in_cached": int(getattr(c, "tokens_in_cached", 0) or 0), "cache_hits": c.cache_hits,
                   "captions_made": c.captions_made, "asr_calls": c.asr_calls,
                   "evidence": [[round(e.start, 1), round(e.end, 1)] for e in ans.evidence][:6]}
            append_row(out, row)
            mark = "ok " if row["correct"] else "BAD"
            print(f"[{profile}] {mark} {h['name']:<22} {q['id']:<20} {ans.option or '-'} (gold {q['answer']}) "
                  f"by {ans.decided_by or '?':<12} {c.llm_calls} calls {c.seconds:6.1f} s")
        if todo:
            phases.append((f"{profile}: ask {len(todo)} questions", time.monotonic() - asked))
    finally:
        qa.close()
        del qa
        import gc

        gc.collect()  # the next profile's LLM loads into the memory this one held


# --- ASR comparison -----------------------------------------------------------------------------------------
def transcribe(video: Path, speech, cache: Path) -> tuple[list[dict], float]:
    """Segments (with words) of the whole track, walked in windows as indexing/speech.py does; cached."""
    from vidrecall.indexing.speech import EDGE_GUARD_S
    from vidrecall.tools.speech.audio import SAMPLE_RATE, AudioStream
    from vidrecall.tools.speech.factory import make_transcriber

    from vidrecall.core.types import stable_hash

    tr = make_transcriber(speech)  # cheap: the weights load on the first transcribe
    key = stable_hash([video.name, video.stat().st_size, dataclasses.asdict(speech), tr.id], 12)
    path = cache / f"{video.stem}.{speech.model.replace('/', '_')}.{key}.json"
    if path.exists():
        data = json.loads(path.read_text())
        return data["segments"], data["seconds"]
    tr.preflight()
    started = time.monotonic()
    segments, t = [], 0.0
    with AudioStream(video) as stream:
        while True:
            w0, samples = stream.window(t, t + speech.window_seconds)
            if samples.size == 0:
                break
            w1 = w0 + samples.size / SAMPLE_RATE
            last = stream.ended and w1 < t + speech.window_seconds - 1e-3
            segs = [s.shifted(w0) for s in tr.transcribe(samples)]
            kept = segs if last else [s for s in segs if s.end <= w1 - EDGE_GUARD_S]
            t_next = w1 if last else max(kept[-1].end if kept else w1 - EDGE_GUARD_S, t + 1.0)
            segments += [{"start": s.start, "end": s.end, "text": s.text,
                          "words": [[w.start, w.end, w.text] for w in s.words]} for s in kept]
            if last:
                break
            t = t_next
    seconds = time.monotonic() - started
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"model": speech.model, "transcriber": tr.id, "seconds": seconds,
                                "segments": segments}, indent=1))
    return segments, seconds


def heard(segments: list[dict], start: float, end: float, pad: float = 0.6) -> str:
    """What the transcript has for [start, end]: words whose middle lies within it (give or take `pad`)."""
    words = []
    for s in segments:
        if s["end"] < start - pad or s["start"] > end + pad:
            continue
        if s["words"]:
            words += [w[2] for w in s["words"] if start - pad <= (w[0] + w[1]) / 2 <= end + pad]
        else:
            words.append(s["text"])
    return " ".join(words).strip()


def fact_survives(fact: dict, hyp: str) -> tuple[bool, bool]:
    """(strict, lenient): lenient also reads homophones ("for" 4, "to" 2, "ate" 8) as digits."""
    strict_t, lenient_t = tokens(hyp), tokens(hyp, lenient=True)
    kind = fact["kind"]
    if kind == "digits":
        return tuple(fact["value"] in "".join(w for w in t if w.isdigit()) for t in (strict_t, lenient_t))
    if kind == "number":
        ok = str(fact["value"]) in strict_t
        return ok, ok
    if kind == "negation":
        ok = (fact["said"] in strict_t and fact["negated"] in strict_t
              and any(w in strict_t for w in ("never", "not", "no")))
        return ok, ok
    ok = all(w in strict_t for w in fact["value"])
    return ok, ok


def closest(words: list[str], hyp: str) -> str:
    hyp_t = tokens(hyp)
    out = []
    for w in words:
        best = max(hyp_t, key=lambda h: difflib.SequenceMatcher(None, w, h).ratio(), default="")
        out.append(f"{w}~{best}" if best != w else w)
    return ", ".join(out)


def asr_section(args, haystacks: list[dict], phases: list[tuple[str, float]]) -> str:
    from vidrecall.core.config import load_config

    speech_hs = [h for h in haystacks if h["bench"]["set"] == "speech"]
    if not speech_hs:
        return ""
    base = load_config(args.asr_profile).speech
    if not base.uses_asr:
        base = dataclasses.replace(base, source="asr")
    lines = [f"## ASR on needle sentences (profile {args.asr_profile} speech settings: backend {base.backend}, "
             f"beam {base.beam_size}, VAD {base.vad})", ""]
    results: dict[str, dict] = {}
    for model in args.asr_models:
        speech = dataclasses.replace(base, model=model)
        started = time.monotonic()
        try:
            per = {h["name"]: transcribe(Path(h["video_path"]), speech, args.out / "asr") for h in speech_hs}
        except Exception as exc:  # noqa: BLE001 - a model not there yet is reported, not fatal
            results[model] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}
            print(f"ASR {model}: unavailable ({results[model]['error']})")
            continue
        phases.append((f"ASR {model} (~0 when cached)", time.monotonic() - started))
        rows, edits, ref_words, strict, lenient = [], 0, 0, 0, 0
        for h in speech_hs:
            segments, _ = per[h["name"]]
            for n in h["needles"]:
                hyp = heard(segments, n["start_s"], n["end_s"])
                ref_t, hyp_t = digit_split(tokens(n["sentence"])), digit_split(tokens(hyp))
                e = word_errors(ref_t, hyp_t)
                s_ok, l_ok = fact_survives(n["fact"], hyp)
                edits, ref_words = edits + e, ref_words + len(ref_t)
                strict, lenient = strict + s_ok, lenient + l_ok
                rows.append({"haystack": h["name"], "key": n["key"], "sentence": n["sentence"], "heard": hyp,
                             "wer": e / max(1, len(ref_t)), "strict": s_ok, "lenient": l_ok,
                             "fact": n["fact"]})
        results[model] = {"rows": rows, "wer": edits / max(1, ref_words), "strict": strict, "lenient": lenient,
                          "n": len(rows), "seconds": sum(per[h["name"]][1] for h in speech_hs)}
    lines += ["| speech.model | needle sentences | key fact survives | with homophones | WER (needle sentences) | "
              "transcribe s (first run; cached after) |", "|---|---|---|---|---|---|"]
    for model, r in results.items():
        if "error" in r:
            lines.append(f"| {model} | - | unavailable: {r['error']} | | | |")
        else:
            lines.append(f"| {model} | {r['n']} | {r['strict']}/{r['n']} | {r['lenient']}/{r['n']} | "
                         f"{100 * r['wer']:.1f}% | {r['seconds']:.1f} |")
    ok_models = [m for m, r in results.items() if "error" not in r]
    if ok_models:
        lines += ["", "| haystack | needle | fact | " + " | ".join(f"{m}: heard (fact ok? WER)" for m in ok_models)
                  + " |",
                  "|---|---|---|" + "---|" * len(ok_models)]
        for i, row in enumerate(results[ok_models[0]]["rows"]):
            f = row["fact"]
            fact = (f["value"] if f["kind"] in ("digits", "number") else
                    f"{f['said']} / never {f['negated']}" if f["kind"] == "negation" else " ".join(f["value"]))
            cells = []
            for m in ok_models:
                r = results[m]["rows"][i]
                ok = "yes" if r["strict"] else ("homophones" if r["lenient"] else "NO")
                extra = "" if r["strict"] or f["kind"] not in ("words",) else f" [{closest(f['value'], r['heard'])}]"
                cells.append(f"{r['heard'][:70]!r} ({ok}{extra}; {100 * r['wer']:.0f}%)")
            lines.append(f"| {row['haystack']} | {row['key']} | {fact} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    (args.out / "asr.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
    return text


# --- tables ---------------------------------------------------------------------------------------------------
def pct(c: int, t: int) -> str:
    return f"{c}/{t}" if t else "-"


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def tables(rows_by_profile: dict[str, list[dict]], index_by_profile: dict[str, list[dict]],
           haystacks: list[dict]) -> str:
    profiles = list(rows_by_profile)
    out = []
    keys = []  # (set, type) in the order the haystacks ask them
    for h in haystacks:
        for q in h["questions"]:
            k = (h["bench"]["set"], q["question_type"])
            if k not in keys:
                keys.append(k)
    head = "| set | type | n | " + " | ".join(f"{p}: correct | calls | s/q" for p in profiles) + " |"
    out += ["### Accuracy per question type", "", head, "|---|---|---|" + "---|---|---|" * len(profiles)]
    for set_name, qtype in keys:
        n = sum(1 for h in haystacks if h["bench"]["set"] == set_name for q in h["questions"]
                if q["question_type"] == qtype)
        cells = []
        for p in profiles:
            rs = [r for r in rows_by_profile[p] if r["set"] == set_name and r["type"] == qtype]
            cells.append(f"{pct(sum(r['correct'] for r in rs), len(rs))} | {mean([r['llm_calls'] for r in rs]):.1f} | "
                         f"{mean([r['seconds'] for r in rs]):.1f}")
        out.append(f"| {set_name} | {qtype} | {n} | " + " | ".join(cells) + " |")
    out += ["", "### Per set", "", "| profile | speech | text | all | mean LLM calls | mean s/q |",
            "|---|---|---|---|---|---|"]
    for p in profiles:
        rs = rows_by_profile[p]
        by = {s: [r for r in rs if r["set"] == s] for s in ("speech", "text")}
        out.append(f"| {p} | " + " | ".join(pct(sum(r["correct"] for r in by[s]), len(by[s])) for s in by) +
                   f" | {pct(sum(r['correct'] for r in rs), len(rs))} | {mean([r['llm_calls'] for r in rs]):.1f} | "
                   f"{mean([r['seconds'] for r in rs]):.1f} |")
    out += ["", "### Latency", "", "| profile | questions | median s/q | max s/q | tokens in | from KV cache | "
            "cached fraction | index captions s | index speech s |", "|---|---|---|---|---|---|---|---|---|"]
    for p in profiles:
        rs = rows_by_profile[p]
        secs = [r["seconds"] for r in rs]
        tin, tc = sum(r["tokens_in"] for r in rs), sum(r["tokens_in_cached"] for r in rs)
        ix = index_by_profile.get(p, [])
        out.append(f"| {p} | {len(rs)} | {statistics.median(secs) if secs else 0:.1f} | {max(secs, default=0):.1f} | "
                   f"{tin} | {tc} | {tc / tin if tin else 0:.2f} | {sum(i['captions_s'] for i in ix):.1f} | "
                   f"{sum(i['speech_s'] for i in ix):.1f} |")
    deciders = ["llm", "evidence", "llm+evidence", "fallback"]
    deciders += sorted({r["decided_by"] or "?" for rs in rows_by_profile.values() for r in rs} - set(deciders))
    out += ["", "### Who decided (decided_by: right/answered)", "",
            "| profile | " + " | ".join(deciders) + " |", "|---|" + "---|" * len(deciders)]
    for p in profiles:
        cells = []
        for d in deciders:
            rs = [r for r in rows_by_profile[p] if (r["decided_by"] or "?") == d]
            cells.append(f"{sum(r['correct'] for r in rs)}/{len(rs)}" if rs else "-")
        out.append(f"| {p} | " + " | ".join(cells) + " |")
    out += ["", "| haystack | question | type | gold | " + " | ".join(f"{p}: answer (decided by)" for p in profiles) +
            " |", "|---|---|---|---|" + "---|" * len(profiles)]
    for h in haystacks:
        for q in h["questions"]:
            cells = []
            for p in profiles:
                r = next((r for r in rows_by_profile[p] if r["haystack"] == h["name"] and r["qid"] == q["id"]), None)
                cells.append("-" if r is None else
                             f"{r['option'] or '-'} {'ok' if r['correct'] else 'WRONG'} ({r['decided_by'] or '?'})")
            out.append(f"| {h['name']} | {q['id']} | {q['question_type']} | {q['answer']}. {q['answer_text'][:30]} | "
                       + " | ".join(cells) + " |")
    return "\n".join(out)


def report(args, haystacks: list[dict], phases: list[tuple[str, float]], asr_text: str) -> str:
    hashes = {h["name"]: h["hash"] for h in haystacks}
    rows_by, index_by = {}, {}
    for p in args.profiles:
        phash = profile_hash(p)
        latest: dict[tuple, dict] = {}
        for r in read_rows(args.out / f"{p}.jsonl"):
            if (r.get("profile_hash") == phash and r.get("haystack_hash") == hashes.get(r.get("haystack"))
                    and not r.get("exception")):
                latest[(r["kind"], r["haystack"], r.get("qid"))] = r
        rows_by[p] = [r for (k, _, _), r in latest.items() if k == "answer"]
        index_by[p] = [r for (k, _, _), r in latest.items() if k == "index"]
    parts = [f"# bench_brain: {', '.join(args.profiles)} ({args.minutes:g}-minute haystacks, "
             f"pools v{POOL_VERSION})", ""]
    held = sorted({h["bench"]["seed"] for h in haystacks if h["bench"]["seed"] not in args.design_seeds})
    design = sorted({h["bench"]["seed"] for h in haystacks if h["bench"]["seed"] in args.design_seeds})
    for label, seeds in ((f"Held-out seeds {held} (the figure to report)", held),
                         (f"DESIGN seeds {design} (used while writing this benchmark: not a held-out figure)", design)):
        if not seeds:
            continue
        hs = [h for h in haystacks if h["bench"]["seed"] in seeds]
        hnames = {h["name"] for h in hs}
        listing = ", ".join(f"{h['name']} ({h['duration_s']:.0f} s)" for h in hs)
        parts += [f"## {label}", "", f"haystacks: {listing}", "",
                  tables({p: [r for r in rs if r["haystack"] in hnames] for p, rs in rows_by.items()},
                         {p: [r for r in rs if r["haystack"] in hnames] for p, rs in index_by.items()}, hs), ""]
    if asr_text:
        parts += [asr_text, ""]
    if phases:
        parts += ["## Wall time of this run's phases", "", "| phase | s |", "|---|---|"]
        parts += [f"| {name} | {s:.1f} |" for name, s in phases]
    return "\n".join(parts)


# --- main -----------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[2, 3], help="haystack seeds to build and run")
    ap.add_argument("--design-seeds", type=int, nargs="*", default=[1],
                    help="seeds used while designing the benchmark (reported apart, never in the headline)")
    ap.add_argument("--minutes", type=float, default=10.0, help="length of each haystack")
    ap.add_argument("--profiles", nargs="+", default=["offline-tiny", "offline"])
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "bench_brain")
    ap.add_argument("--clips", type=Path, default=CLIPS, help="the shared clips folder")
    ap.add_argument("--sets", nargs="+", default=["speech", "text"], choices=["speech", "text"])
    ap.add_argument("--types", nargs="+", default=None, help="only ask questions of these types")
    ap.add_argument("--build-only", action="store_true", help="build the haystacks and stop")
    ap.add_argument("--report-only", action="store_true", help="print the tables of earlier runs; run nothing")
    ap.add_argument("--rebuild", action="store_true", help="rebuild haystacks even if built")
    ap.add_argument("--asr-only", action="store_true", help="only the ASR comparison (no profile runs)")
    ap.add_argument("--no-asr", action="store_true", help="skip the ASR comparison")
    ap.add_argument("--asr-models", nargs="+", default=["packaged", "packaged-base"])
    ap.add_argument("--asr-profile", default=None, help="whose speech settings the ASR section uses "
                                                        "(default: the first of --profiles)")
    ap.add_argument("--progress", action="store_true", help="show progress bars while building and indexing")
    args = ap.parse_args(argv)
    args.asr_profile = args.asr_profile or args.profiles[0]
    args.out = args.out.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    phases: list[tuple[str, float]] = []
    labels = ", ".join(f"{s} ({'design' if s in args.design_seeds else 'held-out'})" for s in args.seeds)
    print(f"seeds: {labels}; {args.minutes:g}-minute haystacks in {args.out / 'haystacks'}")

    qa_paths: list[Path] = []
    started = time.monotonic()
    for seed in args.seeds:
        if args.report_only:
            qa_paths += [p for s, p in haystack_paths(args.out, seed, args.minutes).items()
                         if s in args.sets and p.exists()]
        else:
            qa_paths += list(ensure_haystacks(args, seed).values())
    phases.append(("build haystacks (0 when reused)", time.monotonic() - started))
    haystacks = [load_qa(p) for p in qa_paths]
    for h in haystacks:
        tag = "design" if h["bench"]["seed"] in args.design_seeds else "held-out"
        print(f"  {h['name']} [{tag}] {h['duration_s']:.0f} s: " +
              "; ".join(f"{q['question_type']}={q['answer_text']}" for q in h["questions"]))
    if args.build_only:
        return 0

    if not (args.report_only or args.asr_only):
        for profile in args.profiles:
            run_profile(args, profile, haystacks, phases)
    asr_text = ""
    if not args.no_asr and (not args.report_only or (args.out / "asr").exists()):
        asr_text = asr_section(args, haystacks, phases)
    text = report(args, haystacks, phases, asr_text) if not args.asr_only else asr_text
    md = args.out / ("report.md" if not args.asr_only else "asr.md")
    md.write_text(text + "\n")
    print()
    print(text)
    print(f"\nreport: {md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
