"""NExT-QA: CSV rows {video, frame_count, width, height, question, answer (0-4), qid, type, a0..a4};
`map_vid_vidorID.json` beside the CSV maps a video to its "folder/name" in the video archive."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from vidrecall.evaluation.items import LETTERS, QAItem, letter_options
from vidrecall.evaluation.loaders.common import Malformed, each_item, read_json, read_rows

NAME = "nextqa"
TYPE_GROUPS = {"C": "causal", "T": "temporal", "D": "descriptive"}


def parse(path: Path) -> Iterator[QAItem | Malformed]:
    map_path = path.parent / "map_vid_vidorID.json"
    vid_map = read_json(map_path) if map_path.exists() else {}
    vid_map = vid_map if isinstance(vid_map, dict) else {}

    def build(n: int, row: dict[str, Any]) -> QAItem | Malformed:
        video, qid = str(row.get("video", "")), str(row.get("qid", ""))
        item_id = f"{video}_{qid}"
        opts = [str(row.get(f"a{i}") or "").strip() for i in range(5)]
        try:
            answer = int(row.get("answer", ""))
        except (TypeError, ValueError):
            return Malformed(item_id, f"answer {row.get('answer')!r} is not an option index 0-4")
        if not 0 <= answer < 5 or not all(opts):
            return Malformed(item_id, f"answer index {answer} or an empty option")
        qtype = str(row.get("type", ""))
        return QAItem(id=item_id, video_id=video, video_path=None, question=str(row.get("question", "")).strip(),
                      options=letter_options(opts), answer=LETTERS[answer], question_type=qtype, source=NAME,
                      extra={"video_file": str(vid_map.get(video, "")), "type_group": TYPE_GROUPS.get(qtype[:1], "")})

    yield from each_item(read_rows(path), build, lambda n, row: f"{row.get('video', '')}_{row.get('qid', '')}")
