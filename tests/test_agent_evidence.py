"""The evidence check: options scored against real caption/OCR text with the real embedder."""
from __future__ import annotations

from vidrecall.agent.evidence_vote import supports, vote
from vidrecall.agent.options import parse_options

STRINGS = parse_options(["A. Martin", "B. D'Addario", "C. Aquila", "D. Elixir"])
Q = "Which brand of strings is named in the on-screen caption?"


def test_ocr_text_with_dropped_spaces_decides(embedder):
    texts = ["Frames 3:40-3:50 (5 sampled). On-screen text: \"Strings:D'AddarioProArtTenorJ71\" (3:48).",
             "Frames 3:50-4:00 (5 sampled). No on-screen text. Mostly grey and blue."]
    v = vote(Q, STRINGS, texts, embedder)
    assert v.best == "B" and v.decisive and v.lexical["B"] == 1.0 and v.confidence > 0.7


def test_ocr_misreads_still_count_fuzzily(embedder):
    v = vote(Q, STRINGS, ["On-screen text: \"Strings : D Addarlo Pro Art\""], embedder)
    assert v.best == "B" and v.decisive


def test_uninformative_evidence_is_not_decisive(embedder):
    v = vote(Q, STRINGS, ["Two men sit on chairs against a white wall."], embedder)
    assert not v.decisive and v.confidence == 0.0 and all(x == 0.0 for x in v.lexical.values())


def test_words_shared_by_all_options_or_the_question_do_not_count(embedder):
    opts = parse_options(["A. A green frog", "B. A green pig"])
    v = vote("Which green toy is on the table?", opts, ["a green toy on a table, it is a pig"], embedder)
    assert v.best == "B" and v.lexical == {"A": 0.0, "B": 1.0}


def test_no_options_or_no_evidence_gives_an_empty_vote(embedder):
    assert vote(Q, [], ["text"], embedder).best is None
    assert vote(Q, STRINGS, ["", "  "], embedder).best is None


def test_supports_checks_an_answer_against_cited_text(embedder):
    assert supports("D'Addario", ["Strings:D'AddarioProArt"], Q)
    assert supports("playing an instrument", ["a man strums a ukulele on stage"], "", embedder)
    assert not supports("a red car", ["a man strums a ukulele on stage"], "", embedder)
