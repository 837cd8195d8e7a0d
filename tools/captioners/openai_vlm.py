"""Captioner over an OpenAI-compatible vision chat API (OpenAI, vLLM serving Qwen2.5-VL, Ollama's /v1, SGLang).

Frames go as base64 JPEG `image_url` parts, each preceded by its timestamp in text, then the prompt.
Requests go through the `openai` SDK, which retries 408/409/429/5xx, timeouts and dropped connections
with exponential backoff (honouring Retry-After) up to `max_retries` times; they run concurrently (at most
`max_concurrency` in flight across all threads using this captioner) and fail with one line on a wrong key
or an unreachable server. The API key comes from the environment and never appears in errors or reprs.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NoReturn

import httpx

from vidrecall.tools.captioners.base import Capacity, CaptionerError
from vidrecall.tools.http_checks import error_text, one_line
from vidrecall.tools.providers import PLACEHOLDER_KEY
from vidrecall.tools.captioners.images import jpeg_data_url, no_frames_result
from vidrecall.tools.captioners.video_clip import mp4_data_url, sampled_fps
from vidrecall.core.types import CaptionRequest, CaptionResult, Usage, fmt_time

log = logging.getLogger(__name__)

_PAYLOAD_FIELDS = ("model", "messages", "max_tokens", "temperature")  # the rest goes as the SDK's extra_body


@dataclass(frozen=True)
class OpenAIVLMSettings:
    base_url: str = "https://api.openai.com/v1"
    api_key_env: str = "OPENAI_API_KEY"
    api_key_required: bool = True  # local servers (vLLM, Ollama) need none
    max_concurrency: int = 4
    max_retries: int = 4  # the SDK's retries after the first attempt (429/5xx/timeouts/dropped connections)
    timeout_s: float = 120.0  # per request, reading included
    connect_timeout_s: float = 10.0
    preflight_timeout_s: float = 5.0
    max_tokens: int = 512
    temperature: float = 0.0
    jpeg_quality: int = 85
    max_side: int | None = None  # shrink frames (longer side, px) before encoding; None keeps the sampled size
    image_detail: str | None = None  # OpenAI's "low" | "high" | "auto"; None leaves it out
    system_prompt: str | None = None
    # "images": every frame an image_url part after its time; "video": the clip as one video_url (an MP4
    # of the sampled frames) plus the fps they were sampled at, for Qwen2.5-VL / Qwen3-VL on vLLM (frames
    # merge in pairs: about half the visual tokens, and real time positions). See README "vLLM".
    input: str = "images"

    def __post_init__(self) -> None:
        if self.input not in ("images", "video"):
            raise CaptionerError(f"captioner option input={self.input!r}: choose 'images' or 'video'")


class OpenAIVLMCaptioner:
    """Captioner protocol over POST {base_url}/chat/completions."""

    def __init__(self, model: str, settings: OpenAIVLMSettings | None = None):
        self.model = model
        self.settings = settings or OpenAIVLMSettings()
        self.base_url = self.settings.base_url.rstrip("/")
        s = self.settings
        detail = f":detail={s.image_detail}" if s.image_detail else ""
        side = f":side{s.max_side}" if s.max_side else ""
        video = ":video" if s.input == "video" else ""
        self.id = f"api:{model}:t{s.temperature:g}:max{s.max_tokens}:q{s.jpeg_quality}{side}{detail}{video}"
        self._slots = threading.BoundedSemaphore(max(1, s.max_concurrency))
        self._client_lock = threading.Lock()
        self._client: Any = None  # openai.OpenAI, made on first use

    def __repr__(self) -> str:  # never the key
        return (f"OpenAIVLMCaptioner(model={self.model!r}, base_url={self.base_url!r}, "
                f"key_env={self.settings.api_key_env!r})")

    @property
    def capacity(self) -> Capacity:
        """`max_concurrency` requests in flight, one clip each; the pipelined engine runs that many workers."""
        return Capacity(in_flight=max(1, self.settings.max_concurrency))

    def _key_hint(self) -> str:
        if self.settings.api_key_env:
            return f"set {self.settings.api_key_env}"
        return "name the variable holding the key (captioner_options.api_key_env or --api-key-env)"

    # --- plumbing ---------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.settings.api_key_env, "").strip()
        if not key and self.settings.api_key_required:
            raise CaptionerError(f"no API key for {self.base_url}: {self._key_hint()}")
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _sdk(self):
        from openai import OpenAI, Timeout  # the SDK's own HTTP library's Timeout: httpx2's in openai 3.x

        with self._client_lock:
            if self._client is None:
                s = self.settings
                key = os.environ.get(s.api_key_env, "").strip() or PLACEHOLDER_KEY
                self._client = OpenAI(base_url=self.base_url, api_key=key, max_retries=max(0, s.max_retries),
                                      timeout=Timeout(s.timeout_s, connect=s.connect_timeout_s))
            return self._client

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _fail_for_status(self, response: httpx.Response) -> NoReturn:
        """Raise the one-line error for a non-retryable failure status."""
        if response.status_code in (401, 403):
            raise CaptionerError(f"wrong API key for {self.base_url}: {self._key_hint()}")
        raise CaptionerError(f"{self.base_url} answered HTTP {response.status_code} for model {self.model!r}: "
                             f"{error_text(response)}")

    def _post(self, payload: dict) -> dict:
        """chat/completions through the SDK (its retries, its timeouts); the answer as a dict."""
        import openai

        self._headers()  # no key where one is required: fail before any request
        known = {k: v for k, v in payload.items() if k in _PAYLOAD_FIELDS}
        extra = {k: v for k, v in payload.items() if k not in _PAYLOAD_FIELDS}
        tries = self.settings.max_retries + 1
        try:
            with self._slots:
                completion = self._sdk().chat.completions.create(**known, extra_body=extra or None)
        except openai.APITimeoutError:
            raise CaptionerError(f"{self.base_url} failed {tries} times for model {self.model!r} (last: timed out "
                                 f"after {self.settings.timeout_s:g} s); try later or lower max_concurrency") from None
        except openai.APIConnectionError as e:
            raise CaptionerError(f"cannot reach {self.base_url}: is the server running? "
                                 f"({one_line(e.__cause__ or e, 80)})") from None
        except openai.APIStatusError as e:
            if e.status_code in (408, 409, 429) or e.status_code >= 500:  # the SDK retried these
                raise CaptionerError(f"{self.base_url} failed {tries} times for model {self.model!r} (last: HTTP "
                                     f"{e.status_code}); try later or lower max_concurrency") from None
            # openai 3.x answers with httpx2's Response: httpx's API (what error_text reads) under another name
            self._fail_for_status(e.response)  # type: ignore[arg-type]
        return completion.model_dump()

    # --- captioning ---------------------------------------------------------------------------------
    def messages(self, request: CaptionRequest) -> list[dict]:
        """System (optional) + one user message: per frame its time then its image, then the prompt
        (or, with input="video" and evenly sampled frames, the clip as one video, then the prompt)."""
        fps = self._video_fps(request)
        if fps is not None:
            return self._video_messages(request, fps)
        content: list[dict] = []
        for t, frame in zip(request.frames.timestamps, request.frames.frames):
            content.append({"type": "text", "text": f"Frame at {fmt_time(t)} ({t:.1f} s):"})
            image = {"url": jpeg_data_url(frame, self.settings.jpeg_quality, self.settings.max_side)}
            if self.settings.image_detail:
                image["detail"] = self.settings.image_detail
            content.append({"type": "image_url", "image_url": image})
        content.append({"type": "text", "text": request.prompt})
        system = [{"role": "system", "content": self.settings.system_prompt}] if self.settings.system_prompt else []
        return system + [{"role": "user", "content": content}]

    def _video_fps(self, request: CaptionRequest) -> float | None:
        """The fps to send the clip at as a video; None sends images (the setting, one frame, or frames
        not evenly spaced, as change-aware sampling keeps them)."""
        if self.settings.input != "video":
            return None
        return sampled_fps(request.frames.timestamps)

    def _video_messages(self, request: CaptionRequest, fps: float) -> list[dict]:
        batch = request.frames
        first, last = batch.timestamps[0], batch.timestamps[-1]
        content = [
            {"type": "text", "text": f"Video from {fmt_time(first)} to {fmt_time(last)} ({first:.1f}-{last:.1f} s), "
                                     f"{len(batch)} frames sampled at {fps:g} fps:"},
            {"type": "video_url", "video_url": {"url": mp4_data_url(batch.frames, fps, max_side=self.settings.max_side)}},
            {"type": "text", "text": request.prompt},
        ]
        system = [{"role": "system", "content": self.settings.system_prompt}] if self.settings.system_prompt else []
        return system + [{"role": "user", "content": content}]

    def extra_body(self, request: CaptionRequest) -> dict:
        """Fields beyond OpenAI's schema (the SDK's `extra_body`): the sampling fps vLLM hands the Qwen-VL
        processor, so the video's frames get their real times and are not re-sampled."""
        fps = self._video_fps(request)
        if fps is None:
            return {}
        return {"mm_processor_kwargs": {"fps": round(fps, 4), "do_sample_frames": False}}

    def caption(self, request: CaptionRequest) -> CaptionResult:
        if not request.frames.frames:
            return no_frames_result(request, self.model, "vlm")
        started = time.perf_counter()
        payload = {"model": self.model, "messages": self.messages(request),
                   "max_tokens": self.settings.max_tokens, "temperature": self.settings.temperature,
                   **self.extra_body(request)}
        answer = self._post(payload)
        try:
            message = answer["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise CaptionerError(f"{self.base_url} returned no choices for model {self.model!r}") from None
        content = message.get("content") or ""
        if isinstance(content, list):  # some servers return content parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        usage = answer.get("usage") or {}
        return CaptionResult(text=content.strip(), usage=Usage(
            model=self.model, kind="vlm", tokens_in=int(usage.get("prompt_tokens") or 0),
            tokens_out=int(usage.get("completion_tokens") or 0), images=len(request.frames),
            latency_s=time.perf_counter() - started, role="caption"))

    def caption_batch(self, requests: list[CaptionRequest]) -> list[CaptionResult]:
        if len(requests) <= 1:
            return [self.caption(r) for r in requests]
        with ThreadPoolExecutor(max_workers=max(1, self.settings.max_concurrency),
                                thread_name_prefix="vlm-request") as pool:
            return list(pool.map(self.caption, requests))

    def preflight(self) -> None:
        """GET /models with a short timeout: wrong key, unreachable server or a missing model fail here."""
        headers = self._headers()
        try:
            response = httpx.get(f"{self.base_url}/models", headers=headers, timeout=self.settings.preflight_timeout_s)
        except httpx.ConnectError:
            raise CaptionerError(f"cannot reach {self.base_url}: is the server running?") from None
        except httpx.TimeoutException:
            raise CaptionerError(f"cannot reach {self.base_url}: no answer in "
                                 f"{self.settings.preflight_timeout_s:g} s; is the server running?") from None
        if response.status_code in (401, 403):
            self._fail_for_status(response)
        if response.status_code != 200:
            return  # some compatible servers have no /models; the first caption will tell
        try:
            served = [m.get("id") for m in response.json().get("data", [])]
        except (ValueError, AttributeError):
            return
        if served and self.model not in served and f"{self.model}:latest" not in served:
            raise CaptionerError(f"model {self.model!r} is not served by {self.base_url} "
                                 f"(it serves: {', '.join(map(str, served[:8]))})")
