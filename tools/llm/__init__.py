"""LLM backbones. The interface is LangChain's BaseChatModel; `make_chat_model` builds one from a spec
("smollm2", "transformers:<id>", "openai:<model>", "vllm:<model>", "ollama:<model>", ...), and
`structured_call` turns any of them into typed decisions that never crash the caller."""
from vidrecall.tools.llm.cache import SQLiteResponseCache
from vidrecall.tools.llm.factory import make_chat_model
from vidrecall.tools.llm.preflight import BackboneError, preflight_llm
from vidrecall.tools.llm.structured import Decision, LLMCallError, chat_text, structured_call
from vidrecall.tools.llm.usage import MeterCallback

__all__ = ["BackboneError", "Decision", "LLMCallError", "MeterCallback", "SQLiteResponseCache", "chat_text",
           "make_chat_model", "preflight_llm", "structured_call"]
