"""make_captioner: a captioner from a spec string such as "ocr", "transformers:Qwen/Qwen2.5-VL-7B-Instruct",
"openai:gpt-4o-mini", "vllm:Qwen/Qwen2.5-VL-7B-Instruct+ocr".

Options (a dict, from the profile's `captioner_options`) go to the backend's settings; a name the backend
does not know is an error. With "+ocr", `options["ocr"]` (a dict) configures the OCR half.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from vidrecall.tools.captioners.base import Captioner, CaptionerError
from vidrecall.tools.providers import captioning_providers, provider

OCR_SUFFIX = "+ocr"

def _settings(cls: type, options: dict[str, Any], spec: str):
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise CaptionerError(f"unknown captioner option(s) {', '.join(unknown)} for {spec!r}; "
                             f"known: {', '.join(sorted(known))}")
    return cls(**options)


def _ocr(name: str, options: dict[str, Any], spec: str) -> Captioner:
    from vidrecall.tools.captioners.ocr import OcrCaptioner, OcrSettings

    if name:
        raise CaptionerError(f"captioner spec {spec!r}: 'ocr' takes no model name")
    return OcrCaptioner(_settings(OcrSettings, options, spec))


def _transformers(name: str, options: dict[str, Any], spec: str) -> Captioner:
    from vidrecall.tools.captioners.transformers_vlm import TransformersVLMCaptioner, TransformersVLMSettings

    return TransformersVLMCaptioner(name, _settings(TransformersVLMSettings, options, spec))


def _openai_style(provider_name: str) -> Callable[[str, dict[str, Any], str], Captioner]:
    """Every captioning provider speaks OpenAI's chat-completions API (Ollama through its /v1 endpoint)."""
    def build(name: str, options: dict[str, Any], spec: str) -> Captioner:
        from vidrecall.tools.captioners.openai_vlm import OpenAIVLMCaptioner, OpenAIVLMSettings

        remote = provider(provider_name)  # read when building: the table is the one source
        assert remote is not None, f"captioning provider {provider_name!r} is no longer in the providers table"

        base_url = remote.server_for(options)
        if not base_url:
            raise CaptionerError(f"captioner {spec!r} needs a server: set captioner_options.base_url or pass "
                                 "--base-url (e.g. http://127.0.0.1:8000/v1)")
        # No key variable for a keyless provider: a key meant for another host is never sent to this one.
        defaults = {"api_key_env": remote.api_key_env or "", "api_key_required": remote.key_required}
        merged = defaults | options | {"base_url": base_url}
        return OpenAIVLMCaptioner(name, _settings(OpenAIVLMSettings, merged, spec))

    return build


BUILDERS: dict[str, Callable[[str, dict[str, Any], str], Captioner]] = {
    "ocr": _ocr,
    "transformers": _transformers,
    **{name: _openai_style(name) for name in captioning_providers()},
}


def make_captioner(spec: str | Captioner, options: dict | None = None) -> Captioner:
    """The captioner a spec names (a Captioner object passes through unchanged)."""
    if not isinstance(spec, str):
        if isinstance(spec, Captioner):
            return spec
        raise CaptionerError(f"captioner must be a spec string or a Captioner, got {type(spec).__name__}")
    options = dict(options or {})
    spec = spec.strip()
    if spec.endswith(OCR_SUFFIX) and spec != OCR_SUFFIX:
        from vidrecall.tools.captioners.composite import CompositeCaptioner
        from vidrecall.tools.captioners.ocr import OcrCaptioner, OcrSettings

        ocr_options = options.pop("ocr", None) or {}
        vlm = make_captioner(spec[: -len(OCR_SUFFIX)], options)
        return CompositeCaptioner(vlm, OcrCaptioner(_settings(OcrSettings, ocr_options, spec)))
    provider, _, name = spec.partition(":")
    builder = BUILDERS.get(provider.strip().lower())
    if builder is None:
        raise CaptionerError(f"unknown captioner {spec!r}: use one of {', '.join(known_specs())}")
    if provider != "ocr" and not name.strip():
        raise CaptionerError(f"captioner spec {spec!r} needs a model after the colon, e.g. {provider}:<model>")
    return builder(name.strip(), options, spec)


def known_specs() -> list[str]:
    return ["ocr", "transformers:<path-or-hub-id>", *(f"{name}:<model>" for name in captioning_providers()),
            "<any of these>+ocr"]
