"""One typed, immutable configuration: memory levels, backbones, budgets, where the store lives.

Loaded from a profile file (`core/profiles/<name>.yaml` or any YAML path), then overridden by
keyword arguments or CLI flags. Nodes read it; nobody mutates it (use `dataclasses.replace`).
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROFILES_DIR = Path(__file__).parent / "profiles"
STORE_ENV = "VIDRECALL_STORE"


class ConfigError(ValueError):
    """A bad profile, flag or value; the message is one line and says how to fix it."""


@dataclass(frozen=True)
class Level:
    """One granularity of the memory hierarchy.

    A clip of this level covers `clip_seconds`; it is sampled at `fps` frames per second, or with exactly
    `frames_per_clip` frames spread over the clip when `fps` is None; each frame is resized to at most
    `max_pixels` pixels; `prompt` names the caption template in prompts/.
    """

    name: str
    clip_seconds: float
    fps: float | None = None
    frames_per_clip: int | None = None
    max_pixels: int = 128 * 28 * 28
    prompt: str = "caption"

    def __post_init__(self) -> None:
        if self.clip_seconds <= 0:
            raise ConfigError(f"level {self.name!r}: clip_seconds must be > 0, got {self.clip_seconds}")
        if (self.fps is None) == (self.frames_per_clip is None):
            raise ConfigError(f"level {self.name!r}: set exactly one of fps or frames_per_clip")
        if self.fps is not None and self.fps <= 0:
            raise ConfigError(f"level {self.name!r}: fps must be > 0, got {self.fps}")
        if self.frames_per_clip is not None and self.frames_per_clip < 1:
            raise ConfigError(f"level {self.name!r}: frames_per_clip must be >= 1")

    def frames_for(self, seconds: float) -> int:
        """How many frames a span of `seconds` gets at this level's density (at least 1)."""
        if self.fps is not None:
            return max(1, int(round(seconds * self.fps)))
        return max(1, int(round(self.frames_per_clip * min(1.0, seconds / self.clip_seconds))))


@dataclass(frozen=True)
class Budgets:
    """When the agent must stop zooming and answer with what it has."""

    max_iterations: int = 5
    max_captions: int = 60
    max_llm_tokens: int = 200_000
    max_seconds: float = 900.0


@dataclass(frozen=True)
class Config:
    profile: str = "offline"
    levels: tuple[Level, ...] = (
        Level("coarse", 60, fps=1.0, max_pixels=128 * 28 * 28, prompt="caption_coarse"),
        Level("fine", 10, fps=2.0, max_pixels=512 * 28 * 28, prompt="caption_fine"),
        Level("ultrafine", 1, frames_per_clip=2, max_pixels=512 * 28 * 28, prompt="caption_fine"),
    )
    # Backbones: a spec string (see tools/llm/factory.py and tools/captioners/factory.py) plus options.
    llm: str = "smollm2"
    llm_options: dict[str, Any] = field(default_factory=dict)
    captioner: str = "ocr"
    captioner_options: dict[str, Any] = field(default_factory=dict)
    embedder: str = "all-MiniLM-L6-v2"
    # Agent
    strategy: str = "default"  # "default" | "videolucy"
    budgets: Budgets = Budgets()
    context_tokens: int = 6000  # memory text the LLM may read per call; beyond it, retrieval picks
    retrieval_k: int = 8
    spans_per_round: int = 2
    confidence_threshold: float = 0.7
    # Storage and caching
    store_dir: str = ""  # empty: $VIDRECALL_STORE, else the user's cache directory
    cache_responses: bool = True

    @property
    def store_path(self) -> Path:
        if self.store_dir:
            return Path(self.store_dir).expanduser()
        if os.environ.get(STORE_ENV):
            return Path(os.environ[STORE_ENV]).expanduser()
        from platformdirs import user_cache_dir

        return Path(user_cache_dir("vidrecall"))

    def level(self, name_or_depth: str | int) -> Level:
        if isinstance(name_or_depth, int):
            return self.levels[name_or_depth]
        for lv in self.levels:
            if lv.name == name_or_depth:
                return lv
        raise ConfigError(f"unknown level {name_or_depth!r}; this profile has {[lv.name for lv in self.levels]}")

    def depth(self, level_name: str) -> int:
        return [lv.name for lv in self.levels].index(self.level(level_name).name)

    def finer(self, level_name: str) -> Level | None:
        d = self.depth(level_name)
        return self.levels[d + 1] if d + 1 < len(self.levels) else None

    def replace(self, **changes: Any) -> "Config":
        return _from_dict({**to_dict(self), **changes})


def to_dict(cfg: Config) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def load_config(profile: str | os.PathLike = "offline", **overrides: Any) -> Config:
    """Read a profile by name (bundled) or path (YAML), apply overrides (None values are ignored)."""
    path = Path(profile)
    if not path.suffix:
        path = PROFILES_DIR / f"{profile}.yaml"
    if not path.exists():
        raise ConfigError(f"no profile {str(profile)!r}; choose one of {available_profiles()} or give a YAML path")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a profile must be a mapping of settings")
    data = _expand_env(data)
    data.setdefault("profile", path.stem)
    data.update({k: v for k, v in overrides.items() if v is not None})
    return _from_dict(data)


_ENV_REF = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def _expand_env(value: Any) -> Any:
    """Expand ${VAR} and ${VAR:-default} inside profile strings (base URLs, model paths)."""
    if isinstance(value, str):
        return _ENV_REF.sub(lambda m: os.environ.get(m.group(1)) or (m.group(2) or ""), value)
    if isinstance(value, dict):
        return {k: _expand_env(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v) for v in value]
    return value


def _from_dict(data: dict[str, Any]) -> Config:
    data = dict(data)
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(known)}")
    if "levels" in data:
        levels = []
        for lv in data["levels"]:
            if isinstance(lv, Level):
                levels.append(lv)
                continue
            try:
                levels.append(Level(**lv))
            except TypeError as exc:
                raise ConfigError(f"bad level {lv!r}: {exc}") from None
        if not levels:
            raise ConfigError("a profile needs at least one memory level")
        data["levels"] = tuple(levels)
    if "budgets" in data and not isinstance(data["budgets"], Budgets):
        try:
            data["budgets"] = Budgets(**(data["budgets"] or {}))
        except TypeError as exc:
            raise ConfigError(f"bad budgets: {exc}") from None
    if data.get("strategy", "default") not in ("default", "videolucy"):
        raise ConfigError(f"unknown strategy {data['strategy']!r}; choose 'default' or 'videolucy'")
    return Config(**data)
