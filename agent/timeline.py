"""Answering order, "when", "how long after" and "how many times" questions by comparing cited times.

The LLM names the clips that hold each option (or the asked-about event); this module finds, inside
those clips, the memory texts that really name it (an OCR line with its own times, a transcript segment,
a caption) and compares their times in code. An option the LLM placed where no text names it keeps the
LLM's place but is not grounded; an option the LLM did not place but a text names is placed by that
text (the evidence as a check and a tie-break). The verdict cites the texts it compared, and is
grounded only when every time it compared comes from a text that names its option or event.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from vidrecall.agent.evidence_vote import STOPWORDS, EvidenceText, tokens
from vidrecall.agent.grounding import option_grounded
from vidrecall.agent.memory_view import MemoryView
from vidrecall.agent.options import Option
from vidrecall.agent.time_questions import (TimeQuestion, clock_seconds, option_count, option_duration,
                                            option_window)
from vidrecall.agent.verdict import LlmSaid, Verdict
from vidrecall.core.result import Evidence
from vidrecall.core.types import MemoryNode, Span, fmt_time

GROUNDED_CONFIDENCE = 0.9  # every compared time comes from a text naming what it times
PLACED_CONFIDENCE = 0.4  # some time is only the LLM's cited clip: look closer before answering
SAME_MOMENT_S = 1.0  # two times this close cannot be ordered
SAME_OCCURRENCE_S = 5.0  # mentions this close are one occurrence when counting
# Words that frame a time question rather than name its event ("When does the narrator mention the boat?").
FRAMING_WORDS = frozenset(
    "when time times many how long after before video narrator speaker person someone say said says saying "
    "mention mentions mentioned mentioning shown show shows showed appear appears appeared appearing screen "
    "text first last point part often seconds minutes second minute does did do is was were are happen "
    "happens happened clip written displayed heard word words sign signs notice caption label".split()
)
_OCR_LINE = re.compile(r'"([^"]*)"\s*\(([^)]*)\)')
_CLOCK = re.compile(r"(?:\d+:)?\d{1,2}:\d{2}")


@dataclass(frozen=True)
class Mention:
    """One place a text stands in memory: an OCR line with the times it was on screen, or a whole node."""

    text: str
    times: tuple[float, ...]
    node: MemoryNode

    @property
    def start(self) -> float:
        return self.times[0]


def mentions(nodes: list[MemoryNode]) -> list[Mention]:
    """Every OCR line of every caption with its own times (`"SINTEL" (3:41-3:48)`), and every other node whole."""
    found = []
    for node in nodes:
        lines = [(text, _run_starts(times)) for text, times in _OCR_LINE.findall(node.text)]
        lines = [(text, starts) for text, starts in lines if starts]
        if lines:
            found += [Mention(text, starts, node) for text, starts in lines]
        else:
            found.append(Mention(node.text, (node.start,), node))
    return found


def _run_starts(times: str) -> tuple[float, ...]:
    """'3:41-3:48, 5:02' -> (221.0, 302.0): where each run of an OCR line begins."""
    starts = []
    for run in times.split(","):
        clocks = _CLOCK.findall(run)
        if clocks:
            starts.append(clock_seconds(clocks[0]))
    return tuple(starts)


@dataclass
class Placement:
    """Where one option or event is: the times compared, the mentions they come from, and whether a text
    naming it backs them (False: only the LLM's cited clip)."""

    times: list[float]
    mentions: list[Mention]
    grounded: bool


def event_words(question: str) -> list[str]:
    """The words naming the asked-about event: the question without filler and time-question framing."""
    return [w for w in dict.fromkeys(tokens(question))
            if w not in STOPWORDS and w not in FRAMING_WORDS and (len(w) > 1 or w.isdigit())]


def names_event(text: str, words: list[str]) -> bool:
    if not words:
        return False
    evidence = EvidenceText([text])
    return 2 * sum(evidence.presence(w)[0] > 0 for w in words) > len(words)


def place(cited: list[Span], view: MemoryView, names: Callable[[str], bool]) -> Placement | None:
    """Mentions naming it inside the LLM's cited spans; else anywhere in the view; else the cited spans alone."""
    inside = [m for m in mentions(_nodes_in(view, cited)) if names(m.text)] if cited else []
    anywhere = inside or [m for m in mentions(view.nodes) if names(m.text)]
    if anywhere:
        return Placement(sorted(t for m in anywhere for t in m.times), anywhere, True)
    if cited:
        return Placement(sorted(s.start for s in cited), [], False)
    return None


def _nodes_in(view: MemoryView, spans: list[Span]) -> list[MemoryNode]:
    return [n for n in view.nodes if any(n.span.overlap(s) > 0 or s.contains(n.start) for s in spans)]


def timed_verdict(kind: TimeQuestion, question: str, options: list[Option], view: MemoryView, duration: float,
                  cited: dict[str, list[Span]], *, forced: bool) -> Verdict | None:
    """The verdict a time comparison gives, or None when it cannot compare anything.

    `cited` maps each option letter (order questions) or "event" / "earlier" / "later" to the spans the LLM
    named for it."""
    if kind.orders_options:
        return _order(kind, question, options, view, cited, forced)
    words = event_words(question)
    if kind is TimeQuestion.HOW_LONG_AFTER:
        return _how_long(question, options, view, cited, words, forced)
    event = place(cited.get("event", []), view, lambda text: names_event(text, words))
    if event is None:
        return None
    if kind is TimeQuestion.WHEN:
        return _when(options, event, duration, forced)
    return _how_many(options, event, forced)


def _names_option(option: Option, options: list[Option], question: str) -> Callable[[str], bool]:
    """Whether a text read at a cited time names `option` (and not another)."""
    return lambda text: option_grounded(option, options, [text], question)


def _order(kind: TimeQuestion, question: str, options: list[Option], view: MemoryView,
           cited: dict[str, list[Span]], forced: bool) -> Verdict | None:
    placed: dict[str, Placement] = {}
    for opt in options:
        p = place(cited.get(opt.letter, []), view, _names_option(opt, options, question))
        if p is not None:
            placed[opt.letter] = p
    if not placed:
        return None
    when = {letter: (p.times[0] if kind is TimeQuestion.FIRST else p.times[-1]) for letter, p in placed.items()}
    ranked = sorted(when, key=lambda letter: when[letter], reverse=kind is TimeQuestion.LAST)
    best = ranked[0]
    distinct = len(ranked) == 1 or abs(when[ranked[0]] - when[ranked[1]]) > SAME_MOMENT_S
    grounded = len(placed) >= 2 and distinct and all(p.grounded for p in placed.values())
    word = "earliest" if kind is TimeQuestion.FIRST else "latest"
    order = ", ".join(f"{letter} at {fmt_time(when[letter])}" for letter in sorted(when, key=lambda x: when[x]))
    reason = f"compared the cited times ({order}); {best} is the {word}"
    chosen = next(o for o in options if o.letter == best)
    return _verdict(chosen, grounded, reason, [m for p in placed.values() for m in p.mentions], forced)


def _when(options: list[Option], event: Placement, duration: float, forced: bool) -> Verdict:
    t = event.times[0]
    windows = {o.letter: w for o in options if (w := option_window(o, duration)) is not None}
    options = [o for o in options if o.letter in windows]  # a "when" question's options all name times
    chosen = min(options, key=lambda o: (windows[o.letter].distance(t), abs((windows[o.letter].start
                                                                             + windows[o.letter].end) / 2 - t)))
    reason = f"the event is at {fmt_time(t)}, inside or nearest {chosen.letter}"
    return _verdict(chosen, event.grounded, reason, event.mentions[:1], forced)


def _how_many(options: list[Option], event: Placement, forced: bool) -> Verdict:
    occurrences: list[float] = []
    for t in event.times:
        if not occurrences or t - occurrences[-1] > SAME_OCCURRENCE_S:
            occurrences.append(t)
    count = len(occurrences)
    counts = {o.letter: n for o in options if (n := option_count(o)) is not None}
    chosen = min((o for o in options if o.letter in counts), key=lambda o: abs(counts[o.letter] - count))
    exact = counts[chosen.letter] == count
    reason = f"counted {count} occurrence(s) at {', '.join(fmt_time(t) for t in occurrences)}"
    return _verdict(chosen, event.grounded and exact, reason, event.mentions, forced)


_HOW_LONG_AFTER_PARTS = re.compile(r"\bafter (?P<earlier>.+?)\s+(?:is|was|are|were|did|does|do|has|had|will)\s+"
                                   r"(?P<later>.+?)\W*$", re.I)


def two_events(question: str) -> tuple[list[str], list[str]]:
    """The words naming each event of "How long after X is Y shown?": (X's, Y's); empty when unsplittable."""
    m = _HOW_LONG_AFTER_PARTS.search(question)
    if not m:
        return [], []
    return event_words(m.group("earlier")), event_words(m.group("later"))


def _how_long(question: str, options: list[Option], view: MemoryView, cited: dict[str, list[Span]],
              words: list[str], forced: bool) -> Verdict | None:
    earlier_words, later_words = two_events(question)

    def naming(own: list[str]) -> Callable[[str], bool]:
        if own:
            return lambda text: names_event(text, own)
        return lambda text: _any_present(words, text)

    earlier = place(cited.get("earlier", []), view, naming(earlier_words))
    later = place(cited.get("later", []), view, naming(later_words))
    if earlier is None or later is None:
        return None
    gap = abs(later.times[0] - earlier.times[0])
    durations = {o.letter: d for o in options if (d := option_duration(o)) is not None}
    chosen = min((o for o in options if o.letter in durations), key=lambda o: abs(durations[o.letter] - gap))
    reason = f"{fmt_time(earlier.times[0])} to {fmt_time(later.times[0])}: {gap:.0f} s apart"
    return _verdict(chosen, earlier.grounded and later.grounded, reason, earlier.mentions[:1] + later.mentions[:1],
                    forced)


def _any_present(words: list[str], text: str) -> bool:
    evidence = EvidenceText([text])
    return any(evidence.presence(w)[0] > 0 for w in words)


def _verdict(chosen: Option, grounded: bool, reason: str, compared: list[Mention], forced: bool) -> Verdict:
    evidence = {(m.node.id, round(m.start, 1)): m for m in compared}
    return Verdict(option=chosen.letter, answer=chosen.label, forced=forced, decided_by="times", reason=reason,
                   grounded=grounded, confidence=GROUNDED_CONFIDENCE if grounded else PLACED_CONFIDENCE,
                   llm=LlmSaid(ok=True),
                   evidence_spans=[_evidence(m) for m in sorted(evidence.values(), key=lambda m: m.start)])


def _evidence(mention: Mention) -> Evidence:
    """The node for a whole-node mention; for an OCR line, the seconds from when it was first on screen."""
    node = mention.node
    whole = mention.text == node.text
    start = node.start if whole else mention.start
    end = node.end if whole else min(node.end, mention.start + SAME_OCCURRENCE_S)
    return Evidence(start=start, end=max(end, start), level=node.level, text=mention.text[:500], node_id=node.id)
