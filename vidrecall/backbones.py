"""The three models a question needs (LLM, captioner, embedder), built once from a Config.

Backbone choices given as text (CLI flags `--llm`, `--vlm`, `--base-url`, `--api-key-env`, or spec strings
passed to VideoQA) are merged into the config first (`with_backbone_choices`), so the built models
always match `config.llm`/`llm_options` and `config.captioner`/`captioner_options`. Model objects
passed in win over the config's specs. With `preflight=True` both models are checked before any
video work, so a missing key or a dead server fails in the first second with the fix.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel

from vidrecall.core.config import Config
from vidrecall.tools.llm.cache import CACHE_FILENAME, SQLiteResponseCache, open_response_cache
from vidrecall.tools.llm.factory import make_chat_model
from vidrecall.tools.llm.preflight import preflight_llm
from vidrecall.tools.providers import provider_of

OCR_SUFFIX = "+ocr"


class Backbones:
    """The built LLM and captioner, and the embedder, loaded on first use: checking the two models
    (a dead server, a missing key) never waits for the embedder to load."""

    def __init__(self, llm: BaseChatModel, captioner: Any, embedder: Any) -> None:
        self.llm = llm
        self.captioner = captioner  # vidrecall.tools.captioners.base.Captioner
        self._embedder = embedder  # an Embedder, or the spec string of one

    @property
    def embedder(self) -> Any:  # vidrecall.memory.embedder.Embedder
        if isinstance(self._embedder, str):
            from vidrecall.memory.embedder import load_embedder

            self._embedder = load_embedder(self._embedder)
        return self._embedder

    def __repr__(self) -> str:
        return f"Backbones(llm={type(self.llm).__name__}, captioner={self.captioner.id!r})"


@dataclass(frozen=True)
class BackboneChoices:
    """What the user chose on top of a profile; None leaves the profile's value."""

    llm: str | None = None
    vlm: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None


def with_backbone_choices(config: Config, choices: BackboneChoices) -> Config:
    """The config with the choices merged into its specs and options (merged, never replacing them).

    A spec naming another provider than the profile's starts from empty options (the profile's were
    written for its own backbone). `base_url` and `api_key_env` go to the backbones named by `llm`/`vlm`;
    with neither named, to every remote backbone of the profile; never to a local one (smollm2, ocr).
    """
    llm_spec, llm_options = _merged(config.llm, config.llm_options, choices.llm)
    cap_spec, cap_options = _merged(config.captioner, config.captioner_options, choices.vlm)
    connection = {k: v for k, v in (("base_url", choices.base_url), ("api_key_env", choices.api_key_env)) if v}
    named = choices.llm is not None or choices.vlm is not None
    if connection:
        if provider_of(llm_spec) and (choices.llm is not None or not named):
            llm_options = {**llm_options, **connection}
        if provider_of(cap_spec.removesuffix(OCR_SUFFIX)) and (choices.vlm is not None or not named):
            cap_options = {**cap_options, **connection}
    if (llm_spec, llm_options, cap_spec, cap_options) == (config.llm, config.llm_options, config.captioner,
                                                         config.captioner_options):
        return config
    return config.replace(llm=llm_spec, llm_options=llm_options, captioner=cap_spec, captioner_options=cap_options)


def _merged(spec: str, options: dict[str, Any], chosen: str | None) -> tuple[str, dict[str, Any]]:
    if chosen is None or not chosen.strip():
        return spec, dict(options)
    chosen = chosen.strip()
    if _provider_name(chosen) != _provider_name(spec):
        return chosen, {}
    options = dict(options)
    if not chosen.endswith(OCR_SUFFIX):
        options.pop("ocr", None)  # the OCR half's settings; this spec has none
    return chosen, options


def _provider_name(spec: str) -> str:
    name, sep, _ = spec.removesuffix(OCR_SUFFIX).partition(":")
    return name.strip().lower() if sep else spec.strip().lower()


def response_cache_for(config: Config) -> SQLiteResponseCache | None:
    if not config.cache_responses:
        return None
    return open_response_cache(config.store_path / CACHE_FILENAME)  # None (a warning) when damaged


def build_backbones(config: Config, llm: BaseChatModel | str | None = None, vlm: Any = None, embedder: Any = None,
                    preflight: bool = True, cache_given_llm: bool = False) -> Backbones:
    """`cache_given_llm`: put our response cache on a BaseChatModel passed in (by default it keeps its own
    `.cache`, None meaning LangChain's global cache, as its owner set it up)."""
    from vidrecall.tools.captioners.factory import make_captioner

    config = with_backbone_choices(config, BackboneChoices(llm=llm if isinstance(llm, str) else None,
                                                           vlm=vlm if isinstance(vlm, str) else None))
    cache = response_cache_for(config)
    if isinstance(llm, BaseChatModel):
        chat_model = make_chat_model(llm, cache=cache if cache_given_llm else None)
    else:
        chat_model = make_chat_model(config.llm, config.llm_options, cache=cache)
    if preflight:  # before the captioner and the embedder load: a dead server fails in the first second
        preflight_llm(chat_model)
    if vlm is None or isinstance(vlm, str):
        captioner = make_captioner(config.captioner, config.captioner_options)
    else:
        captioner = vlm
    if preflight:
        captioner.preflight()
    return Backbones(llm=chat_model, captioner=captioner, embedder=embedder or config.embedder)


def preflight_backbones(backbones: Backbones, config: Config) -> None:
    """Fail fast (one line naming the fix) on a bad LLM, captioner or speech model, before any video work."""
    preflight_llm(backbones.llm)
    backbones.captioner.preflight()
    if config.speech.uses_asr:  # a bad Whisper model or server: one line now, not after captioning
        from vidrecall.tools.speech.factory import make_transcriber

        make_transcriber(config.speech).preflight()
