"""Library noise hidden unless asked for: transformers / huggingface_hub / sentence-transformers logging,
their progress bars ("Loading weights", the 272-step GGUF de-quantizing bar) and their warnings.

`quiet_loading()` wraps every model load, so the bars stay away in notebooks too (where they show as red
stderr); `quiet_process()` is for the CLI, which owns its process. `set_verbose(True)` (the CLI's
`--verbose`, or VIDRECALL_VERBOSE=1) shows all of it again.
"""
from __future__ import annotations

import importlib
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

NOISY_LOGGERS = ("transformers", "huggingface_hub", "sentence_transformers", "accelerate", "torch", "httpx",
                 "faiss", "gguf", "PIL", "matplotlib", "urllib3", "filelock", "onnxruntime")
_VERBOSE = os.environ.get("VIDRECALL_VERBOSE", "").strip().lower() in ("1", "true", "yes")


def verbose() -> bool:
    return _VERBOSE


def set_verbose(on: bool) -> None:
    global _VERBOSE
    _VERBOSE = bool(on)
    if on:
        os.environ["VIDRECALL_VERBOSE"] = "1"


def quiet_process() -> None:
    """For a command-line run: the libraries' logging, bars and warnings off for the whole process.

    Environment variables come first, so libraries imported later start quiet; bars we draw ourselves
    pass `disable=` explicitly and are unaffected."""
    if _VERBOSE:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        return
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # a default only: our own bars pass disable= themselves
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    warnings.filterwarnings("ignore")
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Around a model load: no bars, no INFO/WARNING logs, no warnings from the libraries; restored after."""
    if _VERBOSE:
        yield
        return
    levels = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    restore = _silence_loaded_libraries()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        for undo in restore:
            undo()


def _silence_loaded_libraries() -> list[Callable[[], object]]:
    """Turn off the bars of transformers / huggingface_hub (when importable); the undo functions."""
    undo: list[Callable[[], object]] = []
    try:
        import transformers.utils.logging as tf_logging
    except ImportError:
        return undo
    if tf_logging.is_progress_bar_enabled():
        tf_logging.disable_progress_bar()
        undo.append(tf_logging.enable_progress_bar)
    previous = tf_logging.get_verbosity()
    tf_logging.set_verbosity_error()
    undo.append(lambda: tf_logging.set_verbosity(previous))
    gguf = sys.modules.get("transformers.modeling_gguf_pytorch_utils")
    if gguf is None:
        try:
            gguf = importlib.import_module("transformers.modeling_gguf_pytorch_utils")
        except ImportError:
            gguf = None
    if gguf is not None and not getattr(gguf.tqdm, "_vidrecall_quiet", False):
        loud = gguf.tqdm  # the GGUF loader draws its bar with tqdm.auto directly, not transformers' switch

        def silent(*args, **kwargs):
            kwargs["disable"] = True
            return loud(*args, **kwargs)

        silent._vidrecall_quiet = True  # type: ignore[attr-defined]
        setattr(gguf, "tqdm", silent)  # as the undo below (to mypy a bare module)
        undo.append(lambda: setattr(gguf, "tqdm", loud))
    return undo
