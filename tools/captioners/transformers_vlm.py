"""Captioner over a local Hugging Face vision-language model (Qwen2.5-VL, Qwen3-VL, SmolVLM2,
LLaVA-OneVision, anything with the standard AutoProcessor + AutoModelForImageTextToText API).

Several frames go in as one video (with sampling fps metadata, so Qwen's temporal positions are right)
when the processor handles video, else as images each preceded by its time. `caption_batch` pads left
and runs one `generate` per group of up to `batch_size` clips. The model loads on first use.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidrecall.tools.captioners.base import Capacity, CaptionerError
from vidrecall.tools.captioners.images import no_frames_result
from vidrecall.core.types import CaptionRequest, CaptionResult, Usage, fmt_time

log = logging.getLogger(__name__)

FRAME_MODES = ("auto", "video", "images")


@dataclass(frozen=True)
class TransformersVLMSettings:
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    dtype: str = "auto"  # auto (bfloat16 on CUDA, else float32) | float32 | bfloat16 | float16
    max_new_tokens: int = 256
    frames_as: str = "auto"  # auto: a video when there are >= 2 same-size frames and the processor takes video
    batch_size: int = 4  # clips per generate call
    attn_implementation: str | None = None  # e.g. "sdpa", "flash_attention_2"
    trust_remote_code: bool = False
    system_prompt: str | None = None


def resolve_device(device: str) -> str:
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def resolve_dtype(dtype: str, device: str):
    import torch

    if dtype == "auto":
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float16 if device.startswith("cuda") else torch.float32
    try:
        return getattr(torch, dtype)
    except AttributeError:
        raise CaptionerError(f"unknown dtype {dtype!r}: use auto, float32, bfloat16 or float16") from None


def frame_times(stamps: list[float]) -> list[str]:
    """M:SS per frame, or seconds with a decimal when frames are under a second apart."""
    dense = any(b - a < 1.0 for a, b in zip(stamps, stamps[1:]))
    return [f"{t:.1f} s" if dense else fmt_time(t) for t in stamps]


def looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or Path(name).expanduser().exists()


class TransformersVLMCaptioner:
    """Captioner protocol over a transformers image-text-to-text model."""

    def __init__(self, model: str, settings: TransformersVLMSettings | None = None):
        self.name = model
        self.settings = settings or TransformersVLMSettings()
        if self.settings.frames_as not in FRAME_MODES:
            raise CaptionerError(f"frames_as={self.settings.frames_as!r}: use one of {', '.join(FRAME_MODES)}")
        self.device = resolve_device(self.settings.device)
        self.dtype = resolve_dtype(self.settings.dtype, self.device)
        dtype_name = str(self.dtype).removeprefix("torch.")
        self.id = (f"transformers:{model}:{self.settings.frames_as}:new{self.settings.max_new_tokens}:{dtype_name}"
                   + (":sys" if self.settings.system_prompt else ""))
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None
        self._video_works = True  # cleared when the processor turns out not to take video input

    def __repr__(self) -> str:
        return f"TransformersVLMCaptioner({self.id!r}, device={self.device!r})"

    @property
    def capacity(self) -> Capacity:
        """One generate call at a time, `batch_size` clips per call."""
        return Capacity(per_call=max(1, self.settings.batch_size))

    # --- loading ----------------------------------------------------------------------------------
    def preflight(self) -> None:
        """Check the model can be found and is an image-text-to-text model, without loading weights."""
        from transformers import AutoConfig, AutoModelForImageTextToText

        if looks_like_path(self.name):
            path = Path(self.name).expanduser()
            if not path.exists():
                raise CaptionerError(f"model path {self.name} does not exist: download the model there "
                                     f"(huggingface-cli download <repo> --local-dir {self.name}) or give a hub id")
            if not (path / "config.json").exists():
                raise CaptionerError(f"{self.name} has no config.json: point transformers:<path> at a model folder")
        elif os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
            from huggingface_hub import try_to_load_from_cache

            if not isinstance(try_to_load_from_cache(self.name, "config.json"), str):
                raise CaptionerError(f"model {self.name} is not in the Hugging Face cache and HF_HUB_OFFLINE is set: "
                                     f"run huggingface-cli download {self.name}, or give a local path")
        try:
            config = AutoConfig.from_pretrained(self.name, trust_remote_code=self.settings.trust_remote_code)
        except (OSError, ValueError) as e:
            raise CaptionerError(f"cannot load the config of {self.name}: {' '.join(str(e).split())[:200]}") from None
        if type(config) not in AutoModelForImageTextToText._model_mapping and not self.settings.trust_remote_code:
            raise CaptionerError(f"{self.name} ({config.model_type}) is not an image-text-to-text model; "
                                 f"use a vision-language model such as Qwen/Qwen2.5-VL-7B-Instruct")

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                self.preflight()
                from vidrecall.tools.shared_models import load_image_text_to_text

                shared = load_image_text_to_text(self.name, self.device, self.dtype,
                                                 trust_remote_code=self.settings.trust_remote_code,
                                                 attn_implementation=self.settings.attn_implementation)
                self._loaded = (shared.processor, shared.model)
            return self._loaded

    # --- inputs -----------------------------------------------------------------------------------
    def _as_video(self, processor, request: CaptionRequest) -> bool:
        frames = request.frames.frames
        if self.settings.frames_as == "images" or not self._video_works \
                or getattr(processor, "video_processor", None) is None:
            return False
        same_size = len({f.shape for f in frames}) == 1
        if self.settings.frames_as == "video":
            return same_size and len(frames) >= 1
        return same_size and len(frames) >= 2

    def _conversation(self, request: CaptionRequest, as_video: bool) -> list[dict]:
        stamps = request.frames.timestamps
        span = request.frames.span
        if as_video:
            times = ", ".join(frame_times(stamps))
            parts: list[dict] = [{"type": "video"}, {"type": "text", "text":
                                 f"The video shows {span.label()}; its {len(stamps)} frames were taken at {times}.\n"}]
        else:
            parts = []
            for t in frame_times(stamps):
                parts += [{"type": "text", "text": f"Frame at {t}:"}, {"type": "image"}]
            parts.append({"type": "text", "text": "\n"})
        parts.append({"type": "text", "text": request.prompt})
        system = [{"role": "system", "content": [{"type": "text", "text": self.settings.system_prompt}]}] \
            if self.settings.system_prompt else []
        return system + [{"role": "user", "content": parts}]

    @staticmethod
    def _video_metadata(request: CaptionRequest):
        from transformers.video_utils import VideoMetadata

        stamps, frames = request.frames.timestamps, request.frames.frames
        gap = (stamps[-1] - stamps[0]) / (len(stamps) - 1) if len(stamps) > 1 else 0.0
        fps = 1.0 / gap if gap > 1e-6 else 1.0
        return VideoMetadata(total_num_frames=len(frames), fps=fps, width=frames[0].shape[1],
                             height=frames[0].shape[0], duration=len(frames) / fps,
                             frames_indices=list(range(len(frames))))

    def _inputs(self, processor, requests: list[CaptionRequest], as_video: bool):
        texts = [processor.apply_chat_template(self._conversation(r, as_video), add_generation_prompt=True,
                                               tokenize=False) for r in requests]
        kwargs: dict[str, Any] = {"text": texts, "padding": True, "return_tensors": "pt"}
        if as_video:
            kwargs["videos"] = [np.stack(r.frames.frames) for r in requests]
            kwargs["video_metadata"] = [self._video_metadata(r) for r in requests]
            kwargs["do_sample_frames"] = False  # frames were sampled by the video reader already
            if hasattr(processor.video_processor, "cap_pixels_per_frame"):
                kwargs["cap_pixels_per_frame"] = True
        else:
            kwargs["images"] = [[np.array(f) for f in r.frames.frames] for r in requests]
        return processor(**kwargs)

    # --- captioning ---------------------------------------------------------------------------------
    def caption(self, request: CaptionRequest) -> CaptionResult:
        return self.caption_batch([request])[0]

    def caption_batch(self, requests: list[CaptionRequest]) -> list[CaptionResult]:
        results: list[CaptionResult | None] = [
            None if r.frames.frames else no_frames_result(r, self.name, "vlm") for r in requests]
        if all(results):
            return results  # type: ignore[return-value]
        processor, model = self._load()
        groups: dict[bool, list[int]] = {}
        for i, r in enumerate(requests):
            if results[i] is not None:
                continue
            groups.setdefault(self._as_video(processor, r), []).append(i)
        size = max(1, self.settings.batch_size)
        for as_video, indices in groups.items():
            for start in range(0, len(indices), size):
                chunk = indices[start:start + size]
                for i, result in zip(chunk, self._generate(processor, model, [requests[i] for i in chunk], as_video)):
                    results[i] = result
        return [r for r in results if r is not None]

    def _generate(self, processor, model, requests: list[CaptionRequest], as_video: bool) -> list[CaptionResult]:
        import torch

        started = time.perf_counter()
        tokenizer = getattr(processor, "tokenizer", processor)
        tokenizer.padding_side = "left"  # generation continues each row from its last real token
        try:
            inputs = self._inputs(processor, requests, as_video)
        except (ValueError, TypeError, KeyError) as e:
            if not as_video or self.settings.frames_as == "video":
                raise CaptionerError(f"{self.name}'s processor rejected the frames: {' '.join(str(e).split())[:200]}"
                                     ) from None
            log.warning("%s: the processor cannot take frames as a video (%s); sending images instead",
                        self.name, " ".join(str(e).split())[:120])
            self._video_works = False
            inputs = self._inputs(processor, requests, False)
        inputs = {k: (v.to(model.device, dtype=self.dtype) if v.is_floating_point() else v.to(model.device))
                  if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        with self._lock, torch.inference_mode():
            output = model.generate(**inputs, max_new_tokens=self.settings.max_new_tokens, do_sample=False,
                                    pad_token_id=pad_id)
        new_tokens = output[:, inputs["input_ids"].shape[1]:]
        texts = processor.batch_decode(new_tokens, skip_special_tokens=True)
        tokens_in = inputs["attention_mask"].sum(dim=1).tolist()
        tokens_out = (new_tokens != pad_id).sum(dim=1).tolist()
        latency = (time.perf_counter() - started) / len(requests)
        return [CaptionResult(text=text.strip(), usage=Usage(
                    model=self.name, kind="vlm", tokens_in=int(n_in), tokens_out=int(n_out),
                    images=len(r.frames), latency_s=latency, role="caption"))
                for text, n_in, n_out, r in zip(texts, tokens_in, tokens_out, requests)]
