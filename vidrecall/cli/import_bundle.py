"""`vidrecall import NAME.vrmem [--store S] [--video PATH]`: merge a memory bundle (vidrecall export) into a
store; questions about its videos then reuse its captions. A tampered, truncated or mismatched bundle is refused
with one line before anything is written. No model loads unless the bundle's embedder is not the store's."""
from __future__ import annotations

import argparse
import sys

from vidrecall.cli.common import add_command, safe
from vidrecall.cli.export import add_store_flags, open_memory


def run_import(args: argparse.Namespace) -> int:
    from vidrecall.memory.bundle import import_bundle, read_bundle

    bundle = read_bundle(args.bundle)  # a damaged bundle fails before the store is opened
    with open_memory(args) as memory:
        report = import_bundle(memory, bundle, video=args.video)
    for note in report.notes:
        print(safe(f"note: {note}"), file=sys.stderr)
    print(safe(report.line()))
    return 0


def register(sub) -> None:
    p = add_command(sub, "import", run_import, "merge a memory bundle (.vrmem from 'vidrecall export') into a store",
                    backbones=False)
    p.add_argument("bundle", metavar="NAME.vrmem")
    p.add_argument("--video", default=None, metavar="PATH",
                   help="the local copy of the bundled video: refused unless its content is the bundle's video")
    add_store_flags(p)
