"""`vidrecall export VIDEO|DIR -o NAME.vrmem`: a video's memory (captions, speech, embeddings, frame times,
caption keys, progress marks), or the memory of every video of a folder, in one file another store can import
(`vidrecall import`, vidrecall/cli/import_bundle.py; the format is memory/bundle.py's). No model loads."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from vidrecall.cli.common import add_command, safe
from vidrecall.core.config import ConfigError


def add_store_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default=os.environ.get("VIDRECALL_PROFILE", "offline"),
                   help="profile name or YAML path (its embedder and caption settings; default: offline)")
    p.add_argument("--store", default=None, help="memory store directory (default: $VIDRECALL_STORE or the user cache dir)")


def open_memory(args: argparse.Namespace):
    """The store's VideoMemory, with no model loaded (the embedder loads only if something must be embedded)."""
    from vidrecall.core.config import load_config
    from vidrecall.memory.memory import VideoMemory

    config = load_config(args.profile, store_dir=args.store)
    return VideoMemory(config)


def run_export(args: argparse.Namespace) -> int:
    from vidrecall.memory.bundle import SUFFIX, export_bundle
    from vidrecall.memory.library import video_files

    target = Path(args.video).expanduser()
    if not target.exists():
        raise ConfigError(f"{args.video}: no such video file or folder")
    out = Path(args.out) if args.out else Path((target.stem if target.is_file() else target.resolve().name) + SUFFIX)
    if not out.suffix:
        out = out.with_suffix(SUFFIX)
    files = video_files(target) if target.is_dir() else [target]
    if not files:
        raise ConfigError(f"{args.video}: no video files in that folder")
    with open_memory(args) as memory:
        ids, skipped, paths = [], [], {}
        for file in files:
            video_id = memory.store.video_id(file, memory.progress)
            if memory.count(video_id) and memory.video(video_id) is not None:
                ids.append(video_id)
                paths[video_id] = str(file.resolve())
            else:
                skipped.append(file)
        if not ids:
            raise ConfigError(f"{args.video}: nothing stored for {'it' if target.is_file() else 'its videos'} in "
                              f"{memory.store_dir}; index it first (vidrecall index)")
        for file in skipped:
            print(safe(f"note: {file}: nothing stored for it; left out"), file=sys.stderr)
        report = export_bundle(memory, ids, out, paths=paths)
    print(safe(report.line()))
    return 0


def register(sub) -> None:
    p = add_command(sub, "export", run_export, "write a video's memory (or a folder's) to one .vrmem file another "
                    "store can import", backbones=False)
    p.add_argument("video", metavar="VIDEO|DIR")
    p.add_argument("-o", "--out", default=None, metavar="NAME.vrmem", help="the bundle to write (default: <video name>.vrmem)")
    add_store_flags(p)
