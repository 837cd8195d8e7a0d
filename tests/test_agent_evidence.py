"""The evidence check: options scored against real caption/OCR text with the real embedder."""
from __future__ import annotations

from vidrecall.agent.evidence_vote import EvidenceText, vote
from vidrecall.agent.grounding import SUPPORT_MIN_SIMILARITY, answer_grounded, option_grounded
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


def test_captioner_boilerplate_is_not_evidence_for_a_colour():
    # issue 10.6: "green" was found inside "on-screen" of the OCR captioner's own "No on-screen text."
    opts = parse_options(["A. green", "B. red"])
    for caption in ["No on-screen text.", "Frames 0:00-1:00 (2 sampled). No on-screen text.",
                    "A screen shows a menu; the screen is dark."]:
        v = vote("What colour is the toy?", opts, [caption])
        assert not v.decisive and v.confidence == 0.0, caption
        assert all(v.lexical.get(letter, 0.0) == 0.0 for letter in "AB"), caption


def test_fuzzy_matches_respect_word_boundaries():
    text = EvidenceText(["No on-screen text. Colours: grey 40%.", "On-screen text: \"Strings : D Addarlo Pro Art\""])
    assert text.presence("green") == (0.0, None)  # not in "screen"
    assert text.presence("daddario")[0] >= 0.85  # OCR split and misread, but from a word start to a word end


def test_an_option_is_grounded_only_by_its_own_distinctive_words():
    opts = parse_options(["A. A green toy frog", "B. A pink toy pig"])
    green, pink = opts
    cited = ["Frames 1:00-1:10 (3 sampled). A small green toy frog sits on the table."]
    assert option_grounded(green, opts, cited, "Which toy is on the table?")
    assert not option_grounded(pink, opts, cited, "Which toy is on the table?")  # "toy" is shared, not evidence
    assert not option_grounded(pink, opts, ["Frames 1:00-1:10 (3 sampled). No on-screen text."], "Which toy?")
    assert not option_grounded(green, opts, [], "Which toy is on the table?")  # nothing cited, nothing grounded


def test_open_answers_are_grounded_by_words_or_a_calibrated_similarity(embedder):
    assert answer_grounded("a black jacket", ["A man in a black jacket writes on a whiteboard."], "", embedder)
    assert answer_grounded("they are dancing", ["Two people move to music in a studio, spinning and stepping "
                                                "in rhythm."], "", embedder)  # paraphrase, cosine 0.52
    # the old threshold (0.3) passed these unrelated pairs; the calibrated one does not
    assert not answer_grounded("a white rabbit", ["Colours: white 70%, grey 20%. Bright. Still."], "", embedder)
    assert not answer_grounded("a red car", ["a man strums a ukulele on stage"], "", embedder)
    assert not answer_grounded("Green", ["Frames 0:00-1:00 (2 sampled). No on-screen text."], "", embedder)
    # a lone letter (an open question answered as if it had options) names nothing, however close it embeds
    for letter in ("B", "A.", " c "):
        assert not answer_grounded(letter, ["B. The ferry leaves from pier B.", "b"], "Who hosts the show?", embedder)
    assert SUPPORT_MIN_SIMILARITY > 0.3
