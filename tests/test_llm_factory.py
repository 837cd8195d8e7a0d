"""make_chat_model specs and their one-line errors, and build_backbones (config, overrides, cache, preflight)."""
from __future__ import annotations

from pathlib import Path

import pytest
from fakeserver import FakeOpenAIServer, free_port
from langchain_openai import ChatOpenAI

from vidrecall.backbones import Backbones, build_backbones
from vidrecall.core.config import Config
from vidrecall.tools.llm.cache import SQLiteResponseCache
from vidrecall.tools.llm.factory import make_chat_model, smollm2_path
from vidrecall.tools.llm.llamacpp_server import LlamaCppServerChat
from vidrecall.tools.llm.local_transformers import LocalTransformersChat
from vidrecall.tools.llm.preflight import BackboneError, preflight_llm
from vidrecall.tools.llm.structured import supports_native_structured_output


def test_smollm2_is_the_packaged_gguf_and_loads_lazily() -> None:
    model = make_chat_model("smollm2", {"max_new_tokens": 32, "temperature": 0.0})
    assert isinstance(model, LocalTransformersChat)
    assert Path(model.model_path, model.gguf_file) == smollm2_path() and smollm2_path().stat().st_size > 50e6
    assert model.max_new_tokens == 32 and model.metadata["vidrecall_model_id"] == "smollm2"
    preflight_llm(model)  # checks the file, loads nothing


def test_local_specs_parse_paths(tmp_path: Path) -> None:
    gguf = make_chat_model(f"gguf:{tmp_path / 'm.gguf'}")
    assert (gguf.model_path, gguf.gguf_file) == (str(tmp_path), "m.gguf")
    hub = make_chat_model("transformers:Qwen/Qwen2.5-VL-7B-Instruct", {"dtype": "bfloat16", "device": "cuda"})
    assert (hub.model_path, hub.gguf_file, hub.dtype, hub.device) == ("Qwen/Qwen2.5-VL-7B-Instruct", None,
                                                                      "bfloat16", "cuda")
    assert supports_native_structured_output(hub)
    with pytest.raises(BackboneError, match="'gguf:' takes a .gguf file"):
        make_chat_model(f"gguf:{tmp_path / 'model.bin'}")
    with pytest.raises(BackboneError, match=r"options \['top_k'\] do not apply"):
        make_chat_model("smollm2", {"top_k": 5})


def test_hub_id_missing_offline_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(BackboneError, match="not in the local Hugging Face cache"):
        preflight_llm(make_chat_model("transformers:someone/not-downloaded-model"))


@pytest.mark.parametrize("spec, options, message", [
    ("", None, "is empty"),
    ("gpt-4o-mini", None, "is not 'provider:model'"),
    ("openai-compatible:qwen", None, "set llm_options.base_url"),
    ("openai-compatible:deepseek-chat", {"base_url": "https://api.deepseek.com/v1",
                                         "api_key_env": "VIDRECALL_UNSET_KEY"}, "set VIDRECALL_UNSET_KEY"),
    ("openai:gpt-4o-mini", None, "set OPENAI_API_KEY"),
    ("anthropic:claude-sonnet-4", None, "pip install langchain-anthropic"),
    ("mistralai:mistral-large", None, "pip install langchain"),
    ("llamacpp:/models/x.gguf", None, "no GGUF file '/models/x.gguf': fix the path"),
    ("smollm2", {"structured_output": "grammar"}, "structured_output='grammar'"),
])
def test_bad_specs_fail_with_one_line_naming_the_fix(spec, options, message, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("VIDRECALL_UNSET_KEY", raising=False)
    with pytest.raises(BackboneError, match=message) as info:
        make_chat_model(spec, options)
    assert "\n" not in str(info.value)


def test_api_specs_build_langchain_models_with_options(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-live-abcdef0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    model = make_chat_model("openai:gpt-4o-mini", {"temperature": 0.1, "max_tokens": 300, "timeout": 20})
    assert isinstance(model, ChatOpenAI)
    assert (model.model_name, model.temperature, model.max_tokens) == ("gpt-4o-mini", 0.1, 300)
    assert model.openai_api_key.get_secret_value() == secret and secret not in repr(model)
    local_server = make_chat_model("openai-compatible:Qwen/Qwen2.5-VL-7B-Instruct",
                                   {"base_url": "http://127.0.0.1:8000/v1", "structured_output": "prompt"})
    assert local_server.openai_api_base == "http://127.0.0.1:8000/v1"
    assert not supports_native_structured_output(local_server)
    assert make_chat_model("vllm:Qwen/Qwen2.5-7B").openai_api_base == "http://127.0.0.1:8000/v1"
    ollama = make_chat_model("ollama:qwen2.5:7b")
    assert "11434" in str(getattr(ollama, "openai_api_base", None) or getattr(ollama, "base_url", ""))


def test_a_chat_model_object_passes_through_and_gets_the_cache(store_dir: Path) -> None:
    model = make_chat_model("openai-compatible:m", {"base_url": "http://127.0.0.1:9/v1"})
    cache = SQLiteResponseCache(store_dir)
    assert make_chat_model(model, cache=cache) is model and model.cache is cache


@pytest.fixture
def ocr_captioner():
    from vidrecall.tools.captioners.factory import make_captioner

    return make_captioner("ocr")


def test_build_backbones_from_the_offline_config(store_dir: Path, embedder, ocr_captioner) -> None:
    config = Config(store_dir=str(store_dir))
    backbones = build_backbones(config, vlm=ocr_captioner, embedder=embedder)
    assert isinstance(backbones, Backbones)
    assert isinstance(backbones.llm, LlamaCppServerChat) and backbones.llm.gguf_path.endswith("q4_k_m.gguf")
    assert backbones.captioner is ocr_captioner and backbones.embedder is embedder
    assert isinstance(backbones.llm.cache, SQLiteResponseCache)
    assert (store_dir / "llm_cache.db").exists()
    from_specs = build_backbones(config.replace(cache_responses=False), embedder=embedder)
    assert from_specs.llm.cache is None and from_specs.captioner.id.startswith("ocr")


def test_build_backbones_prefers_objects_and_preflights_the_llm(store_dir: Path, embedder, ocr_captioner) -> None:
    with FakeOpenAIServer() as server:
        llm = make_chat_model("openai-compatible:m", {"base_url": server.base_url})
        config = Config(store_dir=str(store_dir), llm="openai:never-built")
        backbones = build_backbones(config, llm=llm, vlm=ocr_captioner, embedder=embedder)
        assert backbones.llm is llm and llm.cache is None  # a model passed in keeps its owner's cache setting
        build_backbones(config, llm=llm, vlm=ocr_captioner, embedder=embedder, cache_given_llm=True)
        assert isinstance(llm.cache, SQLiteResponseCache)
        assert any(r.path.endswith("/models") for r in server.requests)  # preflight asked the server
    dead = Config(store_dir=str(store_dir), llm="openai-compatible:m",
                  llm_options={"base_url": f"http://127.0.0.1:{free_port()}/v1"})
    with pytest.raises(BackboneError, match="start the server or fix base_url"):
        build_backbones(dead, vlm=ocr_captioner, embedder=embedder)
    build_backbones(dead, vlm=ocr_captioner, embedder=embedder, preflight=False)  # no check, no error
