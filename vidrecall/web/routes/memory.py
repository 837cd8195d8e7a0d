"""The memory of a video as the timeline draws it (every caption, lanes coarse → fine, then speech), and search."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool

from vidrecall.core.types import SPEECH_LEVEL, MemoryNode
from vidrecall.web.schemas import MemoryView, NodeView, SearchHit
from vidrecall.web.services import Services, services, video_or_404

router = APIRouter(prefix="/api/videos/{video_id}", tags=["memory"])
# A hit under this cosine score is `weak`: no close match (the page says so). Calibrated with the real embedder
# (all-MiniLM-L6-v2) on real memories: the offline captioner's OCR + speech captions of the Sintel trailer, the
# bottle and bikes clips and a 4-minute spoken demo, and the VLM coarse memory of VideoLucy's demo video. The
# best hit of nonsense queries ("xyzzy plugh", "how to file taxes", "Fernando Alonso"; 14-16 per memory)
# scored -0.04 to 0.23; where the best hit was the right caption it scored 0.21 to 0.87, 20 of 21 times 0.25
# or more. Near misses of the topic score alike ("banana" found "pineapple" at 0.30, "recipe for lasagna" a
# food truck at 0.28), so weak hits are marked, never hidden.
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
            summary="Captions closest in meaning to a query, best first (weak: no close match)")
async def search(video_id: str, q: str = Query(..., min_length=1, max_length=500), k: int = Query(10, ge=1, le=100),
                 svc: Services = Depends(services)):
    record = video_or_404(svc, video_id)
    if not q.strip():
        raise HTTPException(422, "search text is empty")

    def run():
        return svc.engine.memory.search(q.strip(), record.id, k=k)

    hits = await run_in_threadpool(run)
    return [SearchHit(score=round(float(score), 4), weak=score < SEARCH_FLOOR, node=node_view(n)) for n, score in hits]
