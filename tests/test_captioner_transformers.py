"""transformers VLM captioner on a tiny random-weight Qwen2.5-VL built in the test session: the real
processor (chat template, video/image processing) and the real generate path on real frames."""
from __future__ import annotations

import pytest

from vidrecall.tools.captioners.base import CaptionerError
from vidrecall.tools.captioners.factory import make_captioner
from vidrecall.tools.captioners.transformers_vlm import TransformersVLMCaptioner, TransformersVLMSettings
from vidrecall.tools.video import VideoReader
from vidrecall.core.types import CaptionRequest, FrameBatch, Span, fmt_time

from conftest import clip
from tinymodels import build_tiny_qwen25vl

# Tests that use the tiny model are slow: building it reads SmolLM2's GGUF tokenizer (~30 s on 2 cores).


@pytest.fixture(scope="session")
def tiny_vlm_dir(tmp_path_factory):
    return build_tiny_qwen25vl(tmp_path_factory.mktemp("tiny-qwen25vl"))


@pytest.fixture(scope="module")
def two_clips() -> list[CaptionRequest]:
    with VideoReader(clip("mdn_frog.mp4")) as reader:
        frog = reader.sample(Span(0, 8), num_frames=2, max_pixels=50176)
    with VideoReader(clip("vl2_00003491.mp4")) as reader:
        ukulele = reader.sample(Span(0, 9), num_frames=3, max_pixels=50176)
    return [CaptionRequest(frog, prompt="Describe the clip.", level="fine"),
            CaptionRequest(ukulele, prompt="What instruments are played? Be brief.", level="fine")]


@pytest.mark.slow
@pytest.mark.parametrize("frames_as", ["video", "images"])
def test_tiny_qwen25vl_captions_real_frames(tiny_vlm_dir, two_clips, frames_as):
    captioner = make_captioner(f"transformers:{tiny_vlm_dir}", {"max_new_tokens": 6, "frames_as": frames_as})
    captioner.preflight()
    assert isinstance(captioner, TransformersVLMCaptioner) and captioner.device == "cpu"
    assert f":{frames_as}:new6:float32" in captioner.id

    batch = captioner.caption_batch(two_clips)  # one left-padded generate for both clips
    assert len(batch) == 2
    for result, request in zip(batch, two_clips):
        assert isinstance(result.text, str)
        assert result.usage.kind == "vlm" and result.usage.images == len(request.frames)
        assert 0 < result.usage.tokens_out <= 6
        assert result.usage.tokens_in > 20  # chat template + prompt + vision placeholder tokens
    # the longer prompt and the extra frame make the second input longer
    assert batch[1].usage.tokens_in > batch[0].usage.tokens_in

    single = captioner.caption(two_clips[0])  # greedy decoding: batching (left padding) changes nothing
    assert single.text == batch[0].text
    assert single.usage.tokens_in == batch[0].usage.tokens_in


@pytest.mark.slow
def test_video_mode_tells_the_model_the_frame_times(tiny_vlm_dir, two_clips):
    captioner = TransformersVLMCaptioner(str(tiny_vlm_dir), TransformersVLMSettings(frames_as="video"))
    conversation = captioner._conversation(two_clips[1], as_video=True)
    text = " ".join(p.get("text", "") for p in conversation[-1]["content"])
    assert "0:00-0:09" in text
    assert all(fmt_time(t) in text for t in two_clips[1].frames.timestamps)
    assert conversation[-1]["content"][0] == {"type": "video"}


def test_missing_local_path_fails_in_preflight_with_the_fix(tmp_path):
    missing = tmp_path / "no-such-model"
    captioner = make_captioner(f"transformers:{missing}")
    with pytest.raises(CaptionerError, match="does not exist: download the model there"):
        captioner.preflight()


def test_text_only_model_is_rejected(tmp_path):
    from transformers import LlamaConfig

    LlamaConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                vocab_size=100).save_pretrained(tmp_path)
    with pytest.raises(CaptionerError, match="not an image-text-to-text model"):
        make_captioner(f"transformers:{tmp_path}").preflight()


def test_uncached_hub_id_offline_fails_with_the_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CaptionerError, match="not in the Hugging Face cache"):
        make_captioner("transformers:nobody/not-a-cached-vlm").preflight()


@pytest.mark.slow
def test_processor_without_video_support_falls_back_to_images(tiny_vlm_dir, two_clips, monkeypatch):
    captioner = TransformersVLMCaptioner(str(tiny_vlm_dir), TransformersVLMSettings(max_new_tokens=3))
    processor, _model = captioner._load()

    def no_video(*args, **kwargs):
        raise ValueError("this processor has no video support")

    monkeypatch.setattr(type(processor.video_processor), "__call__", no_video)
    result = captioner.caption(two_clips[1])
    assert result.usage.images == 3 and result.usage.tokens_out > 0
    assert captioner._as_video(processor, two_clips[1]) is False  # remembered: no second failed try


def test_clip_without_frames_needs_no_model(tmp_path):
    captioner = make_captioner(f"transformers:{tmp_path / 'never-loaded'}")
    empty = FrameBatch(frames=[], timestamps=[], span=Span(60, 70))
    [result] = captioner.caption_batch([CaptionRequest(empty, prompt="p", level="fine")])
    assert result.text == "Frames 1:00-1:10 (0 sampled). No frame could be decoded."
    assert result.usage.ok is False and result.usage.images == 0
