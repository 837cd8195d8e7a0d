"""The OpenAI-compatible /audio/transcriptions backend against a real loopback HTTP server that
transcribes the uploaded WAV with the real offline Whisper (a stand-in for vLLM serving Whisper)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fakeserver import free_port
from vidrecall.core.config import load_config
from vidrecall.core.types import SPEECH_LEVEL
from vidrecall.tools.speech.audio import AudioStream, SAMPLE_RATE
from vidrecall.tools.speech.factory import make_transcriber
from vidrecall.tools.speech.openai_asr import OpenAIAsrSettings, OpenAITranscriber
from vidrecall.tools.speech.types import SpeechError
from vidrecall.tools.speech.whisper_local import FasterWhisperTranscriber

KEY = "sk-test-transcribe-123456"


def wav_of(body: bytes, content_type: str) -> tuple[bytes, dict[str, list[str]]]:
    """The uploaded file and the form fields of a multipart body."""
    boundary = content_type.split("boundary=")[1].strip('"').encode()
    audio, fields = b"", {}
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, value = part.strip(b"\r\n").partition(b"\r\n\r\n")
        name = head.split(b'name="')[1].split(b'"')[0].decode()
        if b"filename=" in head:
            audio = value
        else:
            fields.setdefault(name, []).append(value.decode())
    return audio, fields


class WhisperServer:
    """POST /v1/audio/transcriptions answered by the real packaged Whisper in OpenAI's verbose_json shape;
    `fail_first` requests get HTTP 503 first (to exercise retries)."""

    def __init__(self, api_key: str | None = KEY, fail_first: int = 0):
        self.api_key, self.fail_first = api_key, fail_first
        self.requests: list[dict] = []
        self.whisper = FasterWhisperTranscriber()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _json(self, status, body):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):
                if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    return self._json(401, {"error": {"message": "Incorrect API key provided"}})
                self._json(200, {"data": [{"id": "whisper-tiny"}]})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    return self._json(401, {"error": {"message": "Incorrect API key provided"}})
                audio, fields = wav_of(body, self.headers["Content-Type"])
                server.requests.append({"path": self.path, "fields": fields, "bytes": len(audio)})
                if len(server.requests) <= server.fail_first:
                    return self._json(503, {"error": {"message": "busy"}})
                import io
                import wave

                import numpy as np

                with wave.open(io.BytesIO(audio)) as w:
                    samples = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
                segments = server.whisper.transcribe(samples)
                self._json(200, {"text": " ".join(s.text for s in segments), "duration": len(samples) / SAMPLE_RATE,
                                 "segments": [{"start": s.start, "end": s.end, "text": s.text} for s in segments],
                                 "words": [{"start": w.start, "end": w.end, "word": w.text}
                                           for s in segments for w in s.words]})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_transcribes_through_the_server_with_retries_and_word_times(speech_clip, monkeypatch):
    spec, lines = speech_clip
    monkeypatch.setenv("WHISPER_KEY", KEY)
    with WhisperServer(fail_first=1) as server, AudioStream(spec.video) as audio:
        _, samples = audio.window(0, 60)
        client = OpenAITranscriber("whisper-tiny", api=OpenAIAsrSettings(base_url=server.base_url,
                                                                         api_key_env="WHISPER_KEY", backoff_s=0))
        client.preflight()
        segments = client.transcribe(samples)
    assert len(server.requests) == 2 and server.requests[0]["path"] == "/v1/audio/transcriptions"
    fields = server.requests[-1]["fields"]
    assert fields["model"] == ["whisper-tiny"] and fields["response_format"] == ["verbose_json"]
    assert sorted(fields["timestamp_granularities[]"]) == ["segment", "word"] and fields["language"] == ["en"]
    password = next(x for x in lines if "pineapple" in x.text)
    said = next(s for s in segments if "pineapple" in s.text.lower())
    assert abs(said.start - password.start_s) < 1.5 and any("pineapple" in w.text.lower() for w in said.words)


def test_wrong_key_and_dead_server_fail_with_one_line_and_no_key(monkeypatch):
    monkeypatch.setenv("WHISPER_KEY", "sk-wrong-key-999999")
    with WhisperServer() as server:
        client = OpenAITranscriber("w", api=OpenAIAsrSettings(base_url=server.base_url, api_key_env="WHISPER_KEY"))
        for call in (client.preflight, lambda: client.transcribe(__import__("numpy").zeros(16000, "float32"))):
            with pytest.raises(SpeechError) as info:
                call()
            message = str(info.value)
            assert "WHISPER_KEY" in message and "sk-wrong" not in message and "\n" not in message
    dead = OpenAITranscriber("w", api=OpenAIAsrSettings(base_url=f"http://127.0.0.1:{free_port()}/v1",
                                                        api_key_required=False))
    with pytest.raises(SpeechError, match="cannot reach"):
        dead.preflight()
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    official = make_transcriber(load_config("openai").speech)
    with pytest.raises(SpeechError, match="set OPENAI_API_KEY"):
        official.preflight()
    assert KEY not in repr(official)


@pytest.mark.slow
def test_speech_memory_from_a_server_backend(speech_clip, embedder, store_dir):
    from vidrecall.agent.testing import ScriptedCaptioner, fast_levels
    from vidrecall.indexing.indexer import Indexer
    from vidrecall.memory.memory import VideoMemory

    spec, _ = speech_clip
    with WhisperServer(api_key=None) as server:
        config = load_config("offline", store_dir=str(store_dir), levels=fast_levels())
        config = config.replace(speech={"source": "asr", "backend": "openai-compatible", "model": "whisper-tiny",
                                        "base_url": server.base_url})
        memory = VideoMemory(config, embedder)
        video = memory.register(spec.video)
        (report,) = Indexer(memory, ScriptedCaptioner()).build_speech(video)
    nodes = memory.nodes(video.id, SPEECH_LEVEL)
    assert report.status == "done" and any("biscuit" in n.text.lower() for n in nodes)
    assert all(n.captioner.startswith("openai-asr:") for n in nodes)
