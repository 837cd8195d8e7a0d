"""Local chat models as LangChain `BaseChatModel`s: any Hugging Face causal LM through transformers
(a folder, a hub id, or a GGUF file dequantised by transformers+gguf), a vision-language checkpoint
(Qwen2.5-VL, ...) chatting text-only through the image-text-to-text classes, and llama.cpp when installed.

Weights load once per process per (model, file, dtype, device) and are shared by every instance; a
vision-language checkpoint is shared with the captioner when both roles name it (tools/shared_models.py).
Replies carry `usage_metadata` (input/output tokens) like any API model's. Generation stops at the
question's deadline (tools/llm/deadline.py) and then raises GenerationOutOfTime: never a reply, never cached.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatResult

from vidrecall.core.quiet import quiet_loading
from vidrecall.tools.llm.deadline import RaiseAtDeadline, StopAtDeadline, check_deadline, current_deadline
from vidrecall.tools.llm.json_repair import closes_first_value

log = logging.getLogger(__name__)
_LOAD_LOCK = threading.Lock()
_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}


def chat_dicts(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages as the `{"role", "content"}` dicts chat templates and llama.cpp expect."""
    out = []
    for msg in messages:
        role = _ROLES.get(msg.type, "user")
        if isinstance(msg, ToolMessage):
            role = "user"
        out.append({"role": role, "content": str(msg.text)})
    return out


def _usage(tokens_in: int, tokens_out: int) -> UsageMetadata:
    return UsageMetadata(input_tokens=tokens_in, output_tokens=tokens_out, total_tokens=tokens_in + tokens_out)


def _cut_at_stop(text: str, stop: list[str] | None) -> str:
    for s in stop or []:
        if s and s in text:
            text = text[: text.index(s)]
    return text


class _StopWhenJsonCloses:
    """Stops generating once the JSON object the reply opened is closed (small models ramble on)."""

    def __init__(self, tokenizer: Any, prompt_length: int, prefix: str) -> None:
        self.tokenizer, self.prompt_length, self.prefix = tokenizer, prompt_length, prefix

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        text = self.prefix + self.tokenizer.decode(input_ids[0, self.prompt_length:], skip_special_tokens=True)
        return torch.full((input_ids.shape[0],), closes_first_value(text), dtype=torch.bool,
                          device=input_ids.device)


def _wants_json(response_format: Any) -> bool:
    return isinstance(response_format, dict) and response_format.get("type") in ("json_schema", "json_object")


def json_prefill(response_format: Any) -> str:
    """How a reply asked to be JSON starts: '{"<first field>":' for a schema, else "{".

    Writing the opening of the object for the model keeps even a 135M model on the schema's track.
    """
    if not _wants_json(response_format):
        return ""
    schema = (response_format.get("json_schema") or {}).get("schema") or {}
    fields = list((schema.get("properties") or {}))
    return '{"' + fields[0] + '":' if fields else "{"


def resolve_device_dtype(device: str, dtype: str) -> tuple[str, Any]:
    """cuda + bfloat16 when a GPU is there, else cpu + float32, unless asked otherwise."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        return device, torch.bfloat16 if device.startswith("cuda") else torch.float32
    return device, getattr(torch, dtype)


def load_causal_lm(model_path: str, gguf_file: str | None, device: str, dtype: str) -> tuple[Any, Any]:
    """(tokenizer, model), loaded once per process for each argument set (threads wait for one load)."""
    with _LOAD_LOCK:
        return _load_causal_lm(model_path, gguf_file, device, dtype)


@lru_cache(maxsize=4)
def _load_causal_lm(model_path: str, gguf_file: str | None, device: str, dtype: str) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    resolved_device, torch_dtype = resolve_device_dtype(device, dtype)
    extra = {"gguf_file": gguf_file} if gguf_file else {}
    log.info("loading %s%s on %s (%s)%s", model_path, f"/{gguf_file}" if gguf_file else "", resolved_device,
             torch_dtype, "; dequantising a GGUF takes ~30 s on CPU" if gguf_file else "")
    with quiet_loading():
        tokenizer = AutoTokenizer.from_pretrained(model_path, **extra)
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch_dtype, **extra)
    model.to(resolved_device).eval()
    return tokenizer, model


@dataclass(frozen=True)
class _Backend:
    tokenizer: Any
    model: Any
    processor: Any = None  # set for a vision-language checkpoint: its chat template takes content parts


@lru_cache(maxsize=16)
def _is_vlm_checkpoint(model_path: str) -> bool:
    from vidrecall.tools.shared_models import is_image_text_to_text

    return is_image_text_to_text(model_path)


class LocalTransformersChat(BaseChatModel):
    """A chat model over any transformers causal LM, using the tokenizer's chat template and `generate`."""

    model_path: str
    gguf_file: str | None = None
    model_id: str = ""
    device: str = "auto"
    dtype: str = "auto"
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0 means greedy decoding
    repetition_penalty: float = 1.0

    @property
    def _llm_type(self) -> str:
        return "local-transformers"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "gguf_file": self.gguf_file, "dtype": self.dtype,
                "max_new_tokens": self.max_new_tokens, "temperature": self.temperature,
                "repetition_penalty": self.repetition_penalty}

    def load(self) -> tuple[Any, Any]:
        """(tokenizer, model), loading them on first use."""
        backend = self._backend()
        return backend.tokenizer, backend.model

    def _backend(self) -> _Backend:
        if self.gguf_file is None and _is_vlm_checkpoint(self.model_path):
            from vidrecall.tools.shared_models import load_image_text_to_text, resolve_device, resolve_dtype

            device = resolve_device(self.device)
            loaded = load_image_text_to_text(self.model_path, device, resolve_dtype(self.dtype, device))
            return _Backend(getattr(loaded.processor, "tokenizer", loaded.processor), loaded.model, loaded.processor)
        return _Backend(*load_causal_lm(self.model_path, self.gguf_file, self.device, self.dtype))

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        import torch

        deadline = current_deadline()
        backend = self._backend()  # loading cannot be interrupted; a load that outlasts the budget ends here
        check_deadline(deadline)
        tokenizer, model = backend.tokenizer, backend.model
        input_ids = self._encode(backend, chat_dicts(messages))
        prefix = json_prefill(kwargs.get("response_format"))
        if prefix:
            prefix_ids = tokenizer(prefix, add_special_tokens=False, return_tensors="pt")["input_ids"]
            input_ids = torch.cat([input_ids, prefix_ids], dim=1)
        input_ids = input_ids.to(model.device)
        max_new = int(kwargs.get("max_new_tokens", kwargs.get("max_tokens", self.max_new_tokens)))
        temperature = float(kwargs.get("temperature", self.temperature))
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        with torch.inference_mode():
            stopping: list[Any] = [_StopWhenJsonCloses(tokenizer, input_ids.shape[1], prefix)] if prefix else []
            at_deadline = StopAtDeadline(deadline) if deadline is not None else None
            if at_deadline is not None:
                stopping.append(at_deadline)
            output = model.generate(input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=max_new,
                                    pad_token_id=pad_id, repetition_penalty=self.repetition_penalty,
                                    stopping_criteria=stopping or None, **sampling)
        if at_deadline is not None and at_deadline.fired:
            check_deadline(deadline)  # cut short by the budget: a partial reply is no reply
        new_tokens = output[0, input_ids.shape[1]:]
        text = _cut_at_stop(prefix + tokenizer.decode(new_tokens, skip_special_tokens=True), stop).strip()
        message = AIMessage(content=text, usage_metadata=_usage(int(input_ids.shape[1]), int(new_tokens.shape[0])),
                            response_metadata={"model_name": self.model_id or self.model_path})
        return ChatResult(generations=[ChatGeneration(message=message)])

    @staticmethod
    def _encode(backend: _Backend, chat: list[dict[str, str]]) -> Any:
        tokenizer, processor = backend.tokenizer, backend.processor
        if processor is not None and getattr(processor, "chat_template", None):
            parts = [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}]} for m in chat]
            encoded = processor.apply_chat_template(parts, add_generation_prompt=True, tokenize=True,
                                                    return_dict=True, return_tensors="pt")
            return encoded["input_ids"]
        if getattr(tokenizer, "chat_template", None):
            encoded = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt",
                                                    return_dict=True)
            return encoded["input_ids"]
        # No chat template (a base model): a plain transcript ending where the assistant speaks.
        prompt = "".join(f"{m['role']}: {m['content']}\n" for m in chat) + "assistant:"
        return tokenizer(prompt, return_tensors="pt")["input_ids"]


def stops_at_deadline(model: Any) -> bool:
    """True for the in-process chat models (they honour `generation_deadline`); a RunnableBinding is unwrapped."""
    return isinstance(getattr(model, "bound", model), LocalTransformersChat)


def load_local_weights(model: Any) -> None:
    """Load a local model's weights now (once per process), so that a question's clock, started after this,
    is not spent on a load that no deadline can interrupt: transformers weights, or the loopback llama.cpp
    server. Remote models: nothing to do."""
    from vidrecall.tools.llm.llamacpp_server import LlamaCppServerChat

    inner = getattr(model, "bound", model)
    if isinstance(inner, LocalTransformersChat):
        inner.load()
    elif isinstance(inner, LlamaCppServerChat):
        inner.server.start()


__all__ = ["LocalTransformersChat", "chat_dicts", "load_causal_lm", "load_local_weights",
           "stops_at_deadline"]
