"""Stable digests of a configuration, and the running vidrecall version, for provenance and memory bundles.

`config_digest`: everything of the effective Config that can change an answer (where the store lives cannot).
`profile_digest`: only what shapes the stored memory -- the levels, the captioner, the embedder, the speech
settings that pick the transcript -- so two profiles that would make the same captions share it.
Connection details (servers, key variables, devices, threads) change neither.
"""
from __future__ import annotations

import dataclasses
from importlib import metadata
from typing import Any

from vidrecall.core.types import stable_hash

DIGEST_CHARS = 16
# Where a model runs or how it is reached, never what it says: left out of the digests.
CONNECTION_KEYS = frozenset({"base_url", "api_key_env", "timeout", "device", "cpu_threads", "compute_type",
                             "max_retries", "n_threads", "threads"})


def _plain(value: Any) -> Any:
    """The config as JSON-able data with connection details left out."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
                if k not in CONNECTION_KEYS}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def config_digest(config: Any) -> str:
    """A stable hash of the effective Config (a vidrecall.core.config.Config), its store folder left out."""
    data = _plain(config)
    data.pop("store_dir", None)
    return stable_hash(data, DIGEST_CHARS)


def profile_digest(config: Any) -> str:
    """A stable hash of what shapes the memory a profile makes: levels, captioner (spec and options),
    embedder, and the speech source/backend/model/language."""
    speech = _plain(config.speech)
    return stable_hash({"levels": _plain(config.levels), "captioner": config.captioner,
                        "captioner_options": _plain(config.captioner_options), "embedder": config.embedder,
                        "speech": {k: speech.get(k) for k in ("source", "backend", "model", "language",
                                                              "diarization", "window_seconds")}},
                       DIGEST_CHARS)


def package_version() -> str:
    """The installed vidrecall version ("unknown" when run from a tree that was never installed)."""
    try:
        return metadata.version("vidrecall")
    except metadata.PackageNotFoundError:
        return "unknown"
