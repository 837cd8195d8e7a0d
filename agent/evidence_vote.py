"""Scoring each option against the evidence the agent gathered, so a weak LLM cannot overrule the video.

Per option: a lexical score (how many of the option's distinctive words appear in the caption/OCR/speech
text) plus a semantic score (best embedding similarity of the option to any caption, centred on the
options' mean so that only differences between options matter). The evidence decides only when one
option leads by a clear margin. The words are read as a person reads them:
- numbers in any spelling are one number (tools/speech/spoken_numbers.py: "six" = "6", "for 7 -1 -9" =
  "4719", "half past two" = "2:30"), in the options and in the evidence alike;
- a mention a negation cue denies ("never the blue one", agent/negation.py) supports nothing, unless the
  option denies it too ("No parking");
- OCR drops spaces and mangles letters, so squashed and fuzzy matches count, and ASR splits a rare word
  into common ones ("biscuit" heard as "bis kit"), so two or three words that, joined, sound like and are
  spelt close to an option word count too.
Nothing here knows any particular question or video.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache

import numpy as np

from vidrecall.agent.caption_boilerplate import strip_boilerplate
from vidrecall.agent.negation import negated_flags
from vidrecall.agent.options import Option
from vidrecall.tools.speech.spoken_numbers import normalise_numbers

SEMANTIC_WEIGHT = 0.5
DECISIVE_MARGIN = 0.25
FUZZY_MIN_RATIO = 0.85
FUZZY_MIN_LETTERS = 5  # shorter words are matched exactly only: "green" is too close to too many words
MAX_SPLIT_WORDS = 3  # a rare word heard as at most three common ones
SOUND_ALIKE_MIN_RATIO = 0.75  # "biscuit" ~ "biskit" is 0.77; "biscuit" ~ "baskit" (same sound key) 0.62
MIN_SOUND_KEY = 3

STOPWORDS = frozenset(
    "a an the and or of to in on at by for with from into onto over under is are was were be been being it its "
    "this that these those there here he she they them his her their one some any all no not yes do does did "
    "what which who whom whose when where why how as than then so if but about after before during while up "
    "down out off very just only also more most less least".split()
)


def tokens(text: str) -> list[str]:
    """The words of `text`: lower case, apostrophes dropped, numbers as digits ("Six" -> "6")."""
    return _words(normalise_numbers(text))


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", re.sub(r"['’`]", "", text.lower()))


def self_negated(text: str) -> set[str]:
    """The words `text` itself denies ("No parking" -> {"parking"}): evidence denying them agrees with it."""
    reading = normalise_numbers(text)
    return {w for w, denied in zip(_words(reading), negated_flags(reading, _words)) if denied}


@dataclass
class Vote:
    """Per-option evidence scores and whether they settle the question."""

    scores: dict[str, float] = field(default_factory=dict)
    lexical: dict[str, float] = field(default_factory=dict)
    semantic: dict[str, float] = field(default_factory=dict)
    best: str | None = None
    margin: float = 0.0
    decisive: bool = False

    @property
    def confidence(self) -> float:
        return min(1.0, 0.5 + self.margin) if self.decisive else 0.0

    def to_dict(self) -> dict:
        out = asdict(self)
        out["confidence"] = round(self.confidence, 3)
        for key in ("scores", "lexical", "semantic"):
            out[key] = {k: round(v, 3) for k, v in out[key].items()}
        return out


class EvidenceText:
    """The gathered texts, numbers normalised, tokenised once, with a squashed form for OCR that drops
    spaces. A match respects word boundaries: an exact squashed match must start or end where a word does,
    a fuzzy one must do both, so "green" is never found inside "screen". A mention that a negation cue
    denies counts only when asked (`count_negated`)."""

    def __init__(self, texts: list[str]):
        readings = [normalise_numbers(t) for t in texts]
        self.per_text = [_words(r) for r in readings]
        self.negated = [negated_flags(r, _words) for r in readings]
        self.word_sets = [set(ts) for ts in self.per_text]
        self.affirmed_sets = [{w for w, denied in zip(ts, flags) if not denied}
                              for ts, flags in zip(self.per_text, self.negated)]
        self.squashed = ["".join(ts) for ts in self.per_text]
        self.offsets = [np.cumsum([0] + [len(t) for t in ts]).tolist() for ts in self.per_text]
        self.starts = [set(offsets[:-1]) for offsets in self.offsets]
        self.ends = [set(offsets[1:]) for offsets in self.offsets]

    def presence(self, word: str, *, count_negated: bool = False) -> tuple[float, int | None]:
        """How surely `word` occurs (1 exact, a ratio when near, 0 absent) and in which text."""
        for match in (self._exact, self._squashed, self._squashed_near, self._similar_word, self._sounds_alike):
            score, where = match(word, count_negated)
            if score:
                return score, where
        return 0.0, None

    def _exact(self, word: str, count_negated: bool) -> tuple[float, int | None]:
        word_sets = self.word_sets if count_negated else self.affirmed_sets
        return next(((1.0, i) for i, words in enumerate(word_sets) if word in words), (0.0, None))

    def _squashed(self, word: str, count_negated: bool) -> tuple[float, int | None]:
        if len(word) < 4:
            return 0.0, None
        for i, squashed in enumerate(self.squashed):
            for at in _occurrences(word, squashed):
                if (at in self.starts[i] or at + len(word) in self.ends[i]) \
                        and self._stands(i, at, len(word), count_negated):
                    return 1.0, i
        return 0.0, None

    def _squashed_near(self, word: str, count_negated: bool) -> tuple[float, int | None]:
        """OCR misreads a letter or two, spaces gone."""
        if not _may_be_misspelt(word):
            return 0.0, None
        for i, squashed in enumerate(self.squashed):
            for at in _near_substrings(word, squashed, self.starts[i], self.ends[i]):
                if self._stands(i, at, len(word), count_negated):
                    return FUZZY_MIN_RATIO, i
        return 0.0, None

    def _similar_word(self, word: str, count_negated: bool) -> tuple[float, int | None]:
        if not _may_be_misspelt(word):
            return 0.0, None
        best, where = 0.0, None
        for i, words in enumerate(self.word_sets if count_negated else self.affirmed_sets):
            for w in words:
                if w[0] == word[0] and abs(len(w) - len(word)) <= 2:
                    r = SequenceMatcher(None, word, w).ratio()
                    if r > best:
                        best, where = r, i
        return (best, where) if best >= FUZZY_MIN_RATIO else (0.0, None)

    def _sounds_alike(self, word: str, count_negated: bool) -> tuple[float, int | None]:
        """A rare word heard as two or three common ones: the same sound key and a close spelling."""
        key = sound_key(word) if _may_be_misspelt(word) and word.isalpha() else ""
        if len(key) < MIN_SOUND_KEY:
            return 0.0, None
        for i, first, last, joined in self._split_spellings(word):
            if sound_key(joined) == key and SequenceMatcher(None, word, joined).ratio() >= SOUND_ALIKE_MIN_RATIO \
                    and (count_negated or not any(self.negated[i][first:last])):
                return FUZZY_MIN_RATIO, i
        return 0.0, None

    def _split_spellings(self, word: str) -> Iterator[tuple[int, int, int, str]]:
        """(text, first word, end word, joined) for runs of 2-3 words that begin like `word` and are about as
        long when joined."""
        for i, ts in enumerate(self.per_text):
            for first, head in enumerate(ts):
                if head[0] != word[0] or not head.isalpha():
                    continue
                joined = head
                for end in range(first + 1, min(first + MAX_SPLIT_WORDS, len(ts))):
                    joined += ts[end]
                    if not ts[end].isalpha() or len(joined) > len(word) + 2:
                        break
                    if len(joined) >= len(word) - 2:
                        yield i, first, end + 1, joined

    def _stands(self, i: int, at: int, length: int, count_negated: bool) -> bool:
        """Whether the squashed match at `at` of text `i` covers no denied word (or denied ones count)."""
        if count_negated:
            return True
        first = bisect_right(self.offsets[i], at) - 1
        last = bisect_right(self.offsets[i], at + length - 1) - 1
        return not any(self.negated[i][first:last + 1])


def _may_be_misspelt(word: str) -> bool:
    return len(word) >= FUZZY_MIN_LETTERS and not word.isdigit()


def _occurrences(word: str, text: str) -> Iterator[int]:
    at = text.find(word)
    while at >= 0:
        yield at
        at = text.find(word, at + 1)


def _near_substrings(word: str, text: str, starts: set[int], ends: set[int]) -> Iterator[int]:
    """Where `word` occurs in `text` from a word start to a word end, with at most one substituted letter
    per eight."""
    n, allowed = len(word), max(1, len(word) // 8)
    for i in sorted(starts):
        if i + n in ends and sum(a != b for a, b in zip(word, text[i:i + n])) <= allowed:
            yield i


# A metaphone-like key, applied in order to lower-case letters; upper-case letters are finished codes.
_SOUND_RULES = tuple((re.compile(pattern), code) for pattern, code in (
    (r"([a-z])\1+", r"\1"),  # a doubled letter sounds once
    (r"^[gkp]n", "n"), (r"^wr", "r"), (r"^wh", "w"), (r"^x", "s"),
    (r"t?ch|sh|[st]i(?=[ao])", "X"),
    (r"ph", "f"), (r"th", "0"), (r"dg(?=[eiy])", "j"), (r"gh(?![aeiou])", ""),
    (r"ck", "k"), (r"c(?=[eiy])", "s"), (r"[cq]", "k"), (r"x", "ks"), (r"z", "s"), (r"v", "f"),
    (r"g(?=[eiy])", "j"), (r"(?<![aeiou])h|h(?![aeiou])", ""), (r"[wy](?![aeiou])", ""),
))


@lru_cache(maxsize=8192)
def sound_key(word: str) -> str:
    """How `word` sounds, roughly: "biscuit" and "biskit" are both BSKT. Vowels count only as a first letter."""
    key = re.sub(r"[^a-z]", "", word.lower())
    for pattern, code in _SOUND_RULES:
        key = pattern.sub(code, key)
    return ("A" if key[:1] in ("a", "e", "i", "o", "u") and key else "") + re.sub(r"[aeiou]", "", key).upper()


def distinctive_words(option: Option, options: list[Option], question: str) -> list[str]:
    """The option's words that are not filler, not in the question, and not shared by every option."""
    asked = set(tokens(question))
    shared = set.intersection(*(set(tokens(o.text)) for o in options)) if len(options) > 1 else set()
    return [w for w in dict.fromkeys(tokens(option.text))
            if w not in STOPWORDS and w not in asked and w not in shared and (len(w) > 1 or w.isdigit())]


def vote(question: str, options: list[Option], texts: list[str], embedder=None) -> Vote:
    """Score every option against `texts` (captions, OCR; boilerplate cut). Empty evidence or no options:
    nothing decisive."""
    result = Vote()
    texts = [t for t in (strip_boilerplate(t) for t in texts) if t]
    if not options or not texts:
        return result
    evidence = EvidenceText(texts)
    for opt in options:
        words, denied_by_option = distinctive_words(opt, options, question), self_negated(opt.text)
        hits = [evidence.presence(w, count_negated=w in denied_by_option)[0] for w in words]
        result.lexical[opt.letter] = float(np.mean(hits)) if hits else 0.0
    if embedder is not None:
        sims = embedder.embed([o.text for o in options]) @ embedder.embed(texts).T
        best_sim = sims.max(axis=1)
        centred = best_sim - best_sim.mean()
        for opt, sim in zip(options, centred):
            result.semantic[opt.letter] = float(sim)
    for opt in options:
        result.scores[opt.letter] = result.lexical[opt.letter] + SEMANTIC_WEIGHT * result.semantic.get(opt.letter, 0.0)
    ranked = sorted(result.scores.items(), key=lambda kv: -kv[1])
    result.best = ranked[0][0]
    result.margin = ranked[0][1] - (ranked[1][1] if len(ranked) > 1 else 0.0)
    result.decisive = result.margin >= DECISIVE_MARGIN and result.lexical[result.best] > 0
    return result
