"""The README's main job: build a sample video, index it, ask a question — offline profile.

With the shared clips beside the checkout (../shared/media/clips) the sample is a ~4-minute
needle-in-a-haystack video whose answer is on-screen text in an 8-second segment; without them, a
synthetic test pattern (so the command still shows the whole path end to end).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from vidrecall.cli.common import console as text_console, print_answer, stream_answer, styled

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CLIPS = Path(os.environ.get("VIDRECALL_SHARED", REPO.parent / "shared")) / "media" / "clips"
FILLER = ["intel_bottle-detection.mp4", "univtg_charades.mp4", "moviepy_resource_1.mp4", "askany_yoga.mp4",
          "deb-gnome_display-dual-monitors.webm", "moviepy_test_video.mp4"]


def build_sample(clips: Path, out: Path) -> tuple[Path, str, list[str]]:
    if clips.is_dir():
        from vidrecall.evaluation.haystack import build_haystack

        spec = build_haystack(clips, out, filler=[f for f in FILLER if (clips / f).exists()],
                              needles=["mdn_frog.mp4@0.3", "vl2_00003491.mp4@0.6"], seed=7)
        item = next(q for q in spec.questions if q["id"].startswith("text_find_"))
        return spec.video, item["question"], item["options"]
    from vidrecall.evaluation.haystack import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=15:duration=90",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)], check=True)
    return out, "What kind of picture does the video show?", []


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clips", default=str(DEFAULT_CLIPS))
    ap.add_argument("--out", default=str(REPO / ".vidrecall" / "sample" / "sample_haystack.mp4"))
    ap.add_argument("--profile", default="offline")
    ap.add_argument("--verbose", action="store_true", help="show the libraries' logs, progress bars and warnings")
    args = ap.parse_args(argv)
    from vidrecall.core.quiet import quiet_process, set_verbose

    set_verbose(args.verbose)
    quiet_process()  # before the model libraries are imported

    from vidrecall.api import VideoQA

    console = text_console()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    console.rule("1. sample video")
    video, question, options = build_sample(Path(args.clips), out)
    console.print(f"{video}")
    qa = VideoQA(args.profile)
    console.rule("2. index (coarse level)")
    report = qa.index(str(video))
    console.print(f"{report.level}: {report.clips} clips, {report.created} captioned, {report.reused} reused, "
                  f"{report.seconds:.1f} s")
    console.rule("3. ask")
    console.print(styled(("Q:", "bold"), " ", question))
    for opt in options:
        console.print(f"   {opt}")
    answer = stream_answer(qa, str(video), question, options, console, as_json=False)
    print_answer(console, answer)
    console.print(styled((f"store: {qa.config.store_path}", "dim")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
