"""The SQLite response cache: an identical call is answered from disk (no request reaches the server) and is
reported as cached; different parameters or messages miss; a disabled cache never hits."""
from __future__ import annotations

from pathlib import Path

import pytest
from fakeserver import FakeOpenAIServer, Reply
from pydantic import BaseModel

from vidrecall.backbones import response_cache_for
from vidrecall.core.config import Config
from vidrecall.core.accounting import CostMeter
from vidrecall.tools.llm.cache import SQLiteResponseCache
from vidrecall.tools.llm.factory import make_chat_model
from vidrecall.tools.llm.structured import chat_text, structured_call


class Decision(BaseModel):
    answer: str
    confidence: float


VALID = '{"answer": "room 42", "confidence": 0.9}'


@pytest.fixture
def server():
    with FakeOpenAIServer(default=Reply(content=VALID)) as srv:
        yield srv


def model_for(server: FakeOpenAIServer, cache, **options):
    return make_chat_model("openai-compatible:m", {"base_url": server.base_url, "max_retries": 0, **options},
                           cache=cache)


def test_identical_call_is_a_hit_and_reported_cached(server: FakeOpenAIServer, store_dir: Path) -> None:
    cache = SQLiteResponseCache(store_dir)
    assert cache.path == store_dir / "llm_cache.db"
    model = model_for(server, cache)
    meter = CostMeter()
    first = structured_call(model, "Which room?", Decision, fallback=Decision(answer="", confidence=0), meter=meter)
    second = structured_call(model, "Which room?", Decision, fallback=Decision(answer="", confidence=0), meter=meter)
    assert first.value == second.value and second.ok
    assert len(server.chat_requests()) == 1
    assert [u.cached for u in meter.calls] == [False, True]
    assert meter.cache_hits == 1 and meter.llm_calls == 1
    assert meter.calls[1].tokens_in == meter.calls[0].tokens_in  # what the call would have cost


def test_cache_survives_a_new_process_view_of_the_file(server: FakeOpenAIServer, store_dir: Path) -> None:
    chat_text(model_for(server, SQLiteResponseCache(store_dir)), "Which room?")
    reopened = SQLiteResponseCache(store_dir / "llm_cache.db")
    meter = CostMeter()
    assert chat_text(model_for(server, reopened), "Which room?", meter=meter) == VALID
    assert len(server.chat_requests()) == 1 and meter.calls[0].cached
    assert len(reopened) == 1
    reopened.clear()
    assert len(reopened) == 0
    chat_text(model_for(server, reopened), "Which room?")
    assert len(server.chat_requests()) == 2


def test_different_parameters_or_messages_miss(server: FakeOpenAIServer, store_dir: Path) -> None:
    cache = SQLiteResponseCache(store_dir)
    chat_text(model_for(server, cache), "Which room?")
    chat_text(model_for(server, cache, temperature=0.7), "Which room?")
    chat_text(model_for(server, cache), "Which floor?")
    chat_text(make_chat_model("openai-compatible:other-model", {"base_url": server.base_url, "max_retries": 0},
                              cache=cache), "Which room?")
    assert len(server.chat_requests()) == 4
    assert len(cache) == 4


def test_disabled_cache_never_hits(server: FakeOpenAIServer, store_dir: Path) -> None:
    config = Config(store_dir=str(store_dir), cache_responses=False)
    assert response_cache_for(config) is None
    model = model_for(server, response_cache_for(config))
    meter = CostMeter()
    chat_text(model, "Which room?", meter=meter)
    chat_text(model, "Which room?", meter=meter)
    assert len(server.chat_requests()) == 2 and meter.cache_hits == 0
    assert not (store_dir / "llm_cache.db").exists()
    enabled = response_cache_for(Config(store_dir=str(store_dir)))
    assert isinstance(enabled, SQLiteResponseCache) and enabled.path == store_dir / "llm_cache.db"


def test_failed_calls_are_not_cached(server: FakeOpenAIServer, store_dir: Path) -> None:
    cache = SQLiteResponseCache(store_dir)
    server.script(Reply(status=500))
    decision = structured_call(model_for(server, cache), "Which room?", Decision,
                               fallback=Decision(answer="", confidence=0), retries=1)
    assert decision.ok and decision.attempts == 2 and len(cache) == 1
