"""Which words of a text are said NOT to hold: "never the blue one", "no potatoes", "instead of tea".

A person reading "take the red bus, never the blue one" counts the blue bus against an option, not for
it. A negation cue negates the next few words of its clause: NEGATION_WINDOW words, not counting articles
and other determiners, stopping at punctuation or a contrast ("but", "however"). "not only X" affirms X.
Quoted text is literal: an OCR caption quoting a sign "NO PARKING" shows the word "parking", so cues
inside double quotes negate nothing.
"""
from __future__ import annotations

import re
from collections.abc import Callable

NEGATION_WINDOW = 3

# contractions appear without their apostrophe: the tokenizer drops apostrophes before splitting words
CUES = frozenset(
    "never not no nor neither none without cannot isnt arent wasnt werent dont doesnt didnt cant couldnt "
    "wont wouldnt shouldnt hasnt havent hadnt aint mustnt neednt".split()
)
PAIR_CUES = frozenset({("instead", "of"), ("rather", "than")})
CONTRASTS = frozenset("but however though although".split())
NOT_NEGATING = frozenset("only just merely simply".split())  # "not only the red bus but also ..."
DETERMINERS = frozenset("a an the this that these those any some his her their its my your our".split())

_QUOTED = re.compile(r"(\"[^\"]*\"|“[^”]*”)")
_CLAUSE_BREAK = re.compile(r"[.,;:!?()\[\]{}…—–]+|\s-\s")


def negated_flags(text: str, words: Callable[[str], list[str]]) -> list[bool]:
    """One flag per word of `words(text)`, in order: True where a negation cue in its clause denies it.

    `words` is the caller's tokenizer; it must split no word at a quote or a punctuation mark, so that the
    words of the clauses, joined, are the words of the whole text."""
    flags: list[bool] = []
    for n, stretch in enumerate(_QUOTED.split(text)):
        literal = n % 2 == 1
        for clause in [stretch] if literal else _CLAUSE_BREAK.split(stretch):
            clause_words = words(clause)
            flags.extend([False] * len(clause_words) if literal else _negated_in_clause(clause_words))
    return flags


def _negated_in_clause(words: list[str]) -> list[bool]:
    flags = [False] * len(words)
    for i in range(len(words)):
        cue = _cue_length(words, i)
        if cue and not (i + cue < len(words) and words[i + cue] in NOT_NEGATING):
            for j in _window(words, i + cue):
                flags[j] = True
    return flags


def _cue_length(words: list[str], i: int) -> int:
    if words[i] in CUES:
        return 1
    return 2 if tuple(words[i:i + 2]) in PAIR_CUES else 0


def _window(words: list[str], start: int) -> range:
    """The positions a cue just before `start` negates."""
    counted, end = 0, start
    while end < len(words) and counted < NEGATION_WINDOW and words[end] not in CONTRASTS:
        counted += words[end] not in DETERMINERS
        end += 1
    return range(start, end)
