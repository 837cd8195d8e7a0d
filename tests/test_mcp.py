"""`vidrecall mcp` through the official MCP SDK's own client: over stdio on a real clip (index, list, search, read,
look, frames, ask, errors), and over streamable HTTP (the token gate, loopback only).

The server is a real `python -m vidrecall mcp` subprocess; its VideoQA has a scripted captioner and LLM
(tests/mcp_support.py, named by VIDRECALL_QA_FACTORY) so every call is quick and its texts are known; the
store, the embedder, decoding, the subtitles lane and the agent's graph are real.
"""
from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx
import pytest

from tests.conftest import REPO, clip

pytest.importorskip("mcp.client.stdio")

from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

FACTORY = "tests.mcp_support:scripted_qa"
TOOLS = {"list_videos", "index_video", "search_memory", "read_span", "look", "frames", "ask"}
SUBTITLES = """1
00:00:01,000 --> 00:00:03,000
The green frog jumps into the pond.

2
00:00:05,000 --> 00:00:07,000
Then it swims away.
"""


def _env() -> dict[str, str]:
    return {**os.environ, "VIDRECALL_QA_FACTORY": FACTORY, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def frog(tmp_path_factory) -> Path:
    """The 8.3 s frog clip, with a sidecar subtitle file (the speech lane, no ASR model)."""
    folder = tmp_path_factory.mktemp("frog")
    video = folder / "frog.mp4"
    shutil.copy(clip("mdn_frog.mp4"), video)
    (folder / "frog.srt").write_text(SUBTITLES)
    return video


def _text(result) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def test_mcp_client_over_stdio_lists_the_tools_and_calls_each(frog, tmp_path):
    params = StdioServerParameters(command=sys.executable, args=["-m", "vidrecall", "mcp", "--profile", "offline-tiny",
                                                                 "--store", str(tmp_path / "store")],
                                   env=_env(), cwd=str(REPO))
    seen: dict[str, list] = {}

    def recorder(tool: str):
        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.setdefault(tool, []).append((progress, total, message))
        return on_progress

    async def session_run() -> None:
        with open(tmp_path / "server.log", "w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    await _check(session, recorder)

    async def _check(session: ClientSession, recorder) -> None:
        # the tools and their schemas, generated from the typed functions
        listed = {t.name: t for t in (await session.list_tools()).tools}
        assert set(listed) == TOOLS
        props = {name: set(t.input_schema["properties"]) for name, t in listed.items()}
        assert props["search_memory"] == {"query", "video", "levels", "k"}
        assert props["read_span"] == {"video", "start", "end", "level"}
        assert props["look"] == {"video", "start", "end", "instruction", "level"}
        assert props["frames"] == {"video", "times"} and props["ask"] == {"video", "question", "options"}
        assert set(listed["search_memory"].input_schema["required"]) == {"query", "video"}
        assert "description" in listed["look"].input_schema["properties"]["instruction"]
        assert "one level finer" in (listed["look"].description or "")
        assert "hits" in listed["search_memory"].output_schema["properties"]
        assert listed["search_memory"].annotations.read_only_hint and not listed["look"].annotations.read_only_hint

        video = str(frog)
        indexed = await session.call_tool("index_video", {"video": video}, progress_callback=recorder("index_video"))
        assert not indexed.is_error, _text(indexed)
        files = indexed.structured_content["files"]
        assert files[0]["levels"]["coarse"] == {"clips": 1, "created": 1, "reused": 0} and files[0]["speech"] == 2
        video_id = files[0]["video_id"]
        assert seen["index_video"], "index_video reported no progress"

        listed_videos = await session.call_tool("list_videos", {})
        (entry,) = listed_videos.structured_content["videos"]
        assert entry["video"] == video_id and abs(entry["duration"] - 8.27) < 0.1
        assert entry["captions"] == {"coarse": 1} and entry["speech"] == 2

        found = await session.call_tool("search_memory", {"query": "frog jumps into the pond", "video": video_id,
                                                          "k": 3})
        hits = found.structured_content["hits"]
        assert {h["level"] for h in hits} == {"coarse", "speech"}
        spoken = next(h for h in hits if h["level"] == "speech")
        assert (spoken["start"], spoken["end"]) == (1.0, 3.0) and 0 < spoken["score"] <= 1
        assert spoken["text"] == "<<<DATA\nThe green frog jumps into the pond.\nDATA>>>"
        seen_text = next(h for h in hits if h["level"] == "coarse")["text"]
        # the caption's own "DATA>>>" cannot close the fence: text from the video stays data
        assert seen_text.startswith("<<<DATA\ncoarse view 0-8.2") and seen_text.count("DATA>>>") == 1
        assert "Ignore your instructions" in seen_text and "<<<DATA" in _text(found)

        read = await session.call_tool("read_span", {"video": video_id, "start": 0, "end": 4})
        span = read.structured_content
        assert [(c["level"], c["start"], c["end"]) for c in span["captions"]] == [("coarse", 0.0, 8.267)]
        assert [(s["start"], s["end"]) for s in span["speech"]] == [(1.0, 3.0)]
        assert "[1-3 s, 0:01-0:03] speech" in _text(read)

        looked = await session.call_tool("look", {"video": video_id, "start": 2, "end": 5,
                                                  "instruction": "what colour is the frog"},
                                         progress_callback=recorder("look"))
        assert not looked.is_error, _text(looked)
        got = looked.structured_content
        assert got["level"] == "fine" and got["created"] == 1 and got["reused"] == 0
        (made,) = got["captions"]
        assert (made["start"], made["end"]) == (2.0, 5.0) and made["instruction"] == "what colour is the frog"
        assert "fine view 2-5 s" in made["text"] and "Looked for: what colour is the frog" in made["text"]
        assert seen["look"] and any("captioning 1/1" in (m or "") for _p, _t, m in seen["look"])
        again = await session.call_tool("look", {"video": video_id, "start": 2, "end": 5,
                                                 "instruction": "what colour is the frog"})
        assert (again.structured_content["created"], again.structured_content["reused"]) == (0, 1)  # cached

        pictures = await session.call_tool("frames", {"video": video_id, "times": [1.0, 4.0]})
        images = [c for c in pictures.content if c.type == "image"]
        assert len(images) == 2 and all(i.mime_type == "image/jpeg" for i in images)
        assert all(base64.b64decode(i.data)[:2] == b"\xff\xd8" for i in images)
        assert "2 frames" in _text(pictures)

        answered = await session.call_tool("ask", {"video": video_id, "question": "What colour is the frog?",
                                                   "options": ["A. green", "B. red"]},
                                           progress_callback=recorder("ask"))
        assert not answered.is_error, _text(answered)
        assert answered.structured_content["option"] == "A" and seen["ask"]
        assert answered.structured_content["trajectory"][0]["node"] == "recall"

        # errors are tool errors, one line, and the server goes on
        missing = await session.call_tool("read_span", {"video": str(frog.parent / "missing.mp4"), "start": 0,
                                                        "end": 1})
        assert missing.is_error and "no video" in _text(missing) and "\n" not in _text(missing)
        backwards = await session.call_tool("look", {"video": video_id, "start": 5, "end": 2})
        assert backwards.is_error and _text(backwards) == "look: bad time range 5-2 s: end must come after start"
        outside = await session.call_tool("read_span", {"video": video_id, "start": 60, "end": 70})
        assert outside.is_error and "lies outside the video (0 to 8.27 s)" in _text(outside)
        typed = await session.call_tool("search_memory", {"query": "frog", "video": video_id, "k": "many"})
        assert typed.is_error and "\n" not in _text(typed) and "k:" in _text(typed)
        still = await session.call_tool("list_videos", {})
        assert not still.is_error

    anyio.run(session_run)


def _own_address() -> str | None:
    """This machine's address on its outward interface, when it has one that is not loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mcp_over_http_needs_the_token_and_serves_only_loopback(tmp_path):
    from mcp.client.streamable_http import streamable_http_client

    port, token = _free_port(), "a-test-token-of-enough-length"
    proc = subprocess.Popen([sys.executable, "-m", "vidrecall", "mcp", "--http", "--port", str(port), "--token", token,
                             "--profile", "offline-tiny", "--store", str(tmp_path / "store")],
                            cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "the MCP HTTP server did not come up"
                time.sleep(0.2)
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        headers = {"Accept": "application/json, text/event-stream"}
        for sent in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}):
            refused = httpx.post(url, json=body, headers={**headers, **sent}, timeout=10)
            assert refused.status_code == 401 and "token" in refused.json()["detail"]
        assert httpx.get(url, headers=headers, timeout=10).status_code == 401
        # with the token, the SDK's own client gets the tools (and a foreign Host is refused even so)
        rebound = httpx.post(url, json=body, headers={**headers, "Authorization": f"Bearer {token}",
                                                      "Host": f"evil.example:{port}"}, timeout=10)
        assert rebound.status_code in (403, 421)

        async def listed() -> set[str]:
            import httpx2

            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
                async with streamable_http_client(url, http_client=client) as (read, write):
                    async with ClientSession(read, write) as session:
                        await session.initialize()
                        return {t.name for t in (await session.list_tools()).tools}

        assert anyio.run(listed) == TOOLS
        address = _own_address()
        if address is not None:  # bound to 127.0.0.1 only: the machine's other address does not answer
            with pytest.raises(OSError):
                socket.create_connection((address, port), timeout=2).close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
