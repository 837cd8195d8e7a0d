"""What the agent asks each model call to return: typed, lenient about shape, never about meaning.

Small models write `"confidence": "high"`, `"spans": [120, 180]` or `"clips": "3"`; the validators turn
every such shape into the typed field or into "nothing usable" (empty), so a bad answer is recorded and
handled by the graph, not raised. Which of these values are *valid* (inside the video, unexplored)
is decided later, against the memory (agent/spans.py).
"""
from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic.json_schema import JsonDict

_NUMBER = re.compile(r"(?<![\d.])-?\d+(?:\.\d+)?")
_WORD_CONFIDENCE = {"very high": 0.95, "high": 0.85, "certain": 0.95, "medium": 0.5, "moderate": 0.5,
                    "low": 0.2, "very low": 0.05, "none": 0.0, "true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0}


def _to_confidence(value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        v = float(value)
        return max(0.0, min(1.0, v / 100 if v > 1 else v))
    text = str(value or "").strip().lower().rstrip("%")
    if text in _WORD_CONFIDENCE:
        return _WORD_CONFIDENCE[text]
    m = _NUMBER.search(text)
    if m:
        return _to_confidence(float(m.group()))
    return 0.0


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "confident")
    return bool(value)


def _numbers(value: Any) -> list[float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)]
    if isinstance(value, str):
        return [float(x) for x in _NUMBER.findall(value)]
    if isinstance(value, dict):
        return _numbers([value.get("start"), value.get("end")])
    if isinstance(value, (list, tuple)):
        return [x for v in value if v is not None for x in _numbers(v)]
    return []


def _to_spans(value: Any) -> list[tuple[float, float]]:
    """[[s, e], …], [s, e], "120-180", {"start":…, "end":…}, "No Time" → pairs; odd leftovers dropped."""
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (list, tuple, dict, str)) for v in value):
        return [pair for v in value for pair in _to_spans(v)]
    nums = _numbers(value)
    return [(nums[i], nums[i + 1]) for i in range(0, len(nums) - 1, 2)]


def _to_ints(value: Any) -> list[int]:
    return [int(x) for x in _numbers(value) if float(x).is_integer()]


def _to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "; ".join(_to_text(v) for v in value)
    return str(value).strip()


# Lists a model writes are bounded in the JSON schema only (llama.cpp's grammar then cannot loop in a list until
# max_tokens cuts the reply); a longer list from a model that ignores the schema is still read.
MAX_LISTED = 12
MAX_TEXT_CHARS = 300
_BOUNDED: JsonDict = {"maxItems": MAX_LISTED}
_SHORT: JsonDict = {"maxLength": MAX_TEXT_CHARS}

Confidence = Annotated[float, BeforeValidator(_to_confidence)]
Flag = Annotated[bool, BeforeValidator(_to_bool)]
Spans = Annotated[list[tuple[float, float]], BeforeValidator(_to_spans)]
ClipNumbers = Annotated[list[int], BeforeValidator(_to_ints)]
Text = Annotated[str, BeforeValidator(_to_text)]


class _Lenient(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


# --- the default strategy ---------------------------------------------------------------------------
QUOTE_DESCRIPTION = "the words in the memory that answer the question, copied exactly ('' if none do)"


class AnswerDecision(_Lenient):
    """An answer attempt from the memory gathered so far. The quote comes first: a small model that has
    copied the evidence maps it to the right option far more often, and the program can check the quote."""

    evidence: Text = Field("", json_schema_extra=_SHORT, description=QUOTE_DESCRIPTION)
    answer: Text = Field("", description="the option letter, or a short answer for an open question")
    confidence: Confidence = Field(0.0, description="0 to 1: how directly the memory shows the answer")
    clips: ClipNumbers = Field(default_factory=list, json_schema_extra=_BOUNDED,
                               description="numbers of the clips that show it")
    spans: Spans = Field(default_factory=list, json_schema_extra=_BOUNDED,
                         description="[[start_s, end_s], …] that show it")
    reason: Text = Field("", json_schema_extra=_SHORT)


class LocalizeDecision(_Lenient):
    """Where to look closer next, and what the captioner should look for there."""

    clips: ClipNumbers = Field(default_factory=list, json_schema_extra=_BOUNDED,
                               description="numbers of the clips to look at closer")
    spans: Spans = Field(default_factory=list, json_schema_extra=_BOUNDED,
                         description="[[start_s, end_s], …] to look at closer")
    instruction: Text = Field("", json_schema_extra=_SHORT,
                              description="what the captioner should look for in those spans")
    reason: Text = Field("", json_schema_extra=_SHORT)


class FinalDecision(_Lenient):
    """The best answer when no more looking is allowed."""

    evidence: Text = Field("", json_schema_extra=_SHORT, description=QUOTE_DESCRIPTION)
    answer: Text = ""
    clips: ClipNumbers = Field(default_factory=list, json_schema_extra=_BOUNDED)
    spans: Spans = Field(default_factory=list, json_schema_extra=_BOUNDED)
    reason: Text = Field("", json_schema_extra=_SHORT)


class EventPlaces(_Lenient):
    """Where the event a "when" or "how many times" question asks about is shown or said."""

    clips: ClipNumbers = Field(default_factory=list, json_schema_extra=_BOUNDED,
                               description="numbers of every clip that shows or says it")
    spans: Spans = Field(default_factory=list, json_schema_extra=_BOUNDED,
                         description="[[start_s, end_s], …] that show or say it")


class TwoEventPlaces(_Lenient):
    """Where the two events of a "how long after" question are."""

    earlier_clips: ClipNumbers = Field(default_factory=list, json_schema_extra=_BOUNDED,
                                       description="clip numbers of the event that comes first")
    later_clips: ClipNumbers = Field(default_factory=list, json_schema_extra=_BOUNDED,
                                     description="clip numbers of the event that comes after")


def option_places_schema(letters: list[str]) -> type[BaseModel]:
    """{"A": [clip numbers], "B": […], …}: where each option of an order question is shown or said."""
    fields: dict[str, Any] = {
        letter: (ClipNumbers, Field(default_factory=list, json_schema_extra=_BOUNDED,
                                    description=f"clip numbers where option {letter} is shown or said ([] if nowhere)"))
        for letter in letters}
    return create_model("OptionPlaces", __base__=_Lenient, **fields)


# --- the faithful VideoLucy strategy (its JSON keys, as in the original prompts) ----------------------
class LucyAnswer(_Lenient):
    confidence: Flag = Field(False, alias="Confidence")
    answer: Text = Field("No Answer", alias="Answer")
    time_period: Spans = Field(default_factory=list, alias="Time Period")
    reason: Text = Field("", alias="Reason")


class LucyFilter(_Lenient):
    flag: Flag = Field(False, alias="Flag")
    time_periods: Spans = Field(default_factory=list, alias="Time Period")
    reason: Text = Field("", alias="Reason")


class LucyLocalize(_Lenient):
    time_period: Spans = Field(default_factory=list, alias="Time Period")
    instruction: Text = Field("", alias="Instruction")
    reason: Text = Field("", alias="Reason")


class LucyFinal(_Lenient):
    answer: Text = Field("", alias="Answer")
    time_period: Spans = Field(default_factory=list, alias="Time Period")
    reason: Text = Field("", alias="Reason")
