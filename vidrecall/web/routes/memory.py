"""The memory of a video as the timeline draws it (every caption, lanes coarse → fine, then speech), and search."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool

from vidrecall.core.types import SPEECH_LEVEL, MemoryNode
from vidrecall.web.schemas import MemoryView, NodeView, SearchHit
from vidrecall.web.services import Services, services, video_or_404

router = APIRouter(prefix="/api/videos/{video_id}", tags=["memory"])



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


@router.get("/search", response_model=list[SearchHit], summary="Captions closest in meaning to a query")
async def search(video_id: str, q: str = Query(..., min_length=1, max_length=500), k: int = Query(10, ge=1, le=100),
                 svc: Services = Depends(services)):
    record = video_or_404(svc, video_id)
    if not q.strip():
        raise HTTPException(422, "search text is empty")

    def run():
        return svc.engine.memory.search(q.strip(), record.id, k=k)

    hits = await run_in_threadpool(run)
    return [SearchHit(score=round(float(score), 4), node=node_view(n)) for n, score in hits]
