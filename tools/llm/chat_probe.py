"""`vidrecall check`'s deepest test of an LLM: one uncached one-token reply, so a model that loads its
config but cannot chat (wrong model class, a broken chat template, a server that rejects the model) fails
there with its cause instead of during a question."""
from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

from vidrecall.tools.llm.preflight import BackboneError, describe_error
from vidrecall.tools.llm.usage import model_id

_LENGTH_FIELDS = ("max_new_tokens", "max_tokens", "max_completion_tokens", "num_predict")


def check_can_chat(model: BaseChatModel) -> None:
    """Raise BackboneError (one line, key-free, with the cause) when `model` cannot produce a reply."""
    fields = type(model).model_fields
    short = {name: 1 for name in _LENGTH_FIELDS[:2] if name in fields}
    probe = model.model_copy(update={"cache": False, **short})
    try:
        probe.invoke([HumanMessage(content="Reply with the word OK.")])
    except Exception as exc:  # noqa: BLE001 - any failure to chat is what this check reports
        raise BackboneError(f"the LLM {model_id(model)} cannot chat: {describe_error(exc, model)}") from None
