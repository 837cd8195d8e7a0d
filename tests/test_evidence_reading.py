"""Reading the evidence like a person: numbers in any spelling, negated mentions, rare words split by ASR."""
from __future__ import annotations

import pytest

from vidrecall.agent.evidence_vote import EvidenceText, sound_key, vote
from vidrecall.agent.grounding import answer_grounded, option_grounded
from vidrecall.agent.options import parse_options
from vidrecall.core.types import SPEECH_LEVEL, MemoryNode
from vidrecall.memory.render import render_memory
from vidrecall.tools.speech.spoken_numbers import normalise_numbers


# --- numbers ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("said, read", [
    ("six", "6"),
    ("Six apples and nine pears", "6 apples and 9 pears"),
    ("twenty one", "21"),
    ("twenty-one pilots", "21 pilots"),
    ("two hundred and five", "205"),
    ("three thousand four hundred", "3400"),
])
def test_number_words_read_as_digits(said, read):
    assert normalise_numbers(said) == read


@pytest.mark.parametrize("said", [
    "four seven one nine", "4 7 1 9", "4, 7, 1, 9", "4-7-1-9", "for 7 -1 -9", "four seven won nine", "4 7 1 nine",
])
def test_a_code_said_digit_by_digit_reads_as_one_number_in_every_spelling(said):
    assert normalise_numbers(f"The code is {said}, she said.") == "The code is 4719, she said."


@pytest.mark.parametrize("prose", [
    "time for lunch", "go to the store", "I won the race", "we ate too much", "from 5 to 7 people",
    "a gift for 2", "the red one", "One of them left.", "3.5 kg at 2:30 on 2024-01-05", "J71 and D'Addario",
])
def test_homophones_and_other_digits_in_prose_stay_as_written(prose):
    assert normalise_numbers(prose) == prose


def test_homophones_need_three_real_digits_beside_them():
    assert normalise_numbers("count to ten") == "count to 10"  # "to" is no digit next to one number
    assert normalise_numbers("for 7 -1") == "for 7 -1"  # two digits: a range as often as a code
    assert normalise_numbers("won too three four") == "won too 3 4"


@pytest.mark.parametrize("said, read", [
    ("half past two", "2:30"),
    ("a quarter past three", "3:15"),
    ("quarter to four", "3:45"),
    ("ten past six", "6:10"),
    ("five o'clock", "5:00"),
    ("meet at two thirty", "meet at 2:30"),
    ("seven oh five pm", "7:05 pm"),
    ("by eleven forty-five", "by 11:45"),
])
def test_clock_times_read_as_hours_and_minutes(said, read):
    assert normalise_numbers(said) == read


def test_two_numbers_are_a_time_only_where_it_is_clearly_a_time():
    assert normalise_numbers("two thirty") == "2 30"  # no time word around it
    assert normalise_numbers("five to seven people") == "5 to 7 people"  # a range, not 6:55
    assert normalise_numbers("a quarter of the pie") == "a quarter of the pie"


def test_numbers_in_any_spelling_decide_the_vote():
    counts = parse_options(["A. six", "B. seven"])
    v = vote("How many cups are there?", counts, ["There are 6 cups on the shelf."])
    assert v.best == "A" and v.decisive and v.lexical == {"A": 1.0, "B": 0.0}
    v = vote("How many cups are there?", parse_options(["A. 6", "B. 7"]), ["There are seven cups."])
    assert v.best == "B" and v.decisive
    codes = parse_options(["A. 4719", "B. 4791"])
    v = vote("What is the door code?", codes, ["the door code is for 7 -1 -9 okay"])
    assert v.best == "A" and v.decisive and v.lexical == {"A": 1.0, "B": 0.0}
    times = parse_options(["A. 2:30", "B. 3:15"])
    v = vote("When does the bus leave?", times, ["the bus leaves at half past two"])
    assert v.best == "A" and v.decisive


# --- negation ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "We had rice for dinner, never potatoes.",
    "We had rice, not potatoes.",
    "There were no potatoes, only rice.",
    "We had rice instead of potatoes.",
    "We chose rice rather than potatoes.",
    "We didn't have potatoes; we had rice.",
    "It isn't the potatoes, it is the rice.",
])
def test_a_negated_mention_is_no_evidence(text):
    evidence = EvidenceText([text])
    assert evidence.presence("rice") == (1.0, 0)
    assert evidence.presence("potatoes") == (0.0, None)
    assert evidence.presence("potatoes", count_negated=True) == (1.0, 0)


@pytest.mark.parametrize("text", [
    "not the blue bus, the red one",  # punctuation ends the negation
    "not the blue bus but the red one",  # so does a contrast
    "no ticket for the blue bus so we took the red one",  # and it reaches three words, "the" not counted
    "not only the blue bus but also the red one",  # "not only X" affirms X
    'the OCR reads "NOT RED" on the sign',  # quoted text is literal: the sign shows the word
])
def test_negation_reaches_only_its_own_few_words(text):
    assert EvidenceText([text]).presence("red")[0] == 1.0


def test_negation_decides_for_the_mentioned_option(embedder):
    buses = parse_options(["A. the red bus", "B. the blue bus"])
    v = vote("Which bus should they take?", buses, ["Take the red bus, never the blue one."], embedder)
    assert v.best == "A" and v.decisive and v.lexical["B"] == 0.0
    food = parse_options(["A. potatoes", "B. rice"])
    v = vote("What did they eat for dinner?", food, ["We had rice for dinner, never potatoes."], embedder)
    assert v.best == "B" and v.decisive and v.lexical["A"] == 0.0


def test_only_negated_mentions_decide_nothing():
    v = vote("What did they eat?", parse_options(["A. potatoes", "B. pasta"]), ["never potatoes again"])
    assert not v.decisive and v.lexical == {"A": 0.0, "B": 0.0}


def test_an_option_that_negates_is_supported_by_the_same_negation():
    signs = parse_options(["A. No parking", "B. Bus stop"])
    v = vote("What does the sign say?", signs, ["a man says no parking here"])
    assert v.best == "A" and v.decisive


def test_negated_mentions_ground_nothing():
    buses = parse_options(["A. the red bus", "B. the blue bus"])
    red, blue = buses
    cited = ["Take the red bus, never the blue one."]
    assert option_grounded(red, buses, cited, "Which bus?")
    assert not option_grounded(blue, buses, cited, "Which bus?")
    assert not answer_grounded("potatoes", ["We had rice for dinner, never potatoes."], "What did they eat?")
    assert answer_grounded("rice", ["We had rice for dinner, never potatoes."], "What did they eat?")


# --- near spellings ------------------------------------------------------------------------------------
@pytest.mark.parametrize("word, heard", [
    ("biscuit", "the dog is called bis kit"),  # split in two and spelt as it sounds
    ("pineapple", "a pine apple on the table"),
    ("montgomery", "welcome to mont gomery"),
    ("ukulele", "she plays the ukelele"),
])
def test_a_rare_word_heard_or_read_a_little_wrong_is_found(word, heard):
    assert EvidenceText([heard]).presence(word)[0] >= 0.85


@pytest.mark.parametrize("word, text", [
    ("green", "No on-screen text. The screen is dark."),  # inside a word
    ("biscuit", "we bask it in the sun"),  # sounds the same (BSKT), spelt too differently
    ("biscuit", "a basket of bread"),
    ("biscuit", "the dog is called never bis kit"),  # a near spelling that is negated
    ("kite", "a kyte flies high"),  # same sound key, but a four-letter word is never guessed
])
def test_near_spellings_stay_strict(word, text):
    assert EvidenceText([text]).presence(word) == (0.0, None)


def test_sound_keys_join_spellings_that_sound_alike():
    assert sound_key("biscuit") == sound_key("biskit") != sound_key("bisque")
    assert sound_key("phone") == sound_key("fone") and sound_key("knight") == sound_key("night")


def test_a_split_rare_word_decides_the_vote_and_grounds_the_option():
    snacks = parse_options(["A. Biscuit", "B. Pretzel"])
    heard = ["and then she handed the dog a bis kit from the jar"]
    v = vote("What did she give the dog?", snacks, heard)
    assert v.best == "A" and v.decisive
    assert option_grounded(snacks[0], snacks, heard, "What did she give the dog?")
    assert not option_grounded(snacks[1], snacks, heard, "What did she give the dog?")


# --- what the LLM reads ------------------------------------------------------------------------------
def test_speech_is_rendered_with_its_numbers_normalised_and_stored_raw():
    said = MemoryNode(video_id="v", level=SPEECH_LEVEL, depth=-1, start=10, end=14,
                      text="the code is for 7 -1 -9", captioner="asr", prompt_hash="p", id=2)
    seen = MemoryNode(video_id="v", level="coarse", depth=0, start=0, end=60,
                      text="a keypad with four rows", captioner="scripted", prompt_hash="p", id=1)
    text = render_memory([seen, said], 60)
    heard = text.split("- Speech from 10s to 14s:", 1)[1]  # the speech entry, its quoted text on
    assert "the code is 4719" in heard and "for 7 -1 -9" not in text
    assert "a keypad with four rows" in text  # captions are rendered as written
    assert said.text == "the code is for 7 -1 -9"
