"""The Python API: `VideoQA` indexes videos into the caption memory and answers questions about them.

    qa = VideoQA("offline", store_dir="~/vidrecall-store")
    answer = qa.ask("talk.mp4", "What is written on the slide?", ["A. …", "B. …"])
    for item in qa.stream("talk.mp4", "Who speaks first?"):  # Steps as they happen, then the Answer
        print(item.message if hasattr(item, "message") else item.summary())
    chat = qa.chat("talk.mp4"); chat.ask("…"); chat.ask("and after that?")

The CLI, the notebooks and the evaluation harness are thin shells over this object.
"""
from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from vidrecall.agent.graph import build_graph
from vidrecall.core.result import Answer, Cost, Evidence, Step
from vidrecall.session import ChatSession, new_session_id, open_checkpointer
from vidrecall.agent.state import AgentContext, fresh_question_state
from vidrecall.core.config import Config, load_config
from vidrecall.core.accounting import CostMeter


class VideoQA:
    def __init__(self, profile: str = "offline", *, llm=None, vlm=None, embedder=None, store_dir=None,
                 strategy: str | None = None, config: Config | None = None, **overrides: Any):
        changes = {"strategy": strategy, "store_dir": str(store_dir) if store_dir else None, **overrides}
        if config is None:
            config = load_config(profile, **changes)
        elif any(v is not None for v in changes.values()):
            config = config.replace(**{k: v for k, v in changes.items() if v is not None})
        self.config = config
        self._given = {"llm": llm, "vlm": vlm, "embedder": embedder}
        self._graphs: dict[bool, Any] = {}

    # --- lazily built parts ---------------------------------------------------------------------
    @cached_property
    def backbones(self):
        from vidrecall.backbones import build_backbones

        return build_backbones(self.config, **self._given)

    @cached_property
    def memory(self):
        from vidrecall.memory.memory import VideoMemory

        return VideoMemory(self.config, self.backbones.captioner, self.backbones.embedder,
                           store_dir=self.config.store_path)

    @cached_property
    def _checkpointer(self):
        return open_checkpointer(self.config.store_path)

    def _graph(self, persistent: bool):
        if persistent not in self._graphs:
            self._graphs[persistent] = build_graph(self.config.strategy,
                                                   self._checkpointer if persistent else None)
        return self._graphs[persistent]

    # --- public API ---------------------------------------------------------------------------------
    def index(self, video: str | Path, levels=("coarse",), progress: bool = True):
        """Caption `video` at each of `levels` (resumable; cached clips cost nothing). Returns the last
        level's IndexReport."""
        return list(self.index_levels(video, levels, progress))[-1]

    def index_levels(self, video: str | Path, levels=("coarse",), progress: bool = True) -> Iterator:
        """As `index`, yielding each level's IndexReport as that level is done."""
        record = self.memory.register(video)
        for level in levels:
            yield self.memory.build_level(record, level, progress=progress)

    def ask(self, video: str | Path, question: str, options: list[str] | None = None, *,
            session_id: str | None = None) -> Answer:
        items = list(self.stream(video, question, options, session_id=session_id))
        return items[-1]

    def stream(self, video: str | Path, question: str, options: list[str] | None = None, *,
               session_id: str | None = None) -> Iterator[Step | Answer]:
        """Each Step as its graph node finishes, then the Answer (always the last item)."""
        question, options = _checked(question, options)
        record = self.memory.register(video)  # VideoError (one line, naming the file) before any work
        meter = CostMeter()
        coarse = self.config.levels[0].name
        missing = any(self.memory.store.find(self.memory.plan(record, coarse, span).key) is None
                      for span in self.memory.level_spans(record, coarse))
        self.memory.build_level(record, coarse, progress=missing, meter=meter)
        ctx = AgentContext(self.config, self.memory, self.backbones.llm, record, meter)
        thread = session_id or new_session_id()
        run = {"configurable": {"thread_id": thread},
               "recursion_limit": 20 + 4 * self.config.budgets.max_iterations}
        final: dict = {}
        for mode, chunk in self._graph(session_id is not None).stream(
                fresh_question_state(question, options), run, context=ctx, stream_mode=["updates", "values"]):
            if mode == "values":
                final = chunk
                continue
            for update in chunk.values():
                if update and update.get("trajectory"):
                    yield Step(**update["trajectory"][-1])
        yield _answer(final, question, options, record, meter, self.config.strategy, session_id)

    def chat(self, video: str | Path, session_id: str | None = None) -> ChatSession:
        """A multi-turn session; pass an earlier session's id to resume it."""
        return ChatSession(self, video, session_id)

    def session_history(self, session_id: str) -> list[dict]:
        snapshot = self._graph(True).get_state({"configurable": {"thread_id": session_id}})
        return list((snapshot.values or {}).get("history") or [])

    def close(self) -> None:
        if "memory" in self.__dict__:
            self.memory.close()
        if "_checkpointer" in self.__dict__:
            self._checkpointer.conn.close()

    def __enter__(self) -> "VideoQA":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _checked(question: str, options: list[str] | None) -> tuple[str, list[str]]:
    if not isinstance(question, str) or not question.strip():
        raise ValueError("question is empty; ask something about the video")
    if options is not None and (isinstance(options, str) or not all(isinstance(o, str) and o.strip() for o in options)):
        raise ValueError(f"options must be a list of non-empty strings, got {options!r}")
    return question.strip(), list(options or [])


def _answer(state: dict, question: str, options: list[str], record, meter: CostMeter, strategy: str,
            session_id: str | None) -> Answer:
    r = state.get("result") or {}
    return Answer(
        question=question, options=options, answer=r.get("answer", ""), option=r.get("option"),
        confidence=float(r.get("confidence", 0.0)), forced=bool(r.get("forced")),
        decided_by=r.get("decided_by", ""), reason=r.get("reason", ""),
        evidence=[Evidence(**e) for e in r.get("evidence_spans", [])],
        trajectory=[Step(**s) for s in state.get("trajectory") or []],
        cost=Cost(**meter.summary()), video=str(record.path), video_id=record.id, strategy=strategy,
        session_id=session_id,
    )
