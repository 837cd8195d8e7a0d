"""Helpers for the memory-scaling benchmarks: a video N times as long as a given one, and the peak RSS of a
piece of work.

The longer video is the same file joined N times with ffmpeg's concat demuxer and `-c copy` (no re-encode,
seconds), using imageio-ffmpeg's binary, so no system ffmpeg/ffprobe is needed (the shared
`build_haystack.py --repeat N` needs both and re-encodes every clip; for memory scaling the two are alike).
"""
from __future__ import annotations

import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import imageio_ffmpeg
import psutil


def repeat_video(source: Path, times: int, directory: Path) -> Path:
    listing = directory / f"{source.stem}_x{times}.txt"
    listing.write_text(f"file '{Path(source).resolve()}'\n" * times)
    out = directory / f"{source.stem}_x{times}{source.suffix}"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-f", "concat", "-safe", "0",
                    "-i", str(listing), "-c", "copy", str(out)], check=True)
    return out


@contextmanager
def peak_rss(every_s: float = 0.005) -> Iterator[dict]:
    """Yields a dict whose "baseline" (RSS on entry) and "peak" (highest RSS seen inside, polled on a thread;
    ru_maxrss would also count the import peak) are filled in bytes when the block ends."""
    process = psutil.Process()
    figures = {"baseline": process.memory_info().rss}
    figures["peak"] = figures["baseline"]
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(every_s):
            figures["peak"] = max(figures["peak"], process.memory_info().rss)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield figures
    finally:
        stop.set()
        watcher.join()
        figures["peak"] = max(figures["peak"], process.memory_info().rss)
