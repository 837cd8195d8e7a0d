"""One copy of each local transformers checkpoint per process, shared by every role that names it.

A vision-language checkpoint can serve as the captioner and as the LLM (text-only chat works through the
image-text-to-text classes); loading it once matters when it is a 7B model (two copies would be ~2x16 GB).
Entries are keyed by (path, dtype, device) after "auto" is resolved, so both roles land on one key.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from vidrecall.core.quiet import quiet_loading

log = logging.getLogger(__name__)
_LOCK = threading.Lock()
_LOADED: dict[tuple, "LoadedVLM"] = {}
LOAD_COUNT = {"image-text-to-text": 0}  # how many real loads happened (tests check sharing with it)


@dataclass(frozen=True)
class LoadedVLM:
    processor: Any
    model: Any


def resolve_device(device: str) -> str:
    import torch

    if device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(dtype: str, device: str) -> Any:
    """bfloat16 on a CUDA GPU that has it (else float16), float32 elsewhere, unless asked otherwise."""
    import torch

    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    value = getattr(torch, dtype, None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}: use auto, float32, bfloat16 or float16")
    return value


def is_image_text_to_text(path: str, trust_remote_code: bool = False) -> bool:
    """Whether the checkpoint's config is a vision-language model that the causal-LM classes do not take."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText

    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError):
        return False  # let the causal-LM loader report the problem with its own message
    kind = type(config)
    return kind in AutoModelForImageTextToText._model_mapping and kind not in AutoModelForCausalLM._model_mapping


def load_image_text_to_text(path: str, device: str, dtype: Any, *, trust_remote_code: bool = False,
                            attn_implementation: str | None = None) -> LoadedVLM:
    """The processor and model of `path` on `device` in `dtype` (a torch dtype), loaded at most once."""
    key = (path, str(dtype).removeprefix("torch."), device)
    with _LOCK:
        loaded = _LOADED.get(key)
        if loaded is None:
            from transformers import AutoModelForImageTextToText, AutoProcessor

            log.info("loading %s on %s (%s)", path, device, key[1])
            extra = {"attn_implementation": attn_implementation} if attn_implementation else {}
            with quiet_loading():
                processor = AutoProcessor.from_pretrained(path, trust_remote_code=trust_remote_code)
                model = AutoModelForImageTextToText.from_pretrained(
                    path, dtype=dtype, trust_remote_code=trust_remote_code,
                    device_map=device if device != "cpu" else None, **extra).eval()
            if device == "cpu":
                model = model.to("cpu")
            loaded = _LOADED[key] = LoadedVLM(processor, model)
            LOAD_COUNT["image-text-to-text"] += 1
        return loaded
