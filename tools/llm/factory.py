"""Build a LangChain chat model from a spec string, so every backbone works the same way.

Specs: "smollm2" (the packaged SmolLM2-135M-Instruct GGUF, offline), "transformers:<path-or-hub-id>",
"gguf:<file>" (dequantised by transformers), "llamacpp:<gguf>" (a loopback llama.cpp server; <gguf> is
"qwen2.5-coder-1.5b" or "smollm2" from packages, a .gguf path, or a hub repo[/file]: tools/llm/gguf_source.py), "openai:<model>", "openai-compatible:<model>" (options base_url,
api_key_env; vLLM, SGLang, llama.cpp server, DeepSeek), "vllm:<model>" (default port 8000),
"ollama:<model>", "anthropic:<model>", any other "provider:model" through langchain's `init_chat_model`,
or a ready `BaseChatModel`.

Remote providers (their default server and key variable) come from `vidrecall.tools.providers`; a
given base_url always wins, so a request never goes to a host the user did not name or the table
does not list for that provider. Remote calls time out after `timeout` seconds (default 120).

Options reserved here: base_url, api_key_env, structured_output ("auto" | "native" | "prompt"). The rest
(temperature, max_tokens, timeout, max_retries, ...) pass through to the model class.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from langchain_core.caches import BaseCache
from langchain_core.language_models import BaseChatModel

from vidrecall.tools.llm.gguf_source import resolve_gguf, smollm2_path
from vidrecall.tools.llm.llamacpp_server import DEFAULT_CONTEXT, LlamaCppServerChat
from vidrecall.tools.llm.local_transformers import LocalTransformersChat
from vidrecall.tools.llm.preflight import API_KEY_ENV_KEY, BackboneError
from vidrecall.tools.llm.structured import STRUCTURED_MODE_KEY
from vidrecall.tools.llm.usage import MODEL_ID_KEY
from vidrecall.tools.providers import PLACEHOLDER_KEY, Provider, Route, provider_of
from vidrecall.core.errors import first_line

DEFAULT_TIMEOUT_S = 120.0  # per request to a remote server, unless llm_options.timeout says otherwise
_RESERVED = ("base_url", "api_key_env", "structured_output")
_STRUCTURED_MODES = ("auto", "native", "prompt")


def make_chat_model(spec: str | BaseChatModel, options: dict | None = None,
                    cache: BaseCache | None = None) -> BaseChatModel:
    options = dict(options or {})
    structured = options.get("structured_output", "auto")
    if structured not in _STRUCTURED_MODES:
        raise BackboneError(f"llm option structured_output={structured!r}: choose one of {list(_STRUCTURED_MODES)}")
    if isinstance(spec, BaseChatModel):
        model = spec
    elif isinstance(spec, str) and spec.strip():
        model = _build(spec.strip(), options)
        model.metadata = {**(model.metadata or {}), MODEL_ID_KEY: spec.strip(),
                          API_KEY_ENV_KEY: options.get("api_key_env") or _default_key_env(spec)}
    else:
        raise BackboneError(f"llm spec {spec!r} is empty or not a string: give e.g. 'smollm2' or 'openai:gpt-4o-mini'")
    if structured != "auto":
        model.metadata = {**(model.metadata or {}), STRUCTURED_MODE_KEY: structured}
    if cache is not None:
        model.cache = cache
    return model


def _build(spec: str, options: dict[str, Any]) -> BaseChatModel:
    passthrough = {k: v for k, v in options.items() if k not in _RESERVED}
    if spec == "smollm2":
        path = smollm2_path()
        return LocalTransformersChat(model_path=str(path.parent), gguf_file=path.name, model_id=spec,
                                     **_local_options(passthrough))
    provider, sep, name = spec.partition(":")
    if not sep or not name:
        raise BackboneError(f"llm spec {spec!r} is not 'provider:model': use e.g. 'smollm2', 'openai:gpt-4o-mini', "
                            "'openai-compatible:<model>' or 'transformers:<path>'")
    if provider == "transformers":
        return LocalTransformersChat(model_path=name, model_id=spec, **_local_options(passthrough))
    if provider == "gguf":
        file = Path(name).expanduser()
        if file.suffix != ".gguf":
            raise BackboneError(f"llm spec {spec!r}: 'gguf:' takes a .gguf file path")
        return LocalTransformersChat(model_path=str(file.parent), gguf_file=file.name, model_id=spec,
                                     **_local_options(passthrough))
    if provider == "llamacpp":
        return _llamacpp(name, spec, passthrough)
    remote = provider_of(spec)
    if remote is not None:
        return _remote(remote, name, spec, options, passthrough)
    return _init_chat_model(provider, name, spec, passthrough)


def _llamacpp(ref: str, spec: str, options: dict[str, Any]) -> BaseChatModel:
    """A loopback llama.cpp server for the GGUF `ref` names (packaged, a path or a hub repo), through the
    OpenAI-compatible client; `n_ctx` and `n_threads` shape the server, the rest the requests."""
    if importlib.util.find_spec("xllamacpp") is None:
        raise BackboneError(f"llm spec {spec!r} needs xllamacpp: pip install xllamacpp")
    server = {"n_ctx": int(options.pop("n_ctx", DEFAULT_CONTEXT)), "n_threads": int(options.pop("n_threads", 0))}
    return LlamaCppServerChat.for_file(resolve_gguf(ref), model_id=spec, **server, **options)


def _local_options(options: dict[str, Any]) -> dict[str, Any]:
    renamed = dict(options)
    renamed.pop("timeout", None)  # in-process: nothing to time out; the question's time budget still applies
    if "max_tokens" in renamed:
        renamed["max_new_tokens"] = renamed.pop("max_tokens")
    settable = set(LocalTransformersChat.model_fields) - set(BaseChatModel.model_fields) - {"model_path", "gguf_file", "model_id"}
    unknown = set(renamed) - settable
    if unknown:
        raise BackboneError(f"llm options {sorted(unknown)} do not apply to a local model; use {sorted(settable)}")
    return renamed


def _default_key_env(spec: str) -> str | None:
    remote = provider_of(spec) if isinstance(spec, str) else None
    return remote.api_key_env if remote else None


def _api_key(env_var: str, spec: str) -> str:
    value = os.environ.get(env_var, "").strip()
    if not value:
        raise BackboneError(f"llm {spec!r} needs an API key: set {env_var}")
    return value


def resolved_base_url(remote: Provider, options: dict[str, Any], spec: str) -> str:
    """The server a remote spec talks to: the user's base_url, else the provider's default; never guessed."""
    base_url = remote.server_for(options)
    if not base_url:
        raise BackboneError(f"llm spec {spec!r} needs a server: set llm_options.base_url or pass --base-url "
                            "(e.g. http://127.0.0.1:8000/v1)")
    return base_url


def _remote(remote: Provider, name: str, spec: str, options: dict[str, Any],
            passthrough: dict[str, Any]) -> BaseChatModel:
    if remote.route is Route.ANTHROPIC and importlib.util.find_spec("langchain_anthropic") is None:
        raise BackboneError(f"llm spec {spec!r} needs langchain-anthropic: pip install langchain-anthropic")
    base_url = resolved_base_url(remote, options, spec)
    key_env = remote.key_env_for(options)
    key = _api_key(key_env, spec) if key_env else PLACEHOLDER_KEY
    passthrough = {"timeout": DEFAULT_TIMEOUT_S, **passthrough}
    if remote.route is Route.ANTHROPIC:
        from langchain_anthropic import ChatAnthropic

        return ChatAnthropic(model=name, api_key=key, base_url=base_url, **passthrough)
    if remote.route is Route.OLLAMA and importlib.util.find_spec("langchain_ollama") is not None:
        from langchain_ollama import ChatOllama

        passthrough.pop("timeout")  # ChatOllama has no request timeout setting; the time budget still bounds it
        return ChatOllama(model=name, base_url=base_url.removesuffix("/v1"), **passthrough)
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    return ChatOpenAI(model=name, base_url=base_url, api_key=SecretStr(key), **passthrough)


def _init_chat_model(provider: str, name: str, spec: str, options: dict[str, Any]) -> BaseChatModel:
    try:
        from langchain.chat_models import init_chat_model
    except ImportError:
        raise BackboneError(f"unknown llm provider {provider!r} in {spec!r}: built in are smollm2, transformers, gguf, "
                            "llamacpp, openai, openai-compatible, ollama, anthropic; for others pip install "
                            "langchain (init_chat_model) and the provider's langchain package") from None
    try:
        return init_chat_model(name, model_provider=provider, **options)
    except (ImportError, ValueError) as exc:
        raise BackboneError(f"llm {spec!r}: {first_line(exc)}") from None
