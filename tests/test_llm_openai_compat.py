"""The OpenAI-compatible path (vLLM, SGLang, llama.cpp server, DeepSeek, OpenAI) against a real HTTP server on
127.0.0.1 that speaks chat completions: request shape, retries, timeouts, keys, unreachable servers."""
from __future__ import annotations

import json

import pytest
from fakeserver import FakeOpenAIServer, Reply, free_port
from pydantic import BaseModel

from vidrecall.core.accounting import CostMeter
from vidrecall.tools.llm.factory import make_chat_model
from vidrecall.tools.llm.preflight import BackboneError, check_llm_server_first, preflight_llm
from vidrecall.tools.llm.structured import LLMCallError, chat_text, structured_call

KEY = "sk-test-0123456789abcdef"
KEY_ENV = "VIDRECALL_TEST_LLM_KEY"


class Decision(BaseModel):
    answer: str
    confidence: float


FALLBACK = Decision(answer="", confidence=0.0)
VALID = '{"answer": "room 42", "confidence": 0.9}'


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with FakeOpenAIServer(api_key=KEY, models=("qwen2.5-7b",)) as srv:
        yield srv


def compat_model(base_url: str, **options):
    return make_chat_model("openai-compatible:qwen2.5-7b",
                           {"base_url": base_url, "api_key_env": KEY_ENV, "max_retries": 0, **options})


def test_request_carries_the_schema_and_usage_is_recorded(server: FakeOpenAIServer) -> None:
    server.script(Reply(content=VALID, usage={"prompt_tokens": 123, "completion_tokens": 11, "total_tokens": 134}))
    meter = CostMeter()
    decision = structured_call(compat_model(server.base_url, temperature=0.2, max_tokens=64),
                               [("system", "Answer briefly."), ("human", "Which room?")], Decision,
                               fallback=FALLBACK, role="answer", meter=meter)
    assert decision.ok and decision.value == Decision(answer="room 42", confidence=0.9)
    request = server.chat_requests()[0]
    assert {k.lower(): v for k, v in request.headers.items()}["authorization"] == f"Bearer {KEY}"
    body = request.json
    assert body["model"] == "qwen2.5-7b" and body["temperature"] == 0.2
    assert body.get("max_completion_tokens", body.get("max_tokens")) == 64
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["answer", "confidence"]
    usage = meter.calls[0]
    assert (usage.model, usage.role, usage.tokens_in, usage.tokens_out, usage.cached) == (
        "openai-compatible:qwen2.5-7b", "answer", 123, 11, False)


def test_server_error_is_retried_then_succeeds(server: FakeOpenAIServer) -> None:
    server.script(Reply(status=500), VALID)
    meter = CostMeter()
    decision = structured_call(compat_model(server.base_url), "Which room?", Decision, fallback=FALLBACK, meter=meter)
    assert decision.ok and decision.attempts == 2
    assert len(server.chat_requests()) == 2
    assert [u.ok for u in meter.calls] == [False, True]


def test_persistent_server_errors_end_in_the_fallback(server: FakeOpenAIServer) -> None:
    server.script(*[Reply(status=503)] * 3)
    decision = structured_call(compat_model(server.base_url), "Which room?", Decision, fallback=FALLBACK, retries=2)
    assert not decision.ok and decision.value is FALLBACK and decision.attempts == 3
    assert "503" in decision.error and "\n" not in decision.error


def test_server_without_json_schema_support_is_asked_through_the_prompt(server: FakeOpenAIServer) -> None:
    server.script(Reply(status=400, body={"error": {"message": "response_format json_schema is not supported",
                                                    "type": "invalid_request_error"}}),
                  f"Here you go:\n```json\n{VALID}\n```")
    decision = structured_call(compat_model(server.base_url), "Which room?", Decision, fallback=FALLBACK)
    assert decision.ok and decision.attempts == 2
    first, second = server.chat_requests()
    assert "response_format" in first.json and "response_format" not in second.json
    assert '"answer": "..."' in second.text()  # the schema travels in the prompt instead


def test_malformed_reply_is_re_asked_with_the_validation_error(server: FakeOpenAIServer) -> None:
    server.script("{'answer': 'room 42'}", VALID)
    meter = CostMeter()
    decision = structured_call(compat_model(server.base_url), "Which room?", Decision, fallback=FALLBACK, meter=meter)
    assert decision.ok and decision.attempts == 2 and meter.malformed_outputs == 1
    retry = server.chat_requests()[1].json["messages"]
    assert retry[-2] == {"role": "assistant", "content": "{'answer': 'room 42'}"}
    assert "confidence: Field required" in retry[-1]["content"]


def test_timeout_counts_as_a_failed_attempt(server: FakeOpenAIServer) -> None:
    server.script(Reply(content=VALID, delay_s=2.0), VALID)
    model = compat_model(server.base_url, timeout=0.5)
    decision = structured_call(model, "Which room?", Decision, fallback=FALLBACK, retries=1)
    assert decision.ok and decision.attempts == 2
    server.script(Reply(content=VALID, delay_s=2.0))
    slow = structured_call(model, "Which room now?", Decision, fallback=FALLBACK, retries=0)
    assert not slow.ok and "Timeout" in slow.error


def test_wrong_key_fails_fast_in_one_line_without_the_key(server: FakeOpenAIServer, monkeypatch) -> None:
    wrong = "sk-wrong-abcdefghijklmnop"
    monkeypatch.setenv(KEY_ENV, wrong)
    model = compat_model(server.base_url)
    with pytest.raises(BackboneError) as info:
        preflight_llm(model)
    message = str(info.value)
    assert "rejected the API key" in message and KEY_ENV in message
    assert wrong not in message and "\n" not in message
    decision = structured_call(model, "Which room?", Decision, fallback=FALLBACK, retries=2)
    assert not decision.ok and decision.attempts == 1  # a rejected key is not retried
    assert wrong not in decision.error and "401" in decision.error
    assert wrong not in repr(model) and wrong not in str(model.model_dump())
    with pytest.raises(LLMCallError) as call_error:
        chat_text(model, "hello")
    assert wrong not in str(call_error.value)


def test_unreachable_server_fails_preflight_and_calls_return_not_ok() -> None:
    model = make_chat_model("openai-compatible:qwen2.5-7b",
                            {"base_url": f"http://127.0.0.1:{free_port()}/v1", "max_retries": 0})
    with pytest.raises(BackboneError, match="cannot reach the LLM server .*start the server or fix base_url"):
        preflight_llm(model)
    decision = structured_call(model, "Which room?", Decision, fallback=FALLBACK, retries=1)
    assert not decision.ok and decision.attempts == 2 and "Connection" in decision.error


def test_healthy_server_passes_preflight_and_answers_plain_text(server: FakeOpenAIServer) -> None:
    model = compat_model(server.base_url)
    preflight_llm(model)
    server.script("<think>the card says 42</think>The meeting is in room 42.")
    meter = CostMeter()
    assert chat_text(model, "Which room?", role="answer", meter=meter) == "The meeting is in room 42."
    assert "response_format" not in server.chat_requests()[-1].json
    assert meter.llm_calls == 1 and meter.tokens_out > 0
    assert json.loads(json.dumps(meter.summary()))["llm_calls"] == 1


def test_meter_callback_accounts_direct_model_calls(server: FakeOpenAIServer) -> None:
    from vidrecall.tools.llm.usage import MeterCallback

    meter = CostMeter()
    model = compat_model(server.base_url)
    server.script(Reply(content="a caption", usage={"prompt_tokens": 50, "completion_tokens": 2, "total_tokens": 52}),
                  Reply(status=500))
    model.invoke("Describe.", config={"callbacks": [MeterCallback(meter, role="caption", model=model)]})
    with pytest.raises(Exception):
        model.invoke("Describe again.", config={"callbacks": [MeterCallback(meter, role="caption", model=model)]})
    assert [(u.model, u.role, u.tokens_in, u.tokens_out, u.ok) for u in meter.calls] == [
        ("openai-compatible:qwen2.5-7b", "caption", 50, 2, True),
        ("openai-compatible:qwen2.5-7b", "caption", 0, 0, False)]


def test_the_server_is_checked_before_any_client_is_built(server: FakeOpenAIServer, monkeypatch) -> None:
    """`vidrecall check` asks GET /models from the spec and options alone, before the client's imports."""
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(BackboneError, match=f"cannot reach the LLM server at {dead}"):
        check_llm_server_first("openai-compatible:qwen2.5-7b", {"base_url": dead})
    check_llm_server_first("openai-compatible:qwen2.5-7b", {"base_url": server.base_url, "api_key_env": KEY_ENV})
    models = [r for r in server.requests if r.path.rstrip("/").endswith("/models")]
    assert len(models) == 1 and models[0].headers.get("Authorization") == f"Bearer {KEY}"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    check_llm_server_first("openai:gpt-4o-mini", {})  # no key: left to the factory, which names the variable
    check_llm_server_first("smollm2", {})  # a local model: nothing to reach
    assert len([r for r in server.requests if r.path.rstrip("/").endswith("/models")]) == 1
