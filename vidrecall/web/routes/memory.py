"""The memory of a video as the timeline draws it (every caption, lanes coarse → fine, then speech), and search."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool

from vidrecall.core.types import SPEECH_LEVEL, MemoryNode
from vidrecall.web.schemas import MemoryView, NodeView, SearchHit
from vidrecall.web.services import Services, services, video_or_404

router = APIRouter(prefix="/api/videos/{video_id}", tags=["memory"])
# Hits under this cosine score are no match. Calibrated with the real embedder (all-MiniLM-L6-v2) on real
# memories (OCR + speech captions of the Sintel trailer, the bottle and bikes clips, a 4-minute spoken demo):
# the best hit of 56 nonsense queries ("xyzzy plugh", "recipe for lasagna", "Fernando Alonso") scored -0.04
# to 0.23 (one 0.30: "banana" found "pineapple"); 20 queries for what is there found it at 0.30 to 0.87, and
# the two whose best hit was the wrong caption scored 0.16 and 0.17.
SEARCH_FLOOR = 0.25


def node_view(n: MemoryNode) -> NodeView:
    assert n.id is not None  # a node read from the store has its row id
    return NodeView(id=n.id, level=n.level, depth=n.depth, start=n.start, end=n.end, text=n.text,
                    instruction=n.instruction, parent_id=n.parent_id)


def lanes_of(nodes: list[MemoryNode], configured: list[str]) -> list[str]:
    present = {n.level for n in nodes}
    lanes = [lv for lv in configured if lv in present or lv == configured[0]]
    extra = sorted(present - set(lanes) - {SPEECH_LEVEL}, key=lambda lv: min(n.depth for n in nodes if n.level == lv))
    return lanes + extra + ([SPEECH_LEVEL] if SPEECH_LEVEL in present else [])


@router.get("/memory", response_model=MemoryView, summary="Every stored caption of a video")
def memory(video_id: str, svc: Services = Depends(services)):
    record = video_or_404(svc, video_id)
    nodes = svc.engine.memory.every_node(record.id)
    return MemoryView(video_id=record.id, duration=record.duration,
                      lanes=lanes_of(nodes, [lv.name for lv in svc.config.levels]), nodes=[node_view(n) for n in nodes])


@router.get("/search", response_model=list[SearchHit],
            summary="Captions closest in meaning to a query (none when nothing is close)")
async def search(video_id: str, q: str = Query(..., min_length=1, max_length=500), k: int = Query(10, ge=1, le=100),
                 min_score: float = Query(SEARCH_FLOOR, ge=-1, le=1,
                                          description="hits under this cosine score are left out (-1: keep all)"),
                 svc: Services = Depends(services)):
    record = video_or_404(svc, video_id)
    if not q.strip():
        raise HTTPException(422, "search text is empty")

    def run():
        return svc.engine.memory.search(q.strip(), record.id, k=k)

    hits = await run_in_threadpool(run)
    return [SearchHit(score=round(float(score), 4), node=node_view(n)) for n, score in hits if score >= min_score]
