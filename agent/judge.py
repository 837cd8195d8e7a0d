"""Merging the LLM's answer with the evidence check into one decision (what answered, how sure, why).

- Evidence decisive (one option clearly best in the gathered captions/OCR): it decides; agreeing with
  the LLM keeps the higher confidence, disagreeing overrules the LLM.
- Otherwise the LLM's option stands, but a claim its cited spans do not back counts half: a small model
  that says "0.9" about text nobody read must not end the search.
- No usable LLM answer: not confident; when forced, the evidence's best option is the fallback.
"""
from __future__ import annotations

from dataclasses import dataclass

from vidrecall.agent.evidence_vote import Vote, supports, vote
from vidrecall.agent.memory_view import MemoryView
from vidrecall.agent.options import match_option, parse_options
from vidrecall.core.types import Span

UNGROUNDED_FACTOR = 0.5


@dataclass
class LlmClaim:
    answer: str
    confidence: float
    cited: list[Span]
    reason: str
    ok: bool  # the model's output parsed


def cited_spans(view: MemoryView, clips: list[int], spans: list[tuple[float, float]], duration: float) -> list[Span]:
    out = [s for s in (view.clip_span(c) for c in clips) if s is not None]
    for start, end in spans:
        start, end = sorted((start, end))
        if end > 0 and start < duration and end - start > 1e-3:
            out.append(Span(max(0.0, start), min(duration, end)))
    return out


def judge(question: str, options: list[str], claim: LlmClaim, view: MemoryView, embedder, *, forced: bool,
          use_evidence: bool = True) -> dict:
    opts = parse_options(options)
    texts = [n.text for n in view.nodes]
    ev: Vote = vote(question, opts, texts, embedder) if (opts and use_evidence) else Vote()
    cited_texts = view.texts_overlapping(claim.cited)
    chosen = match_option(claim.answer, opts) if opts else None
    out = {"llm": {"answer": claim.answer, "confidence": round(claim.confidence, 3), "ok": claim.ok},
           "evidence": ev.to_dict() if opts else {}, "forced": forced, "reason": claim.reason}

    if opts and ev.decisive:
        agree = chosen is not None and chosen.letter == ev.best
        option = next(o for o in opts if o.letter == ev.best)
        confidence = max(ev.confidence, claim.confidence) if agree else ev.confidence
        decided_by = "llm+evidence" if agree else "evidence"
        reason = f"option {ev.best} is clearly best supported by the captions (margin {ev.margin:.2f})"
        out["reason"] = claim.reason if agree and claim.reason else reason
    elif opts and chosen is not None:
        option, decided_by = chosen, "llm"
        grounded = supports(chosen.text, cited_texts, question, embedder)
        confidence = claim.confidence if grounded else claim.confidence * UNGROUNDED_FACTOR
        out["grounded"] = grounded
    elif opts:
        option, decided_by, confidence = None, "fallback", 0.0
        if forced:
            option = next(o for o in opts if o.letter == ev.best) if ev.best else opts[0]
            out["reason"] = claim.reason or "no usable model answer; the option the captions support most"
    else:
        option, decided_by = None, "llm" if claim.answer else "fallback"
        grounded = supports(claim.answer, cited_texts, question, embedder)
        confidence = claim.confidence if grounded else claim.confidence * UNGROUNDED_FACTOR
        out["grounded"] = grounded

    out.update(
        option=option.letter if option else None,
        answer=(option.label if option else claim.answer) or ("No answer" if forced else ""),
        confidence=round(float(confidence), 3),
        decided_by=decided_by,
        evidence_spans=_evidence_spans(view, claim.cited, question, option, embedder),
    )
    return out


def _evidence_spans(view: MemoryView, cited: list[Span], question: str, option, embedder) -> list[dict]:
    """The tightest caption under each cited span, plus the most specific caption naming the chosen option."""
    found = []
    for span in cited:
        near = view.nodes_overlapping(span)
        if near:
            found.append(max(near, key=lambda n: (n.span.iou(span), -n.span.duration)))
    if option is not None:
        naming = [n for n in view.nodes if supports(option.text, [n.text], question)]
        if naming:
            found.append(min(naming, key=lambda n: (n.span.duration, n.start)))
    unique = {n.id: n for n in found}
    return [_as_evidence(n) for n in sorted(unique.values(), key=lambda n: (n.start, n.depth))]


def _as_evidence(node) -> dict:
    return {"start": node.start, "end": node.end, "level": node.level, "text": node.text[:500], "node_id": node.id}
