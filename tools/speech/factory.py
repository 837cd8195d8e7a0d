"""Build the configured Transcriber and Diarizer from `config.speech`, failing with one line when unusable.

Server backends are providers of tools/providers.py (openai, openai-compatible, vllm): their default base
URL and key variable come from that table; `speech.base_url` / `speech.api_key_env` override them.
"""
from __future__ import annotations

from vidrecall.core.config import SpeechSettings
from vidrecall.tools.providers import provider
from vidrecall.tools.speech.diarization import Diarizer, make_diarizer
from vidrecall.tools.speech.transcriber import AsrSettings, Transcriber
from vidrecall.tools.speech.types import SpeechError


def asr_settings(speech: SpeechSettings) -> AsrSettings:
    return AsrSettings(language=speech.language or None, vad=speech.vad,
                       vad_min_silence_ms=speech.vad_min_silence_ms, beam_size=speech.beam_size)


def make_transcriber(speech: SpeechSettings) -> Transcriber:
    settings = asr_settings(speech)
    if speech.backend != "faster-whisper":
        from vidrecall.tools.speech.openai_asr import OpenAIAsrSettings, OpenAITranscriber

        p = provider(speech.backend)
        base_url = (speech.base_url or (p.base_url if p else "") or "").rstrip("/")
        if not base_url:
            raise SpeechError(f"speech.backend {speech.backend!r} needs speech.base_url (the server's /v1 URL)")
        key_env = speech.api_key_env or (p.api_key_env if p else None) or "OPENAI_API_KEY"
        required = bool(speech.api_key_env) or bool(p and p.key_required)
        from vidrecall.tools.speech.whisper_local import PACKAGED, PACKAGED_BASE

        model = "whisper-1" if speech.model in (PACKAGED, PACKAGED_BASE) else speech.model  # a server's own name
        return OpenAITranscriber(model, settings, OpenAIAsrSettings(base_url=base_url, api_key_env=key_env,
                                                                    api_key_required=required))
    from vidrecall.tools.speech.whisper_local import FasterWhisperTranscriber

    return FasterWhisperTranscriber(speech.model, settings, device=speech.device,
                                    compute_type=speech.compute_type or None, cpu_threads=speech.cpu_threads)


def make_speaker_labeller(speech: SpeechSettings) -> Diarizer | None:
    return make_diarizer(speech.diarization)
