"""The three models a question needs (LLM, captioner, embedder), built once from a Config.

Objects passed in win over the config's specs. With `preflight=True` both models are checked before
any video work, so a missing key or a dead server fails in the first second with the fix.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel

from vidrecall.core.config import Config
from vidrecall.tools.llm.cache import CACHE_FILENAME, SQLiteResponseCache
from vidrecall.tools.llm.factory import make_chat_model
from vidrecall.tools.llm.preflight import preflight_llm


@dataclass
class Backbones:
    llm: BaseChatModel
    captioner: Any  # vidrecall.tools.captioners.base.Captioner
    embedder: Any  # vidrecall.memory.embedder.Embedder


def response_cache_for(config: Config) -> SQLiteResponseCache | None:
    if not config.cache_responses:
        return None
    return SQLiteResponseCache(config.store_path / CACHE_FILENAME)


def build_backbones(config: Config, llm: BaseChatModel | str | None = None, vlm: Any = None, embedder: Any = None,
                    preflight: bool = True) -> Backbones:
    from vidrecall.memory.embedder import load_embedder
    from vidrecall.tools.captioners.factory import make_captioner

    cache = response_cache_for(config)
    if isinstance(llm, BaseChatModel):
        chat_model = make_chat_model(llm, cache=cache if llm.cache is None else None)
    else:
        chat_model = make_chat_model(llm or config.llm, config.llm_options if llm is None else None, cache=cache)
    if vlm is None or isinstance(vlm, str):
        captioner = make_captioner(vlm or config.captioner, config.captioner_options if vlm is None else None)
    else:
        captioner = vlm
    if embedder is None or isinstance(embedder, str):
        embedder = load_embedder(embedder or config.embedder)
    if preflight:
        preflight_llm(chat_model)
        captioner.preflight()
    return Backbones(llm=chat_model, captioner=captioner, embedder=embedder)
