"""Numbers as a listener hears them: number words, spoken codes and clock times written as digits.

Speech-to-text and captioners write one number many ways ("six" or "6", "twenty one" or "21", a code
said digit by digit as "four seven one nine", "4, 7, 1, 9", "4-7-1-9", or, misheard, "for 7 -1 -9").
`normalise_numbers` rewrites the numbers of a text as digits and leaves every other character as it was:

- number words and compounds: "six" -> "6", "twenty-one" -> "21", "two hundred and five" -> "205";
  a lone "one" stays a word ("the blue one" is a pronoun far more often than a count);
- codes: three or more single digits in a row, apart only by spaces, commas or dashes, become one
  number. "for", "to", "too", "won", "ate", "oh" are read as digits only inside such a run that holds at
  least three real digits, so "time for lunch", "go to the store" and "from 5 to 7" stay as they are;
- clock times: "half past two" -> "2:30", "quarter to four" -> "3:45", "ten past six" -> "6:10",
  "five o'clock" -> "5:00", and "two thirty" -> "2:30" after a time word ("at", "by", "until", ...)
  or before "am"/"pm".
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}
TEENS = {w: 10 + i for i, w in enumerate(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())}
TENS = {w: 20 + 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
HOMOPHONES = {"for": "4", "fore": "4", "to": "2", "too": "2", "won": "1", "ate": "8", "oh": "0"}
TIME_CUES = frozenset("at by until till around from since before after".split())
MERIDIEMS = frozenset({"am", "pm"})
MIN_CODE_DIGITS = 3  # "4-7" is as often a range as a code; three digits in a row are a code

_BELOW_HUNDRED = {**UNITS, **TEENS, **TENS}
_NUMBER_WORDS = frozenset(_BELOW_HUNDRED) | frozenset(SCALES) | {"hundred"}
_CLOCK_WORDS = _NUMBER_WORDS | {"a", "half", "quarter"}
_ANY_NUMBER = re.compile(r"\d|\b(?:" + "|".join(sorted(_NUMBER_WORDS)) + r")\b", re.I)
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
_INSIDE_A_NUMBER = re.compile(r"\s+|\s*-\s*")  # "twenty one", "twenty-one", "half past two"
_BETWEEN_CODE_DIGITS = re.compile(r"[\s,\-–—]+")  # "4 7 1 9", "4, 7, 1, 9", "4-7-1-9", "7 -1 -9"


@dataclass
class _Word:
    text: str
    gap: str  # the characters after it, up to the next word
    key: str = field(init=False)  # lower case, one kind of apostrophe

    def __post_init__(self) -> None:
        self.key = self.text.lower().replace("’", "'")


@dataclass
class _Item:
    """A word or a number as it now reads, with what followed it in the text."""

    text: str
    gap: str
    digit: str | None = None  # the single digit it is ("7", "seven")
    homophone: str | None = None  # the digit it could be heard as ("for"), read so only inside a code


@lru_cache(maxsize=4096)  # the agent reads the same captions at every step
def normalise_numbers(text: str) -> str:
    """`text` with its numbers, spoken codes and clock times written as digits; everything else unchanged."""
    if not _ANY_NUMBER.search(text):  # most captions: nothing to read
        return text
    lead, words = _split(text)
    items = _join_codes(_read(words))
    return lead + "".join(item.text + item.gap for item in items)


def _split(text: str) -> tuple[str, list[_Word]]:
    matches = list(_WORD.finditer(text))
    if not matches:
        return text, []
    ends = [m.start() for m in matches[1:]] + [len(text)]
    return text[:matches[0].start()], [_Word(m.group(), text[m.end():end]) for m, end in zip(matches, ends)]


# --- words -> items -----------------------------------------------------------------------------
def _read(words: list[_Word]) -> list[_Item]:
    items: list[_Item] = []
    i = 0
    while i < len(words):
        previous = words[i - 1].key if i else ""
        clock = _clock_at(words, i, previous)
        if clock:
            length, text = clock
            items.append(_Item(text, words[i + length - 1].gap))
            i += length
            continue
        span = _number_span(words, i)
        items.append(_number_item(span) if span else _plain_item(words[i]))
        i += len(span) or 1
    return items


def _plain_item(word: _Word) -> _Item:
    if word.text.isdigit():
        return _Item(word.text, word.gap, digit=word.text if len(word.text) == 1 else None)
    return _Item(word.text, word.gap, homophone=HOMOPHONES.get(word.key))


def _number_item(span: list[_Word]) -> _Item:
    value, gap = _value(span), span[-1].gap
    if len(span) == 1 and span[0].key == "one":
        return _Item(span[0].text, gap, digit="1")  # kept as a word outside a code
    return _Item(str(value), gap, digit=str(value) if len(span) == 1 and value < 10 else None)


def _kind(key: str) -> str | None:
    if key in UNITS:
        return "unit"
    if key in TEENS:
        return "teen"
    if key in TENS:
        return "tens"
    if key == "hundred":
        return "hundred"
    return "scale" if key in SCALES else None


# which kind of word may follow which inside one number: "twenty one" is 21, "four seven" is two numbers
_MAY_FOLLOW: dict[str, set[str | None]] = {
    "unit": {None, "tens", "hundred", "scale"},
    "teen": {None, "hundred", "scale"},
    "tens": {None, "hundred", "scale"},
    "hundred": {"unit", "teen", "tens"},
    "scale": {"unit", "teen", "tens", "hundred"},
}


def _number_span(words: list[_Word], i: int) -> list[_Word]:
    """The number words from `i` that make one number ("two hundred and five"), "and" included."""
    span: list[_Word] = []
    last: str | None = None
    j = i
    while j < len(words):
        if j > i and not _INSIDE_A_NUMBER.fullmatch(words[j - 1].gap):
            break
        key = words[j].key
        if key == "and" and last in ("hundred", "scale") and j + 1 < len(words) \
                and _kind(words[j + 1].key) in ("unit", "teen", "tens") and _INSIDE_A_NUMBER.fullmatch(words[j].gap):
            j += 1
            continue
        kind = _kind(key)
        if kind is None or last not in _MAY_FOLLOW[kind]:
            break
        last = kind
        j += 1
        span = words[i:j]
    return span


def _value(span: list[_Word]) -> int:
    total = group = 0
    for word in span:
        key = word.key
        if key in _BELOW_HUNDRED:
            group += _BELOW_HUNDRED[key]
        elif key == "hundred":
            group *= 100
        elif key in SCALES:
            total, group = total + group * SCALES[key], 0
    return total + group


# --- clock times ----------------------------------------------------------------------------------
def _clock_at(words: list[_Word], i: int, previous: str) -> tuple[int, str] | None:
    """(words used, "H:MM") when a clock time starts at `i`."""
    if words[i].key not in _CLOCK_WORDS and not words[i].key.isdigit():
        return None
    return _relative_time(words, i) or _oclock(words, i) or _hour_and_minutes(words, i, previous)


def _relative_time(words: list[_Word], i: int) -> tuple[int, str] | None:
    """"half past two", "a quarter to four", "ten past six": minutes before or after an hour."""
    start = i + 1 if words[i].key == "a" else i
    minutes, used = _minutes_before_hour(words, start)
    if not minutes or not _joined(words, i, start + used + 1):
        return None
    relation, hour, length = words[start + used].key, _hour(words, start + used + 1), start + used + 2 - i
    if not hour:
        return None
    if relation == "past" or (relation == "after" and words[start].key in ("half", "quarter")):
        return length, f"{hour}:{minutes:02d}"
    if relation in ("to", "till") and words[start].key == "quarter":  # "five to seven" is as often a range
        return length, f"{hour - 1 or 12}:45"
    return None


def _minutes_before_hour(words: list[_Word], i: int) -> tuple[int, int]:
    """(minutes, words used) of "half", "quarter", "ten", "twenty five", "10" at `i`; (0, 0) if none."""
    if i >= len(words):
        return 0, 0
    key = words[i].key
    if key in ("half", "quarter"):
        return (30 if key == "half" else 15), 1
    if key.isdigit():
        value, used = int(key), 1
    else:
        span = _number_span(words, i)
        value, used = (_value(span), len(span)) if span else (0, 0)
    return (value, used) if 0 < value < 30 else (0, 0)


def _oclock(words: list[_Word], i: int) -> tuple[int, str] | None:
    hour = _hour(words, i)
    if hour and i + 1 < len(words) and words[i + 1].key in ("o'clock", "oclock") and _joined(words, i, i + 1):
        return 2, f"{hour}:00"
    return None


def _hour_and_minutes(words: list[_Word], i: int, previous: str) -> tuple[int, str] | None:
    """"two thirty", "seven oh five", "eleven forty-five": only where it is clearly a time."""
    hour = _hour(words, i)
    if not hour or i + 1 >= len(words) or not _joined(words, i, i + 1):
        return None
    minutes, used = _spoken_minutes(words, i + 1)
    if not minutes:
        return None
    after = words[i + 1 + used].key if i + 1 + used < len(words) else ""
    if previous not in TIME_CUES and after not in MERIDIEMS:
        return None
    return 1 + used, f"{hour}:{minutes:02d}"


def _spoken_minutes(words: list[_Word], i: int) -> tuple[int, int]:
    """(minutes, words used) of "oh five", "fifteen", "thirty", "forty five" at `i`; (0, 0) if none."""
    key = words[i].key
    if key == "oh" and _joined(words, i, i + 1) and UNITS.get(words[i + 1].key):
        return UNITS[words[i + 1].key], 2
    span = _number_span(words, i)
    value = _value(span) if span else 0
    if key in TEENS or (key in TENS and value < 60):
        return value, len(span)
    return 0, 0


def _hour(words: list[_Word], i: int) -> int | None:
    if i >= len(words):
        return None
    key = words[i].key
    value = int(key) if key.isdigit() else _BELOW_HUNDRED.get(key)
    return value if value is not None and 1 <= value <= 12 else None


def _joined(words: list[_Word], first: int, last: int) -> bool:
    """Words `first`..`last` exist and stand apart only by spaces or a hyphen."""
    return last < len(words) and all(_INSIDE_A_NUMBER.fullmatch(words[k].gap) for k in range(first, last))


# --- codes said digit by digit -------------------------------------------------------------------------
def _join_codes(items: list[_Item]) -> list[_Item]:
    out: list[_Item] = []
    i = 0
    while i < len(items):
        run = _digit_run(items, i)
        if _is_code(run):
            out.append(_Item("".join(item.digit or item.homophone or "" for item in run), run[-1].gap))
            i += len(run)
        else:
            out.append(items[i])
            i += 1
    return out


def _digit_run(items: list[_Item], i: int) -> list[_Item]:
    """The items from `i` that are, or could be heard as, single digits, apart only by code separators."""
    j = i
    while j < len(items) and (items[j].digit or items[j].homophone):
        j += 1
        if not _BETWEEN_CODE_DIGITS.fullmatch(items[j - 1].gap):
            break
    return items[i:j]


def _is_code(run: list[_Item]) -> bool:
    """Three real digits make a code; a homophone in the run is then read as a digit too."""
    return sum(item.digit is not None for item in run) >= MIN_CODE_DIGITS
