"""Captioning throughput of the transformers captioner with a Qwen2.5-VL-7B-sized model (random weights,
built from its config: nothing downloaded), bf16, SDPA, on coarse clips (60 frames at ~100k pixels).

    python benchmarks/bench_gpu_caption.py [--batch-sizes 1,2,4,8] [--max-new-tokens 128]   # a CUDA GPU
    python benchmarks/bench_gpu_caption.py --tiny                                            # 2-layer model, CPU

Prints clips/s, frames/s, visual tokens/s and peak memory per batch size. Random weights never emit
EOS, so every clip generates exactly max_new_tokens: the figures are a worst case for decoding.
The tokenizer is SmolLM2's (packaged) plus Qwen's vision tokens; the 7B vocabulary is kept, so the
embedding and LM-head sizes are the real ones.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import numpy as np  # noqa: E402

from tinymodels import QWEN_VL_CHAT_TEMPLATE, VISION_TOKENS, smollm2_tokenizer  # noqa: E402
from vidrecall.core.types import CaptionRequest, Span  # noqa: E402
from vidrecall.tools.captioners.transformers_vlm import TransformersVLMCaptioner, TransformersVLMSettings  # noqa: E402
from vidrecall.tools.video import VideoReader  # noqa: E402

HAYSTACK = ROOT.parent / "shared" / "media" / "haystack" / "haystack_15min.mp4"
COARSE_PIXELS = 128 * 28 * 28  # 100,352: the coarse level's pixel cap
FRAMES = 60

# Qwen/Qwen2.5-VL-7B-Instruct's config.json, as published.
QWEN25_VL_7B = {
    "text": {"vocab_size": 152064, "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
             "num_attention_heads": 28, "num_key_value_heads": 4, "max_position_embeddings": 128000,
             "max_window_layers": 28, "rms_norm_eps": 1e-6,
             "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}},
    "vision": {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16, "out_hidden_size": 3584,
               "fullatt_block_indexes": [7, 15, 23, 31], "patch_size": 14, "spatial_merge_size": 2,
               "temporal_patch_size": 2, "window_size": 112},
}
TINY = {
    "text": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "max_position_embeddings": 32768, "max_window_layers": 2,
             "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 3, 3]}},
    "vision": {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64,
               "fullatt_block_indexes": [1], "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
               "window_size": 112},
}


def build(sizes: dict, device: str, dtype):
    """(processor, model) with random weights, made directly on `device` in `dtype`."""
    import torch
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor,
                              Qwen2VLImageProcessor, Qwen2VLVideoProcessor)

    tokenizer = smollm2_tokenizer()
    tokenizer.add_special_tokens({"additional_special_tokens": VISION_TOKENS})
    tokenizer.chat_template = QWEN_VL_CHAT_TEMPLATE
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in VISION_TOKENS}
    text = {"vocab_size": len(tokenizer), **sizes["text"],
            "layer_types": ["full_attention"] * sizes["text"]["num_hidden_layers"],
            "pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id,
            "bos_token_id": tokenizer.bos_token_id}
    config = Qwen2_5_VLConfig(text_config=text, vision_config=sizes["vision"], image_token_id=ids["<|image_pad|>"],
                              video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
                              vision_end_token_id=ids["<|vision_end|>"], tie_word_embeddings=False)
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=dtype,
                                                                attn_implementation="sdpa").eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = None  # random weights: run to max_new_tokens, a worst case
    pixels = {"min_pixels": COARSE_PIXELS // 4, "max_pixels": COARSE_PIXELS}
    processor = Qwen2_5_VLProcessor(image_processor=Qwen2VLImageProcessor(**pixels),
                                    video_processor=Qwen2VLVideoProcessor(**pixels),
                                    tokenizer=tokenizer, chat_template=QWEN_VL_CHAT_TEMPLATE)
    return processor, model


def coarse_clips(count: int) -> list[CaptionRequest]:
    """Real 60-frame coarse clips (1 fps, <= 100k pixels) from the haystack; noise frames if it is missing."""
    requests = []
    if HAYSTACK.exists():
        with VideoReader(HAYSTACK) as reader:
            for i in range(count):
                span = Span(60.0 * i, 60.0 * (i + 1))
                requests.append(CaptionRequest(reader.sample(span, fps=1.0, max_pixels=COARSE_PIXELS),
                                               prompt="Describe this 60-second clip.", level="coarse"))
        return requests
    from vidrecall.core.types import FrameBatch

    rng = np.random.default_rng(0)
    for i in range(count):
        frames = [rng.integers(0, 255, (238, 420, 3), dtype=np.uint8) for _ in range(FRAMES)]
        requests.append(CaptionRequest(FrameBatch(frames, [60 * i + t + 0.5 for t in range(FRAMES)],
                                                  Span(60 * i, 60 * (i + 1))), "Describe this clip.", "coarse"))
    return requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="the 2-layer model on CPU (no GPU needed)")
    parser.add_argument("--batch-sizes", default=None, help="comma-separated (default 1,2,4,8; --tiny 1,2,4)")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per batch size (after one warm-up)")
    args = parser.parse_args()
    import torch

    cuda = torch.cuda.is_available() and not args.tiny
    if not cuda and not args.tiny:
        sys.exit("bench_gpu_caption: no CUDA GPU here; run with --tiny for the 2-layer model on CPU")
    device, dtype = ("cuda", torch.bfloat16) if cuda else ("cpu", torch.float32)
    batch_sizes = [int(b) for b in (args.batch_sizes or ("1,2,4" if args.tiny else "1,2,4,8")).split(",")]
    started = time.perf_counter()
    processor, model = build(TINY if args.tiny else QWEN25_VL_7B, device, dtype)
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {'tiny 2-layer' if args.tiny else 'Qwen2.5-VL-7B-sized'} Qwen2.5-VL, {params / 1e9:.2f} B params, "
          f"{str(dtype).removeprefix('torch.')}, SDPA, on {torch.cuda.get_device_name() if cuda else 'CPU'} "
          f"(built in {time.perf_counter() - started:.0f} s); max_new_tokens {args.max_new_tokens} (worst case)")
    settings = TransformersVLMSettings(device=device, dtype=str(dtype).removeprefix("torch."), frames_as="video",
                                       max_new_tokens=args.max_new_tokens, batch_size=max(batch_sizes),
                                       attn_implementation="sdpa")
    captioner = TransformersVLMCaptioner("qwen2.5-vl-7b-random", settings)
    captioner._loaded = (processor, model)  # built here, not loaded from disk
    clips = coarse_clips(max(batch_sizes))
    print(f"clips: {len(clips[0].frames)} frames of {clips[0].frames.frames[0].shape[1]}x{clips[0].frames.frames[0].shape[0]}")
    print(f"{'batch':>5} {'clips/s':>8} {'frames/s':>9} {'vis tok/s':>10} {'vis tok/clip':>12} {'s/batch':>8} {'peak mem':>10}")
    for size in batch_sizes:
        batch = clips[:size]
        grid = captioner._inputs(processor, batch, True)["video_grid_thw"]
        visual = int(grid.prod(dim=1).sum()) // 4  # 2x2 patches merge into one token
        captioner._generate(processor, model, batch, True)  # warm-up
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        timings = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            captioner._generate(processor, model, batch, True)
            if cuda:
                torch.cuda.synchronize()
            timings.append(time.perf_counter() - t0)
        seconds = min(timings)
        peak = (f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if cuda
                else f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB RSS")
        frames = sum(len(r.frames) for r in batch)
        print(f"{size:>5} {size / seconds:>8.2f} {frames / seconds:>9.1f} {visual / seconds:>10.0f} "
              f"{visual // size:>12} {seconds:>8.2f} {peak:>10}")


if __name__ == "__main__":
    main()
