"""An answer's provenance: the config digest, the model ids, the caption keys of every memory node it read
(the focus nodes, the nodes a step names in its detail, the evidence) and the vidrecall version, so a
result can be replayed or checked against the memory it came from."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from vidrecall.core.digests import config_digest, package_version
from vidrecall.core.result import Evidence, ModelIds, Provenance, Step
from vidrecall.tools.llm.usage import model_id

# Step detail entries holding memory node ids (recall: `node_ids`).
NODE_ID_KEYS = ("node_ids", "focus_ids")


def read_node_ids(trajectory: Sequence[Step], evidence: Sequence[Evidence], focus_ids: Iterable[int] = ()) -> list[int]:
    """Every memory node id the answer read, once each: the ids its steps name in their detail (recall's
    `node_ids`), the focus nodes the last prompt was built from, then the evidence's nodes."""
    ids: list[int] = []
    for step in trajectory:
        for key in NODE_ID_KEYS:
            ids += [i for i in step.detail.get(key) or [] if isinstance(i, int) and not isinstance(i, bool)]
    ids += [i for i in focus_ids if isinstance(i, int)]
    ids += [e.node_id for e in evidence if e.node_id is not None]
    return list(dict.fromkeys(ids))


def asr_id(config: Any) -> str | None:
    """The speech model's id when the profile transcribes audio; None when it does not."""
    speech = config.speech
    return f"{speech.backend}:{speech.model}" if speech.uses_asr else None


def answer_provenance(config: Any, *, llm: Any, captioner: Any, embedder_id: str, memory: Any,
                      node_ids: Iterable[int]) -> Provenance:
    """`memory` is the store the node ids belong to (a VideoMemory: `nodes_by_id` gives stored nodes, whose
    keys are the caption keys)."""
    keys = [node.key for node in memory.nodes_by_id(list(node_ids))]
    return Provenance(config_digest=config_digest(config), profile=config.profile,
                      models=ModelIds(llm=model_id(llm) if llm is not None else "",
                                      captioner=str(getattr(captioner, "id", "") or ""),
                                      embedder=embedder_id, asr=asr_id(config)),
                      caption_keys=list(dict.fromkeys(keys)), version=package_version())
