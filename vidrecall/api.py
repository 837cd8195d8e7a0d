"""The Python API: `VideoQA` indexes videos into the caption memory and answers questions about them.

    qa = VideoQA("offline", store_dir="~/vidrecall-store")
    answer = qa.ask("talk.mp4", "What is written on the slide?", ["A. …", "B. …"])
    for item in qa.stream("talk.mp4", "Who speaks first?"):  # Steps as they happen, then the Answer
        print(item.message if hasattr(item, "message") else item.summary())
    chat = qa.chat("talk.mp4"); chat.ask("…"); chat.ask("and after that?")

The CLI, the notebooks and the evaluation harness are thin shells over this object.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from vidrecall.agent.graph import build_graph
from vidrecall.agent.options import parse_options
from vidrecall.agent.strategies import get_strategy
from vidrecall.agent.steps import graph_progress, progress_from_event
from vidrecall.tools.llm.degenerate import clean_answer
from vidrecall.core.result import Answer, Cost, Evidence, Progress, Provenance, Step
from vidrecall.agent.provenance import answer_provenance, read_node_ids
from vidrecall.session import ChatSession, new_session_id, open_checkpointer
from vidrecall.agent.state import AgentContext, AgentState, Turn, fresh_question_state
from vidrecall.agent.verdict import Verdict
from vidrecall.agent.abstention import supported
from vidrecall.core.calibration import Calibration, apply_calibration, load_calibration
from vidrecall.core.config import Config, load_config
from vidrecall.core.accounting import CostMeter
from vidrecall.tools.llm.local_transformers import load_local_weights
from vidrecall.tools.llm.structured import LLMCallError
from vidrecall.core.progress import ProgressSink, TqdmBars
from vidrecall.core.run_context import RunContext
from vidrecall.indexing.indexer import Indexer
from vidrecall.indexing.reports import FileIndexResult
from vidrecall.indexing.targets import open_target
from vidrecall.memory.library import is_library_target
from vidrecall.memory.memory import VideoMemory

MAX_QUESTION_CHARS = 2000  # longer questions are cut (and the Answer says so): every LLM call carries the question


class VideoQA:
    def __init__(self, profile: str = "offline", *, llm=None, vlm=None, embedder=None, store_dir=None,
                 strategy: str | None = None, config: Config | None = None, callbacks: list | None = None,
                 cache_given_llm: bool = False, progress: ProgressSink | None = None,
                 memory: VideoMemory | None = None, **overrides: Any):
        changes = {"strategy": strategy, "store_dir": str(store_dir) if store_dir else None, **overrides}
        if config is None:
            config = load_config(profile, **changes)
        elif any(v is not None for v in changes.values()):
            config = config.replace(**{k: v for k, v in changes.items() if v is not None})
        get_strategy(config.strategy)  # an unknown strategy fails here, before any model loads
        from vidrecall.backbones import BackboneChoices, with_backbone_choices

        # Spec strings become part of the config (merged with its options); model objects are used as given.
        if isinstance(llm, str) or isinstance(vlm, str):
            config = with_backbone_choices(config, BackboneChoices(llm=llm if isinstance(llm, str) else None,
                                                                   vlm=vlm if isinstance(vlm, str) else None))
        self.config = config
        # where indexing progress goes (a tqdm bar per task by default; vidrecall.core.progress.silent: none)
        self.progress: ProgressSink = progress or TqdmBars()
        self._given = {"llm": None if isinstance(llm, str) else llm, "vlm": None if isinstance(vlm, str) else vlm,
                       "embedder": embedder}
        self._owns_memory = memory is None
        if memory is not None:  # another VideoQA's store, shared (with_strategy): one memory per process
            self.__dict__["memory"] = memory
        self._graphs: dict[bool, Any] = {}
        self._cache_given_llm = cache_given_llm  # a BaseChatModel passed in keeps its own .cache unless True
        self.callbacks = list(callbacks or [])  # LangChain callback handlers (LangSmith, Langfuse) on every run
        self._preflighted = False
        # the profile's confidence calibration, read now: a bad file fails here in one line naming it
        self.calibration: Calibration | None = load_calibration(config.calibration) if config.calibration else None

    def with_strategy(self, strategy: str) -> "VideoQA":
        """A VideoQA for another strategy sharing this one's backbones and store (built if not yet)."""
        if strategy == self.config.strategy:
            return self
        b = self.backbones
        return VideoQA(config=self.config.replace(strategy=strategy), llm=b.llm, vlm=b.captioner,
                       embedder=self.memory.embedder, progress=self.progress, memory=self.memory)

    # --- lazily built parts ---------------------------------------------------------------------
    @cached_property
    def backbones(self):
        from vidrecall.backbones import build_backbones

        return build_backbones(self.config, **self._given, preflight=False, cache_given_llm=self._cache_given_llm)  # checked by preflight(), on demand

    def preflight(self, *, chat: bool = False) -> None:
        """Fail fast (one line naming the fix) on a bad LLM or captioner, before any video work; with
        `chat=True` the LLM also has to produce one (uncached) token, as `vidrecall check` asks."""
        from vidrecall.backbones import preflight_backbones

        b = self.backbones
        if not self._preflighted:
            strategy = get_strategy(self.config.strategy)
            if strategy.preflight is not None:  # what the strategy needs of the LLM (search: tool calling)
                strategy.preflight(b.llm)
            preflight_backbones(b, self.config)
            self._preflighted = True
        if chat:
            from vidrecall.tools.llm.chat_probe import check_can_chat

            check_can_chat(b.llm)

    @cached_property
    def memory(self) -> VideoMemory:
        """The store; reading it loads no model (the embedder loads on the first search)."""
        return VideoMemory(self.config, self._given["embedder"], store_dir=self.config.store_path, progress=self.progress)

    @cached_property
    def indexer(self) -> Indexer:
        """Builds the memory (the captioner loads here)."""
        return Indexer(self.memory, self.backbones.captioner)

    @cached_property
    def _checkpointer(self):
        return open_checkpointer(self.config.store_path)

    def _graph(self, persistent: bool):
        if persistent not in self._graphs:
            self._graphs[persistent] = build_graph(self.config.strategy,
                                                   self._checkpointer if persistent else None)
        return self._graphs[persistent]

    # --- public API ---------------------------------------------------------------------------------
    def index(self, video: str | Path, levels: Sequence[str] = ("coarse",), *,
              progress: ProgressSink | None = None) -> FileIndexResult:
        """Caption `video` at each of `levels`, then its speech (resumable; cached clips cost nothing): the
        per-level IndexReports in `.reports`. A bad file raises VideoError (one line). `progress` gets the
        ProgressEvents (default: this VideoQA's sink)."""
        return self.indexer.build(video, levels, run=RunContext(progress or self.progress))

    def ask(self, video: str | Path, question: str, options: list[str] | None = None, *,
            session_id: str | None = None, config: dict | None = None) -> Answer:
        """The Answer; `config` is a LangChain RunnableConfig (callbacks, tags, metadata) for every call."""
        items = list(self.stream(video, question, options, session_id=session_id, config=config))
        answer = items[-1]
        assert isinstance(answer, Answer)  # stream ends with the Answer, always
        return answer

    def stream(self, video: str | Path, question: str, options: list[str] | None = None, *,
               session_id: str | None = None, config: dict | None = None) -> Iterator[Step | Progress | Answer]:
        """Each Step as its graph node finishes, Progress items while one runs (a zoom captioning clip after
        clip, an LLM call), then the Answer (always the last item). `config` (a LangChain RunnableConfig:
        callbacks, tags, metadata) reaches every LLM call, beside the VideoQA's own `callbacks`."""
        question, options = _checked(question, options)
        question, notes = capped_question(question)
        strategy = get_strategy(self.config.strategy)
        if strategy.preflight is not None:  # what it needs of the LLM (search: tool calling), before any video work
            strategy.preflight(self.backbones.llm)
        # A bad file fails (VideoError, one line) before any model is checked or loaded: probed here once.
        target = video if is_library_target(video) else self.memory.register(video)
        self.preflight()
        load_local_weights(self.backbones.llm)  # before the question's clock: a load cannot stop at a deadline
        meter = CostMeter()
        # one file, or a library (folder / glob / list / Library) seen as one timeline
        memory, record = open_target(self.indexer, target, self.config.levels[0].name,
                                     RunContext(self.progress, meter))
        # The time budget bounds the question's wall time: no model call outlives it.
        ctx = AgentContext(self.config, memory, self.indexer, self.backbones.llm, record,
                           RunContext(graph_progress, meter), deadline=meter.started + self.config.budgets.max_seconds)
        thread = session_id or new_session_id()
        extra = get_strategy(self.config.strategy).extra_steps
        run = _run_config(config, self.callbacks, thread, 20 + 4 * self.config.budgets.max_iterations
                          + (extra(self.config) if extra else 0))
        final: AgentState = fresh_question_state(question, options)  # until the graph's first values
        failure: str | None = None
        try:
            for mode, chunk in self._graph(session_id is not None).stream(
                    fresh_question_state(question, options), run, context=ctx,
                    stream_mode=["updates", "values", "custom"]):
                if mode == "values":
                    final = chunk
                    continue
                if mode == "custom":
                    progress = progress_from_event(chunk)
                    if progress is not None:
                        yield progress
                    continue
                for update in chunk.values():
                    if update and update.get("trajectory"):  # a node's update; its Step is the last
                        yield update["trajectory"][-1]
        except LLMCallError as exc:  # the model never answered: an error outcome, not a fallback answer
            failure = str(exc)
        answer = _answer(final, question, options, record, meter, self.config.strategy, session_id,
                         cite=memory.cite, calibration=self.calibration)
        answer = answer.model_copy(update={"provenance": self.provenance(answer, final.get("focus_ids") or [])})
        yield answer.model_copy(update={"notes": notes, "error": failure}) if failure or notes else answer

    def provenance(self, answer: Answer, focus_ids: Sequence[int] = ()) -> Provenance:
        """The answer's config digest, model ids, caption keys read and version (core/result.py Provenance)."""
        b = self.backbones
        node_ids = read_node_ids(answer.trajectory, answer.evidence, focus_ids)
        return answer_provenance(self.config, llm=b.llm, captioner=b.captioner, embedder_id=self.memory.embedder.id,
                                 memory=self.memory, node_ids=node_ids)

    def chat(self, video: str | Path, session_id: str | None = None) -> ChatSession:
        """A multi-turn session; pass an earlier session's id to resume it."""
        return ChatSession(self, video, session_id)

    def session_ids(self) -> list[str]:
        """The ids of the chat sessions saved in this store, most recent first."""
        from vidrecall.session import stored_session_ids

        self._graph(True)  # the checkpointer creates its tables on first use
        return stored_session_ids(self._checkpointer)

    def session_history(self, session_id: str) -> list[Turn]:
        snapshot = self._graph(True).get_state({"configurable": {"thread_id": session_id}})
        return list((snapshot.values or {}).get("history") or [])

    def close(self) -> None:
        if "indexer" in self.__dict__:
            self.indexer.close()
        if "memory" in self.__dict__ and self._owns_memory:
            self.memory.close()
        if "_checkpointer" in self.__dict__:
            self._checkpointer.conn.close()

    def __enter__(self) -> "VideoQA":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _run_config(config: dict | None, callbacks: list, thread: str, recursion_limit: int) -> dict:
    """The graph's run config: the caller's RunnableConfig, our callbacks added, the session's thread id."""
    run = dict(config or {})
    given = run.get("callbacks")
    if callbacks:
        if given is None:
            run["callbacks"] = list(callbacks)
        elif isinstance(given, list):
            run["callbacks"] = given + list(callbacks)
        else:  # a CallbackManager
            manager = given.copy()
            for handler in callbacks:
                manager.add_handler(handler, inherit=True)
            run["callbacks"] = manager
    run["configurable"] = {**(run.get("configurable") or {}), "thread_id": thread}
    run.setdefault("recursion_limit", recursion_limit)
    return run


def capped_question(question: str) -> tuple[str, list[str]]:
    """The question as the models get it (at most MAX_QUESTION_CHARS), and a note when it was cut."""
    if len(question) <= MAX_QUESTION_CHARS:
        return question, []
    return question[:MAX_QUESTION_CHARS], [f"question cut to its first {MAX_QUESTION_CHARS} of {len(question)} "
                                           "characters (every model call would carry it whole)"]


def _checked(question: str, options: list[str] | None) -> tuple[str, list[str]]:
    if not isinstance(question, str) or not question.strip():
        raise ValueError("question is empty; ask something about the video")
    if options is not None and (isinstance(options, str) or not all(isinstance(o, str) and o.strip() for o in options)):
        raise ValueError(f"options must be a list of non-empty strings, got {options!r}")
    parse_options(options)  # OptionsError (one line naming the option): duplicates, > 26, a lone letter
    return question.strip(), list(options or [])


def _answer(state: AgentState, question: str, options: list[str], record, meter: CostMeter, strategy: str,
            session_id: str | None, cite=None, calibration: Calibration | None = None) -> Answer:
    verdict = state["result"] or Verdict()  # None: the graph stopped before finish (the model never replied)
    evidence = [Evidence(**cite(e.model_dump())) for e in verdict.evidence_spans] if cite else verdict.evidence_spans
    return Answer(
        question=question, options=options, answer=clean_answer(verdict.answer), option=verdict.option,
        confidence=apply_calibration(calibration, verdict.confidence), raw_confidence=verdict.confidence,
        calibrated=calibration is not None, grounded=supported(verdict) if state["result"] else False,
        abstained=verdict.abstained, searched=verdict.searched, withheld=verdict.withheld,
        forced=verdict.forced, decided_by=verdict.decided_by, reason=verdict.reason,
        stop=verdict.stop, evidence=evidence, trajectory=state["trajectory"],
        cost=Cost(**meter.summary()), video=str(record.path), video_id=record.id, strategy=strategy,
        session_id=session_id,
    )
