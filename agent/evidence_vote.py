"""Scoring each option against the evidence the agent gathered, so a weak LLM cannot overrule the video.

Per option: a lexical score (how many of the option's distinctive words appear in the caption/OCR
text; OCR drops spaces and mangles letters, so squashed and fuzzy matches count) plus a semantic score
(best embedding similarity of the option to any caption, centred on the options' mean so that only
differences between options matter). The evidence decides only when one option leads by a clear margin.
Nothing here knows any particular question or video.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from difflib import SequenceMatcher

import numpy as np

from vidrecall.agent.caption_boilerplate import strip_boilerplate
from vidrecall.agent.options import Option

SEMANTIC_WEIGHT = 0.5
DECISIVE_MARGIN = 0.25
FUZZY_MIN_RATIO = 0.85

STOPWORDS = frozenset(
    "a an the and or of to in on at by for with from into onto over under is are was were be been being it its "
    "this that these those there here he she they them his her their one some any all no not yes do does did "
    "what which who whom whose when where why how as than then so if but about after before during while up "
    "down out off very just only also more most less least".split()
)


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", re.sub(r"['’`]", "", text.lower()))


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
    """The gathered texts (captioner boilerplate cut), tokenised once, with a squashed form for OCR that
    drops spaces. A match respects word boundaries: an exact squashed match must start or end where a word
    does, a fuzzy one must do both, so "green" is never found inside "screen"."""

    def __init__(self, texts: list[str]):
        self.per_text = [tokens(t) for t in texts]
        self.word_sets = [set(ts) for ts in self.per_text]
        self.squashed = ["".join(ts) for ts in self.per_text]
        self.starts, self.ends = [], []
        for ts in self.per_text:
            offsets = np.cumsum([0] + [len(t) for t in ts]).tolist()
            self.starts.append(set(offsets[:-1]))
            self.ends.append(set(offsets[1:]))

    def presence(self, word: str) -> tuple[float, int | None]:
        """How surely `word` occurs (1 exact, ratio when fuzzy, 0 absent) and in which text."""
        for i, words in enumerate(self.word_sets):
            if word in words:
                return 1.0, i
        if len(word) >= 4:
            for i, squashed in enumerate(self.squashed):
                for at in _occurrences(word, squashed):
                    if at in self.starts[i] or at + len(word) in self.ends[i]:
                        return 1.0, i
        if len(word) < 5 or word.isdigit():
            return 0.0, None
        for i, squashed in enumerate(self.squashed):  # OCR misreads a letter or two, spaces gone
            if _near_substring(word, squashed, self.starts[i], self.ends[i]):
                return FUZZY_MIN_RATIO, i
        best, where = 0.0, None
        for i, words in enumerate(self.word_sets):
            for w in words:
                if w[0] == word[0] and abs(len(w) - len(word)) <= 2:
                    r = SequenceMatcher(None, word, w).ratio()
                    if r > best:
                        best, where = r, i
        return (best, where) if best >= FUZZY_MIN_RATIO else (0.0, None)


def _occurrences(word: str, text: str):
    at = text.find(word)
    while at >= 0:
        yield at
        at = text.find(word, at + 1)


def _near_substring(word: str, text: str, starts: set[int], ends: set[int]) -> bool:
    """`word` occurs in `text` from a word start to a word end, with at most one substituted letter per eight."""
    n, allowed = len(word), max(1, len(word) // 8)
    for i in sorted(starts):
        if i + n not in ends:
            continue
        if sum(a != b for a, b in zip(word, text[i:i + n])) <= allowed:
            return True
    return False


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
        words = distinctive_words(opt, options, question)
        hits = [evidence.presence(w)[0] for w in words]
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
