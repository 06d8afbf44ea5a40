"""generate_video on the tiny checkpoint: shapes, seeds, callbacks, cancel, distill, video output."""

import numpy as np
import pytest
import torch
from PIL import Image

from longcat_i2v import defaults
from longcat_i2v.errors import GenerationCancelled
from longcat_i2v.video import even_size, read_mp4, resize_frames, to_uint8, write_mp4

IMG = Image.fromarray((np.random.RandomState(0).rand(50, 75, 3) * 255).astype(np.uint8))
SMALL = {"num_frames": 5, "height": 32, "width": 48, "num_inference_steps": 2}


def test_output_shapes_and_ranges(tiny_pipe):
    out = tiny_pipe.generate_video("a cat", image=IMG, seed=3, **SMALL)
    assert out.frames.shape == (5, 32, 48, 3) and out.frames.dtype == np.float32
    assert 0.0 <= out.frames.min() and out.frames.max() <= 1.0
    assert out.latents.shape == (1, 16, 2, 4, 6)
    assert out.cond_image.shape == (32, 48, 3)
    assert out.seed == 3 and out.input_size == (75, 50)
    assert (out.num_frames, out.height, out.width) == (5, 32, 48)


def test_seed_reproduces_and_random_seed_is_reported(tiny_pipe):
    a = tiny_pipe.generate_video("a cat", image=IMG, seed=11, **SMALL)
    b = tiny_pipe.generate_video("a cat", image=IMG, generator=torch.Generator().manual_seed(11), **SMALL)
    c = tiny_pipe.generate_video("a cat", image=IMG, seed=12, **SMALL)
    assert np.array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, c.frames)
    r = tiny_pipe.generate_video("a cat", image=IMG, **SMALL)
    again = tiny_pipe.generate_video("a cat", image=IMG, seed=r.seed, **SMALL)
    assert np.array_equal(r.frames, again.frames)


def test_callback_every_step_and_cancel(tiny_pipe):
    calls = []
    tiny_pipe.generate_video("a cat", image=IMG, seed=1, callback=lambda i, n, lat: calls.append((i, n)), **SMALL)
    assert calls == [(0, 2), (1, 2)]

    def cancel(i, n, latents):
        raise GenerationCancelled(f"stopped at step {i}")

    with pytest.raises(GenerationCancelled, match="step 0"):
        tiny_pipe.generate_video("a cat", image=IMG, seed=1, callback=cancel, distill=True, **SMALL)
    # the distill LoRA hooks were removed despite the cancel: plain generation is unchanged
    plain = tiny_pipe.generate_video("a cat", image=IMG, seed=1, **SMALL)
    again = tiny_pipe.generate_video("a cat", image=IMG, seed=1, **SMALL)
    assert np.array_equal(plain.frames, again.frames)


def test_distill_applies_lora_and_its_defaults(tiny_pipe):
    steps = []
    kwargs = {k: v for k, v in SMALL.items() if k != "num_inference_steps"}
    tiny_pipe.generate_video(
        "a cat", image=IMG, seed=2, distill=True, callback=lambda i, n, lat: steps.append(n), **kwargs
    )
    assert steps[0] == defaults.DISTILL_STEPS
    base = tiny_pipe.generate_video("a cat", image=IMG, seed=2, guidance_scale=1.0, **SMALL)
    lora = tiny_pipe.generate_video("a cat", image=IMG, seed=2, guidance_scale=1.0, distill=True, **SMALL)
    assert np.abs(base.latents - lora.latents).max() > 1e-3


def test_image_path_alias_and_bucket(tiny_pipe, tmp_path):
    path = tmp_path / "in.png"
    IMG.save(path)
    out = tiny_pipe.generate_video("a cat", image_path=str(path), seed=1, num_frames=1, num_inference_steps=1)
    assert (out.height, out.width) == (512, 768)  # 50/75 = 0.67 → the 480p bucket 512x768
    assert out.frames.shape[0] == 1


def test_uint8_truncates_and_mp4_round_trip(tmp_path):
    frames = np.full((3, 16, 16, 3), 0.999, np.float32)
    assert to_uint8(frames).max() == 254  # truncation, as the original demo
    path = write_mp4(np.linspace(0, 1, 5 * 32 * 48 * 3, dtype=np.float32).reshape(5, 32, 48, 3), tmp_path / "v.mp4")
    decoded = read_mp4(path)
    assert decoded.shape == (5, 32, 48, 3)
    assert even_size(75, 51) == (74, 50)
    assert resize_frames(to_uint8(frames), 10, 6).shape == (3, 6, 10, 3)
