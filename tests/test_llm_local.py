"""The local transformers chat model, for real: a tiny random-weight Llama built and saved here (fast,
exercises the chat template, generate, usage and options), and the packaged SmolLM2-135M GGUF (slow load)."""
from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage
from pydantic import BaseModel

from vidrecall.core.accounting import CostMeter
from vidrecall.tools.llm.factory import make_chat_model
from vidrecall.tools.llm.local_transformers import LocalTransformersChat
from vidrecall.tools.llm.preflight import BackboneError, preflight_llm
from vidrecall.tools.llm.structured import chat_text, structured_call

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
WORDS = ("the meeting is in room 42 which what where answer question context video a man dog kitchen { } : "
         "\" , yes no").split()


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random Llama with a word-level ChatML tokenizer, saved like any HF model folder."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<|im_start|>", "<|im_end|>"]
    vocab = {tok: i for i, tok in enumerate(specials + ["user", "system", "assistant", "\n"] + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit()])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", eos_token="<|im_end|>",
                                        pad_token="<|im_end|>", additional_special_tokens=specials[1:])
    tokenizer.chat_template = CHATML
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                         eos_token_id=vocab["<|im_end|>"], pad_token_id=vocab["<|im_end|>"])
    path = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_tiny_model_generates_greedily_with_usage(tiny_model_dir: Path) -> None:
    model = make_chat_model(f"transformers:{tiny_model_dir}", {"max_new_tokens": 6})
    assert isinstance(model, LocalTransformersChat)
    prompt = [("system", "answer the question"), ("human", "where is the meeting")]
    first, second = model.invoke(prompt), model.invoke(prompt)
    assert isinstance(first, AIMessage) and first.content == second.content  # greedy: deterministic
    tokenizer, _ = model.load()
    templated = tokenizer.apply_chat_template([{"role": "system", "content": "answer the question"},
                                               {"role": "user", "content": "where is the meeting"}],
                                              add_generation_prompt=True, return_dict=True)["input_ids"]
    assert first.usage_metadata["input_tokens"] == len(templated)
    assert 1 <= first.usage_metadata["output_tokens"] <= 6


def test_tiny_model_options_and_json_prefill(tiny_model_dir: Path) -> None:
    model = make_chat_model(f"transformers:{tiny_model_dir}", {"max_tokens": 3})
    assert model.max_new_tokens == 3
    reply = model.invoke("where is the meeting", max_new_tokens=2)
    assert reply.usage_metadata["output_tokens"] <= 2
    json_reply = model.invoke("where is the meeting", response_format={"type": "json_object"})
    assert json_reply.content.startswith("{")


def test_weights_load_once_per_process(tiny_model_dir: Path) -> None:
    a = make_chat_model(f"transformers:{tiny_model_dir}")
    b = make_chat_model(f"transformers:{tiny_model_dir}", {"max_new_tokens": 3})
    assert a.load()[1] is b.load()[1]


def test_structured_call_on_a_real_local_model_never_raises(tiny_model_dir: Path) -> None:
    class Answer(BaseModel):
        answer: str
        confidence: float

    meter = CostMeter()
    model = make_chat_model(f"transformers:{tiny_model_dir}", {"max_new_tokens": 8})
    decision = structured_call(model, "where is the meeting", Answer, fallback=Answer(answer="?", confidence=0),
                               retries=1, role="answer", meter=meter)
    # random weights write word salad: the point is the bounded, accounted, exception-free failure
    assert decision.attempts == 2 and not decision.ok and decision.value.answer == "?"
    assert all(raw.startswith("{") for raw in decision.raw)
    assert meter.malformed_outputs == 2 and meter.llm_calls == 2 and meter.tokens_in > 0


def test_preflight_reports_missing_local_weights(tmp_path: Path, tiny_model_dir: Path) -> None:
    preflight_llm(make_chat_model(f"transformers:{tiny_model_dir}"))
    with pytest.raises(BackboneError, match="no model at .*missing"):
        preflight_llm(make_chat_model(f"transformers:{tmp_path / 'missing'}"))
    with pytest.raises(BackboneError, match="has no config.json"):
        preflight_llm(make_chat_model(f"transformers:{tmp_path}"))
    with pytest.raises(BackboneError, match="no GGUF file"):
        preflight_llm(make_chat_model(f"gguf:{tmp_path / 'model.gguf'}"))


@pytest.fixture(scope="session")
def smollm2() -> LocalTransformersChat:
    """The packaged SmolLM2-135M-Instruct, loaded once (dequantising the GGUF takes ~30 s on 2 cores)."""
    model = make_chat_model("smollm2", {"max_new_tokens": 48})
    preflight_llm(model)
    model.load()
    return model


@pytest.mark.slow
def test_smollm2_answers_from_the_given_context(smollm2: LocalTransformersChat) -> None:
    meter = CostMeter()
    text = chat_text(smollm2, [("system", "Answer from the context only."),
                               ("human", "Context: The meeting is in room 42.\n"
                                         "Question: Which room is the meeting in?")],
                     role="answer", meter=meter)
    assert "42" in text
    assert meter.calls[0].model == "smollm2" and meter.calls[0].tokens_out > 0


@pytest.mark.slow
def test_smollm2_gives_a_valid_structured_decision(smollm2: LocalTransformersChat) -> None:
    class Answer(BaseModel):
        answer: str
        confidence: float

    decision = structured_call(smollm2, [("system", "You answer questions about a video."),
                                         ("human", "Context: The meeting is in room 42.\n"
                                                   "Question: Which room is the meeting in?")],
                               Answer, fallback=Answer(answer="", confidence=0))
    assert decision.ok, decision.error
    assert "42" in decision.value.answer


def test_local_model_replies_are_cached(tiny_model_dir: Path, store_dir: Path) -> None:
    from vidrecall.tools.llm.cache import SQLiteResponseCache

    cache = SQLiteResponseCache(store_dir)
    model = make_chat_model(f"transformers:{tiny_model_dir}", {"max_new_tokens": 4}, cache=cache)
    meter = CostMeter()
    first, second = chat_text(model, "where is the meeting", meter=meter), chat_text(model, "where is the meeting",
                                                                                      meter=meter)
    assert first == second and [u.cached for u in meter.calls] == [False, True]
    longer = make_chat_model(f"transformers:{tiny_model_dir}", {"max_new_tokens": 5}, cache=cache)
    chat_text(longer, "where is the meeting", meter=meter)
    assert meter.calls[-1].cached is False and len(cache) == 2


def test_a_local_model_stops_generating_at_the_deadline_instead_of_being_abandoned(tiny_model_dir: Path,
                                                                                   store_dir: Path,
                                                                                   monkeypatch) -> None:
    """Random weights never stop on their own (no token cap here): the deadline has to stop `generate`, in
    the caller's thread, so no thread is left inside torch (which kills the process at exit); the partial
    reply is not a reply and is not cached. (tests/test_llm_deadline.py runs the same through the CLI.)"""
    import threading
    import time

    from vidrecall.tools.llm.cache import SQLiteResponseCache

    class Answer(BaseModel):
        answer: str

    # random text can close a JSON value by chance; this test is about the deadline, so that stop is off
    monkeypatch.setattr("vidrecall.tools.llm.local_transformers.closes_first_value", lambda text: False)
    cache = SQLiteResponseCache(store_dir)
    model = make_chat_model(f"transformers:{tiny_model_dir}", {"max_new_tokens": 100_000}, cache=cache)
    model.load()
    meter = CostMeter()
    # remote calls abandoned by earlier tests in this process may still be running: count only new threads
    before = {t for t in threading.enumerate() if t.name == "vidrecall-llm-call"}
    started = time.monotonic()
    decision = structured_call(model, "where is the meeting", Answer, fallback=Answer(answer="?"), meter=meter,
                               deadline=started + 1.0)
    took = time.monotonic() - started
    assert decision.out_of_time and not decision.ok and decision.call_error is None
    # without the stop, 100,000 tokens would take minutes; one more token on a loaded CPU may take a while
    assert 1.0 <= took < 8.0, f"generation ran {took:.2f} s past a 1 s deadline"
    assert not [t for t in threading.enumerate() if t.name == "vidrecall-llm-call" and t not in before], \
        "a call was abandoned"
    assert [u.out_of_time for u in meter.calls] == [True] and len(cache) == 0
