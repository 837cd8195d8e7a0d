"""Abstaining: an answer nothing the search read backs is not passed off as found.

The shared `finish` node (strategies/common.py) calls `settle` on the final verdict of every strategy. An
answer is *supported* when the judge found the texts it cites name it (`Verdict.grounded`) or a decisive
evidence vote chose it (decided by "evidence" / "llm+evidence"). An unsupported answer whose confidence is
below the profile's `abstain_below` (0: never, the original VideoLucy) abstains:

- an open question is answered "Not found in the video: searched …" -- which spans were read at which
  levels, what was zoomed into, and whether speech was heard (`SearchedSummary.describe`); the model's
  unsupported answer stays in the reason;
- a multiple-choice question keeps a letter (benchmarks score one) but it is marked as a guess; when one
  option says the video does not answer ("E. not mentioned", "None of these", agent/options.py) and no
  other option is named by anything read, that option is chosen instead (and is no guess).

The threshold compares the judge's own (raw) confidence, before any calibration (core/calibration.py):
calibration is fitted on the answers this produces, so it must not move the line it is fitted behind. An
abstention that replaces the answer keeps the confidence of the answer it withheld (below the threshold by
definition); a calibration fit leaves such rows out (evaluation/calibration.py).
"""
from __future__ import annotations

from vidrecall.agent.grounding import option_grounded
from vidrecall.agent.options import Option, none_option, parse_options
from vidrecall.agent.verdict import Verdict
from vidrecall.core.searched import SearchedSummary, merged_spans

NOT_FOUND = "Not found in the video"
EVIDENCE_DECIDED = ("evidence", "llm+evidence")


def supported(verdict: Verdict) -> bool:
    """Whether what the search read backs the verdict's answer (the judge's grounding or a decisive vote)."""
    if verdict.decided_by in EVIDENCE_DECIDED:
        return True
    return bool(verdict.grounded) and bool(verdict.answer.strip())


def searched_summary(nodes: list, explored: list[list[float]], level_order: list[str], duration: float,
                     speech_source: str) -> SearchedSummary:
    """What the search read: the levels and spans of `nodes` (the focus memory), the zoomed spans, speech."""
    spans: dict[str, list[tuple[float, float]]] = {}
    speech = 0
    for node in nodes:
        if getattr(node, "is_speech", False):
            speech += 1
            continue
        spans.setdefault(node.level, []).append((float(node.start), float(node.end)))
    rank = {name: i for i, name in enumerate(level_order)}
    levels = {level: merged_spans(spans[level]) for level in sorted(spans, key=lambda lv: (rank.get(lv, len(rank)), lv))}
    return SearchedSummary(duration=round(float(duration), 3), levels=levels,
                           zoomed=merged_spans([(float(s), float(e)) for s, e in explored]),
                           captions=sum(len(v) for v in spans.values()), speech_source=speech_source,
                           speech_read=speech)


def settle(verdict: Verdict, question: str, options: list[str], searched: SearchedSummary, texts: list[str],
           abstain_below: float) -> Verdict:
    """The verdict as the answer gives it: unchanged when supported or sure enough, else abstaining (see the
    module doc). `texts` are what the search read (to tell whether any option has evidence)."""
    verdict = verdict.model_copy(update={"searched": searched})
    if supported(verdict) or verdict.confidence >= abstain_below or abstain_below <= 0:
        return verdict
    opts = parse_options(options)
    if not opts:
        withheld = verdict.answer.strip()
        why = (f"the best answer found, {withheld[:200]!r}, is not backed by anything the search read"
               if withheld and withheld.lower() != "no answer" else "the search found no answer")
        return verdict.model_copy(update={
            "answer": f"{NOT_FOUND}: searched {searched.describe()}", "abstained": True, "option": None,
            "withheld": withheld,
            "reason": why + (f" (its reason: {verdict.reason[:300]})" if verdict.reason else ""),
            "evidence_spans": []})
    none = none_option(opts)
    if none is not None and not _other_option_evidenced(none, opts, texts, question):
        why = (f"no other option is named by anything the search read: option {none.letter} ({none.text!r}) "
               "is chosen" + (f" (the model had said {verdict.answer[:80]!r})" if verdict.option != none.letter else ""))
        return verdict.model_copy(update={
            "option": none.letter, "answer": none.label, "abstained": True, "reason": why,
            "withheld": verdict.answer if verdict.option != none.letter else "",
            "searched": searched.model_copy(update={"none_option": none.letter}), "evidence_spans": []})
    if verdict.option is None:
        return verdict  # no letter to mark (the strategy forces one before finish; nothing to add here)
    return verdict.model_copy(update={
        "abstained": True,
        "reason": f"a guess: nothing the search read names option {verdict.option}"
                  + (f" ({verdict.reason[:300]})" if verdict.reason else "")})


def _other_option_evidenced(none: Option, options: list[Option], texts: list[str], question: str) -> bool:
    """Whether any option besides `none` is named by the texts read (more than half its distinctive words)."""
    others = [o for o in options if o.letter != none.letter]
    return bool(texts) and any(option_grounded(o, options, texts, question) for o in others)
