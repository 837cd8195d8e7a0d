"""The README's main job: build a sample video, index it, ask a question — offline profile.

With the shared clips beside the checkout (../shared/media/clips) the sample is a ~4-minute
needle-in-a-haystack video with two needles: on-screen text in an 8-second segment, and a spoken
sentence (espeak-ng) mixed into the audio track. The demo asks one question about each, naming no time.
Without the shared clips, a synthetic test pattern (so the command still shows the whole path end to end).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from vidrecall.cli.common import console as text_console, print_answer, stream_answer, styled

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CLIPS = Path(os.environ.get("VIDRECALL_SHARED", REPO.parent / "shared")) / "media" / "clips"
FILLER = ["intel_bottle-detection.mp4", "univtg_charades.mp4", "moviepy_resource_1.mp4", "askany_yoga.mp4",
          "deb-gnome_display-dual-monitors.webm", "moviepy_test_video.mp4"]


SPOKEN_QUESTION = "said_team_meeting"


def build_sample(clips: Path, out: Path) -> tuple[Path, list[tuple[str, list[str], str | None]]]:
    """The sample video and the questions to ask about it: (question, options, right letter) triples."""
    if clips.is_dir():
        from vidrecall.evaluation.haystack import build_haystack

        spec = build_haystack(clips, out, filler=[f for f in FILLER if (clips / f).exists()],
                              needles=["mdn_frog.mp4@0.3", "vl2_00003491.mp4@0.6"], seed=7)
        text = next(q for q in spec.questions if q["id"].startswith("text_find_"))
        questions = [(text["question"], text["options"], text["answer"])]
        if shutil.which("espeak-ng"):
            from vidrecall.evaluation.spoken_needles import add_spoken_needles

            spec = add_spoken_needles(spec, seed=7)
            spoken = next(q for q in spec.questions if q["id"] == SPOKEN_QUESTION)
            questions.append((spoken["question"], spoken["options"], spoken["answer"]))
        else:
            print("(espeak-ng is not installed: the spoken needle and its question are left out)")
        return spec.video, questions
    from vidrecall.evaluation.haystack import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=15:duration=90",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)], check=True)
    return out, [("What kind of picture does the video show?", [], None)]


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

    run_demo(Path(args.clips), Path(args.out), args.profile)
    return 0


def run_demo(clips: Path, out: Path, profile: str = "offline", store_dir: str | None = None) -> list[tuple]:
    """Build the sample, index it, ask its questions with live steps; (right letter, Answer) per question."""
    from vidrecall.api import VideoQA

    console = text_console()
    out.parent.mkdir(parents=True, exist_ok=True)
    console.rule("1. sample video")
    video, questions = build_sample(clips, out)
    console.print(f"{video}")
    answers = []
    where: dict[str, Any] = {"store_dir": store_dir} if store_dir else {}
    with VideoQA(profile, **where) as qa:
        console.rule("2. index (coarse level, and speech)")
        indexed = qa.index(str(video))
        for report in indexed.reports:
            console.print(f"{report.level}: {report.clips} clips, {report.created} captioned, {report.reused} reused, "
                          f"{report.seconds:.1f} s")
        for speech in indexed.speech:
            console.print(f"speech ({speech.source}): {speech.status}, {speech.segments} segments")
        for number, (question, options, right) in enumerate(questions, start=3):
            console.rule(f"{number}. ask")
            console.print(styled(("Q:", "bold"), " ", question))
            for opt in options:
                console.print(f"   {opt}")
            answer = stream_answer(qa, str(video), question, options, console, as_json=False)
            print_answer(console, answer)
            answers.append((right, answer))
        console.print(styled((f"store: {qa.config.store_path}", "dim")))
    return answers


if __name__ == "__main__":
    sys.exit(main())
