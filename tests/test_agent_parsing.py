"""Reading what models and users say: options, lenient decisions, ordinal words, times, span snapping."""
from __future__ import annotations

import pytest

from vidrecall.agent.decisions import AnswerDecision, LocalizeDecision, LucyAnswer, LucyLocalize
from vidrecall.agent.options import has_ordinal, match_option, mentioned_times, parse_options
from vidrecall.agent.spans import Unit, interleave, snap_all, snap_span
from vidrecall.core.types import Span

OPTS = parse_options(["A. Red", "B. Green", "C. Blue", "D. Dark blue"])


def test_options_are_lettered_whether_or_not_they_come_lettered():
    assert [o.label for o in parse_options(["Yes", "No"])] == ["A. Yes", "B. No"]
    assert [o.text for o in OPTS] == ["Red", "Green", "Blue", "Dark blue"]


@pytest.mark.parametrize("reply, letter", [
    ("B", "B"), ("(c)", "C"), ("B. Green", "B"), ("The answer is D", "D"), ("green", "B"),
    ("It is dark blue", "D"), ("E", None), ("Blue or red", None), ("", None),
])
def test_model_answers_map_to_options(reply, letter):
    found = match_option(reply, OPTS)
    assert (found.letter if found else None) == letter


def test_decisions_accept_the_shapes_small_models_write():
    d = AnswerDecision.model_validate({"answer": "B", "confidence": "high", "clips": "3, 4", "spans": [120, 180]})
    assert (d.confidence, d.clips, d.spans) == (0.85, [3, 4], [(120.0, 180.0)])
    assert AnswerDecision.model_validate({"confidence": 85}).confidence == 0.85
    assert AnswerDecision.model_validate({"confidence": "80%"}).confidence == 0.8
    loc = LocalizeDecision.model_validate({"spans": "from 10s to 20s and 30-40", "instruction": ["look", "read"]})
    assert loc.spans == [(10.0, 20.0), (30.0, 40.0)] and loc.instruction == "look; read"
    assert LocalizeDecision.model_validate({"spans": [[1, 2], [3]]}).spans == [(1.0, 2.0)]


def test_videolucy_decisions_use_the_original_keys():
    d = LucyAnswer.model_validate({"Confidence": "True", "Answer": "A", "Time Period": "No Time", "Reason": "x"})
    assert d.confidence is True and d.time_period == [] and d.answer == "A"
    assert LucyLocalize.model_validate({"Time Period": "(60.0, 120.0)"}).time_period == [(60.0, 120.0)]
    assert "Confidence" in LucyAnswer.model_json_schema()["properties"]


def test_ordinal_gate():
    assert has_ordinal("Who is the first person to enter?") and has_ordinal("the 3rd goal")
    assert has_ordinal("What happens last?")
    assert not has_ordinal("What colour is the frog?") and not has_ordinal("Is it lasting?")


def test_times_the_question_names():
    assert mentioned_times("Which toy is shown between 08:04 and 08:11?") == [484, 491]
    assert mentioned_times("at 1:02:03, and again at 95 seconds") == [3723, 95.0]
    assert mentioned_times("What colour is it?") == []


COARSE = [Unit(Span(0, 60), "coarse"), Unit(Span(60, 120), "coarse"), Unit(Span(120, 139.4), "coarse")]


def test_snapping_uses_overlap_never_float_equality():
    assert snap_span((59.7, 120.4), COARSE, 139.4) == ([COARSE[1]], None)
    assert snap_span((125, 126), COARSE, 139.4)[0] == [COARSE[2]]  # a short span inside one clip
    assert snap_span((90, 90), COARSE, 139.4)[0] == [COARSE[1]]  # an instant
    assert snap_span((30, 130), COARSE, 139.4)[0] == [COARSE[1]]  # IoU 0.6 with 60-120
    wide, _ = snap_span((10, 139), COARSE, 139.4)  # no clip matches well: the best covered first
    assert wide == [COARSE[1], COARSE[0], COARSE[2]]
    assert snap_span((200, 260), COARSE, 139.4) == ([], "outside the video (0-139.4 s)")
    assert snap_span((70, 80), [COARSE[0]], 139.4) == ([], "covers no unexplored clip")


def test_snapping_prefers_the_finer_unexplored_clip_that_matches():
    fine = [Unit(Span(60 + 10 * i, 70 + 10 * i), "fine") for i in range(6)]
    units = [COARSE[0], COARSE[2], *fine]
    assert snap_span((80.2, 89.9), units, 139.4)[0] == [fine[2]]
    result = snap_all([(80, 90), (500, 600), (80.1, 90.1)], units, 139.4)
    assert result.kept == [fine[2]] and result.dropped == [{"span": [500.0, 600.0], "why": "outside the video (0-139.4 s)"}]


def test_interleave_alternates_sources_without_repeats():
    a, b, c = COARSE
    assert interleave([b, c], [b, a, c]) == [b, c, a]
    assert interleave([], [a, b]) == [a, b]


def test_options_keep_the_users_letters():
    opts = parse_options(["B. pig", "A. cat", "(d) frog"])
    assert [o.label for o in opts] == ["B. pig", "A. cat", "D. frog"]
    assert match_option("D", opts).text == "frog" and match_option("C", opts) is None


@pytest.mark.parametrize("options, message", [
    ([f"option {i}" for i in range(27)], "27 options given; at most 26 (A-Z) can be answered by letter"),
    (["A. cat", "A. pig"], "option letter A is given twice ('A. cat' and 'A. pig')"),
    (["cat", "Cat"], "option 'Cat' repeats 'cat'; each option must differ"),
    (["A. cat", "B. cat"], "option 'B. cat' repeats 'A. cat'; each option must differ"),
    (["A. cat", "B"], "option 'B' has no text; write it as 'A. red'"),
    (["A"], "option 'A' has no text; write it as 'A. red'"),
    (["A. cat", "pig"], "option 'pig' has no letter while others do; letter every option ('A. …') or none"),
])
def test_options_that_would_relabel_or_crash_are_rejected_in_one_line(options, message):
    with pytest.raises(ValueError) as err:
        parse_options(options)
    assert str(err.value) == message


def test_bad_options_fail_before_any_model_loads(tmp_path):
    from vidrecall.api import VideoQA

    qa = VideoQA("offline", store_dir=tmp_path)
    with pytest.raises(ValueError, match="27 options given"):
        qa.ask(tmp_path / "any.mp4", "Which one?", [f"{i} things" for i in range(27)])
    with pytest.raises(ValueError, match="option letter B is given twice"):
        qa.ask(tmp_path / "any.mp4", "Which one?", ["A. a cat", "B. a pig", "B. a frog"])
    assert "backbones" not in qa.__dict__ and "memory" not in qa.__dict__
