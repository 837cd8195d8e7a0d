"""A question's time budget running out mid-call ends the process cleanly, local model or remote server.

A local model (the offline profile's SmolLM2 through transformers) must stop generating AT the deadline:
a thread abandoned inside torch's `generate` kills the interpreter at exit ("terminate called without an
active exception", exit 134). A remote call may be abandoned, and the process must still exit 0 at once,
not after the HTTP client's 120 s timeout. Both run the real `python -m vidrecall.cli ask` in a
subprocess (the exit code is the point), on a real 3 s clip indexed once with real OCR.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fakeserver import FakeOpenAIServer, Reply
from videogen import short_clip
from vidrecall.api import VideoQA
from vidrecall.core.config import PROFILES_DIR, load_config
from vidrecall.core.progress import silent

REPO = Path(__file__).resolve().parents[1]
BUDGET_S = 15.0  # covers opening the store and recalling; the first model call then runs into the deadline
MARGIN_S = 10.0  # one more token (after a prompt prefill) on a busy CPU, plus the forced answer


def offline_profile(path: Path, *, max_seconds: float, **changes) -> Path:
    """The bundled offline profile with a time budget, no speech, and `changes` on top."""
    data = yaml.safe_load((PROFILES_DIR / "offline-tiny.yaml").read_text())  # SmolLM2 in-process (transformers)
    data["budgets"] = {**data["budgets"], "max_llm_tokens": 10_000_000,
                       "max_seconds": max_seconds}
    data["speech"] = {"source": "off"}
    data.update(changes)
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder) -> tuple[Path, Path, Path]:
    """(video, store, work dir): the coarse memory exists, so the question's time goes to the model."""
    work = tmp_path_factory.mktemp("deadline")
    video = short_clip(work, "tiny.mp4", seconds=3.0, fps=5)
    store = work / "store"
    profile = offline_profile(work / "index.yaml", max_seconds=600)
    with VideoQA(config=load_config(profile, store_dir=str(store)), embedder=embedder) as qa:
        qa.index(video, progress=silent)
    return video, store, work


# The CLI, with the local model's "stop when the JSON closes" check switched off: sampled at a high
# temperature, a random reply can close a JSON value by chance within a few tokens, and on free cores the
# whole loop over a 3-s clip would then end before the budget does.
NEVER_CLOSING_CLI = ("import sys; import vidrecall.tools.llm.local_transformers as lt; "
                     "lt.closes_first_value = lambda text: False; from vidrecall.cli import main; "
                     "sys.exit(main(sys.argv[1:]))")


def ask(video: Path, store: Path, profile: Path, *, json_never_closes: bool = False
        ) -> tuple[subprocess.CompletedProcess, dict]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-c", NEVER_CLOSING_CLI] if json_never_closes else [sys.executable, "-m", "vidrecall.cli"]
    done = subprocess.run([*command, "ask", str(video), "What is shown?",
                           "--option", "A. gray", "--option", "B. red", "--profile", str(profile),
                           "--store", str(store), "--json"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=150)
    assert "terminate called" not in done.stderr, done.stderr[-2000:]
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    return done, json.loads(done.stdout[done.stdout.index("{"):])


def assert_cut_by_the_budget(answer: dict) -> None:
    assert answer["error"] is None, answer["error"]  # a spent budget is an answer with what is known
    assert answer["forced"] and "seconds" in answer["stop"], answer["stop"]
    assert any("time budget ran out" in step["message"] for step in answer["trajectory"]), \
        [step["message"] for step in answer["trajectory"]]


@pytest.mark.slow  # a subprocess that loads SmolLM2 (~20-60 s on 2 busy cores) and spends a 15 s budget
def test_a_local_model_stops_generating_at_the_deadline_and_the_process_exits_0(indexed) -> None:
    video, store, work = indexed
    # Sampling at a high temperature with no token cap and the JSON-closing stop off: the reply rambles on,
    # so the model is still generating when the budget ends (before the fix: exit 134 at shutdown).
    profile = offline_profile(work / "local.yaml", max_seconds=BUDGET_S,
                              llm_options={"max_tokens": 100_000, "temperature": 5.0})
    started = time.monotonic()
    _, answer = ask(video, store, profile, json_never_closes=True)
    took = time.monotonic() - started
    assert_cut_by_the_budget(answer)
    assert answer["cost"]["llm_calls"] >= 1, "no model call was under way when the budget ran out"
    assert answer["cost"]["seconds"] < BUDGET_S + MARGIN_S, \
        f"the question took {answer['cost']['seconds']:.1f} s with a {BUDGET_S:g} s budget (process {took:.0f} s)"


@pytest.mark.slow  # a subprocess (imports, OCR) and a 15 s budget against a server that never answers
def test_an_abandoned_remote_call_lets_the_process_exit_0_at_once(indexed) -> None:
    video, store, work = indexed
    budget = BUDGET_S
    with FakeOpenAIServer(default=Reply(content="{}", delay_s=300)) as server:
        # No `timeout` option: the client would wait its default 120 s; the process must not.
        profile = offline_profile(work / "remote.yaml", max_seconds=budget, llm="openai-compatible:m",
                                  llm_options={"base_url": server.base_url, "max_retries": 0})
        _, answer = ask(video, store, profile)
        exited = time.time()
        requests = server.chat_requests()
    assert requests, ("the question never reached the server", answer["trajectory"], answer["cost"])
    assert_cut_by_the_budget(answer)
    after_first_request = exited - requests[0].received_at
    assert after_first_request < budget + MARGIN_S, \
        f"the process exited {after_first_request:.1f} s after its first model request ({budget:g} s budget)"


@pytest.mark.slow  # a subprocess with a real loopback llama.cpp server (SmolLM2 GGUF) and a 15 s budget
def test_a_loopback_llamacpp_server_stops_generating_at_the_deadline_and_the_process_exits_0(indexed) -> None:
    video, store, work = indexed
    # A high temperature: the reply rambles. The client abandons the call at the deadline; the server is told
    # the deadline too (t_max_predict_ms) and max_tokens bounds what it may still generate, so the process
    # exits soon after, with nothing left running.
    profile = offline_profile(work / "llamacpp.yaml", max_seconds=BUDGET_S, llm="llamacpp:smollm2",
                              llm_options={"max_tokens": 512, "temperature": 5.0})
    started = time.monotonic()
    _, answer = ask(video, store, profile)
    took = time.monotonic() - started
    assert answer["error"] is None, answer["error"]
    assert answer["cost"]["llm_calls"] >= 1
    assert answer["cost"]["seconds"] < BUDGET_S + MARGIN_S and took < BUDGET_S + 2 * MARGIN_S, \
        f"the question took {answer['cost']['seconds']:.1f} s with a {BUDGET_S:g} s budget (process {took:.0f} s)"


# A call abandoned while llama.cpp still reads its prompt (a long memory listing on 2 CPU cores: minutes).
# Before the fix the one slot kept reading it for nobody, so the next question's first call queued behind it,
# and a process exiting with it in flight hung for good (the server's teardown waited on the request).
ABANDONED_PROMPT = """
import sys, time
from langchain_core.messages import HumanMessage
from vidrecall.tools.llm.factory import make_chat_model
from vidrecall.tools.llm.structured import _invoke

llm = make_chat_model("llamacpp:smollm2", {"max_tokens": 4})
llm.invoke([HumanMessage("Say hi")])  # the server is up
def listing(tag):  # ~2,700 tokens (~10 s), a different prefix each time (no KV cache reuse between them)
    return tag + ": " + " ".join(str(i) for i in range(600)) + "\\nWhich number comes first?"
t = time.monotonic(); llm.invoke([HumanMessage(listing("Alpha"))]); full = time.monotonic() - t
reply = _invoke(llm, [HumanMessage(listing("Beta"))], role="answer", meter=None, deadline=time.monotonic() + 0.2)
t = time.monotonic(); llm.invoke([HumanMessage("Reply ok.")]); after = time.monotonic() - t
_invoke(llm, [HumanMessage(listing("Gamma"))], role="answer", meter=None, deadline=time.monotonic() + 0.2)
print(f"{full:.3f} {after:.3f} {reply.out_of_time}", flush=True)
"""


@pytest.mark.slow  # a subprocess with a real loopback llama.cpp server (SmolLM2 GGUF): three long prompts
def test_a_call_abandoned_mid_prompt_frees_the_llamacpp_slot_and_the_exit() -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", ABANDONED_PROMPT], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline()
        printed = time.monotonic()
        rc = proc.wait(timeout=120)
    finally:
        proc.kill()
    exit_s = time.monotonic() - printed
    assert rc == 0 and line.strip(), proc.stderr.read()[-2000:]
    full, after, out_of_time = line.split()
    assert out_of_time == "True"
    full_s, after_s = float(full), float(after)
    assert full_s > 4, f"the reference prompt took only {full_s:.1f} s: too short to tell a queue from none"
    # Not queued behind the abandoned prompt (that would take about `full` again): the server cancelled it
    # when the client closed the connection (it polls each second, and stops between 512-token batches).
    assert after_s < 0.6 * full_s, f"the next call took {after_s:.1f} s; a whole prompt takes {full_s:.1f} s"
    assert exit_s < 30, f"the process took {exit_s:.0f} s to exit with an abandoned call in flight"
