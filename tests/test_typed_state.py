"""The agent's state channels hold typed values (Verdict, ZoomTarget, Step, Turn), and a chat session keeps
them typed across processes: LangGraph's SQLite checkpointer rebuilds the pydantic classes on load (they
are its msgpack allowlist, so it neither warns about nor blocks them)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from langgraph.checkpoint.serde.event_hooks import register_serde_event_listener

from tests.conftest import REPO, clip
from vidrecall.agent.state import ZoomTarget, checkpoint_types
from vidrecall.agent.testing import ScriptedCaptioner, ScriptedChatModel, fast_levels
from vidrecall.agent.verdict import Verdict
from vidrecall.api import VideoQA
from vidrecall.core.result import Step

FROG = "mdn_frog.mp4"  # 8.3 s: one coarse clip, so a zoom captions one fine clip
SESSION = "typed-1"
CAPTION = "A small green frog sits on a wet leaf."

# Process 1: unsure at coarse, so the agent localizes and zooms (a checkpoint holds a ZoomTarget plan),
# then answers from the finer caption.
FIRST_TURN = textwrap.dedent(f"""
    import sys
    from vidrecall.agent.testing import ScriptedCaptioner, ScriptedChatModel, fast_levels
    from vidrecall.api import VideoQA
    llm = ScriptedChatModel(scripts={{"answer": [{{"answer": "a toad", "confidence": 0.1}}],
                                      "localize": [{{"clips": [1], "instruction": "What animal is on the leaf?"}}]}},
                            defaults={{"answer": {{"answer": "a green frog", "confidence": 0.9, "clips": [1]}}}})
    cap = ScriptedCaptioner(lambda span, level, instr: {CAPTION!r})
    with VideoQA("offline-tiny", llm=llm, vlm=cap, store_dir=sys.argv[1], levels=fast_levels()) as qa:
        answer = qa.chat(sys.argv[2], session_id={SESSION!r}).ask("What animal sits on the leaf?")
        print("NODES", *[s.node for s in answer.trajectory])
        print("ANSWER", answer.answer)
""")


def test_checkpoint_types_are_the_models_the_channels_hold():
    assert set(checkpoint_types()) == {ZoomTarget, Verdict, Step}


def test_a_chat_session_resumed_in_another_process_gets_typed_channels_back(store_dir, embedder):
    video = clip(FROG)
    done = subprocess.run([sys.executable, "-c", FIRST_TURN, str(store_dir), str(video)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    out = dict(line.split(" ", 1) for line in done.stdout.splitlines() if line.startswith(("NODES", "ANSWER")))
    assert out["NODES"] == "recall answer localize zoom answer finish" and out["ANSWER"] == "a green frog"
    assert "unregistered type" not in done.stderr and "Blocked deserialization" not in done.stderr

    events: list[dict] = []  # the serializer reports every type it had to let through unlisted, or blocked
    unregister = register_serde_event_listener(events.append)
    llm = ScriptedChatModel(defaults={"answer": {"answer": "A", "confidence": 0.9, "clips": [1]}})
    try:
        with VideoQA("offline-tiny", llm=llm, vlm=ScriptedCaptioner(lambda span, level, instr: CAPTION),
                     embedder=embedder, store_dir=store_dir, levels=fast_levels()) as qa:
            graph, thread = qa._graph(True), {"configurable": {"thread_id": SESSION}}
            restored = graph.get_state(thread).values
            assert isinstance(restored["result"], Verdict) and restored["result"].answer == "a green frog"
            assert isinstance(restored["decision"], Verdict) and restored["result"].stop == "confident"
            assert [type(s) for s in restored["trajectory"]] == [Step] * 6
            assert restored["trajectory"][1].detail["decision"]["answer"] == "a toad"  # a Step's detail is JSON
            # the plan localize made lives in an earlier checkpoint of the turn (zoom empties it)
            [[target]] = [snap.values["plan"] for snap in graph.get_state_history(thread) if snap.values.get("plan")]
            assert isinstance(target, ZoomTarget) and (target.level, target.source, target.start) == ("coarse", "llm", 0.0)
            assert target.instruction == "What animal is on the leaf?"
            zoom = restored["trajectory"][3]
            assert zoom.node == "zoom" and zoom.spans == [(0.0, round(target.end, 2))]
            [turn] = restored["history"]
            assert turn["question"] == "What animal sits on the leaf?" and turn["answer"] == "a green frog"

            chat = qa.chat(video, session_id=SESSION)
            answer = chat.ask("Where does it sit?", ["A. on a wet leaf", "B. on a rock"])
            assert answer.option == "A" and answer.session_id == SESSION
            assert answer.trajectory[0].detail["from_earlier_turns"] > 0 and answer.cost.captions_made == 0
            assert "What animal sits on the leaf?" in llm.calls[-1][1] and "a green frog" in llm.calls[-1][1]
            after = graph.get_state(thread).values  # read back from SQLite, the option vote included
            assert isinstance(after["result"], Verdict) and after["result"].option == "A"
            assert after["result"].evidence["best"] == "A"
            assert after["trajectory"] == answer.trajectory and after["plan"] == []
            assert [t["question"] for t in chat.history] == ["What animal sits on the leaf?", "Where does it sit?"]
    finally:
        unregister()
    assert events == []

