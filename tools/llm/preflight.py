"""Fail fast on a bad LLM configuration, before any video work, with one line that says the fix.

Cheap by design: a file check for local weights, one GET /models for a server. It runs before the
captioner and the embedder load (vidrecall/backbones.py), so a dead server or a missing key is
reported within about a second.

Also turns any exception from a model call into one key-free line (`describe_error`): API keys come
from the environment and must never reach logs, errors or reprs.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Sequence

import httpx

from vidrecall.tools.http_checks import check_models_endpoint
from vidrecall.tools.llm.errors import BackboneError
from vidrecall.tools.providers import Route, provider_of

API_KEY_ENV_KEY = "vidrecall_api_key_env"  # model.metadata: which env var held the key (for messages)
PREFLIGHT_TIMEOUT_S = 5.0  # a server that accepts but does not answer GET /models
PREFLIGHT_CONNECT_S = 2.0  # a host that drops packets; loopback refuses at once
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-*]{6,}")  # OpenAI-style keys echoed back in error bodies


def secret_values(model: Any) -> list[str]:
    values = []
    for attr in ("openai_api_key", "anthropic_api_key", "api_key"):
        secret = getattr(model, attr, None)
        getter = getattr(secret, "get_secret_value", None)
        if getter and getter():
            values.append(getter())
    return values


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return _KEY_LIKE.sub("***", text)


def describe_error(exc: BaseException, model: Any = None) -> str:
    """`ExcType: first line of the message`, with anything key-like removed."""
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return redact(f"{type(exc).__name__}: {first}", secret_values(model) if model is not None else [])


def preflight_llm(model: Any) -> None:
    """Raise BackboneError when `model` cannot work: missing weights, unreachable server, rejected key."""
    from vidrecall.tools.llm.llamacpp_server import LlamaCppServerChat
    from vidrecall.tools.llm.local_transformers import LocalTransformersChat

    if isinstance(model, LocalTransformersChat):
        _check_local_weights(model.model_path, model.gguf_file)
        return
    if isinstance(model, LlamaCppServerChat):  # our own loopback server: it starts with the first question
        if not Path(model.gguf_path).is_file():
            raise BackboneError(f"no GGUF file {model.gguf_path!r}: fix the path in the llm spec")
        return
    base_url = _openai_base_url(model)
    if base_url is not None:
        _check_openai_server(model, base_url)


def _check_local_weights(model_path: str, gguf_file: str | None) -> None:
    path = Path(model_path).expanduser()
    if gguf_file:
        if not (path / gguf_file).is_file():
            raise BackboneError(f"no GGUF file {str(path / gguf_file)!r}: fix the path in the llm spec")
        return
    if path.exists():
        if not (path / "config.json").is_file():
            raise BackboneError(f"{str(path)!r} has no config.json: point the llm spec at a transformers model folder")
        return
    if _looks_like_path(model_path):
        raise BackboneError(f"no model at {model_path!r}: fix the path in the llm spec")
    if os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True"):
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(model_path, "config.json"), str):
            raise BackboneError(f"{model_path!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set: "
                                "download it once online or give a local path")


def _looks_like_path(spec: str) -> bool:
    return spec.startswith(("/", ".", "~")) or spec.count("/") != 1 or spec.endswith((".gguf", ".bin"))


def _openai_base_url(model: Any) -> str | None:
    try:
        from langchain_openai.chat_models.base import BaseChatOpenAI
    except ImportError:
        return None
    if not isinstance(model, BaseChatOpenAI):
        return None
    return (model.openai_api_base or "https://api.openai.com/v1").rstrip("/")


def _check_openai_server(model: Any, base_url: str) -> None:
    secrets = secret_values(model)
    _check_llm_models(base_url, secrets[0] if secrets else None,
                      (getattr(model, "metadata", None) or {}).get(API_KEY_ENV_KEY))


def _check_llm_models(base_url: str, key: str | None, key_env: str | None) -> None:
    check_models_endpoint(base_url, {"Authorization": f"Bearer {key}"} if key else {}, server="LLM server",
                          fix="start the server or fix base_url", key_hint=key_env or "the API key variable",
                          error=BackboneError, timeout=httpx.Timeout(PREFLIGHT_TIMEOUT_S, connect=PREFLIGHT_CONNECT_S))


def check_llm_server_first(spec: str, options: dict[str, Any]) -> None:
    """GET /models on the server an OpenAI-compatible llm spec names, before its client is built (the client's
    imports cost about a second): a dead server is reported at once. Anything this cannot judge (no
    base_url, a missing key) is left to the factory, which names it."""
    remote = provider_of(spec)
    if remote is None or remote.route is not Route.OPENAI:
        return
    base_url = remote.server_for(options).rstrip("/")
    key_env = remote.key_env_for(options)
    key = os.environ.get(key_env) if key_env else None
    if not base_url or (remote.key_required and not key):
        return
    _check_llm_models(base_url, key, key_env)
