"""Backbone choices merge into the profile's options, and both factories read the one provider table."""
from __future__ import annotations

import pytest

from vidrecall.backbones import BackboneChoices, with_backbone_choices
from vidrecall.core.config import load_config
from vidrecall.tools import providers
from vidrecall.tools.captioners.base import CaptionerError
from vidrecall.tools.captioners.factory import make_captioner
from vidrecall.tools.llm.factory import make_chat_model
from vidrecall.tools.llm.preflight import BackboneError

URL = "http://127.0.0.1:9001/v1"


def test_base_url_merges_into_the_profiles_options_instead_of_replacing_them() -> None:
    vllm = load_config("vllm")
    merged = with_backbone_choices(vllm, BackboneChoices(base_url=URL, api_key_env="MY_KEY"))
    assert merged.llm_options == {**vllm.llm_options, "base_url": URL, "api_key_env": "MY_KEY"}
    assert merged.captioner_options["max_concurrency"] == vllm.captioner_options["max_concurrency"]
    assert merged.captioner_options["base_url"] == URL  # neither named: every remote backbone moves


def test_flags_go_to_the_backbone_they_name_and_never_to_a_local_one() -> None:
    offline = load_config("offline")
    llm_only = with_backbone_choices(offline, BackboneChoices(llm="openai-compatible:m", base_url=URL))
    assert (llm_only.llm, llm_only.llm_options) == ("openai-compatible:m", {"base_url": URL})
    assert llm_only.captioner == "ocr" and llm_only.captioner_options == offline.captioner_options
    vlm_only = with_backbone_choices(offline, BackboneChoices(vlm="vllm:qwen+ocr", base_url=URL))
    assert vlm_only.llm == "llamacpp:qwen2.5-coder-1.5b" and "base_url" not in vlm_only.llm_options
    assert vlm_only.captioner_options == {"base_url": URL}
    assert with_backbone_choices(offline, BackboneChoices(base_url=URL)) == offline  # nothing remote to move


def test_another_provider_starts_from_its_own_options() -> None:
    videolucy = load_config("videolucy")  # deepseek's base_url and key variable
    moved = with_backbone_choices(videolucy, BackboneChoices(llm="openai:gpt-4o-mini"))
    assert moved.llm_options == {}, "deepseek's server would have received the OpenAI key"
    same = with_backbone_choices(videolucy, BackboneChoices(llm="openai-compatible:deepseek-reasoner"))
    assert same.llm_options == videolucy.llm_options


def test_both_factories_read_the_provider_table(monkeypatch) -> None:
    table = dict(providers.PROVIDERS)
    table["vllm"] = providers.Provider("vllm", providers.Route.OPENAI, URL, None, False, True)
    monkeypatch.setattr(providers, "PROVIDERS", table)
    llm = make_chat_model("vllm:qwen")
    captioner = make_captioner("vllm:qwen")
    assert llm.openai_api_base == URL and captioner.base_url == URL
    assert llm.request_timeout == 120.0  # every remote call has a timeout


def test_a_provider_without_a_default_server_needs_one_in_both_factories() -> None:
    with pytest.raises(BackboneError, match="needs a server"):
        make_chat_model("openai-compatible:m")
    with pytest.raises(CaptionerError, match="needs a server"):
        make_captioner("openai-compatible:m")


def test_a_keyless_provider_never_sends_the_openai_key(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-local-servers-123456")
    captioner = make_captioner("openai-compatible:m", {"base_url": URL})
    assert "Authorization" not in captioner._headers()
    llm = make_chat_model("openai-compatible:m", {"base_url": URL})
    assert llm.openai_api_key.get_secret_value() != "sk-not-for-local-servers-123456"
