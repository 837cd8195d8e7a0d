"""Merging the LLM's answer with the evidence into one Verdict (what answered, how sure, why).

The evidence vote's say is the profile's `evidence_role`:
- "decide": a decisive vote (one option clearly best in the gathered captions/OCR) decides; agreeing
  with the LLM keeps the higher confidence, disagreeing overrules the LLM. For a weak LLM's letter bias.
- "tie_break": the LLM's option stands; a decisive vote answers only when the LLM named no option, and
  adds its confidence when it agrees. A capable LLM answering "which colour is NOT shown?" is right to
  pick the colour the captions never mention, which a deciding vote would overrule.
- "off": no vote (the original VideoLucy); with no usable LLM answer a forced verdict takes the first option.
Grounding (agent/grounding.py) is strict: when the captions the LLM cites do not name its answer, its
stated confidence counts `llm_confidence_weight` (0 offline: a small model's "0.9" alone ends nothing).
"""
from __future__ import annotations

from dataclasses import dataclass

from vidrecall.agent.evidence_vote import Vote, vote
from vidrecall.agent.grounding import answer_grounded, option_grounded, quote_nodes
from vidrecall.agent.memory_view import MemoryView
from vidrecall.agent.options import Option, match_option, parse_options
from vidrecall.agent.verdict import LlmSaid, Verdict
from vidrecall.core.result import Evidence
from vidrecall.core.types import Span


@dataclass
class LlmClaim:
    answer: str
    confidence: float
    cited: list[Span]
    reason: str
    ok: bool  # the model's output parsed
    quote: str = ""  # the memory text the model copied as its evidence


@dataclass(frozen=True)
class JudgeSettings:
    evidence_role: str = "decide"  # decide | tie_break | off (core.config.EVIDENCE_ROLES)
    llm_confidence_weight: float = 0.0

    @classmethod
    def of(cls, config) -> "JudgeSettings":
        return cls(config.evidence_role, config.llm_confidence_weight)


def cited_spans(view: MemoryView, clips: list[int], spans: list[tuple[float, float]], duration: float) -> list[Span]:
    out = [s for s in (view.clip_span(c) for c in clips) if s is not None]
    for start, end in spans:
        start, end = sorted((start, end))
        if end > 0 and start < duration and end - start > 1e-3:
            out.append(Span(max(0.0, start), min(duration, end)))
    return out


def judge(question: str, options: list[str], claim: LlmClaim, view: MemoryView, embedder, *, forced: bool,
          settings: JudgeSettings = JudgeSettings()) -> Verdict:
    opts = parse_options(options)
    role, weight = settings.evidence_role, settings.llm_confidence_weight
    ev: Vote = vote(question, opts, [n.text for n in view.nodes], embedder) if (opts and role != "off") else Vote()
    quoting = quote_nodes(view.nodes, claim.quote)
    cited = claim.cited + [n.span for n in quoting]  # where the quote really is, whatever clip was named
    cited_texts = view.texts_overlapping(cited)
    reason = claim.reason
    chosen = match_option(claim.answer, opts) if opts else None
    quoted = _option_quoted(question, opts, claim.quote) if quoting else None
    if quoted is not None and quoted != chosen:  # the model copied the evidence, then wrote another letter
        reason = f"its quote {claim.quote[:80]!r} names option {quoted.letter}" + (
            f", not the {chosen.letter} it wrote" if chosen else "")
        chosen = quoted
    verdict = Verdict(llm=LlmSaid(answer=claim.answer, confidence=round(claim.confidence, 3), ok=claim.ok,
                                  quote=claim.quote),
                      evidence=ev.to_dict() if opts else {}, forced=forced, reason=reason)
    agree = chosen is not None and chosen.letter == ev.best
    option: Option | None
    if opts and ev.decisive and (role == "decide" or chosen is None or agree):
        option = next(o for o in opts if o.letter == ev.best)
        confidence = max(ev.confidence, claim.confidence) if agree else ev.confidence
        verdict.decided_by = "llm+evidence" if agree else "evidence"
        verdict.grounded = option_grounded(option, opts, cited_texts, question) if agree else None
        if not (agree and reason):
            verdict.reason = f"option {ev.best} is clearly best supported by the captions (margin {ev.margin:.2f})"
    elif opts and chosen is not None:
        option, verdict.decided_by = chosen, "llm"
        verdict.grounded = option_grounded(chosen, opts, cited_texts, question)
        confidence = claim.confidence if verdict.grounded else claim.confidence * weight
    elif opts:
        option, verdict.decided_by, confidence = None, "fallback", 0.0
        if forced:
            option = next(o for o in opts if o.letter == ev.best) if ev.best else opts[0]
            verdict.reason = reason or "no usable model answer; the option the captions support most"
    else:
        option, verdict.decided_by = None, "llm" if claim.answer else "fallback"
        verdict.grounded = answer_grounded(claim.answer, cited_texts, question, embedder)
        confidence = claim.confidence if verdict.grounded else claim.confidence * weight

    verdict.option = option.letter if option else None
    verdict.answer = (option.label if option else claim.answer) or ("No answer" if forced else "")
    verdict.confidence = round(float(confidence), 3)
    verdict.evidence_spans = _evidence_spans(view, cited, question, option, opts)
    return verdict


def _option_quoted(question: str, options: list[Option], quote: str) -> Option | None:
    """The one option a quote clearly names (the evidence vote over the quote alone), else None."""
    if not options or not quote.strip():
        return None
    said = vote(question, options, [quote])
    return next((o for o in options if o.letter == said.best), None) if said.decisive else None


def _evidence_spans(view: MemoryView, cited: list[Span], question: str, option: Option | None,
                    options: list[Option]) -> list[Evidence]:
    """The tightest caption under each cited span, plus the most specific caption naming the chosen option;
    when some of them name it, only those (a model also cites clips that show nothing of its answer)."""
    found = []
    for span in cited:
        near = view.nodes_overlapping(span)
        if near:
            found.append(max(near, key=lambda n: (n.span.iou(span), -n.span.duration)))
    if option is not None:
        naming = [n for n in view.nodes if option_grounded(option, options, [n.text], question)]
        if naming:
            found.append(min(naming, key=lambda n: (n.span.duration, n.start)))
            found = [n for n in found if n in naming]
    unique = {n.id: n for n in found}
    return [Evidence(start=n.start, end=n.end, level=n.level, text=n.text[:500], node_id=n.id)
            for n in sorted(unique.values(), key=lambda n: (n.start, n.depth))]
