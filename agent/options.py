"""Reading a question: its multiple-choice options, option letters in model output, ordinal words, times."""
from __future__ import annotations

import re
from dataclasses import dataclass

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PREFIX = re.compile(r"^\s*\(?([A-Za-z])\s*[\.\):]\s+(.*)$", re.S)
_LETTER_ONLY = re.compile(r"^\s*\(?[A-Za-z]?\s*[\.\):]?\s*$")


class OptionsError(ValueError):
    """Options that cannot be answered by letter (duplicates, too many, no text); one line naming the value."""


@dataclass(frozen=True)
class Option:
    letter: str
    text: str

    @property
    def label(self) -> str:
        return f"{self.letter}. {self.text}"


def parse_options(options: list[str] | None) -> list[Option]:
    """Options as the user gave them: all lettered ("A. Red", "(c) Blue") keep their letters; none lettered
    ("Red") are lettered A, B, C… in order. Raises OptionsError for more than 26 options, an option with no
    text (a lone "A"), a letter or a text given twice, or a list that letters some options and not others,
    so the letter the agent returns is always the letter the user wrote."""
    raws = [str(o) for o in options or []]
    if len(raws) > len(LETTERS):
        raise OptionsError(f"{len(raws)} options given; at most {len(LETTERS)} (A-Z) can be answered by letter")
    parsed: list[tuple[str | None, str, str]] = []
    for raw in raws:
        if _LETTER_ONLY.match(raw):
            raise OptionsError(f"option {raw!r} has no text; write it as 'A. red'")
        m = _PREFIX.match(raw)
        parsed.append((m.group(1).upper(), " ".join(m.group(2).split()), raw) if m else (None, " ".join(raw.split()), raw))
    lettered = [p for p in parsed if p[0]]
    if lettered and len(lettered) != len(parsed):
        loose = next(raw for letter, _, raw in parsed if not letter)
        raise OptionsError(f"option {loose!r} has no letter while others do; letter every option ('A. …') or none")
    result = [Option(letter or LETTERS[i], text) for i, (letter, text, _) in enumerate(parsed)]
    seen_letters: dict[str, str] = {}
    seen_texts: dict[str, str] = {}
    for opt, (_, _, raw) in zip(result, parsed):
        if opt.letter in seen_letters:
            raise OptionsError(f"option letter {opt.letter} is given twice ({seen_letters[opt.letter]!r} and {raw!r})")
        if opt.text.lower() in seen_texts:
            raise OptionsError(f"option {raw!r} repeats {seen_texts[opt.text.lower()]!r}; each option must differ")
        seen_letters[opt.letter], seen_texts[opt.text.lower()] = raw, raw
    return result


def match_option(answer: str | None, options: list[Option]) -> Option | None:
    """The option a model's answer names: a bare letter, "(B)", "B. Green", or the option's text."""
    if not answer or not options:
        return None
    text = str(answer).strip()
    letters = {o.letter: o for o in options}
    m = re.match(r"^\W*([A-Za-z])(?:\W|$)", text)
    if m and m.group(1).upper() in letters and (len(text) <= 3 or re.match(r"^\W*[A-Za-z]\s*[\.\):]", text)):
        return letters[m.group(1).upper()]
    low = text.lower()
    hits = [o for o in options if o.text and o.text.lower() in low]
    hits = [o for o in hits if not any(o is not h and o.text.lower() in h.text.lower() for h in hits)]
    if len(hits) == 1:
        return hits[0]
    m = re.search(r"\b(?:option|answer)\s*(?:is\s*)?\(?([A-Za-z])\b", text, re.I)
    if m and m.group(1).upper() in letters:
        return letters[m.group(1).upper()]
    return None


# An option that answers "the video does not say": chosen when no other option has evidence (agent/abstention.py).
# The whole option must be such a phrase ("A man not mentioned by name" is not one).
_NONE_PHRASES = (
    r"none(?: of (?:these|those|them|the above|the options|the other options|the others|the answers))?"
    r"(?: (?:is|are) (?:correct|right|shown|mentioned))?",
    r"(?:it is |it's |this is |that is |the answer is )?not (?:mentioned|shown|stated|said|given|specified|visible|"
    r"seen|heard|covered|answered|included|present|known|determinable|clear|there)",
    r"(?:the )?(?:video|clip|footage|narrator|speaker) (?:does not|doesn't|did not|didn't|never) "
    r"(?:say|show|mention|specify|state|tell|reveal)(?: (?:it|this|that|so))?",
    r"(?:it |this )?(?:cannot|can ?not|can't|could not|couldn't) be (?:determined|told|known|answered|seen|inferred)",
    r"(?:there is )?(?:not enough|insufficient|no) (?:information|evidence|info)(?: to (?:tell|say|answer|know))?",
    r"(?:impossible|unable|not possible) to (?:tell|determine|know|say|answer)",
    r"not in the (?:video|clip|footage)", r"unknown", r"undetermined", r"no answer", r"unanswerable",
    r"not answerable", r"(?:i )?(?:don't|do not) know",
)
_NONE_OPTION = re.compile(r"^(?:" + "|".join(_NONE_PHRASES) + r")"
                          r"(?: (?:from|in|by|on) (?:the )?(?:video|clip|footage|screen|audio))?$")


def is_none_option(text: str) -> bool:
    """Whether an option's text says the video does not answer the question ("None of these", "Not mentioned",
    "Cannot be determined", "Not in the video", ...)."""
    words = " ".join(re.sub(r"[^a-z' ]+", " ", text.lower().replace("’", "'")).split())
    return bool(_NONE_OPTION.match(words))


def none_option(options: list[Option]) -> Option | None:
    """The one option that says the video does not answer the question; None when there is none (or two)."""
    found = [o for o in options if is_none_option(o.text)]
    return found[0] if len(found) == 1 else None


_ORDINALS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth "
    "fifteenth sixteenth seventeenth eighteenth nineteenth twentieth thirtieth fortieth fiftieth sixtieth "
    "seventieth eightieth ninetieth hundredth last"
).split()
_ORDINAL_RE = re.compile(r"\b(?:" + "|".join(_ORDINALS) + r"|\d+(?:st|nd|rd|th))\b", re.I)


def has_ordinal(question: str) -> bool:
    """VideoLucy's gate: questions about "the first/third/last …" keep the whole coarse memory."""
    return bool(_ORDINAL_RE.search(question))


_CLOCK = re.compile(r"\b(?:(\d{1,2}):)?(\d{1,2}):(\d{2})(?:\.\d+)?\b")
_SECONDS = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds)\b", re.I)


def mentioned_times(question: str) -> list[float]:
    """Times the question names ("at 08:04", "between 1:02:03 and …", "at 95 seconds"), in seconds."""
    times: list[float] = []
    for h, m, s in _CLOCK.findall(question):
        times.append(int(h or 0) * 3600 + int(m) * 60 + int(s))
    times += [float(s) for s in _SECONDS.findall(question)]
    return times
