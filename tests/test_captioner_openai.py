"""OpenAI-compatible VLM captioner against a real loopback HTTP server (tests/fakeserver.py)."""
from __future__ import annotations

import numpy as np
import pytest

from vidrecall.tools.captioners.base import CaptionerError
from vidrecall.tools.captioners.factory import make_captioner
from vidrecall.tools.captioners.images import decode_data_url
from vidrecall.tools.captioners.openai_vlm import OpenAIVLMCaptioner
from vidrecall.tools.video import VideoReader
from vidrecall.core.types import CaptionRequest, FrameBatch, Span, fmt_time

from conftest import clip
from fakeserver import FakeOpenAIServer, Reply, free_port

KEY = "sk-test-secret-0123456789"
FAST_RETRY = {"max_retries": 2}  # the openai SDK backs off 0.5 s, then 1 s


@pytest.fixture(scope="module")
def frog_request() -> CaptionRequest:
    with VideoReader(clip("mdn_frog.mp4")) as reader:
        batch = reader.sample(Span(0, 8), num_frames=2, max_pixels=50176)
    return CaptionRequest(batch, prompt="Describe the clip in one sentence.", level="fine")


@pytest.fixture
def server():
    with FakeOpenAIServer(api_key=KEY, models=("qwen-vl", "other")) as s:
        yield s


@pytest.fixture
def with_key(monkeypatch):
    monkeypatch.setenv("VIDRECALL_TEST_KEY", KEY)


def captioner(server, **options) -> OpenAIVLMCaptioner:
    return make_captioner("openai-compatible:qwen-vl", {"base_url": server.base_url,
                                                        "api_key_env": "VIDRECALL_TEST_KEY", **FAST_RETRY, **options})


def test_request_shape_and_usage(server, with_key, frog_request):
    server.script(Reply(content=" A green toy frog on a table. ", usage={"prompt_tokens": 321, "completion_tokens": 9}))
    result = captioner(server, max_tokens=77).caption(frog_request)

    assert result.text == "A green toy frog on a table."
    assert (result.usage.tokens_in, result.usage.tokens_out, result.usage.images) == (321, 9, 2)
    assert result.usage.kind == "vlm" and result.usage.model == "qwen-vl" and result.usage.latency_s > 0
    sent = server.chat_requests()[0]
    assert {k.lower(): v for k, v in sent.headers.items()}["authorization"] == f"Bearer {KEY}"
    assert sent.json["model"] == "qwen-vl" and sent.json["max_tokens"] == 77
    urls = sent.image_urls()
    assert len(urls) == 2 and all(u.startswith("data:image/jpeg;base64,") for u in urls)
    image = decode_data_url(urls[0])
    assert image.size == (frog_request.frames.frames[0].shape[1], frog_request.frames.frames[0].shape[0])
    text = sent.text()
    assert all(f"Frame at {fmt_time(t)}" in text for t in frog_request.frames.timestamps)
    assert "Describe the clip in one sentence." in text
    assert text.index("Frame at") < text.index("Describe the clip")  # frames first, then the prompt


def test_retries_500_then_succeeds(server, with_key, frog_request):
    server.script(Reply(status=500), Reply(status=429, headers={"Retry-After": "0"}), "fine now")
    assert captioner(server).caption(frog_request).text == "fine now"
    assert len(server.chat_requests()) == 3


def test_retries_a_timeout(server, with_key, frog_request):
    server.script(Reply(delay_s=1.5, content="too late"), "in time")
    assert captioner(server, timeout_s=0.5).caption(frog_request).text == "in time"
    assert len(server.chat_requests()) == 2


def test_gives_up_after_bounded_retries(server, with_key, frog_request):
    server.default = Reply(status=503)
    with pytest.raises(CaptionerError, match=r"failed 3 times .*HTTP 503"):
        captioner(server, max_retries=2).caption(frog_request)
    assert len(server.chat_requests()) == 3


def test_concurrency_limit_is_never_exceeded(server, with_key, frog_request):
    server.default = Reply(delay_s=0.15, content="caption")
    results = captioner(server, max_concurrency=3).caption_batch([frog_request] * 10)
    assert [r.text for r in results] == ["caption"] * 10
    assert server.max_in_flight == 3  # parallel, but never more than the limit


def test_wrong_key_is_one_line_and_never_shows_the_key(server, monkeypatch, frog_request):
    monkeypatch.setenv("VIDRECALL_TEST_KEY", "sk-wrong-key-987654321")
    cap = captioner(server)
    with pytest.raises(CaptionerError) as error:
        cap.caption(frog_request)
    message = str(error.value)
    assert message == f"wrong API key for {server.base_url}: set VIDRECALL_TEST_KEY"
    assert len(server.chat_requests()) == 1  # a 401 is not retried
    with pytest.raises(CaptionerError, match="wrong API key"):
        cap.preflight()
    assert "sk-wrong" not in repr(cap) and "sk-wrong" not in cap.id


def test_unreachable_server_is_one_line(with_key, frog_request):
    url = f"http://127.0.0.1:{free_port()}/v1"
    cap = make_captioner("vllm:qwen-vl", {"base_url": url, "api_key_env": "VIDRECALL_TEST_KEY", **FAST_RETRY})
    for call in (cap.preflight, lambda: cap.caption(frog_request)):
        with pytest.raises(CaptionerError) as error:
            call()
        assert str(error.value).startswith(f"cannot reach {url}: is the server running?")
        assert "\n" not in str(error.value) and KEY not in str(error.value)


def test_preflight_checks_the_served_models(server, with_key):
    captioner(server).preflight()  # served: passes
    with pytest.raises(CaptionerError, match="'missing-model' is not served by"):
        make_captioner("openai-compatible:missing-model", {"base_url": server.base_url,
                                                           "api_key_env": "VIDRECALL_TEST_KEY"}).preflight()


def test_openai_needs_a_key_but_local_servers_do_not(monkeypatch, frog_request):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(CaptionerError, match="no API key for https://api.openai.com/v1: set OPENAI_API_KEY"):
        make_captioner("openai:gpt-4o-mini").caption(frog_request)
    with FakeOpenAIServer() as open_server:  # no key configured on the server
        local = make_captioner("ollama:qwen-vl", {"base_url": open_server.base_url})
        assert local.caption(frog_request).text == "ok"
        assert "Authorization" not in open_server.chat_requests()[0].headers


def test_clip_without_frames_makes_no_request(server, with_key):
    empty = FrameBatch(frames=[], timestamps=[], span=Span(0, 10))
    result = captioner(server).caption(CaptionRequest(empty, prompt="p", level="fine"))
    assert result.text == "Frames 0:00-0:10 (0 sampled). No frame could be decoded."
    assert server.chat_requests() == []


def test_bad_request_is_not_retried(server, with_key, frog_request):
    server.script(Reply(status=400, body={"error": {"message": "image too large\nfor this model"}}))
    with pytest.raises(CaptionerError, match="HTTP 400 for model 'qwen-vl': image too large for this model"):
        captioner(server).caption(frog_request)
    assert len(server.chat_requests()) == 1


def test_composite_keeps_the_ocr_text(server, with_key):
    with VideoReader(clip("vl2_00003491.mp4")) as reader:
        batch = reader.sample(Span(0, 8), num_frames=2)
    server.script("Two men play ukuleles.")
    composite = make_captioner("openai-compatible:qwen-vl+ocr", {
        "base_url": server.base_url, "api_key_env": "VIDRECALL_TEST_KEY", **FAST_RETRY})
    assert composite.id.startswith("api:qwen-vl") and "+ocr:rapidocr" in composite.id
    result = composite.caption(CaptionRequest(batch, prompt="Describe.", level="fine"))
    first, second = result.text.split("\n")
    assert first == "Two men play ukuleles."
    assert second.startswith("On-screen text (OCR): ") and "D'Addario" in second.replace(" ", "")
    assert result.usage.images == 2


@pytest.mark.parametrize("spec, message", [
    ("blip:some-model", "unknown captioner 'blip:some-model': use one of ocr, transformers:"),
    ("openai:", "needs a model after the colon"),
    ("ocr:extra", "'ocr' takes no model name"),
])
def test_factory_errors(spec, message):
    with pytest.raises(CaptionerError, match=message):
        make_captioner(spec)


def test_factory_rejects_unknown_options_and_passes_objects_through():
    with pytest.raises(CaptionerError, match="unknown captioner option.*max_concurency"):
        make_captioner("vllm:m", {"max_concurency": 4})
    ocr = make_captioner("ocr", {"min_confidence": 0.7})
    assert "minconf0.7" in ocr.id
    assert make_captioner(ocr) is ocr
    assert make_captioner("ollama:llava").base_url == "http://127.0.0.1:11434/v1"
    assert make_captioner("vllm:m").base_url == "http://127.0.0.1:8000/v1"


def test_jpeg_round_trip_keeps_the_picture():
    frame = np.zeros((48, 64, 3), dtype=np.uint8)
    frame[:, :32] = (200, 30, 30)
    from vidrecall.tools.captioners.images import jpeg_data_url

    back = np.asarray(decode_data_url(jpeg_data_url(frame, max_side=32)))
    assert back.shape == (24, 32, 3)
    assert back[:, :12, 0].mean() > 150 and back[:, 20:, 0].mean() < 40


def test_video_input_sends_one_mp4_of_the_sampled_frames_with_their_fps(server, with_key):
    import base64
    import io

    import av

    with VideoReader(clip("mdn_frog.mp4")) as reader:
        batch = reader.sample(Span(0, 4), fps=2.0, max_pixels=160 * 120)
    request = CaptionRequest(batch, prompt="Describe the clip.", level="coarse")
    server.script("A frog.")
    video = captioner(server, input="video")
    assert video.caption(request).text == "A frog."
    sent = server.chat_requests()[0]
    assert sent.image_urls() == [] and len(sent.video_urls()) == 1
    assert sent.json["mm_processor_kwargs"] == {"fps": 2.0, "do_sample_frames": False}
    url = sent.video_urls()[0]
    assert url.startswith("data:video/mp4;base64,")
    with av.open(io.BytesIO(base64.b64decode(url.partition(",")[2]))) as mp4:
        stream = mp4.streams.video[0]
        decoded = [f.to_ndarray(format="rgb24") for f in mp4.decode(stream)]
        assert float(stream.average_rate) == pytest.approx(2.0)
    height, width = batch.frames[0].shape[:2]
    assert len(decoded) == len(batch) == 8  # every sampled frame, none re-sampled
    assert decoded[0].shape == (height // 2 * 2, width // 2 * 2, 3)
    assert np.abs(decoded[3].astype(int) - batch.frames[3][:height // 2 * 2, :width // 2 * 2]).mean() < 12
    text = sent.text()
    assert "8 frames sampled at 2 fps" in text and text.index("sampled at") < text.index("Describe the clip.")
    assert video.id.endswith(":video") and not captioner(server).id.endswith(":video")  # caption keys differ


def test_video_input_falls_back_to_images_for_unevenly_kept_frames(server, with_key):
    with VideoReader(clip("mdn_frog.mp4")) as reader:
        batch = reader.sample(Span(0, 6), fps=1.0, max_pixels=96 * 96)
    uneven = FrameBatch([batch.frames[i] for i in (0, 1, 4)], [batch.timestamps[i] for i in (0, 1, 4)], batch.span)
    server.script("ok")
    captioner(server, input="video").caption(CaptionRequest(uneven, prompt="p", level="coarse"))
    sent = server.chat_requests()[0]
    assert len(sent.image_urls()) == 3 and sent.video_urls() == [] and "mm_processor_kwargs" not in sent.json
    with pytest.raises(CaptionerError, match="input='frames': choose 'images' or 'video'"):
        captioner(server, input="frames")
