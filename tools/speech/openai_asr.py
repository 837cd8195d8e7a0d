"""ASR over an OpenAI-compatible POST /audio/transcriptions (OpenAI's whisper-1, a vLLM server serving
Whisper, faster-whisper-server, ...).

Each audio window goes up as a 16 kHz mono WAV with `response_format=verbose_json` and word plus segment
timestamps. Bounded retries with exponential backoff on 429, 5xx and timeouts; a wrong key or an
unreachable server fails with one line. The API key comes from the environment and never appears in
errors or reprs.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import httpx
import numpy as np

from vidrecall.tools.http_checks import check_models_endpoint, error_text
from vidrecall.tools.speech.audio import wav_bytes
from vidrecall.tools.speech.transcriber import AsrSettings
from vidrecall.tools.speech.types import Segment, SpeechError, Word

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class OpenAIAsrSettings:
    base_url: str = "https://api.openai.com/v1"
    api_key_env: str = "OPENAI_API_KEY"
    api_key_required: bool = True  # local servers (vLLM) usually need none
    max_retries: int = 4
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    timeout_s: float = 300.0
    connect_timeout_s: float = 10.0
    preflight_timeout_s: float = 5.0


class OpenAITranscriber:
    def __init__(self, model: str = "whisper-1", settings: AsrSettings | None = None,
                 api: OpenAIAsrSettings | None = None):
        self.model = model
        self.settings = settings or AsrSettings()
        self.api = api or OpenAIAsrSettings()
        self.base_url = self.api.base_url.rstrip("/")
        self.id = f"openai-asr:{self.base_url}:{model}"
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:  # never the key
        return f"OpenAITranscriber(model={self.model!r}, base_url={self.base_url!r}, key_env={self.api.api_key_env!r})"

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api.api_key_env, "").strip()
        if not key and self.api.api_key_required:
            raise SpeechError(f"no API key for {self.base_url}: set {self.api.api_key_env}")
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=httpx.Timeout(self.api.timeout_s, connect=self.api.connect_timeout_s))
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def preflight(self) -> None:
        """GET /models: an unreachable server or a rejected key fail here, before any audio is decoded."""
        check_models_endpoint(self.base_url, self._headers(), server="transcription server",
                              fix="start it or fix speech.base_url", key_hint=self.api.api_key_env,
                              error=SpeechError, timeout=self.api.preflight_timeout_s)

    def _fields(self) -> dict[str, str | list[str]]:
        fields: dict[str, str | list[str]] = {
            "model": self.model, "response_format": "verbose_json", "temperature": "0",
            "timestamp_granularities[]": ["segment", "word"] if self.settings.word_timestamps else ["segment"]}
        if self.settings.language:
            fields["language"] = self.settings.language
        return fields

    def _post(self, audio: bytes) -> dict:
        headers = self._headers()
        url = f"{self.base_url}/audio/transcriptions"
        last_error = ""
        for attempt in range(self.api.max_retries + 1):
            response = None
            try:
                response = self._http().post(url, data=self._fields(), headers=headers,
                                             files={"file": ("audio.wav", audio, "audio/wav")})
            except httpx.ConnectError:
                raise SpeechError(f"cannot reach the transcription server at {self.base_url}: is it running?") from None
            except httpx.TimeoutException:
                last_error = f"timed out after {self.api.timeout_s:g} s"
            except httpx.TransportError as exc:
                last_error = f"transport error {type(exc).__name__}"
            else:
                if response.status_code == 200:
                    try:
                        return response.json()
                    except ValueError:
                        raise SpeechError(f"{self.base_url} returned non-JSON for a transcription") from None
                if response.status_code in (401, 403):
                    raise SpeechError(f"wrong API key for {self.base_url}: set {self.api.api_key_env}")
                if response.status_code not in RETRYABLE_STATUS:
                    raise SpeechError(f"{self.base_url} answered HTTP {response.status_code} for model "
                                      f"{self.model!r}: {error_text(response)}")
                last_error = f"HTTP {response.status_code}"
            if attempt < self.api.max_retries:
                log.info("transcription request to %s failed (%s); retry %d", self.base_url, last_error, attempt + 1)
                self._wait(attempt, response)
        raise SpeechError(f"{self.base_url} failed {self.api.max_retries + 1} times transcribing "
                          f"(last: {last_error}); try later")

    def _wait(self, attempt: int, response: httpx.Response | None) -> None:
        wait = self.api.backoff_s * (2 ** attempt)
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after:
            try:
                wait = float(retry_after)
            except ValueError:
                pass
        time.sleep(min(max(0.0, wait), self.api.max_backoff_s))

    def transcribe(self, samples: np.ndarray) -> list[Segment]:
        if samples.size == 0:
            return []
        return segments_from_verbose_json(self._post(wav_bytes(samples)))


def segments_from_verbose_json(body: dict) -> list[Segment]:
    """OpenAI's verbose_json: `segments` with start/end/text, and top-level `words` (assigned by time)."""
    words = [Word(float(w["start"]), float(w["end"]), str(w.get("word", "")).strip())
             for w in body.get("words") or [] if str(w.get("word", "")).strip()]
    raw = body.get("segments") or []
    if not raw and body.get("text", "").strip():  # a server without segments: one segment over the words
        start = words[0].start if words else 0.0
        end = words[-1].end if words else float(body.get("duration") or 0.0)
        return [Segment(start, end, body["text"].strip(), words)]
    out = []
    for seg in raw:
        text = str(seg.get("text", "")).strip()
        if not text:
            continue
        start, end = float(seg["start"]), float(seg["end"])
        mine = [w for w in words if start - 0.05 <= (w.start + w.end) / 2 < end + 0.05]
        out.append(Segment(start, end, text, mine))
    return out
