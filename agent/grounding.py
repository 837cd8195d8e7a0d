"""Is an answer grounded in the captions it cites? Strict, so that a weak model's "0.9" alone ends nothing.

- An option is grounded when more than half of its *distinctive* words (not in any other option, not in
  the question, no filler) occur, on word boundaries, in the cited captions with the captioner's
  boilerplate cut. An option with no distinctive word is never grounded: nothing could show it. Words
  are read as the evidence vote reads them (agent/evidence_vote.py): numbers in any spelling, near
  spellings, and a mention a negation cue denies ("never the blue one") grounds nothing.
- An open answer is grounded when more than half of its content words occur there (a lone letter, the
  model answering an open question as if it had options, names nothing and is never grounded) ("white" alone does
  not ground "a white rabbit"), or, for a paraphrase, when its embedding is at least SUPPORT_MIN_SIMILARITY
  from one cited caption. That threshold is measured with the real embedder by
  benchmarks/calibrate_grounding.py: above every unrelated caption tried.
"""
from __future__ import annotations

from vidrecall.agent.caption_boilerplate import strip_boilerplate
from vidrecall.agent.evidence_vote import STOPWORDS, EvidenceText, self_negated, tokens
from vidrecall.agent.options import Option

# all-MiniLM-L6-v2 cosine, calibrated (benchmarks/calibrate_grounding.py, 8 backing / 12 unrelated pairs):
# unrelated pairs reach 0.44 (a colour name against a colour listing), backing paraphrases 0.24-0.62
# (median 0.45). Above every unrelated pair: closeness alone grounds only close paraphrases (3/8), word
# overlap grounds the rest. The old 0.3 would have passed two unrelated pairs and let SmolLM stop early.
SUPPORT_MIN_SIMILARITY = 0.45


def option_words(chosen: Option, options: list[Option], question: str) -> list[str]:
    """The chosen option's words that no other option has and the question does not contain."""
    others = set().union(*(set(tokens(o.text)) for o in options if o.letter != chosen.letter))
    asked = set(tokens(question))
    return [w for w in dict.fromkeys(tokens(chosen.text))
            if w not in STOPWORDS and w not in others and w not in asked and (len(w) > 1 or w.isdigit())]


def _enough_present(words: list[str], texts: list[str], denied_by_answer: set[str]) -> bool:
    """More than half of `words` are affirmed in `texts`; a word the answer itself denies may be denied there."""
    texts = [t for t in (strip_boilerplate(t) for t in texts) if t]
    if not words or not texts:
        return False
    evidence = EvidenceText(texts)
    found = sum(evidence.presence(w, count_negated=w in denied_by_answer)[0] > 0 for w in words)
    return 2 * found > len(words)


def option_grounded(chosen: Option, options: list[Option], texts: list[str], question: str) -> bool:
    return _enough_present(option_words(chosen, options, question), texts, self_negated(chosen.text))


def answer_grounded(answer: str, texts: list[str], question: str, embedder=None) -> bool:
    """An open answer against the captions it cites: its words, else calibrated semantic closeness."""
    if not any(len(w) > 1 or w.isdigit() for w in tokens(answer)):  # "", "B", "A.": names nothing to look for
        return False
    asked = set(tokens(question))
    words = [w for w in dict.fromkeys(tokens(answer)) if w not in STOPWORDS and w not in asked and len(w) > 1]
    if _enough_present(words, texts, self_negated(answer)):
        return True
    texts = [t for t in (strip_boilerplate(t) for t in texts) if t]
    if embedder is None or not texts:
        return False
    return float((embedder.embed([answer]) @ embedder.embed(texts).T).max()) >= SUPPORT_MIN_SIMILARITY


def quote_nodes(nodes: list, quote: str) -> list:
    """The memory nodes that hold a model's quote: more than half of its content words, read as the vote reads
    them. A quote that no node holds was made up, and grounds nothing."""
    words = [w for w in dict.fromkeys(tokens(quote)) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
    if not words:
        return []
    return [n for n in nodes if _enough_present(words, [n.text], self_negated(quote))]
