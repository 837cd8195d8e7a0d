"""Issue 11: LangChain callbacks / run config reach every LLM call (LangSmith / Langfuse tracing), a user's
own chat model keeps its own cache, and Progress items arrive between the Steps while a zoom captions
clip after clip. Scripted LLM and captioner on a real clip, real memory (SQLite + FAISS) and embedder."""
from __future__ import annotations

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.caches import InMemoryCache

from tests.conftest import clip
from vidrecall.agent.testing import ScriptedCaptioner, ScriptedChatModel, fast_levels
from vidrecall.api import VideoQA
from vidrecall.core.result import Answer, Progress, Step

PEOPLE = "intel_one-by-one-person-detection.mp4"
OPTIONS = ["A. Red", "B. Green"]


class CountingHandler(BaseCallbackHandler):
    def __init__(self) -> None:
        self.starts = 0

    def on_llm_start(self, *args, **kwargs) -> None:
        self.starts += 1

    def on_chat_model_start(self, *args, **kwargs) -> None:
        self.starts += 1


def scripted_llm() -> ScriptedChatModel:
    return ScriptedChatModel(defaults={"answer": {"answer": "A", "confidence": 0.1},
                                       "localize": {"clips": [2], "instruction": "Describe the toy's colour"},
                                       "final_answer": {"answer": "A"}})


def make_qa(store_dir, embedder, llm, **kw) -> VideoQA:
    captioner = ScriptedCaptioner(lambda span, level, instr: f"People walk to a wall ({level} {span.label()}).")
    return VideoQA("offline-tiny", llm=llm, vlm=captioner, embedder=embedder, store_dir=store_dir, levels=fast_levels(),
                   spans_per_round=1, budgets={"max_iterations": 1}, **kw)


def test_callbacks_and_run_config_see_every_llm_call(store_dir, embedder):
    own, per_call = CountingHandler(), CountingHandler()
    with make_qa(store_dir, embedder, scripted_llm(), callbacks=[own]) as qa:
        answer = qa.ask(clip(PEOPLE), "What colour is the toy?", OPTIONS,
                        config={"callbacks": [per_call], "tags": ["issue-11"]})
    assert answer.cost.llm_calls >= 3
    assert own.starts == per_call.starts == answer.cost.llm_calls


def test_a_users_chat_model_keeps_its_own_cache(store_dir, embedder):
    theirs = InMemoryCache()
    llm = scripted_llm()
    llm.cache = theirs
    with make_qa(store_dir, embedder, llm) as qa:
        assert qa.backbones.llm.cache is theirs
        qa.ask(clip(PEOPLE), "What colour is the toy?", OPTIONS)
    assert theirs._cache  # replies went into the user's cache
    bare = scripted_llm()
    with make_qa(store_dir, embedder, bare) as qa:
        assert qa.backbones.llm.cache is None  # None: LangChain's global cache, as the user left it
    with make_qa(store_dir, embedder, scripted_llm(), cache_given_llm=True) as qa:
        assert type(qa.backbones.llm.cache).__name__ == "SQLiteResponseCache"  # asked for ours


def test_progress_items_arrive_between_steps_during_a_zoom(store_dir, embedder):
    with make_qa(store_dir, embedder, scripted_llm()) as qa:
        items = list(qa.stream(clip(PEOPLE), "What colour is the toy?", OPTIONS))
    assert isinstance(items[-1], Answer)
    kinds = [type(i).__name__ for i in items]
    zoom_at = next(i for i, item in enumerate(items) if isinstance(item, Step) and item.node == "zoom")
    localize_at = max(i for i, item in enumerate(items[:zoom_at]) if isinstance(item, Step))
    during = [i for i in items[localize_at + 1:zoom_at] if isinstance(i, Progress)]
    assert during, kinds
    assert all(p.node == "zoom" and p.message.startswith("captioning ") for p in during)
    assert [p.done for p in during] == list(range(len(during))) and all(p.total == len(during) for p in during)
    asking = [i for i in items if isinstance(i, Progress) and i.message.startswith("asking the LLM")]
    assert {p.node for p in asking} >= {"answer", "localize"}


def test_the_notebook_panel_shows_progress_inside_a_zoom_live(store_dir, embedder):
    from vidrecall.display.notebook import NotebookProgress, follow_stream

    class Handle:
        def __init__(self) -> None:
            self.updates: list[str] = []

        def update(self, view) -> None:
            self.updates.append(view._repr_html_())

    handle = Handle()
    with make_qa(store_dir, embedder, scripted_llm()) as qa:
        answer = follow_stream(qa.stream(clip(PEOPLE), "What colour is the toy?", OPTIONS),
                               NotebookProgress("What colour is the toy?", handle=handle))
    assert isinstance(answer, Answer)
    live = [u for u in handle.updates if "zoom: captioning " in u]
    assert live and handle.updates.index(live[0]) < len(handle.updates) - 1  # shown before the answer card
