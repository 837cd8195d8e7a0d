"""The one table of remote model providers: where each one's server is, which variable holds its key.

Both factories read it: `tools/llm/factory.py` (chat models) and `tools/captioners/factory.py` (VLM
captioners). Neither keeps a base URL or a key variable of its own, so adding a provider, or fixing
a default port, is one line here. Local backbones (smollm2, transformers, gguf, llamacpp, ocr) are
not providers: nothing leaves the machine.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Route(str, Enum):
    """Which client class talks to a provider."""

    OPENAI = "openai"  # langchain_openai.ChatOpenAI / the OpenAI-compatible VLM captioner
    OLLAMA = "ollama"  # langchain_ollama.ChatOllama when installed, else Ollama's OpenAI-compatible endpoint
    ANTHROPIC = "anthropic"  # langchain_anthropic.ChatAnthropic (no captioner)


@dataclass(frozen=True)
class Provider:
    name: str
    route: Route
    base_url: str | None  # None: the user must give one (there is no sensible default server)
    api_key_env: str | None  # None: the server needs no key, and none is sent unless api_key_env is given
    key_required: bool  # the provider refuses requests without a key
    captions: bool  # can serve as a VLM captioner

    @property
    def needs_base_url(self) -> bool:
        return self.base_url is None

    def server_for(self, options: dict) -> str:
        """The server a spec of this provider talks to: the user's base_url, else the default; "" when neither
        (never guessed, so a request never goes to a host the user did not name)."""
        return (options.get("base_url") or self.base_url or "").strip()

    def key_env_for(self, options: dict) -> str | None:
        """The environment variable holding the key: the user's api_key_env, else the provider's."""
        return options.get("api_key_env") or self.api_key_env


PROVIDERS: dict[str, Provider] = {p.name: p for p in (
    Provider("openai", Route.OPENAI, "https://api.openai.com/v1", "OPENAI_API_KEY", True, True),
    Provider("openai-compatible", Route.OPENAI, None, None, False, True),
    Provider("vllm", Route.OPENAI, "http://127.0.0.1:8000/v1", None, False, True),
    Provider("ollama", Route.OLLAMA, "http://127.0.0.1:11434/v1", None, False, True),
    Provider("anthropic", Route.ANTHROPIC, "https://api.anthropic.com", "ANTHROPIC_API_KEY", True, False),
)}

# A local OpenAI-compatible server takes any key, but the OpenAI client insists on one.
PLACEHOLDER_KEY = "not-needed"


def provider(name: str) -> Provider | None:
    return PROVIDERS.get(name.strip().lower())


def provider_of(spec: str) -> Provider | None:
    """The provider a "provider:model" spec names (None for local specs such as "smollm2" or "ocr")."""
    name, sep, _ = spec.partition(":")
    return provider(name) if sep else None


def captioning_providers() -> list[str]:
    return [p.name for p in PROVIDERS.values() if p.captions]
